package redaction

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/vault"
)

// State is what a read did with one PII field.
type State string

// The states of a PII field in a read event (the same strings as the sdk's).
const (
	StateRevealed    State = "revealed"
	StateMasked      State = "masked"
	StateTokenized   State = "tokenized"
	StateErased      State = "erased"
	StateDenied      State = "denied"
	StateUnavailable State = "unavailable"
	StateExpired     State = "expired"
)

// PIIField describes one PII field of a read event. It never holds the value.
type PIIField struct {
	// Path is a JSON pointer into data, or into metadata if Metadata is set.
	Path     string `json:"path"`
	Class    Class  `json:"class"`
	Subject  string `json:"subject"`
	State    State  `json:"state"`
	Metadata bool   `json:"metadata,omitempty"`
}

// Event is a read event: data and metadata with every token resolved as the
// policy decided, and the list of its PII fields.
//
// What a field's value becomes: revealed, the original JSON value (any
// type); masked, a string from the class's masker; tokenized, the token
// string; erased, the placeholder; expired, the expiry placeholder; denied
// and unavailable, JSON null.
type Event struct {
	ID         uuid.UUID
	Stream     string
	Version    uint64
	Position   uint64
	Type       string
	Data       json.RawMessage
	Metadata   json.RawMessage // nil if the event had none
	RecordedAt time.Time
	// SchemaVersion is the version of the type's schema the event was
	// redacted under; 0 if there was none.
	SchemaVersion uint64
	PII           []PIIField
}

var nullJSON = []byte("null")

// rfield is one token of a page being resolved.
type rfield struct {
	ev      int
	path    string // as recorded
	name    string // as shown outside (metadata paths prefixed)
	class   Class
	subject string
	meta    bool
	at      span
	token   vault.Token
	isToken bool
	effect  policy.Effect
	reason  string
	state   State
	value   []byte // replacement
	resolve int    // index into the Resolve batch, -1 if none
}

type fieldKey struct {
	stream, typ, subject, path string
	class                      Class
}

// resolvePage turns stored events into read events under the policy, with
// one vault Resolve for the page and one audit append for the request.
func (s *Service) resolvePage(ctx context.Context, a Access, action policy.Action, evs []eventlog.Event) ([]Event, error) {
	out := make([]Event, len(evs))
	fields := make([]rfield, 0, 3*len(evs)) // the usual event has a few
	stripped := make([][]byte, len(evs))
	ptrCache := make(map[string]Pointer) // events of a page share their paths
	mc := newMetaCache()
	var sc locateScratch
	for i, e := range evs {
		out[i] = Event{ID: e.ID, Stream: e.Stream, Version: e.Version, Position: e.Position, Type: e.Type,
			Data: e.Data, Metadata: e.Metadata, RecordedAt: e.RecordedAt}
		m, rest, ok, err := splitMetaCached(e.Metadata, mc)
		if err != nil {
			return nil, fmt.Errorf("read event at position %d: %w: stored metadata is malformed", e.Position, eventlog.ErrCorrupt)
		}
		if !ok {
			continue
		}
		out[i].Metadata = rest
		out[i].SchemaVersion = m.SchemaVersion
		stripped[i] = rest
		var err2 error
		fields, err2 = locateTokensCached(fields, i, e.Data, rest, &m, ptrCache, &sc)
		if err2 != nil {
			return nil, fmt.Errorf("read event at position %d: %w", e.Position, err2)
		}
	}
	if len(fields) == 0 {
		return out, nil
	}

	// Policy, once per distinct (stream, type, subject, path, class).
	memo := make(map[fieldKey]policy.Decision, len(fields))
	var batch []vault.Token
	for i := range fields {
		f := &fields[i]
		f.resolve = -1
		e := &evs[f.ev]
		k := fieldKey{e.Stream, e.Type, f.subject, f.name, f.class}
		d, ok := memo[k]
		if !ok {
			var err error
			d, err = s.pol.Field(ctx, policy.Input{Principal: a.Principal, Action: action, Purpose: a.Purpose,
				Resource: policy.Resource{Stream: e.Stream, EventType: e.Type, Subject: f.subject, Path: f.name, Class: string(f.class)}})
			if err != nil {
				d = policy.Decision{Effect: policy.EffectDeny, Reason: "policy could not decide"}
			}
			memo[k] = d
		}
		f.effect, f.reason = d.Effect, d.Reason
		if !f.isToken {
			f.state = StateUnavailable
			continue
		}
		switch d.Effect {
		case policy.EffectReveal, policy.EffectMask:
			f.resolve = len(batch)
			batch = append(batch, f.token)
		case policy.EffectTokenize:
			f.state = StateTokenized
		default:
			f.state, f.value = StateDenied, nullJSON
		}
	}

	var resolved []vault.Resolved
	var rerr error
	if len(batch) > 0 {
		resolved, rerr = s.store.Resolve(ctx, batch)
		if rerr == nil && len(resolved) != len(batch) {
			rerr = fmt.Errorf("vault returned %d results for %d tokens", len(resolved), len(batch))
		}
		if rerr != nil {
			s.lg.Warn("vault unavailable on read: fields read as unavailable", logKeyCount, len(batch), logKeyErr, rerr.Error())
		}
	}
	// Masks are written into one buffer for the page, placeholders once.
	var masks, erased, expired []byte
	for i := range fields {
		f := &fields[i]
		if f.resolve < 0 {
			continue
		}
		if rerr != nil {
			f.state, f.value = StateUnavailable, nullJSON
			continue
		}
		r := &resolved[f.resolve]
		if r.Subject != "" && r.Subject != f.subject {
			// The token names another subject than the event recorded: the
			// policy decided for the wrong person. Never show it.
			f.state, f.value = StateUnavailable, nullJSON
			continue
		}
		switch r.State {
		case vault.Found:
			raw := r.Value.Reveal()
			if f.effect == policy.EffectReveal {
				f.state, f.value = StateRevealed, raw
			} else {
				n := len(masks)
				masks = appendJSONString(masks, Mask(f.class, raw))
				f.state, f.value = StateMasked, masks[n:len(masks):len(masks)]
			}
		case vault.Erased:
			if erased == nil {
				erased = appendJSONString(nil, s.opts.Placeholder)
			}
			f.state, f.value = StateErased, erased
		case vault.Expired:
			if expired == nil {
				expired = appendJSONString(nil, s.opts.ExpiredPlaceholder)
			}
			f.state, f.value = StateExpired, expired
		default:
			f.state, f.value = StateUnavailable, nullJSON
		}
	}

	// The audit record needs only the states: it is written while the
	// documents are rewritten, and the read waits for it to be durable.
	var recs auditGroups
	for i := range fields {
		if f := &fields[i]; f.state != StateTokenized {
			recs.add(&evs[f.ev], f)
		}
	}
	var audited chan error
	if list := recs.records(); len(list) > 0 {
		audited = make(chan error, 1)
		go func() { audited <- s.audit(ctx, a, action, list) }()
	}

	// Rewrite the documents and list the fields: the lists of all events
	// share one array, and so do the rewritten documents.
	var dataEdits, metaEdits []edit
	piis := make([]PIIField, len(fields))
	var docs []byte
	start := 0
	for start < len(fields) {
		ev := fields[start].ev
		end := start
		dataEdits, metaEdits = dataEdits[:0], metaEdits[:0]
		for end < len(fields) && fields[end].ev == ev {
			f := &fields[end]
			piis[end] = PIIField{Path: f.path, Class: f.class, Subject: f.subject, State: f.state, Metadata: f.meta}
			if f.value != nil {
				if f.meta {
					metaEdits = append(metaEdits, edit{at: f.at, with: f.value})
				} else {
					dataEdits = append(dataEdits, edit{at: f.at, with: f.value})
				}
			}
			end++
		}
		sortEdits(dataEdits)
		sortEdits(metaEdits)
		if len(dataEdits) > 0 {
			if docs == nil {
				// Room for this document and, at its size, the rest.
				docs = make([]byte, 0, (len(evs)-ev)*(splicedLen(evs[ev].Data, dataEdits)+64))
			}
			out[ev].Data, docs = spliceInto(docs, evs[ev].Data, dataEdits)
		}
		if len(metaEdits) > 0 {
			out[ev].Metadata = splice(stripped[ev], metaEdits)
		}
		out[ev].PII = piis[start:end:end]
		start = end
	}
	if audited != nil {
		if err := <-audited; err != nil {
			return nil, err
		}
	}
	return out, nil
}

// splicedLen is the length of doc after edits.
func splicedLen(doc []byte, edits []edit) int {
	n := len(doc)
	for _, e := range edits {
		n += len(e.with) - (e.at.end - e.at.start)
	}
	return n
}

// spliceInto is splice that writes the result at the end of buf, if it
// has room (else in a new array), and returns it and buf extended.
func spliceInto(buf, doc []byte, edits []edit) (out, rest []byte) {
	n := splicedLen(doc, edits)
	if cap(buf)-len(buf) < n {
		buf = make([]byte, 0, max(n, cap(buf)/4))
	}
	start := len(buf)
	last := 0
	for _, e := range edits {
		buf = append(buf, doc[last:e.at.start]...)
		buf = append(buf, e.with...)
		last = e.at.end
	}
	buf = append(buf, doc[last:]...)
	return buf[start:len(buf):len(buf)], buf
}

// locateTokens appends the token fields of one event.
func locateTokens(fields []rfield, ev int, data, meta []byte, m *storedMeta) ([]rfield, error) {
	return locateTokensCached(fields, ev, data, meta, m, nil, &locateScratch{})
}

// locateScratch is locateTokensCached's working space, reused for the
// events of a page.
type locateScratch struct {
	dptrs, mptrs []Pointer
	didx, midx   []int
}

// locateTokensCached is locateTokens with a cache of parsed pointers.
func locateTokensCached(fields []rfield, ev int, data, meta []byte, m *storedMeta, cache map[string]Pointer, sc *locateScratch) ([]rfield, error) {
	n := len(m.Paths)
	if len(m.Classes) != n || len(m.SubjectIdx) != n {
		return fields, fmt.Errorf("%w: token list is inconsistent", eventlog.ErrCorrupt)
	}
	base := len(fields)
	dptrs, mptrs := sc.dptrs[:0], sc.mptrs[:0]
	didx, midx := sc.didx[:0], sc.midx[:0]
	defer func() { sc.dptrs, sc.mptrs, sc.didx, sc.midx = dptrs, mptrs, didx, midx }()
	for k := 0; k < n; k++ {
		p, ok := cache[m.Paths[k]]
		var err error
		if !ok {
			p, err = ParseConcretePointer(m.Paths[k])
			if err == nil && cache != nil {
				cache[m.Paths[k]] = p
			}
		}
		if err != nil || m.SubjectIdx[k] < 0 || m.SubjectIdx[k] >= len(m.Subjects) {
			return fields, fmt.Errorf("%w: token list is malformed", eventlog.ErrCorrupt)
		}
		inMeta := m.inMetadata(k)
		fields = append(fields, rfield{ev: ev, path: m.Paths[k], name: metaPathName(m, k), class: m.Classes[k],
			subject: m.Subjects[m.SubjectIdx[k]], meta: inMeta, at: span{-1, -1}})
		if inMeta {
			mptrs, midx = append(mptrs, p), append(midx, base+k)
		} else {
			dptrs, didx = append(dptrs, p), append(didx, base+k)
		}
	}
	find := func(doc []byte, ptrs []Pointer, idx []int) error {
		if len(ptrs) == 0 {
			return nil
		}
		w := walker{b: doc, ptrs: ptrs, concrete: true, onMatch: func(p int, _ []seg, v span) error {
			f := &fields[idx[p]]
			f.at = v
			if doc[v.start] == '"' {
				if t, err := decodeString(doc[v.start:v.end]); err == nil && strings.HasPrefix(t, vault.TokenPrefix) {
					f.token, f.isToken = vault.Token(t), true
				}
			}
			return nil
		}}
		return w.run()
	}
	if err := find(data, dptrs, didx); err != nil {
		return fields, fmt.Errorf("%w: stored data is malformed", eventlog.ErrCorrupt)
	}
	if err := find(meta, mptrs, midx); err != nil {
		return fields, fmt.Errorf("%w: stored metadata is malformed", eventlog.ErrCorrupt)
	}
	// A recorded path that is not in the document any more cannot happen
	// for events this package wrote; drop it rather than fail the read.
	kept := fields[:base]
	for _, f := range fields[base:] {
		if f.at.start >= 0 {
			kept = append(kept, f)
		}
	}
	return kept, nil
}

// checkLimit applies the read limit bounds.
func (s *Service) checkLimit(limit int) int {
	if limit <= 0 || limit > s.opts.MaxReadLimit {
		return s.opts.MaxReadLimit
	}
	return limit
}

// ReadStream reads one stream (from inclusive; Backward from 0 reads from the
// end) and resolves its PII under the policy. Needs action read.
func (s *Service) ReadStream(ctx context.Context, a Access, stream string, from uint64, limit int, dir Direction) ([]Event, error) {
	if err := s.authorize(ctx, a, streamAction(stream), policy.Resource{Stream: stream}); err != nil {
		return nil, err
	}
	evs, err := s.log.ReadStream(ctx, stream, from, s.checkLimit(limit), dir.log())
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	return s.resolvePage(ctx, a, policy.ActionRead, evs)
}

// streamAction is the action a read of one stream needs besides the
// route's read: a system stream needs the action of the API that serves
// what it holds, so no reader gets through the stream what that API would
// refuse (with the shipped roles, none has both: such streams are read
// only through their APIs). $schemas and $erasures are
// read like any stream: $all shows them, so that read models learn of
// erasures. A system stream not named here needs admin (fail closed).
func streamAction(stream string) policy.Action {
	if !strings.HasPrefix(stream, "$") {
		return policy.ActionRead
	}
	switch stream {
	case StreamSchemas, StreamErasures:
		return policy.ActionRead
	case StreamAudit:
		return policy.ActionAudit
	case "$holds":
		return policy.ActionErase // GET /v1/holds
	}
	return policy.ActionAdmin // $retention, $instance, $index, subject indexes
}

// hidden reports whether ReadAll and Subscribe skip an event: the audit
// trail, the subject index and the compliance bookkeeping ($holds,
// $retention) are read through their own APIs; $erasures and $schemas are
// shown, so that read models learn of erasures.
func hidden(stream string) bool {
	switch stream {
	case StreamAudit, streamIndex, streamInstance, "$holds", "$retention":
		return true
	}
	return strings.HasPrefix(stream, subjectStreamPrefix) || strings.HasPrefix(stream, "$subject#")
}

// anyHidden reports whether ReadAll and Subscribe skip any of evs.
func anyHidden(evs []eventlog.Event) bool {
	for i := range evs {
		if hidden(evs[i].Stream) {
			return true
		}
	}
	return false
}

// ReadAll reads every stream in global order from position from
// (inclusive), skipping the audit trail and the subject index, and resolves
// PII under the policy. It returns up to limit events; fewer (even none)
// only at the end of the log. Needs action read.
func (s *Service) ReadAll(ctx context.Context, a Access, from uint64, limit int, filter Filter) ([]Event, error) {
	if err := s.authorize(ctx, a, policy.ActionRead, policy.Resource{Stream: StreamAll}); err != nil {
		return nil, err
	}
	limit = s.checkLimit(limit)
	var keep []eventlog.Event
	for len(keep) < limit {
		evs, err := s.log.ReadAll(ctx, from, limit-len(keep), eventlog.Filter{Types: filter.Types})
		if err != nil {
			return nil, fmt.Errorf("read all: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		from = evs[len(evs)-1].Position + 1
		if len(keep) == 0 && !anyHidden(evs) {
			keep = evs // the usual page: nothing to copy
			continue
		}
		for _, e := range evs {
			if !hidden(e.Stream) {
				keep = append(keep, e)
			}
		}
	}
	return s.resolvePage(ctx, a, policy.ActionRead, keep)
}

// Subscription delivers resolved events in position order: catch-up, then
// live. Next is used by one goroutine; Close may be called from any.
type Subscription struct {
	s    *Service
	a    Access
	next uint64
	buf  []Event
	page int

	mu     sync.Mutex
	closed bool
	live   *eventlog.Subscription
}

// Subscribe starts a subscription at position from (inclusive; 0 = from the
// start). Pages are resolved with one vault call and one audit record each.
// Needs action subscribe.
func (s *Service) Subscribe(ctx context.Context, a Access, from uint64) (*Subscription, error) {
	if err := s.authorize(ctx, a, policy.ActionSubscribe, policy.Resource{Stream: StreamAll}); err != nil {
		return nil, err
	}
	return &Subscription{s: s, a: a, next: max(from, 1), page: 256}, nil
}

// Next returns the next event, waiting for one if the subscriber caught up.
// It returns ctx.Err() when ctx ends and ErrClosed after Close.
func (sub *Subscription) Next(ctx context.Context) (Event, error) {
	for len(sub.buf) == 0 {
		if err := ctx.Err(); err != nil {
			return Event{}, err
		}
		evs, err := sub.s.log.ReadAll(ctx, sub.next, sub.page, eventlog.Filter{})
		if err != nil {
			return Event{}, err
		}
		if len(evs) == 0 {
			if err := sub.wait(ctx); err != nil {
				return Event{}, err
			}
			continue // read what arrived as a page
		}
		evs = boundPage(evs, subscriptionPageBytes)
		sub.next = evs[len(evs)-1].Position + 1
		keep := evs
		if anyHidden(evs) {
			keep = make([]eventlog.Event, 0, len(evs))
			for _, e := range evs {
				if !hidden(e.Stream) {
					keep = append(keep, e)
				}
			}
		}
		if len(keep) == 0 {
			continue
		}
		page, err := sub.s.resolvePage(ctx, sub.a, policy.ActionSubscribe, keep)
		if err != nil {
			return Event{}, err
		}
		sub.buf = page
	}
	e := sub.buf[0]
	sub.buf = sub.buf[1:]
	return e, nil
}

// subscriptionPageBytes bounds the stored bytes (data and metadata) of the
// page a subscription resolves and holds ahead of its reader, so that a
// subscriber that stops reading holds little: a whole 256-event page of
// large events, per stalled subscriber, was what made memory grow (#15
// item 9). At least one event is always kept.
const subscriptionPageBytes = 256 << 10

// boundPage returns the longest prefix of evs (at least one event) whose
// data and metadata together fit in limit bytes.
func boundPage(evs []eventlog.Event, limit int) []eventlog.Event {
	n := 0
	for i := range evs {
		n += len(evs[i].Data) + len(evs[i].Metadata)
		if n > limit && i > 0 {
			return evs[:i]
		}
	}
	return evs
}

// wait blocks until an event at or after sub.next is committed.
func (sub *Subscription) wait(ctx context.Context) error {
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		return ErrClosed
	}
	ls := sub.s.log.Subscribe(ctx, sub.next)
	sub.live = ls
	sub.mu.Unlock()
	_, err := ls.Next(ctx)
	ls.Close()
	sub.mu.Lock()
	sub.live = nil
	closed := sub.closed
	sub.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return err
}

// Close ends the subscription. It is safe to call more than once.
func (sub *Subscription) Close() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.closed = true
	if sub.live != nil {
		sub.live.Close()
	}
}
