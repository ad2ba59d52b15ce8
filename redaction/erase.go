package redaction

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/vault"
)

// Types of the events of $erasures. None holds a PII value.
const (
	EventErasureRequested = "ErasureRequested"
	EventSubjectErased    = "SubjectErased"
)

// ErasureRequest is what an erasure is asked with. Reason, Requester and
// Ticket are stored in $erasures and so must not hold personal data: the
// leak guard refuses them if they look like some (use a staff ID, not an
// email address, as the requester).
type ErasureRequest struct {
	// RequestID makes the request idempotent: the same subject and request
	// ID give the same erasure ID.
	RequestID string `json:"requestId,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Requester string `json:"requester,omitempty"`
	Ticket    string `json:"ticket,omitempty"`
	// Deadline, when positive, fixes the erasure's due date as the request
	// is recorded: ErasureRequested carries dueAt = requestedAt + Deadline,
	// so a later change of the configured deadline leaves it alone. Set by
	// the compliance workflow, never read from the wire.
	Deadline time.Duration `json:"-"`
}

// Erasure is the outcome of Erase, also the body of SubjectErased.
type Erasure struct {
	ErasureID     string    `json:"erasureId"`
	Subject       string    `json:"subject"`
	Status        string    `json:"status"`
	RequestedAt   time.Time `json:"requestedAt"`
	ErasedAt      time.Time `json:"erasedAt,omitempty"`
	ValuesDeleted int       `json:"valuesDeleted"`
	DEKDestroyed  bool      `json:"dekDestroyed"`
	AlreadyErased bool      `json:"alreadyErased,omitempty"`
	// LogPosition is the position of the SubjectErased event.
	LogPosition uint64 `json:"logPosition,omitempty"`
}

// erasureRequested is the body of ErasureRequested.
type erasureRequested struct {
	ErasureID   string    `json:"erasureId"`
	Subject     string    `json:"subject"`
	RequestID   string    `json:"requestId,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Requester   string    `json:"requester,omitempty"`
	Ticket      string    `json:"ticket,omitempty"`
	Principal   string    `json:"principal"`
	RequestedAt time.Time `json:"requestedAt"`
	DueAt       time.Time `json:"dueAt,omitzero"`
}

// Erasure statuses.
const (
	ErasureRequested = "requested"
	ErasureErased    = "erased"
)

var erasureNamespace = uuid.MustParse("6f1c1f43-3c1e-4e43-9f83-1e3c6f5a2b10")

// ErasureID is the erasure ID Erase gives a request with a request ID: a
// name-based UUID of (subject, request ID), so a repeated request gets the
// same ID.
func ErasureID(subject, requestID string) string {
	return uuid.NewSHA1(erasureNamespace, []byte(subject+"\x00"+requestID)).String()
}

// Erase erases a subject: the policy is asked here (action erase), the
// request is recorded in $erasures before the vault is touched (so a crash
// half-way is re-applied by compliance.Service.Reapply), then vault.Erase destroys the
// subject's key and values, and SubjectErased is appended. The log is not
// rewritten: every event that referred to the subject now reads the
// placeholder. Subscribers see both events.
func (s *Service) Erase(ctx context.Context, a Access, subject string, req ErasureRequest) (Erasure, error) {
	if err := s.authorize(ctx, a, policy.ActionErase, policy.Resource{Subject: subject}); err != nil {
		return Erasure{}, err
	}
	if subject == "" || checkSubject(subject) != nil {
		return Erasure{}, fmt.Errorf("erase: %w: bad subject ID", ErrInvalid)
	}
	for name, v := range map[string]string{"reason": req.Reason, "requester": req.Requester, "ticket": req.Ticket, "requestId": req.RequestID} {
		if k := DetectPII(v); k != "" {
			return Erasure{}, &LeakError{Type: "ErasureRequest", Path: "/" + name, Kind: k}
		}
	}
	id := uuid.NewString()
	if req.RequestID != "" {
		id = ErasureID(subject, req.RequestID)
	}
	now := s.opts.Now().UTC()
	rq := erasureRequested{ErasureID: id, Subject: subject, RequestID: req.RequestID, Reason: req.Reason,
		Requester: req.Requester, Ticket: req.Ticket, Principal: a.Principal.ID, RequestedAt: now}
	if req.Deadline > 0 {
		rq.DueAt = now.Add(req.Deadline)
	}
	body, _ := json.Marshal(rq)
	if _, err := s.log.AppendSystem(ctx, StreamErasures, eventlog.Any, []eventlog.EventData{{Type: EventErasureRequested, Data: body}}); err != nil {
		return Erasure{}, fmt.Errorf("erase: record request: %w", err)
	}
	res, err := s.store.Erase(ctx, subject, rq.ErasureID)
	if err != nil {
		return Erasure{ErasureID: rq.ErasureID, Subject: subject, Status: ErasureRequested, RequestedAt: now},
			vaultWriteError("erase", err)
	}
	out := Erasure{ErasureID: rq.ErasureID, Subject: subject, Status: ErasureErased, RequestedAt: now, ErasedAt: res.ErasedAt,
		ValuesDeleted: res.ValuesDeleted, DEKDestroyed: res.DEKDestroyed, AlreadyErased: res.AlreadyErased}
	// This erasure took effect now: a subject erased before (AlreadyErased)
	// has the earlier erasure's time in the vault, which is not this one's.
	if out.ErasedAt.IsZero() || out.ErasedAt.Before(now) {
		out.ErasedAt = s.opts.Now().UTC()
	}
	body, _ = json.Marshal(out)
	ar, err := s.log.AppendSystem(ctx, StreamErasures, eventlog.Any, []eventlog.EventData{{Type: EventSubjectErased, Data: body}})
	if err != nil {
		// The vault is erased; the request event makes a restart re-apply it.
		return out, fmt.Errorf("erase: record completion: %w", err)
	}
	out.LogPosition = ar.FirstPosition
	if err := s.audit(ctx, a, policy.ActionErase, []auditRecord{{Subject: subject, Effect: "erase", State: StateErased,
		Reason: "erasure " + rq.ErasureID, ErasureID: rq.ErasureID}}); err != nil {
		return out, err
	}
	return out, nil
}

// ExportValue is one value held for a subject.
type ExportValue struct {
	Class     Class
	Token     vault.Token
	Value     vault.PII // zero unless State is revealed or masked
	State     State
	CreatedAt time.Time
}

// EventRef names one event that refers to a subject, without values.
type EventRef struct {
	Stream     string
	Version    uint64
	Position   uint64
	Type       string
	RecordedAt time.Time // when the event was appended
	Paths      []string
	Classes    []Class
}

// SubjectExport is everything held about a subject (GDPR Art. 15 and 20).
type SubjectExport struct {
	Subject   string
	Erased    bool
	ErasureID string
	Values    []ExportValue
	Events    []EventRef
}

// Export returns every value held for a subject, by class, and the events
// that refer to it (from the subject's index stream). Needs action export;
// each value is then shown as the policy's field decision for action export
// says (the shipped policy reveals everything to the dpo). After an erasure
// the values are gone: the export lists the events and one placeholder
// value per referenced path. The export is audited.
func (s *Service) Export(ctx context.Context, a Access, subject string) (*SubjectExport, error) {
	if err := s.authorize(ctx, a, policy.ActionExport, policy.Resource{Subject: subject}); err != nil {
		return nil, err
	}
	if subject == "" || checkSubject(subject) != nil {
		return nil, fmt.Errorf("export: %w: bad subject ID", ErrInvalid)
	}
	info, err := s.store.Describe(ctx, subject)
	if err != nil {
		return nil, vaultWriteError("export", err)
	}
	out := &SubjectExport{Subject: subject, Erased: info.Erased, ErasureID: info.ErasureID}
	refs, err := s.subjectEventRefs(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	out.Events = refs
	memo := map[Class]policy.Decision{}
	decide := func(c Class) policy.Decision {
		if d, ok := memo[c]; ok {
			return d
		}
		d, err := s.pol.Field(ctx, policy.Input{Principal: a.Principal, Action: policy.ActionExport, Purpose: a.Purpose,
			Resource: policy.Resource{Subject: subject, Class: string(c)}})
		if err != nil {
			d = policy.Decision{Effect: policy.EffectDeny}
		}
		memo[c] = d
		return d
	}
	var recs []auditRecord
	if info.Erased {
		for _, r := range refs {
			for _, c := range r.Classes {
				out.Values = append(out.Values, ExportValue{Class: c, State: StateErased,
					Value: vault.NewPII(appendJSONString(nil, s.opts.Placeholder))})
			}
		}
		recs = append(recs, auditRecord{Subject: subject, Effect: "export", State: StateErased, ErasureID: info.ErasureID})
	} else {
		held, err := s.store.Export(ctx, subject)
		if err != nil {
			return nil, vaultWriteError("export", err)
		}
		counts := map[State][]Class{}
		for _, h := range held {
			c := Class(h.Class)
			v := ExportValue{Class: c, Token: h.Token, CreatedAt: h.CreatedAt}
			switch decide(c).Effect {
			case policy.EffectReveal:
				v.State, v.Value = StateRevealed, h.Value
			case policy.EffectMask:
				v.State, v.Value = StateMasked, vault.NewPII(appendJSONString(nil, Mask(c, h.Value.Reveal())))
			case policy.EffectTokenize:
				v.State = StateTokenized
			default:
				v.State = StateDenied
			}
			counts[v.State] = append(counts[v.State], c)
			out.Values = append(out.Values, v)
		}
		for st, cs := range counts {
			recs = append(recs, auditRecord{Subject: subject, Effect: "export", State: st, Classes: cs})
		}
		if len(recs) == 0 {
			recs = append(recs, auditRecord{Subject: subject, Effect: "export"})
		}
	}
	if err := s.audit(ctx, a, policy.ActionExport, recs); err != nil {
		return nil, err
	}
	return out, nil
}

// Verify walks the log's hash chain. Needs action audit or admin.
func (s *Service) Verify(ctx context.Context, a Access) (VerifyResult, error) {
	if a.Decided(policy.ActionAdmin, policy.Resource{}) {
		v, err := s.log.Verify(ctx)
		return VerifyResult(v), err
	}
	if d, err := s.pol.Authorize(ctx, policy.Input{Principal: a.Principal, Action: policy.ActionAdmin}); err != nil || !d.Allow {
		if err := s.authorize(ctx, a, policy.ActionAudit, policy.Resource{}); err != nil {
			return VerifyResult{}, err
		}
	}
	v, err := s.log.Verify(ctx)
	return VerifyResult(v), err
}

// Head returns the log's last global position (0 if empty).
func (s *Service) Head(ctx context.Context) (uint64, error) { return s.log.Head(ctx) }
