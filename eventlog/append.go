package eventlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog/internal/keys"
	"github.com/piivault/piivault/internal/jsonvalid"
)

// MaxNameLen is the longest stream name or event type, in bytes.
const MaxNameLen = 256

// MaxTagLen is the longest tag, in bytes.
const MaxTagLen = 512

// Append appends events to a user stream, all or nothing, if the stream is
// at the expected version. Stream names starting with "$" are reserved:
// use AppendSystem.
//
// Re-appending events whose IDs were all appended before, to the same
// stream in the same order, appends nothing and returns the original result;
// if only some were, it returns ErrIdempotencyOverlap.
//
// Append returns after the events are synced to disk. If ctx ends first,
// Append returns ctx.Err() and the events may or may not be appended;
// retrying with the same IDs is safe.
func (l *Log) Append(ctx context.Context, stream string, expected ExpectedVersion, events []EventData) (AppendResult, error) {
	return l.AppendAfter(ctx, stream, expected, events, nil)
}

// A Barrier makes writes outside the log durable; see AppendAfter.
type Barrier interface {
	// Sync returns once every write made before the call is durable.
	Sync() error
}

// AppendAfter is Append for events that refer to writes elsewhere (another
// store) which were made but may not be durable yet: the writer calls
// before.Sync() after it took the append into a group and before it
// commits the group, so the events are never durable before what they
// refer to. One Sync serves every append of a group that names the same
// Barrier (compared with ==), so appenders share it as they share the
// log's own sync. If Sync fails, the append fails and writes nothing.
// before's dynamic type must be comparable (a pointer, typically); a nil
// before makes AppendAfter Append.
func (l *Log) AppendAfter(ctx context.Context, stream string, expected ExpectedVersion, events []EventData, before Barrier) (AppendResult, error) {
	if err := ValidateStreamName(stream); err != nil {
		return AppendResult{}, err
	}
	if stream[0] == '$' {
		return AppendResult{}, fmt.Errorf("append to %q: use AppendSystem: %w", stream, ErrReservedStream)
	}
	return l.appendAfter(ctx, stream, expected, events, before)
}

// AppendSystem is Append for the reserved "$" streams ($schemas, $audit,
// $erasures, ...). It rejects every other stream name.
func (l *Log) AppendSystem(ctx context.Context, stream string, expected ExpectedVersion, events []EventData) (AppendResult, error) {
	if err := ValidateStreamName(stream); err != nil {
		return AppendResult{}, err
	}
	if stream[0] != '$' {
		return AppendResult{}, fmt.Errorf("append system event to %q: not a $ stream: %w", stream, ErrReservedStream)
	}
	return l.appendAfter(ctx, stream, expected, events, nil)
}

// validName checks a name of 1 to maxLen bytes of UTF-8 without control
// characters; its errors do not quote the name.
func validName(what, s string, maxLen int, sentinel error) error {
	if len(s) == 0 || len(s) > maxLen {
		return fmt.Errorf("%s has %d bytes, want 1 to %d: %w", what, len(s), maxLen, sentinel)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not UTF-8: %w", what, sentinel)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s holds a control character: %w", what, sentinel)
		}
	}
	return nil
}

// ValidateStreamName returns nil if name is a stream name the log accepts
// (1 to MaxNameLen bytes of UTF-8 without control characters), else an
// error wrapping ErrInvalidStream that does not quote the name. It does
// not check the "$" prefix that tells user streams (Append) from system
// streams (AppendSystem). Callers that write elsewhere before they append
// (the redaction service's vault) check with it first, so that a name the
// log would refuse changes nothing.
func ValidateStreamName(name string) error {
	return validName("stream name", name, MaxNameLen, ErrInvalidStream)
}

func validTag(s string) error { return validName("tag", s, MaxTagLen, ErrInvalid) }

// ValidateEventType returns nil if typ is an event type the log accepts
// (1 to MaxNameLen bytes of UTF-8 without control characters), else an
// error wrapping ErrInvalid that does not quote it. Like
// ValidateStreamName, it lets a caller that writes elsewhere before it
// appends refuse what the log would refuse first.
func ValidateEventType(typ string) error { return validName("event type", typ, MaxNameLen, ErrInvalid) }

// appendReq is one append on its way to the writer.
type appendReq struct {
	stream   string
	expected ExpectedVersion
	events   []EventData // ID, Type and Tags only; the bodies are in recs
	recs     [][]byte    // records built by appendRecordBuf, sealed by the writer
	given    []bool      // the caller gave the ID (so it may be a retry)
	anyGiven bool
	txnSize  int64 // Badger's estimate of the transaction bytes this append adds
	txnCount int64
	before   Barrier // synced before the group commits (nil: none)
	res      chan appendResp
}

type appendResp struct {
	res AppendResult
	err error
}

func (l *Log) appendAfter(ctx context.Context, stream string, expected ExpectedVersion, events []EventData, before Barrier) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	req, err := l.newRequest(stream, expected, events)
	if err != nil {
		return AppendResult{}, err
	}
	req.before = before
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return AppendResult{}, ErrClosed
	}
	select {
	case l.reqs <- req:
	case <-ctx.Done():
		l.mu.RUnlock()
		return AppendResult{}, ctx.Err()
	}
	l.mu.RUnlock()
	select {
	case r := <-req.res:
		return r.res, r.err
	case <-ctx.Done():
		return AppendResult{}, ctx.Err()
	}
}

// newRequest validates an append and copies its events, so the caller may
// reuse its buffers as soon as Append returns, even on cancellation.
func (l *Log) newRequest(stream string, expected ExpectedVersion, events []EventData) (*appendReq, error) {
	if expected < Any {
		return nil, fmt.Errorf("append to %q: expected version %d: %w", stream, expected, ErrInvalid)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("append to %q: no events: %w", stream, ErrInvalid)
	}
	if len(events) > l.opts.MaxBatchEvents {
		return nil, fmt.Errorf("append to %q: %d events, limit %d: %w", stream, len(events), l.opts.MaxBatchEvents, ErrBatchTooLarge)
	}
	req := &appendReq{
		stream:   stream,
		expected: expected,
		events:   make([]EventData, len(events)),
		recs:     make([][]byte, len(events)),
		given:    make([]bool, len(events)),
		res:      make(chan appendResp, 1),
	}
	var seen map[uuid.UUID]struct{}
	if len(events) > 1 {
		seen = make(map[uuid.UUID]struct{}, len(events))
	}
	total := 0
	for i, e := range events {
		if err := ValidateEventType(e.Type); err != nil {
			return nil, fmt.Errorf("append to %q: event %d: %w", stream, i, err)
		}
		size := len(e.Type) + len(e.Data) + len(e.Metadata)
		if size > l.opts.MaxEventSize {
			return nil, fmt.Errorf("append to %q: event %d has %d bytes, limit %d: %w", stream, i, size, l.opts.MaxEventSize, ErrEventTooLarge)
		}
		total += size
		if total > l.opts.MaxBatchBytes {
			return nil, fmt.Errorf("append to %q: batch exceeds %d bytes: %w", stream, l.opts.MaxBatchBytes, ErrBatchTooLarge)
		}
		if !jsonvalid.Valid(e.Data) {
			return nil, fmt.Errorf("append to %q: event %d data: %w", stream, i, ErrInvalidJSON)
		}
		if len(e.Metadata) > 0 && !jsonvalid.Valid(e.Metadata) {
			return nil, fmt.Errorf("append to %q: event %d metadata: %w", stream, i, ErrInvalidJSON)
		}
		if e.ID == uuid.Nil {
			e.ID = newID()
		} else {
			req.given[i] = true
			req.anyGiven = true
		}
		if seen != nil {
			if _, dup := seen[e.ID]; dup {
				return nil, fmt.Errorf("append to %q: event %d repeats ID %s: %w", stream, i, e.ID, ErrInvalid)
			}
			seen[e.ID] = struct{}{}
		}
		rec := appendRecordBuf(make([]byte, 0, recordSize(len(stream), len(e.Type), len(e.Data), len(e.Metadata))),
			e.ID, stream, e.Type, e.Data, e.Metadata)
		tags, err := uniqueTags(e.Tags)
		if err != nil {
			return nil, fmt.Errorf("append to %q: event %d: %w", stream, i, err)
		}
		req.recs[i] = rec
		req.events[i] = EventData{ID: e.ID, Type: e.Type, Tags: tags}
		req.txnSize += l.entrySize(9, len(rec)) +
			l.entrySize(1+2+len(stream)+8, 8) +
			l.entrySize(17, 16+len(stream)) +
			l.entrySize(1+2+len(e.Type)+8, 0)
		req.txnCount += 4
		for _, t := range tags {
			req.txnSize += l.entrySize(1+2+len(t)+8, 4)
			req.txnCount++
		}
	}
	if req.txnSize >= l.maxTxnSize*9/10 || req.txnCount >= l.maxTxnCount*9/10 {
		return nil, fmt.Errorf("append to %q: batch and its index entries exceed one transaction: %w", stream, ErrBatchTooLarge)
	}
	return req, nil
}

// uniqueTags validates an event's tags and drops repeats; the result is a
// copy (the caller may reuse its slice).
func uniqueTags(tags []string) ([]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if err := validTag(t); err != nil {
			return nil, err
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// newID returns a time-ordered UUID (version 7) for an event without one:
// consecutive IDs then land next to each other in the ID index, which keeps
// its memtable inserts and compactions cheap (random version-4 IDs cost a
// cold skiplist descent each).
func newID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}

// entrySize is Badger's own estimate of an entry in a transaction
// (Entry.estimateSizeAndSetThreshold plus the 10 bytes Txn.checkSize adds).
func (l *Log) entrySize(keyLen, valLen int) int64 {
	v := int64(valLen)
	if v >= l.opts.ValueThreshold {
		v = 12 // a value pointer
	}
	return int64(keyLen) + v + 2 + 10
}

// writerState is owned by the writer goroutine.
type writerState struct {
	nextPos  uint64
	lastHash [32]byte
	lastTime int64
	versions map[string]uint64 // cache of stream versions; bounded
}

const (
	maxCachedStreams = 1 << 14
	// maxLinger bounds how long the writer waits for returning appenders.
	maxLinger = time.Millisecond
)

// stagedGroup is a group whose barriers are synced, on its way from the
// gatherer to the committer.
type stagedGroup struct {
	reqs     []*appendReq
	barriers map[Barrier]error
	done     chan struct{} // closed once committed; nil: nobody waits
}

// writer gathers queued appends into groups and syncs their barriers; a
// second goroutine commits each group as one synced Badger transaction,
// then acknowledges every append in it. The two overlap for groups with
// barriers: a group's barriers (another store's fsync) run while the
// group before it commits. After a group without barriers the writer
// waits for its commit before it gathers again, so that the appenders it
// acknowledges can join the next group (see linger).
func (l *Log) writer() {
	defer close(l.writerDone)
	l.w.nextPos = max(l.w.nextPos, 1)
	l.w.versions = make(map[string]uint64)
	staged := make(chan stagedGroup)
	committerDone := make(chan struct{})
	go func() {
		defer close(committerDone)
		for g := range staged {
			l.commitGroup(g.reqs, g.barriers)
			// Appenders active now: those just acknowledged and those queued.
			l.active.Store(int64(len(g.reqs) + len(l.reqs)))
			if g.done != nil {
				close(g.done)
			}
		}
	}()
	defer func() {
		close(staged)
		<-committerDone
	}()
	reqs := l.reqs // nil once closed and drained
	var carry *appendReq
	for {
		first := carry
		carry = nil
		if first == nil {
			r, ok := <-reqs
			if !ok {
				return
			}
			first = r
		}
		group := []*appendReq{first}
		n, size, count := len(first.events), first.txnSize, first.txnCount
		add := func(r *appendReq) bool {
			if n+len(r.events) > l.opts.MaxGroupEvents || size+r.txnSize >= l.maxTxnSize*9/10 || count+r.txnCount >= l.maxTxnCount*9/10 {
				carry = r
				return false
			}
			group = append(group, r)
			n, size, count = n+len(r.events), size+r.txnSize, count+r.txnCount
			return true
		}
	gather:
		for n < l.opts.MaxGroupEvents {
			select {
			case r, ok := <-reqs:
				if !ok {
					reqs = nil
					break gather
				}
				if !add(r) {
					break gather
				}
			default:
				break gather
			}
		}
		// Linger: if more appenders were active at the last commit than
		// this group holds, they are about to come back (their acks were
		// just sent); wait a little for them rather than commit half a
		// group and leave the other half for the next fsync.
		if active := int(l.active.Load()); reqs != nil && carry == nil && len(group) < active && active > 1 {
			linger := min(time.Duration(l.lastCommit.Load())/4, maxLinger)
			lingerStart := time.Now()
			timer := time.NewTimer(linger)
		wait:
			for len(group) < active && n < l.opts.MaxGroupEvents {
				select {
				case r, ok := <-reqs:
					if !ok {
						reqs = nil
						break wait
					}
					if !add(r) {
						break wait
					}
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
			l.lingerNanos.Add(int64(time.Since(lingerStart)))
		}
		barriers := syncBarriers(group)
		// Hand the group over. While the committer is still busy with the
		// group before, appends without a barrier join this one; an append
		// with a barrier waits for the next group (this group's barriers
		// were synced before it came).
		absorb := reqs
		if carry != nil {
			absorb = nil
		}
		var done chan struct{}
		if len(barriers) == 0 {
			done = make(chan struct{})
		}
	hand:
		for {
			select {
			case staged <- stagedGroup{reqs: group, barriers: barriers, done: done}:
				break hand
			case r, ok := <-absorb:
				switch {
				case !ok:
					reqs, absorb = nil, nil
				case r.before != nil:
					carry, absorb = r, nil
				case !add(r):
					absorb = nil
				}
			}
		}
		if done != nil {
			<-done
		}
		if reqs == nil && carry == nil {
			return
		}
	}
}

// idLoc is where an event ID was appended.
type idLoc struct {
	pos, version uint64
	stream       string
}

func (l *Log) commitGroup(group []*appendReq, barrierErr map[Barrier]error) {
	saved := l.w
	rtxn := l.db.NewTransaction(false)
	defer rtxn.Discard()
	wtxn := l.db.NewTransaction(true)
	defer wtxn.Discard()

	resps := make([]appendResp, len(group))
	now := time.Now().UnixNano()
	groupVersions := make(map[string]uint64)
	groupIDs := make(map[uuid.UUID]idLoc)
	var runs indexRuns
	committed := 0
	var fatal error
	for i, r := range group {
		if r.before != nil {
			if err := barrierErr[r.before]; err != nil {
				resps[i] = appendResp{err: errRequest{fmt.Errorf("append to %q: sync what the events refer to: %w", r.stream, err)}}
				continue
			}
		}
		res, wrote, err := l.prepare(rtxn, wtxn, r, now, &runs, groupVersions, groupIDs)
		resps[i] = appendResp{res, err}
		if err != nil && !isRequestError(err) {
			fatal = err
			break
		}
		if wrote {
			committed++
		}
	}
	if fatal == nil && committed > 0 {
		fatal = runs.flush(wtxn)
	}
	if fatal == nil && committed > 0 {
		start := time.Now()
		fatal = wtxn.Commit()
		d := int64(time.Since(start))
		l.lastCommit.Store(d)
		l.commitNanos.Add(d)
		if fatal != nil {
			fatal = fmt.Errorf("append: commit: %w", fatal)
		}
	}
	if fatal != nil {
		l.logger.Error("eventlog group commit failed", attrErr, fatal)
		l.writeErr.Store(&fatal)
		l.w = saved
		clear(l.w.versions)
		for i := range resps {
			if resps[i].err == nil || !isRequestError(resps[i].err) {
				resps[i] = appendResp{err: fatal}
			}
		}
	} else {
		if len(l.w.versions)+len(groupVersions) > maxCachedStreams {
			clear(l.w.versions)
		}
		for s, v := range groupVersions {
			l.w.versions[s] = v
		}
		if committed > 0 {
			l.groups.Add(1)
			l.grouped.Add(l.w.nextPos - saved.nextPos)
			// Publish at once: readers of Badger already see the group, and
			// Head must not lag them (linearizability).
			l.publish(l.w.nextPos-1, l.w.lastHash)
			// The group is committed; what remains is making a file Badger
			// created durable in the folder. If that fails the group stays
			// (rolling the writer back would hand its positions out again)
			// but nothing of it is acknowledged.
			err := l.folder.sync()
			if err == nil {
				l.writeErr.Store(nil)
			}
			if err != nil {
				err = fmt.Errorf("append: committed but not made durable: %w", err)
				l.logger.Error("eventlog folder sync failed", attrErr, err)
				l.writeErr.Store(&err)
				for i := range resps {
					if resps[i].err == nil {
						resps[i] = appendResp{err: err}
					}
				}
			}
		}
	}
	for i, r := range group {
		r.res <- resps[i]
	}
}

// WriteErr says why the log cannot write, nil if it can: the error of the
// last group commit that wrote, if its commit or folder sync failed. The
// next group that commits and syncs clears it. A readiness probe asks it.
func (l *Log) WriteErr() error {
	if p := l.writeErr.Load(); p != nil {
		return *p
	}
	return nil
}

// syncBarriers syncs each distinct Barrier of a group once, before anything
// of the group is staged, and returns their errors (nil map: no barriers).
func syncBarriers(group []*appendReq) map[Barrier]error {
	var out map[Barrier]error
	for _, r := range group {
		if r.before == nil {
			continue
		}
		if _, done := out[r.before]; done {
			continue
		}
		if out == nil {
			out = make(map[Barrier]error, 1)
		}
		out[r.before] = r.before.Sync()
	}
	return out
}

// errRequest marks an error that fails one append and not its group.
type errRequest struct{ error }

func (e errRequest) Unwrap() error { return e.error }

func isRequestError(err error) bool {
	var e errRequest
	return errors.As(err, &e)
}

// prepare checks one append against the log as of this group and, if it
// passes, adds its entries to wtxn and advances the writer state.
// Request errors come back wrapped in errRequest.
func (l *Log) prepare(rtxn, wtxn *badger.Txn, r *appendReq, now int64, runs *indexRuns, groupVersions map[string]uint64, groupIDs map[uuid.UUID]idLoc) (AppendResult, bool, error) {
	if r.anyGiven {
		res, done, err := l.idempotent(rtxn, r, groupIDs)
		if err != nil || done {
			return res, false, err
		}
	}
	cur, ok := groupVersions[r.stream]
	if !ok {
		var err error
		if cur, err = l.streamVersion(rtxn, r.stream); err != nil {
			return AppendResult{}, false, err
		}
	}
	if (r.expected == NoStream && cur != 0) || (r.expected > 0 && uint64(r.expected) != cur) {
		return AppendResult{}, false, errRequest{&ConflictError{Stream: r.stream, Expected: r.expected, Actual: cur}}
	}
	res := AppendResult{FirstVersion: cur + 1, FirstPosition: l.w.nextPos}
	// One buffer for the request's keys and ID values: three allocations
	// per event fewer on the single write path.
	per := 9 + 17 + 16 + len(r.stream)
	kb := make([]byte, 0, per*len(r.events))
	cut := func(from int) []byte { return kb[from:len(kb):len(kb)] }
	for i, e := range r.events {
		cur++
		pos := l.w.nextPos
		t := max(now, l.w.lastTime)
		val := r.recs[i]
		hash := sealRecord(val, pos, cur, t, l.w.lastHash)
		o := len(kb)
		kb = keys.AppendEvent(kb, pos)
		eventKey := cut(o)
		o = len(kb)
		kb = keys.AppendID(kb, e.ID)
		idKey := cut(o)
		o = len(kb)
		kb = keys.AppendIDValue(kb, pos, cur, r.stream)
		idVal := cut(o)
		if err := wtxn.Set(eventKey, val); err != nil {
			return AppendResult{}, false, fmt.Errorf("append: stage event: %w", err)
		}
		if err := wtxn.Set(idKey, idVal); err != nil {
			return AppendResult{}, false, fmt.Errorf("append: stage event ID: %w", err)
		}
		if err := runs.addType(wtxn, e.Type, pos); err != nil {
			return AppendResult{}, false, err
		}
		for _, tag := range e.Tags {
			if err := runs.addTag(wtxn, tag, pos); err != nil {
				return AppendResult{}, false, err
			}
		}
		if r.anyGiven {
			groupIDs[e.ID] = idLoc{pos: pos, version: cur, stream: r.stream}
		}
		l.w.nextPos++
		l.w.lastHash = hash
		l.w.lastTime = t
	}
	groupVersions[r.stream] = cur
	res.LastVersion = cur
	res.LastPosition = l.w.nextPos - 1
	if err := runs.addStream(wtxn, r.stream, res.FirstVersion, res.FirstPosition, uint32(len(r.events))); err != nil {
		return AppendResult{}, false, err
	}
	return res, true, nil
}

// idempotent looks the append's given IDs up. done reports an exact retry,
// whose original result is res.
func (l *Log) idempotent(rtxn *badger.Txn, r *appendReq, groupIDs map[uuid.UUID]idLoc) (res AppendResult, done bool, err error) {
	found := 0
	locs := make([]idLoc, len(r.events))
	for i, e := range r.events {
		if !r.given[i] {
			continue
		}
		if loc, ok := groupIDs[e.ID]; ok {
			locs[i] = loc
			found++
			continue
		}
		item, err := rtxn.Get(keys.ID(e.ID))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return res, false, fmt.Errorf("append: look up event ID: %w", err)
		}
		err = item.Value(func(v []byte) error {
			pos, ver, s, err := keys.ParseIDValue(v)
			locs[i] = idLoc{pos: pos, version: ver, stream: s}
			return err
		})
		if err != nil {
			return res, false, fmt.Errorf("append: read event ID: %w", err)
		}
		found++
	}
	if found == 0 {
		return res, false, nil
	}
	if found != len(r.events) {
		return res, false, errRequest{fmt.Errorf("append to %q: %d of %d event IDs were appended before: %w", r.stream, found, len(r.events), ErrIdempotencyOverlap)}
	}
	for i, loc := range locs {
		if loc.stream != r.stream || loc.version != locs[0].version+uint64(i) || loc.pos != locs[0].pos+uint64(i) {
			return res, false, errRequest{fmt.Errorf("append to %q: %w (%w)", r.stream, ErrIdempotencyMismatch, ErrIdempotencyOverlap)}
		}
	}
	return AppendResult{
		FirstVersion: locs[0].version, LastVersion: locs[len(locs)-1].version,
		FirstPosition: locs[0].pos, LastPosition: locs[len(locs)-1].pos,
	}, true, nil
}

// streamVersion returns a stream's current version (0 if it has no events),
// from the writer's cache or from disk.
func (l *Log) streamVersion(rtxn *badger.Txn, stream string) (uint64, error) {
	if v, ok := l.w.versions[stream]; ok {
		return v, nil
	}
	v, _, err := lastInStream(rtxn, stream)
	if err != nil {
		return 0, fmt.Errorf("append: stream version: %w", err)
	}
	return v, nil
}

// indexRuns collects the index runs of one group commit (see
// internal/keys): a stream run grows while consecutive appends go to the
// same stream, a type run while consecutive positions have the same type,
// a tag's run while consecutive positions carry the tag.
type indexRuns struct {
	stream         string
	sVersion, sPos uint64
	sCount         uint32
	typ            string
	tPos           uint64
	tCount         uint32
	tags           map[string]tagRun // open tag runs
}

type tagRun struct {
	pos   uint64
	count uint32
}

func (g *indexRuns) addTag(txn *badger.Txn, tag string, pos uint64) error {
	if g.tags == nil {
		g.tags = make(map[string]tagRun)
	}
	if r, ok := g.tags[tag]; ok {
		if r.pos+uint64(r.count) == pos {
			r.count++
			g.tags[tag] = r
			return nil
		}
		if err := flushTag(txn, tag, r); err != nil {
			return err
		}
	}
	g.tags[tag] = tagRun{pos: pos, count: 1}
	return nil
}

func flushTag(txn *badger.Txn, tag string, r tagRun) error {
	if err := txn.Set(keys.Tag(tag, r.pos), keys.RunLen(r.count)); err != nil {
		return fmt.Errorf("append: stage tag index: %w", err)
	}
	return nil
}

func (g *indexRuns) addStream(txn *badger.Txn, stream string, version, pos uint64, n uint32) error {
	if g.sCount > 0 && g.stream == stream && g.sPos+uint64(g.sCount) == pos && g.sVersion+uint64(g.sCount) == version {
		g.sCount += n
		return nil
	}
	if err := g.flushStream(txn); err != nil {
		return err
	}
	g.stream, g.sVersion, g.sPos, g.sCount = stream, version, pos, n
	return nil
}

func (g *indexRuns) addType(txn *badger.Txn, typ string, pos uint64) error {
	if g.tCount > 0 && g.typ == typ && g.tPos+uint64(g.tCount) == pos {
		g.tCount++
		return nil
	}
	if err := g.flushType(txn); err != nil {
		return err
	}
	g.typ, g.tPos, g.tCount = typ, pos, 1
	return nil
}

func (g *indexRuns) flushStream(txn *badger.Txn) error {
	if g.sCount == 0 {
		return nil
	}
	n := g.sCount
	g.sCount = 0
	if err := txn.Set(keys.Stream(g.stream, g.sVersion), keys.Run(g.sPos, n)); err != nil {
		return fmt.Errorf("append: stage stream index: %w", err)
	}
	return nil
}

func (g *indexRuns) flushType(txn *badger.Txn) error {
	if g.tCount == 0 {
		return nil
	}
	n := g.tCount
	g.tCount = 0
	if err := txn.Set(keys.Type(g.typ, g.tPos), keys.RunLen(n)); err != nil {
		return fmt.Errorf("append: stage type index: %w", err)
	}
	return nil
}

func (g *indexRuns) flush(txn *badger.Txn) error {
	if err := g.flushStream(txn); err != nil {
		return err
	}
	for tag, r := range g.tags {
		if err := flushTag(txn, tag, r); err != nil {
			return err
		}
		delete(g.tags, tag)
	}
	return g.flushType(txn)
}

// streamRun is one stream-index entry: versions first..first+count-1 at
// positions pos..pos+count-1.
type streamRun struct {
	first, pos uint64
	count      uint32
}

func (r streamRun) last() uint64 { return r.first + uint64(r.count) - 1 }

func parseStreamRun(item *badger.Item) (streamRun, error) {
	_, first, err := keys.ParseStream(item.Key())
	if err != nil {
		return streamRun{}, fmt.Errorf("stream index key: %w", ErrCorrupt)
	}
	var r streamRun
	err = item.Value(func(v []byte) error {
		pos, n, perr := keys.ParseRun(v)
		r = streamRun{first: first, pos: pos, count: n}
		return perr
	})
	if err != nil {
		return streamRun{}, fmt.Errorf("stream index value: %w", ErrCorrupt)
	}
	return r, nil
}

// lastInStream returns a stream's last version and its position, zeros if
// the stream has no events.
func lastInStream(txn *badger.Txn, stream string) (version, pos uint64, err error) {
	prefix := keys.StreamPrefix(stream)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	it.Seek(keys.SeekLast(prefix))
	if !it.Valid() {
		return 0, 0, nil
	}
	r, err := parseStreamRun(it.Item())
	if err != nil {
		return 0, 0, err
	}
	return r.last(), r.pos + uint64(r.count) - 1, nil
}
