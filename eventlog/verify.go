package eventlog

import (
	"context"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/eventlog/internal/keys"
)

// Verify walks the hash chain from position 1 and checks that positions
// have no gap, that every record decodes, that its hash matches its bytes
// and that it links to the previous record's hash. It returns the head
// (position and hash) or the first break. A break is a result, not an
// error: err is only for I/O failures, ctx and ErrClosed.
func (l *Log) Verify(ctx context.Context) (VerifyResult, error) {
	if err := l.acquire(ctx); err != nil {
		return VerifyResult{}, err
	}
	defer l.mu.RUnlock()
	head := l.head.Load() // the snapshot below holds at least this much
	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: keys.EventPrefix()})
	defer it.Close()

	var res VerifyResult
	broken := func(at uint64, format string, args ...any) (VerifyResult, error) {
		res.BreakAt = at
		res.Reason = fmt.Sprintf(format, args...)
		return res, nil
	}
	want := uint64(1)
	for it.Rewind(); it.Valid(); it.Next() {
		if want%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return VerifyResult{}, err
			}
		}
		item := it.Item()
		pos, err := keys.ParseEvent(item.Key())
		if err != nil {
			return broken(want, "malformed event key %x", item.Key())
		}
		if pos != want {
			return broken(want, "position %d missing (next stored is %d)", want, pos)
		}
		var reason string
		var rec record
		var hash [32]byte
		err = item.Value(func(b []byte) error {
			var derr error
			rec, derr = decodeRecord(b, false)
			hash = storedHash(b)
			switch {
			case derr != nil:
				reason = derr.Error()
			case rec.Position != pos:
				reason = fmt.Sprintf("record says position %d", rec.Position)
			case rec.PrevHash != res.HeadHash:
				reason = "previous-hash link does not match the previous record"
			case !checkHash(b):
				reason = "hash does not match the record's bytes"
			}
			return nil
		})
		if err != nil {
			return VerifyResult{}, fmt.Errorf("verify: read %d: %w", pos, err)
		}
		if reason != "" {
			return broken(pos, "%s", reason)
		}
		res.HeadPosition, res.HeadHash = pos, hash
		want++
	}
	if res.HeadPosition < head {
		return broken(res.HeadPosition+1, "log ends at %d but the head is %d", res.HeadPosition, head)
	}
	res.OK = true
	return res, nil
}
