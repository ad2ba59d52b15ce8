package redaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
type auditGroups struct {
	list  []auditRecord
	merge map[mergeKey]int
	cur   []auditRecord // the current event's records
	curEv *eventlog.Event
}

type mergeKey struct {
	subject, stream, eventType, effect, reason, paths string
	state                                             State
}

// add records one field of one event; fields of an event arrive together.
func (g *auditGroups) add(e *eventlog.Event, f *rfield) {
	if g.curEv != e {
		g.flush()
		g.curEv = e
	}
	var r *auditRecord
	for i := range g.cur {
		if g.cur[i].Subject == f.subject && g.cur[i].State == f.state {
			r = &g.cur[i]
			break
		}
	}
	if r == nil {
		g.cur = append(g.cur, auditRecord{Subject: f.subject, Stream: e.Stream, EventType: e.Type,
			Versions: []uint64{e.Version}, Effect: string(f.effect), State: f.state, Reason: f.reason})
		r = &g.cur[len(g.cur)-1]
	}
	r.Paths = append(r.Paths, f.name)
	r.Classes = append(r.Classes, f.class)
	if r.Reason != f.reason && !strings.Contains(r.Reason, f.reason) {
		r.Reason += "; " + f.reason
	}
}

// flush merges the current event's records into the list.
func (g *auditGroups) flush() {
	if g.curEv == nil {
		return
	}
	if g.merge == nil {
		g.merge = map[mergeKey]int{}
	}
	var b strings.Builder
	for _, r := range g.cur {
		b.Reset()
		for k, p := range r.Paths {
			b.WriteString(p)
			b.WriteByte(0)
			b.WriteString(string(r.Classes[k]))
			b.WriteByte(1)
		}
		mk := mergeKey{r.Subject, r.Stream, r.EventType, r.Effect, r.Reason, b.String(), r.State}
		if i, ok := g.merge[mk]; ok {
			g.list[i].Versions = append(g.list[i].Versions, r.Versions...)
			continue
		}
		g.merge[mk] = len(g.list)
		g.list = append(g.list, r)
	}
	g.cur = g.cur[:0]
	g.curEv = nil
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
	var out []eventlog.EventData
	for len(recs) > 0 {
		n := len(recs)
		for {
			ev.Records = recs[:n]
			body, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrAudit, err)
			}
			if len(body) <= defaultAuditEventBytes || n == 1 {
				out = append(out, eventlog.EventData{Type: eventPIIAccessed, Data: body})
				break
			}
			n /= 2
		}
		recs = recs[n:]
	}
	// The audit write must not be cut short by a client that goes away
	// after the data was decided on: it either lands or the read fails.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.log.AppendSystem(actx, StreamAudit, eventlog.Any, out); err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return nil
}

// AuditQuery selects audit records. Empty fields match everything.
type AuditQuery struct {
	Subject   string
	Principal string
	Action    string
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
			if (q.Principal != "" && ae.Principal != q.Principal) || (q.Action != "" && ae.Action != q.Action) {
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
