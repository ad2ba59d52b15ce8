package eventlog

import (
	"context"
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
	if err := ValidateStreamName(stream); err != nil {
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

	spans, err := streamSpans(ctx, txn, stream, from, limit, dir)
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	n := 0
	for _, sp := range spans {
		n += sp.n
	}
	out := make([]Event, 0, n)
	rd := newSpanReader(txn, spans)
	defer rd.close()
	for _, sp := range spans {
		if out, err = rd.read(out, sp, dir == Backward); err != nil {
			return nil, fmt.Errorf("read stream: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// span is n consecutive global positions from pos: the part of one
// stream-index or type-index run that a read returns.
type span struct {
	pos uint64
	n   int
}

// streamSpans walks the stream-index runs and returns the spans of
// positions of up to limit versions from `from` in direction dir, in the
// order they are read (a Backward span is read from its end).
func streamSpans(ctx context.Context, txn *badger.Txn, stream string, from uint64, limit int, dir Direction) ([]span, error) {
	prefix := keys.StreamPrefix(stream)
	// Find the run holding `from` (the last run starting at or before it).
	rev := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer rev.Close()
	if from == 0 && dir == Backward {
		rev.Seek(keys.SeekLast(prefix))
	} else {
		rev.Seek(keys.Stream(stream, max(from, 1)))
	}
	var out []span
	left := uint64(limit)
	if dir == Backward {
		for ; rev.Valid() && left > 0; rev.Next() {
			r, err := parseStreamRun(rev.Item())
			if err != nil {
				return nil, err
			}
			hi := r.last()
			if from != 0 {
				hi = min(hi, from)
			}
			if hi >= r.first {
				k := min(hi-r.first+1, left)
				out = append(out, span{pos: r.pos + (hi - r.first) - (k - 1), n: int(k)})
				left -= k
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
	for fwd.Seek(seek); fwd.Valid() && left > 0; fwd.Next() {
		r, err := parseStreamRun(fwd.Item())
		if err != nil {
			return nil, err
		}
		lo := max(from, r.first)
		if lo <= r.last() {
			k := min(r.last()-lo+1, left)
			out = append(out, span{pos: r.pos + (lo - r.first), n: int(k)})
			left -= k
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// spanReader reads spans of consecutive positions with one Badger
// iterator: a Seek to the span's first event, then Next through it. A
// point Get per event looks each key up level by level (bloom filter and
// table index per level); the iterator merges the levels once, and each
// Next is a step of that merge. Even spans of one or two events read
// faster with a Seek on the shared iterator than with Gets (about 10% in
// BenchmarkReadStream/runsShort), so there is no point-get path. The
// iterator is bounded to the key prefix shared by every position of the
// read, so Badger leaves out tables that hold none of them.
type spanReader struct {
	txn    *badger.Txn
	prefix []byte
	it     *badger.Iterator
	dec    eventDecoder
}

// newSpanReader returns a reader bounded to the positions of spans; with
// nil spans (ReadAll's type filter finds its spans as it goes) it may read
// any position.
func newSpanReader(txn *badger.Txn, spans []span) *spanReader {
	r := &spanReader{txn: txn, prefix: keys.EventPrefix()}
	if len(spans) > 0 {
		lo, hi := spans[0].pos, spans[0].pos+uint64(spans[0].n)-1
		for _, sp := range spans[1:] {
			lo, hi = min(lo, sp.pos), max(hi, sp.pos+uint64(sp.n)-1)
		}
		a, b := keys.Event(lo), keys.Event(hi)
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		r.prefix = a[:i]
	}
	return r
}

func (r *spanReader) close() {
	if r.it != nil {
		r.it.Close()
	}
}

// read appends the events of sp to out, in descending positions if
// reverse, and returns out.
func (r *spanReader) read(out []Event, sp span, reverse bool) ([]Event, error) {
	if r.it == nil {
		// No prefetching: it would also read the values of the keys after
		// the span, which belong to other streams.
		r.it = r.txn.NewIterator(badger.IteratorOptions{Prefix: r.prefix})
	}
	start := len(out)
	r.it.Seek(keys.Event(sp.pos))
	for i := 0; i < sp.n; i++ {
		pos := sp.pos + uint64(i)
		if i > 0 {
			r.it.Next()
		}
		if !r.it.Valid() {
			return out, fmt.Errorf("event %d missing: %w", pos, ErrCorrupt)
		}
		item := r.it.Item()
		if got, err := keys.ParseEvent(item.Key()); err != nil || got != pos {
			return out, fmt.Errorf("event %d missing: %w", pos, ErrCorrupt)
		}
		e, err := r.dec.decode(item, pos)
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	if reverse {
		slices.Reverse(out[start:])
	}
	return out, nil
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
		if err := ValidateEventType(t); err != nil {
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

// typeCursor walks the runs of one event type's index, or of one tag's
// (same layout, another key kind), from a position.
type typeCursor struct {
	it       *badger.Iterator
	parse    func([]byte) (string, uint64, error)
	what     string
	pos, end uint64 // next position, end of the current run (exclusive)
}

func newTypeCursor(txn *badger.Txn, typ string, from uint64) (*typeCursor, error) {
	return newRunCursor(txn, keys.TypePrefix(typ), keys.Type(typ, from), keys.ParseType, "type", from)
}

func newTagCursor(txn *badger.Txn, tag string, from uint64) (*typeCursor, error) {
	return newRunCursor(txn, keys.TagPrefix(tag), keys.Tag(tag, from), keys.ParseTag, "tag", from)
}

func newRunCursor(txn *badger.Txn, prefix, seek []byte, parse func([]byte) (string, uint64, error), what string, from uint64) (*typeCursor, error) {
	rev := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	rev.Seek(seek)
	if rev.Valid() { // a run starting before `from` may still cover it
		seek = append([]byte(nil), rev.Item().Key()...)
	}
	rev.Close()
	c := &typeCursor{it: txn.NewIterator(badger.IteratorOptions{Prefix: prefix}), parse: parse, what: what}
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
		_, first, err := c.parse(c.it.Item().Key())
		if err != nil {
			return fmt.Errorf("%s index key: %w", c.what, ErrCorrupt)
		}
		var n uint32
		if err := c.it.Item().Value(func(v []byte) error {
			var perr error
			n, perr = keys.ParseRunLen(v)
			return perr
		}); err != nil {
			return fmt.Errorf("%s index value: %w", c.what, ErrCorrupt)
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

// advance moves the cursor k positions on, at most to the end of its run.
func (c *typeCursor) advance(k uint64) error {
	c.pos += k
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
	return readRuns(ctx, txn, cs, limit, "read all")
}

// readRuns reads up to limit events from the runs of index cursors, in
// position order. Runs of different cursors never overlap (an event has one
// type; a tag read has one cursor), so the cursor with the lowest position
// can give the rest of its run (up to limit) in one span. Errors other than
// ctx's are wrapped with op.
func readRuns(ctx context.Context, txn *badger.Txn, cs []*typeCursor, limit int, op string) ([]Event, error) {
	rd := newSpanReader(txn, nil)
	defer rd.close()
	var out []Event
	for len(out) < limit {
		if err := ctx.Err(); err != nil {
			return nil, err
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
		k := min(best.end-best.pos, uint64(limit-len(out)))
		var err error
		if out, err = rd.read(out, span{pos: best.pos, n: int(k)}, false); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if err := best.advance(k); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return out, nil
}

// ReadTag reads up to limit events appended with tag (EventData.Tags), in
// global order, starting at position from (inclusive; 0 reads from the
// start). It walks the tag's index runs: it costs what it returns, not a
// scan of the log. A tag no event carries reads as empty. limit <= 0 means
// DefaultReadLimit.
func (l *Log) ReadTag(ctx context.Context, tag string, from uint64, limit int) ([]Event, error) {
	if err := validTag(tag); err != nil {
		return nil, fmt.Errorf("read tag: %w", err)
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
	c, err := newTagCursor(txn, tag, max(from, 1))
	if err != nil {
		return nil, fmt.Errorf("read tag: %w", err)
	}
	defer c.it.Close()
	return readRuns(ctx, txn, []*typeCursor{c}, limit, "read tag")
}

// StreamInfo returns a stream's current version and the positions of its
// first and last events, or ErrStreamNotFound.
func (l *Log) StreamInfo(ctx context.Context, stream string) (StreamInfo, error) {
	if err := ValidateStreamName(stream); err != nil {
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
