package eventlog

import (
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

	positions, err := streamPositions(ctx, txn, stream, from, limit, dir)
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	out := make([]Event, 0, len(positions))
	for _, pos := range positions {
		e, err := getEvent(txn, pos)
		if err != nil {
			return nil, fmt.Errorf("read stream: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// streamPositions walks the stream-index runs and returns the positions of
// up to limit versions from `from` in direction dir.
func streamPositions(ctx context.Context, txn *badger.Txn, stream string, from uint64, limit int, dir Direction) ([]uint64, error) {
	prefix := keys.StreamPrefix(stream)
	// Find the run holding `from` (the last run starting at or before it).
	rev := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer rev.Close()
	if from == 0 && dir == Backward {
		rev.Seek(keys.SeekLast(prefix))
	} else {
		rev.Seek(keys.Stream(stream, max(from, 1)))
	}
	var out []uint64
	if dir == Backward {
		for ; rev.Valid() && len(out) < limit; rev.Next() {
			r, err := parseStreamRun(rev.Item())
			if err != nil {
				return nil, err
			}
			v := r.last()
			if from != 0 {
				v = min(v, from)
			}
			for ; v >= r.first && len(out) < limit; v-- {
				out = append(out, r.pos+(v-r.first))
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	seek := keys.Stream(stream, max(from, 1))
	if rev.Valid() {
		seek = append([]byte(nil), rev.Item().Key()...)
	}
	fwd := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer fwd.Close()
	from = max(from, 1)
	for fwd.Seek(seek); fwd.Valid() && len(out) < limit; fwd.Next() {
		r, err := parseStreamRun(fwd.Item())
		if err != nil {
			return nil, err
		}
		for v := max(from, r.first); v <= r.last() && len(out) < limit; v++ {
			out = append(out, r.pos+(v-r.first))
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
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
	var d eventDecoder
	return d.decode(item, pos)
}

// eventDecoder turns stored records into Events with one allocation per
// event (data and metadata share a buffer) and reuses the stream and type
// strings of the previous event, which repeat along a scan.
type eventDecoder struct {
	stream, typ string
}

func (d *eventDecoder) decode(item *badger.Item, pos uint64) (Event, error) {
	var e Event
	err := item.Value(func(b []byte) error {
		r, err := decodeRecord(b, false)
		if err != nil {
			return err
		}
		if r.Position != pos {
			return fmt.Errorf("record at %d says position %d: %w", pos, r.Position, ErrCorrupt)
		}
		buf := make([]byte, len(r.Data)+len(r.Metadata))
		n := copy(buf, r.Data)
		copy(buf[n:], r.Metadata)
		e = Event{
			ID: uuid.UUID(r.ID), Stream: d.intern(&d.stream, r.streamBytes), Version: r.Version, Position: r.Position,
			Type: d.intern(&d.typ, r.typeBytes), Data: buf[:n:n], RecordedAt: time.Unix(0, r.RecordedAt).UTC(),
		}
		if len(r.Metadata) > 0 {
			e.Metadata = buf[n:]
		}
		return nil
	})
	return e, err
}

func (d *eventDecoder) intern(last *string, b []byte) string {
	if string(b) != *last { // no allocation for the comparison
		*last = string(b)
	}
	return *last
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
	var dec eventDecoder
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
		e, err := dec.decode(item, pos)
		if err != nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// typeCursor walks one event type's index runs from a position.
type typeCursor struct {
	it       *badger.Iterator
	pos, end uint64 // next position, end of the current run (exclusive)
}

func newTypeCursor(txn *badger.Txn, typ string, from uint64) (*typeCursor, error) {
	prefix := keys.TypePrefix(typ)
	seek := keys.Type(typ, from)
	rev := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	rev.Seek(seek)
	if rev.Valid() { // a run starting before `from` may still cover it
		seek = append([]byte(nil), rev.Item().Key()...)
	}
	rev.Close()
	c := &typeCursor{it: txn.NewIterator(badger.IteratorOptions{Prefix: prefix})}
	c.it.Seek(seek)
	if err := c.load(from); err != nil {
		c.it.Close()
		return nil, err
	}
	return c, nil
}

// load reads the run under the iterator, skipping positions below from.
func (c *typeCursor) load(from uint64) error {
	for ; c.it.Valid(); c.it.Next() {
		_, first, err := keys.ParseType(c.it.Item().Key())
		if err != nil {
			return fmt.Errorf("type index key: %w", ErrCorrupt)
		}
		var n uint32
		if err := c.it.Item().Value(func(v []byte) error {
			var perr error
			n, perr = keys.ParseRunLen(v)
			return perr
		}); err != nil {
			return fmt.Errorf("type index value: %w", ErrCorrupt)
		}
		c.pos, c.end = max(first, from), first+uint64(n)
		if c.pos < c.end {
			return nil
		}
	}
	c.pos, c.end = 0, 0
	return nil
}

func (c *typeCursor) valid() bool { return c.pos < c.end }

func (c *typeCursor) next() error {
	c.pos++
	if c.pos < c.end {
		return nil
	}
	c.it.Next()
	return c.load(0)
}

// readTypes merges the per-type indexes in position order.
func readTypes(ctx context.Context, txn *badger.Txn, from uint64, limit int, types []string) ([]Event, error) {
	cs := make([]*typeCursor, 0, len(types))
	defer func() {
		for _, c := range cs {
			c.it.Close()
		}
	}()
	for _, t := range types {
		c, err := newTypeCursor(txn, t, from)
		if err != nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
		cs = append(cs, c)
	}
	var out []Event
	for len(out) < limit {
		if len(out)%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var best *typeCursor
		for _, c := range cs {
			if c.valid() && (best == nil || c.pos < best.pos) {
				best = c
			}
		}
		if best == nil {
			break
		}
		e, err := getEvent(txn, best.pos)
		if err != nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
		out = append(out, e)
		if err := best.next(); err != nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
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
	r, err := parseStreamRun(item)
	if err != nil {
		return StreamInfo{}, fmt.Errorf("stream info %q: %w", stream, err)
	}
	return StreamInfo{Stream: stream, Version: version, FirstPosition: r.pos, LastPosition: last}, nil
}
