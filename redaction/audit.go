package redaction

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
)

// eventPIIAccessed is the type of the events of $audit.
const eventPIIAccessed = "PIIAccessed"

// auditRecord is one stored line of the audit trail: a group of events of
// one stream and subject whose listed paths got the same state. It holds
// identifiers only, never a value.
type auditRecord struct {
	Subject   string   `json:"subject,omitempty"`
	Stream    string   `json:"stream,omitempty"`
	EventType string   `json:"eventType,omitempty"`
	Versions  []uint64 `json:"versions,omitempty"`
	Paths     []string `json:"paths,omitempty"`
	Classes   []Class  `json:"classes,omitempty"`
	Effect    string   `json:"effect,omitempty"`
	State     State    `json:"state,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	ErasureID string   `json:"erasureId,omitempty"`
}

// auditEvent is the body of one PIIAccessed event: one request.
type auditEvent struct {
	Time      time.Time     `json:"time"`
	Principal string        `json:"principal"`
	Roles     []string      `json:"roles,omitempty"`
	Root      bool          `json:"root,omitempty"`
	Action    string        `json:"action"`
	Purpose   string        `json:"purpose,omitempty"`
	RequestID string        `json:"requestId,omitempty"`
	Records   []auditRecord `json:"records"`
}

// auditGroups collects a read's records: the fields of one event with the
// same subject and outcome make one record, and records that differ only in
// the event's version are merged, so reading a stream of one customer makes
// one record however many events it has.
//
// It runs for every field of every page, so the current event's records are
// built in reused scratch space and a new record is allocated only for a
// group not seen before in the request; merging into one is an append of the
// version.
type auditGroups struct {
	list  []auditRecord
	merge map[string]int // merge key (see flush) -> index into list
	cur   []curRecord    // the current event's records; reused
	curEv *eventlog.Event
	key   []byte // scratch for the merge key
	// The paths and classes of the last new record, shared by the next
	// ones with the same (the records of one event type), and room for
	// the first version of new records: nothing appends to either.
	paths    []string
	classes  []Class
	versions []uint64
}

// curRecord is one record of the current event, in scratch space.
type curRecord struct {
	subject, effect, reason string
	state                   State
	paths                   []string
	classes                 []Class
}

// add records one field of one event; fields of an event arrive together.
func (g *auditGroups) add(e *eventlog.Event, f *rfield) {
	if g.curEv != e {
		g.flush()
		g.curEv = e
	}
	var r *curRecord
	for i := range g.cur {
		if g.cur[i].subject == f.subject && g.cur[i].state == f.state {
			r = &g.cur[i]
			break
		}
	}
	if r == nil {
		if len(g.cur) < cap(g.cur) {
			g.cur = g.cur[:len(g.cur)+1]
		} else {
			g.cur = append(g.cur, curRecord{})
		}
		r = &g.cur[len(g.cur)-1]
		r.subject, r.effect, r.reason, r.state = f.subject, auditEffect(f), f.reason, f.state
		r.paths, r.classes = r.paths[:0], r.classes[:0]
	}
	r.paths = append(r.paths, f.name)
	r.classes = append(r.classes, f.class)
	if r.reason != f.reason && !strings.Contains(r.reason, f.reason) {
		r.reason += "; " + f.reason
	}
}

// auditEffect is what happened to a field, not only what the policy
// allowed: the policy's reveal or mask when the value was shown, else the
// field's state (an erased subject's field was not revealed, whatever the
// policy would have allowed).
func auditEffect(f *rfield) string {
	switch f.state {
	case StateRevealed, StateMasked:
		return string(f.effect)
	}
	return string(f.state)
}

// flush merges the current event's records into the list.
func (g *auditGroups) flush() {
	e := g.curEv
	if e == nil {
		return
	}
	if g.merge == nil {
		g.merge = map[string]int{}
	}
	for i := range g.cur {
		r := &g.cur[i]
		// The merge key: every field but the version, each prefixed by
		// its length, so no two different groups share a key.
		k := g.key[:0]
		k = appendKeyPart(k, r.subject)
		k = appendKeyPart(k, e.Stream)
		k = appendKeyPart(k, e.Type)
		k = appendKeyPart(k, r.effect)
		k = appendKeyPart(k, r.reason)
		k = appendKeyPart(k, string(r.state))
		for j, p := range r.paths {
			k = appendKeyPart(k, p)
			k = appendKeyPart(k, string(r.classes[j]))
		}
		g.key = k
		if n, ok := g.merge[string(k)]; ok {
			g.list[n].Versions = append(g.list[n].Versions, e.Version)
			continue
		}
		g.merge[string(k)] = len(g.list)
		if !slices.Equal(g.paths, r.paths) || !slices.Equal(g.classes, r.classes) {
			g.paths, g.classes = slices.Clone(r.paths), slices.Clone(r.classes)
		}
		if len(g.versions) == cap(g.versions) {
			g.versions = make([]uint64, 0, 64)
		}
		g.versions = append(g.versions, e.Version)
		n := len(g.versions)
		// Versions is capped at its one element: merging appends to a copy.
		g.list = append(g.list, auditRecord{Subject: r.subject, Stream: e.Stream, EventType: e.Type,
			Versions: g.versions[n-1 : n : n], Paths: g.paths, Classes: g.classes,
			Effect: r.effect, State: r.state, Reason: r.reason})
	}
	g.cur = g.cur[:0]
	g.curEv = nil
}

func appendKeyPart(k []byte, s string) []byte {
	return append(binary.AppendUvarint(k, uint64(len(s))), s...)
}

// records returns the collected records.
func (g *auditGroups) records() []auditRecord {
	g.flush()
	return g.list
}

// audit writes the records of one request to $audit, as one event (more if
// it would be too large, in the same atomic append). An error means the
// records are not written; the caller must fail the request.
func (s *Service) audit(ctx context.Context, a Access, action policy.Action, recs []auditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	ev := auditEvent{Time: s.opts.Now().UTC(), Principal: a.Principal.ID, Roles: a.Principal.Roles, Root: a.Principal.Root,
		Action: string(action), Purpose: a.Purpose, RequestID: a.RequestID}
	head, err := appendAuditHead(nil, &ev)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	// Records are packed into events of at most defaultAuditEventBytes;
	// a record bigger than that gets an event of its own.
	var out []eventlog.EventData
	body := append(make([]byte, 0, min(defaultAuditEventBytes, len(head)+len(recs)*256)), head...)
	n := 0 // records in body
	for i := range recs {
		mark := len(body)
		if n > 0 {
			body = append(body, ',')
		}
		body = appendAuditRecord(body, &recs[i])
		if n > 0 && len(body)+len("]}") > defaultAuditEventBytes {
			out = append(out, eventlog.EventData{Type: eventPIIAccessed, Data: append(body[:mark], "]}"...)})
			body = append(make([]byte, 0, min(defaultAuditEventBytes, len(head)+(len(recs)-i)*256)), head...)
			body = appendAuditRecord(body, &recs[i])
			n = 0
		}
		n++
	}
	out = append(out, eventlog.EventData{Type: eventPIIAccessed, Data: append(body, "]}"...)})
	// The audit write must not be cut short by a client that goes away
	// after the data was decided on: it either lands or the read fails.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.log.AppendSystem(actx, StreamAudit, eventlog.Any, out); err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return nil
}

// appendAuditHead appends ev's encoding up to the opening of its records
// list, as encoding/json would write it: this runs for every read page,
// and reflection cost more than the rest of the audit (fuzzed against
// encoding/json).
func appendAuditHead(b []byte, ev *auditEvent) ([]byte, error) {
	t, err := ev.Time.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b = append(b, `{"time":`...)
	b = append(b, t...)
	b = append(b, `,"principal":`...)
	b = appendJSONText(b, ev.Principal)
	if len(ev.Roles) > 0 {
		b = append(b, `,"roles":`...)
		b = appendJSONStrings(b, ev.Roles)
	}
	if ev.Root {
		b = append(b, `,"root":true`...)
	}
	b = append(b, `,"action":`...)
	b = appendJSONText(b, ev.Action)
	b = appendOptional(b, `,"purpose":`, ev.Purpose)
	b = appendOptional(b, `,"requestId":`, ev.RequestID)
	return append(b, `,"records":[`...), nil
}

// appendAuditRecord appends r as encoding/json would.
func appendAuditRecord(b []byte, r *auditRecord) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendOptional(b, `,"subject":`, r.Subject)
	b = appendOptional(b, `,"stream":`, r.Stream)
	b = appendOptional(b, `,"eventType":`, r.EventType)
	if len(r.Versions) > 0 {
		b = append(b, `,"versions":[`...)
		for i, v := range r.Versions {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, v, 10)
		}
		b = append(b, ']')
	}
	if len(r.Paths) > 0 {
		b = append(b, `,"paths":`...)
		b = appendJSONStrings(b, r.Paths)
	}
	if len(r.Classes) > 0 {
		b = append(b, `,"classes":[`...)
		for i, c := range r.Classes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONText(b, string(c))
		}
		b = append(b, ']')
	}
	b = appendOptional(b, `,"effect":`, r.Effect)
	b = appendOptional(b, `,"state":`, string(r.State))
	b = appendOptional(b, `,"reason":`, r.Reason)
	b = appendOptional(b, `,"erasureId":`, r.ErasureID)
	if len(b) > n {
		b = append(b[:n], b[n+1:]...) // the first field's comma
	}
	return append(b, '}')
}

// appendOptional appends the key (with its leading comma) and s, unless s
// is empty (omitempty).
func appendOptional(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONText(append(b, key...), s)
}

func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONText(b, s)
	}
	return append(b, ']')
}

// appendJSONText appends s as a JSON string exactly as encoding/json
// writes it: printable ASCII is copied, anything else (escapes, HTML
// characters, non-ASCII) goes through encoding/json.
func appendJSONText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			lit, _ := json.Marshal(s)
			return append(b, lit...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AuditQuery selects audit records. Empty fields match everything.
type AuditQuery struct {
	Subject   string
	Principal string
	Action    string
	Purpose   string
	// Since and Until bound the record's time: Since inclusive, Until
	// exclusive; zero does not bound.
	Since, Until time.Time
	// From is the $audit stream version to start at (inclusive); 0 = 1.
	From  uint64
	Limit int
}

// AuditRecord is one access to personal data, as Audit returns it: the same
// shape as sdk.AuditRecord, one per event version touched.
type AuditRecord struct {
	Position  uint64 // position of the audit event in the log
	Time      time.Time
	Principal string
	Roles     []string
	Action    string
	Purpose   string
	Subject   string
	Stream    string
	EventType string
	Version   uint64
	Paths     []string
	Classes   []Class
	Effect    string
	State     State
	Reason    string
	RequestID string
	ErasureID string
}

// AuditPage is one page of audit records; Next, if not zero, is the From of
// the next page.
type AuditPage struct {
	Records []AuditRecord
	Next    uint64
}

// Audit queries the audit trail. Needs action audit.
func (s *Service) Audit(ctx context.Context, a Access, q AuditQuery) (AuditPage, error) {
	if err := s.authorize(ctx, a, policy.ActionAudit, policy.Resource{Subject: q.Subject, Stream: StreamAudit}); err != nil {
		return AuditPage{}, err
	}
	limit := s.checkLimit(q.Limit)
	from := max(q.From, 1)
	var page AuditPage
	for len(page.Records) < limit {
		evs, err := s.log.ReadStream(ctx, StreamAudit, from, 256, eventlog.Forward)
		if err != nil {
			if errors.Is(err, eventlog.ErrStreamNotFound) {
				break
			}
			return AuditPage{}, fmt.Errorf("read audit: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			from = e.Version + 1
			var ae auditEvent
			if err := json.Unmarshal(e.Data, &ae); err != nil {
				continue
			}
			if (q.Principal != "" && ae.Principal != q.Principal) || (q.Action != "" && ae.Action != q.Action) ||
				(q.Purpose != "" && ae.Purpose != q.Purpose) ||
				(!q.Since.IsZero() && ae.Time.Before(q.Since)) || (!q.Until.IsZero() && !ae.Time.Before(q.Until)) {
				continue
			}
			for _, r := range ae.Records {
				if q.Subject != "" && r.Subject != q.Subject {
					continue
				}
				versions := r.Versions
				if len(versions) == 0 {
					versions = []uint64{0}
				}
				for _, v := range versions {
					page.Records = append(page.Records, AuditRecord{Position: e.Position, Time: ae.Time, Principal: ae.Principal,
						Roles: ae.Roles, Action: ae.Action, Purpose: ae.Purpose, Subject: r.Subject, Stream: r.Stream,
						EventType: r.EventType, Version: v, Paths: r.Paths, Classes: r.Classes, Effect: r.Effect,
						State: r.State, Reason: r.Reason, RequestID: ae.RequestID, ErasureID: r.ErasureID})
				}
			}
			if len(page.Records) >= limit {
				page.Next = from
				return page, nil
			}
		}
	}
	return page, nil
}
