package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/eventlog/internal/keys"
	"github.com/piivault/piivault/internal/jsonvalid"
)

// SaveSnapshot stores data as the state of stream at version, which must be
// between 1 and the stream's current version. Snapshots are kept per
// version (never overwritten by an older one); LoadSnapshot returns the one
// with the highest version.
func (l *Log) SaveSnapshot(ctx context.Context, stream string, version uint64, data json.RawMessage) error {
	if err := ValidateStreamName(stream); err != nil {
		return err
	}
	if version == 0 {
		return fmt.Errorf("save snapshot of %q: version 0: %w", stream, ErrInvalid)
	}
	if len(data) > l.opts.MaxBatchBytes {
		return fmt.Errorf("save snapshot of %q: %d bytes, limit %d: %w", stream, len(data), l.opts.MaxBatchBytes, ErrBatchTooLarge)
	}
	if !jsonvalid.Valid(data) {
		return fmt.Errorf("save snapshot of %q: %w", stream, ErrInvalidJSON)
	}
	if err := l.acquire(ctx); err != nil {
		return err
	}
	defer l.mu.RUnlock()
	err := l.db.Update(func(txn *badger.Txn) error {
		cur, _, err := lastInStream(txn, stream)
		if err != nil {
			return err
		}
		if cur == 0 {
			return ErrStreamNotFound
		}
		if version > cur {
			return fmt.Errorf("version %d is past the stream's version %d: %w", version, cur, ErrInvalid)
		}
		return txn.Set(keys.Snapshot(stream, version), encodeSnapshot(time.Now().UnixNano(), data))
	})
	if err != nil {
		return fmt.Errorf("save snapshot of %q: %w", stream, err)
	}
	return nil
}

// LoadSnapshot returns the stream's snapshot with the highest version, or
// ErrNoSnapshot.
func (l *Log) LoadSnapshot(ctx context.Context, stream string) (Snapshot, error) {
	if err := ValidateStreamName(stream); err != nil {
		return Snapshot{}, err
	}
	if err := l.acquire(ctx); err != nil {
		return Snapshot{}, err
	}
	defer l.mu.RUnlock()
	var snap Snapshot
	err := l.db.View(func(txn *badger.Txn) error {
		prefix := keys.SnapshotPrefix(stream)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		it.Seek(keys.SeekLast(prefix))
		if !it.Valid() {
			return ErrNoSnapshot
		}
		_, version, err := keys.ParseSnapshot(it.Item().Key())
		if err != nil {
			return fmt.Errorf("snapshot key: %w", ErrCorrupt)
		}
		return it.Item().Value(func(v []byte) error {
			savedAt, data, err := decodeSnapshot(v)
			if err != nil {
				return err
			}
			snap = Snapshot{Stream: stream, Version: version, Data: data, SavedAt: time.Unix(0, savedAt).UTC()}
			return nil
		})
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("load snapshot of %q: %w", stream, err)
	}
	return snap, nil
}
