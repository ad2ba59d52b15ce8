package eventlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog/internal/keys"
)

// ReadStream reads up to limit events of one stream starting at version
// from (inclusive). Forward from 0 starts at version 1; Backward from 0
// starts at the last version. A stream without events reads as empty.
// limit <= 0 means DefaultReadLimit.
func (l *Log) ReadStream(ctx context.Context, stream string, from uint64, limit int, dir Direction) ([]Event, error) {
	if err := validStream(stream); err != nil {
		return nil, err
	}
	if dir != Forward && dir != Backward {
		return nil, fmt.Errorf("read stream: direction %d: %w", dir, ErrInvalid)
	}
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	if err := l.acquire(ctx); err != nil {
		return nil, err
	}
	defer l.mu.RUnlock()
	txn := l.db.NewTransaction(false)
	defer txn.Discard()

	prefix := keys.StreamPrefix(stream)
	opts := badger.IteratorOptions{Prefix: prefix, Reverse: dir == Backward}
	it := txn.NewIterator(opts)
	defer it.Close()
	switch {
	case dir == Forward:
		it.Seek(keys.Stream(stream, max(from, 1)))
	case from == 0:
		it.Seek(keys.SeekLast(prefix))
	default:
		it.Seek(keys.Stream(stream, from))
	}
	var out []Event
	for ; it.Valid() && len(out) < limit; it.Next() {
		if len(out)%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var pos uint64
		err := it.Item().Value(func(v []byte) error {
			var perr error
			pos, perr = keys.ParseU64(v)
			return perr
		})
		if err != nil {
			return nil, fmt.Errorf("read stream: index: %w", ErrCorrupt)
		}
		e, err := getEvent(txn, pos)
		if err != nil {
			return nil, fmt.Errorf("read stream: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// getEvent reads the event at pos.
func getEvent(txn *badger.Txn, pos uint64) (Event, error) {
	item, err := txn.Get(keys.Event(pos))
	if err != nil {
		if errors.Is(err, badger.ErrKeyNotFound) {
			return Event{}, fmt.Errorf("event %d missing: %w", pos, ErrCorrupt)
		}
		return Event{}, err
	}
	return itemEvent(item, pos)
}

func itemEvent(item *badger.Item, pos uint64) (Event, error) {
	var e Event
	err := item.Value(func(b []byte) error {
		r, err := decodeRecord(b, true)
		if err != nil {
			return err
		}
		if r.Position != pos {
			return fmt.Errorf("record at %d says position %d: %w", pos, r.Position, ErrCorrupt)
		}
		e = r.event()
		return nil
	})
	return e, err
}

func (r *record) event() Event {
	return Event{
		ID: uuid.UUID(r.ID), Stream: r.Stream, Version: r.Version, Position: r.Position,
		Type: r.Type, Data: r.Data, Metadata: r.Metadata,
		RecordedAt: time.Unix(0, r.RecordedAt).UTC(),
	}
}

// ReadAll reads up to limit events of all streams in global order, starting
// at position from (inclusive; 0 reads from the start). A Filter with Types
// keeps only those event types; it walks the per-type indexes, so a sparse
// type costs what it returns, not a scan of the log. limit <= 0 means
// DefaultReadLimit.
func (l *Log) ReadAll(ctx context.Context, from uint64, limit int, filter Filter) ([]Event, error) {
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	types := slices.Clone(filter.Types)
	slices.Sort(types)
	types = slices.Compact(types)
	for _, t := range types {
		if err := validType(t); err != nil {
			return nil, fmt.Errorf("read all: filter: %w", err)
		}
	}
	if err := l.acquire(ctx); err != nil {
		return nil, err
	}
	defer l.mu.RUnlock()
	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	from = max(from, 1)
	if len(types) == 0 {
		return readAll(ctx, txn, from, limit)
	}
	return readTypes(ctx, txn, from, limit, types)
}

func readAll(ctx context.Context, txn *badger.Txn, from uint64, limit int) ([]Event, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: keys.EventPrefix(), PrefetchValues: false})
	defer it.Close()
	out := make([]Event, 0, min(limit, 1024))
	want := from
	for it.Seek(keys.Event(from)); it.Valid() && len(out) < limit; it.Next() {
		if len(out)%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		item := it.Item()
		pos, err := keys.ParseEvent(item.Key())
		if err != nil {
			return nil, fmt.Errorf("read all: event key: %w", ErrCorrupt)
		}
		if pos != want && len(out) > 0 {
			return nil, fmt.Errorf("read all: gap before position %d: %w", pos, ErrCorrupt)
		}
		want = pos + 1
		e, err := itemEvent(item, pos)
		if err != nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// readTypes merges the per-type indexes in position order.
func readTypes(ctx context.Context, txn *badger.Txn, from uint64, limit int, types []string) ([]Event, error) {
	type cursor struct {
		it     *badger.Iterator
		prefix []byte
	}
	cs := make([]cursor, 0, len(types))
	defer func() {
		for _, c := range cs {
			c.it.Close()
		}
	}()
	for _, t := range types {
		p := keys.TypePrefix(t)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		it.Seek(keys.Type(t, from))
		cs = append(cs, cursor{it, p})
	}
	var out []Event
	for len(out) < limit {
		if len(out)%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		best, bestPos := -1, uint64(0)
		for i, c := range cs {
			if !c.it.Valid() {
				continue
			}
			k := c.it.Item().Key()
			if !bytes.HasPrefix(k, c.prefix) || len(k) != len(c.prefix)+8 {
				return nil, fmt.Errorf("read all: type key: %w", ErrCorrupt)
			}
			_, pos, err := keys.ParseType(k)
			if err != nil {
				return nil, fmt.Errorf("read all: type key: %w", ErrCorrupt)
			}
			if best < 0 || pos < bestPos {
				best, bestPos = i, pos
			}
		}
		if best < 0 {
			break
		}
		cs[best].it.Next()
		e, err := getEvent(txn, bestPos)
		if err != nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// StreamInfo returns a stream's current version and the positions of its
// first and last events, or ErrStreamNotFound.
func (l *Log) StreamInfo(ctx context.Context, stream string) (StreamInfo, error) {
	if err := validStream(stream); err != nil {
		return StreamInfo{}, err
	}
	if err := l.acquire(ctx); err != nil {
		return StreamInfo{}, err
	}
	defer l.mu.RUnlock()
	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	version, last, err := lastInStream(txn, stream)
	if err != nil {
		return StreamInfo{}, fmt.Errorf("stream info %q: %w", stream, err)
	}
	if version == 0 {
		return StreamInfo{}, fmt.Errorf("stream info %q: %w", stream, ErrStreamNotFound)
	}
	item, err := txn.Get(keys.Stream(stream, 1))
	if err != nil {
		return StreamInfo{}, fmt.Errorf("stream info %q: first version: %w", stream, err)
	}
	var first uint64
	if err := item.Value(func(v []byte) error {
		var perr error
		first, perr = keys.ParseU64(v)
		return perr
	}); err != nil {
		return StreamInfo{}, fmt.Errorf("stream info %q: %w", stream, ErrCorrupt)
	}
	return StreamInfo{Stream: stream, Version: version, FirstPosition: first, LastPosition: last}, nil
}
