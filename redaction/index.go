package redaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/piivault/piivault/eventlog"
)

// The subject index: for every subject, the system stream "$subject-<id>"
// lists the events that refer to it (SubjectReferenced: stream, version,
// position, type, paths, classes; never values). Export reads it instead of
// scanning the log.
//
// It is written off the append's critical path: Append queues the
// references once the log acknowledged the events, and the indexer writes
// them: everything queued for one subject stream becomes one
// SubjectReferenced event (more if it would be large), one append per
// subject stream, in parallel, so the log's group commit takes them
// together. Index events carry no IDs of their own (an ID costs the log's
// single writer an idempotency lookup per event); a reference written
// twice (a retry, or the recovery scan after a crash) is dropped when the
// index is read, which dedups by (stream, version). The indexer records in
// "$index" a position up to which every event is indexed (a checkpoint);
// on start the Service re-indexes the events after the last checkpoint,
// which repairs what a crash left unwritten. Export and Erase first wait
// for the queue to drain, so they see every acknowledged append.

// streamIndex holds the indexer's checkpoints.
const streamIndex = "$index"

const eventIndexedThrough = "IndexedThrough"

type indexedThrough struct {
	Position uint64 `json:"position"`
}

type indexer struct {
	s *Service

	mu       sync.Mutex
	epoch    uint64
	inflight map[uint64]int
	queue    map[string][]subjectRef
	queued   uint64 // appends queued so far
	written  uint64 // appends whose entries are all written
	kick     chan struct{}
	flushMu  sync.Mutex // one flush at a time

	cpMu           sync.Mutex // one checkpoint at a time; guards the two below
	lastCheckpoint uint64
	lastCPTime     time.Time
}

func newIndexer(s *Service) *indexer {
	return &indexer{s: s, inflight: map[uint64]int{}, queue: map[string][]subjectRef{}, kick: make(chan struct{}, 1)}
}

// begin registers an append about to write to the log.
func (x *indexer) begin() uint64 {
	x.mu.Lock()
	e := x.epoch
	x.inflight[e]++
	x.mu.Unlock()
	return e
}

// end queues an append's entries (nil if it wrote nothing).
func (x *indexer) end(epoch uint64, entries map[string][]subjectRef) {
	x.mu.Lock()
	x.inflight[epoch]--
	if x.inflight[epoch] == 0 && epoch != x.epoch {
		delete(x.inflight, epoch)
	}
	if len(entries) > 0 {
		for ss, evs := range entries {
			x.queue[ss] = append(x.queue[ss], evs...)
		}
		x.queued++
	}
	x.mu.Unlock()
	if len(entries) > 0 {
		select {
		case x.kick <- struct{}{}:
		default:
		}
	}
}

// flush writes everything queued. It returns the first error; entries that
// failed are queued again.
func (x *indexer) flush(ctx context.Context) error {
	x.flushMu.Lock()
	defer x.flushMu.Unlock()
	x.mu.Lock()
	work, upto := x.queue, x.queued
	x.queue = make(map[string][]subjectRef, len(work))
	x.mu.Unlock()
	if len(work) == 0 {
		x.mu.Lock()
		if upto > x.written {
			x.written = upto
		}
		x.mu.Unlock()
		return nil
	}
	var (
		wg     sync.WaitGroup
		errMu  sync.Mutex
		failed = map[string][]subjectRef{}
		first  error
	)
	sem := make(chan struct{}, 64)
	for ss, evs := range work {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := x.s.writeIndex(ctx, ss, evs); err != nil {
				errMu.Lock()
				failed[ss] = evs
				if first == nil {
					first = err
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(failed) > 0 {
		for ss, evs := range failed {
			x.queue[ss] = append(evs, x.queue[ss]...)
		}
		return fmt.Errorf("write subject index: %w", first)
	}
	if upto > x.written {
		x.written = upto
	}
	return nil
}

// maxRefsPerEvent bounds one SubjectReferenced event (a reference is
// about 150 bytes: far below the log's event size limit).
const maxRefsPerEvent = 256

// writeIndex appends references to one subject stream, in one append.
func (s *Service) writeIndex(ctx context.Context, stream string, refs []subjectRef) error {
	evs := make([]eventlog.EventData, 0, (len(refs)+maxRefsPerEvent-1)/maxRefsPerEvent)
	for len(refs) > 0 {
		n := min(len(refs), maxRefsPerEvent)
		evs = append(evs, eventlog.EventData{Type: eventSubjectReferenced, Data: encodeRefs(refs[:n])})
		refs = refs[n:]
	}
	_, err := s.log.AppendSystem(ctx, stream, eventlog.Any, evs)
	return err
}

// encodeRefs encodes the body of one SubjectReferenced event: the
// reference itself if there is one, {"refs":[...]} if there are more.
// Hand-written: it runs for every indexed event.
func encodeRefs(refs []subjectRef) []byte {
	b := make([]byte, 0, 160*len(refs)+16)
	if len(refs) == 1 {
		return appendRef(b, &refs[0])
	}
	b = append(b, `{"refs":[`...)
	for i := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRef(b, &refs[i])
	}
	return append(b, "]}"...)
}

func appendRef(b []byte, r *subjectRef) []byte {
	b = append(b, `{"stream":`...)
	b = appendJSONString(b, r.Stream)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, r.Version, 10)
	b = append(b, `,"position":`...)
	b = strconv.AppendUint(b, r.Position, 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, r.Type)
	b = append(b, `,"paths":[`...)
	for i, p := range r.Paths {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p)
	}
	b = append(b, `],"classes":[`...)
	for i, c := range r.Classes {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(c))
	}
	return append(b, "]}"...)
}

// decodeRefs reads the body of a SubjectReferenced event: one reference
// (the format of every version so far) or {"refs":[...]}.
func decodeRefs(data []byte) ([]subjectRef, error) {
	var body struct {
		subjectRef
		Refs []subjectRef `json:"refs"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, err
	}
	if body.Refs != nil {
		return body.Refs, nil
	}
	return []subjectRef{body.subjectRef}, nil
}

// sync waits until every append acknowledged before the call is indexed.
func (x *indexer) sync(ctx context.Context) error {
	x.mu.Lock()
	target := x.queued
	x.mu.Unlock()
	for {
		x.mu.Lock()
		done := x.written >= target
		x.mu.Unlock()
		if done {
			return nil
		}
		if err := x.flush(ctx); err != nil {
			return err
		}
	}
}

// checkpoint records a position up to which every event is indexed: the
// head read before a new epoch starts is safe once every append of the old
// epochs has queued its entries and the queue is written.
func (x *indexer) checkpoint(ctx context.Context) error {
	x.cpMu.Lock()
	defer x.cpMu.Unlock()
	head, err := x.s.log.Head(ctx)
	if err != nil || head <= x.lastCheckpoint {
		return err
	}
	x.mu.Lock()
	old := x.epoch
	x.epoch++
	x.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		x.mu.Lock()
		busy := 0
		for e, n := range x.inflight {
			if e <= old {
				busy += n
			}
		}
		x.mu.Unlock()
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil // try again next time
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	if err := x.sync(ctx); err != nil {
		return err
	}
	body, _ := json.Marshal(indexedThrough{Position: head})
	res, err := x.s.log.AppendSystem(ctx, streamIndex, eventlog.Any, []eventlog.EventData{{Type: eventIndexedThrough, Data: body}})
	if err != nil {
		return err
	}
	// The checkpoint event itself moves the head; an idle log must not
	// make the next tick write another one.
	x.lastCheckpoint, x.lastCPTime = res.LastPosition, time.Now()
	return nil
}

// run writes queued entries as they come and checkpoints about once a
// second.
func (x *indexer) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.kick:
			if err := x.flush(ctx); err != nil && ctx.Err() == nil {
				x.s.lg.Warn("subject index write failed, will retry", logKeyErr, err.Error())
				time.Sleep(100 * time.Millisecond)
			}
		case <-t.C:
			if err := x.checkpoint(ctx); err != nil && ctx.Err() == nil {
				x.s.lg.Warn("subject index checkpoint failed, will retry", logKeyErr, err.Error())
			}
		}
	}
}

// recover indexes the events after the last checkpoint. References that
// exist already are written again and dropped when the index is read.
func (x *indexer) recover(ctx context.Context) error {
	var from uint64 = 1
	cps, err := x.s.log.ReadStream(ctx, streamIndex, 0, 1, eventlog.Backward)
	if err != nil && !errors.Is(err, eventlog.ErrStreamNotFound) {
		return fmt.Errorf("recover subject index: %w", err)
	}
	if len(cps) == 1 {
		var cp indexedThrough
		if json.Unmarshal(cps[0].Data, &cp) == nil {
			from = cp.Position + 1
			x.lastCheckpoint = cp.Position
		}
	}
	n := 0
	for {
		evs, err := x.s.log.ReadAll(ctx, from, 1000, eventlog.Filter{})
		if err != nil {
			return fmt.Errorf("recover subject index: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		entries := map[string][]subjectRef{}
		for _, e := range evs {
			from = e.Position + 1
			if strings.HasPrefix(e.Stream, "$") {
				continue
			}
			m, _, ok, err := splitMeta(e.Metadata)
			if err != nil || !ok || len(m.Paths) == 0 {
				continue
			}
			addRefs(entries, e.Stream, e.Version, e.Position, e.Type, &m)
			n++
		}
		for ss, refs := range entries {
			if err := x.s.writeIndex(ctx, ss, refs); err != nil {
				return fmt.Errorf("recover subject index: %w", err)
			}
		}
	}
	if n > 0 {
		x.s.lg.Info("subject index checked after the last checkpoint", logKeyCount, n)
	}
	return x.checkpoint(ctx)
}
