package compliance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
)

// Hold is a legal hold on a subject: while it is active, erasure requests
// for the subject are rejected.
type Hold struct {
	Subject  string    `json:"subject"`
	Active   bool      `json:"active"`
	Reason   string    `json:"reason"`
	PlacedBy string    `json:"placedBy"`
	PlacedAt time.Time `json:"placedAt"`
	// Set once lifted.
	LiftedBy   string    `json:"liftedBy,omitempty"`
	LiftedAt   time.Time `json:"liftedAt,omitzero"`
	LiftReason string    `json:"liftReason,omitempty"`
}

// applyHold folds one $holds event into the state. Called with s.mu held.
func (s *Service) applyHold(e eventlog.Event) {
	var h holdEvent
	if json.Unmarshal(e.Data, &h) != nil || h.Subject == "" {
		return
	}
	cur := s.holds[h.Subject]
	switch e.Type {
	case EventHoldPlaced:
		if cur != nil && cur.Active {
			return
		}
		if cur == nil {
			s.holdOrder = append(s.holdOrder, h.Subject)
		}
		s.holds[h.Subject] = &Hold{Subject: h.Subject, Active: true, Reason: h.Reason, PlacedBy: h.Principal, PlacedAt: h.At.UTC()}
	case EventHoldLifted:
		if cur == nil || !cur.Active {
			return
		}
		cur.Active, cur.LiftedBy, cur.LiftedAt, cur.LiftReason = false, h.Principal, h.At.UTC(), h.Reason
	}
}

// PlaceHold puts a subject under legal hold. It needs action erase (the
// people who may erase decide what must not be). The hold is an event in
// $holds and an audit record; reason is stored as given and must not hold
// personal data (the leak guard refuses it if it looks like some). Placing a
// hold on a held subject returns the existing hold and records nothing.
// A hold does not stop an erasure already running.
func (s *Service) PlaceHold(ctx context.Context, a redaction.Access, subject, reason string) (Hold, error) {
	return s.changeHold(ctx, a, subject, reason, true)
}

// LiftHold ends a subject's legal hold (ErrNoHold if none is active). Like
// PlaceHold it needs action erase and is recorded and audited.
func (s *Service) LiftHold(ctx context.Context, a redaction.Access, subject, reason string) (Hold, error) {
	return s.changeHold(ctx, a, subject, reason, false)
}

func (s *Service) changeHold(ctx context.Context, a redaction.Access, subject, reason string, place bool) (Hold, error) {
	if err := s.authorize(ctx, a, policy.ActionErase, subject); err != nil {
		return Hold{}, err
	}
	if err := checkSubject(subject); err != nil {
		return Hold{}, fmt.Errorf("legal hold: %w", err)
	}
	if reason == "" {
		return Hold{}, fmt.Errorf("legal hold: %w: %w: a reason is required", ErrInvalid, redaction.ErrInvalid)
	}
	if err := checkText("LegalHold", map[string]string{"reason": reason}); err != nil {
		return Hold{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.holds[subject]
	typ, effect := EventHoldPlaced, "hold_place"
	if place && cur != nil && cur.Active {
		return *cur, nil
	}
	if !place {
		if cur == nil || !cur.Active {
			return Hold{}, fmt.Errorf("lift legal hold: %w", ErrNoHold)
		}
		typ, effect = EventHoldLifted, "hold_lift"
	}
	ev := holdEvent{Subject: subject, Reason: reason, Principal: a.Principal.ID, At: s.opts.Now().UTC()}
	body, _ := json.Marshal(ev)
	res, err := s.appendSystem(ctx, StreamHolds, eventlog.EventData{Type: typ, Data: body})
	if err != nil {
		return Hold{}, fmt.Errorf("legal hold: record: %w", err)
	}
	s.applyHold(eventlog.Event{Stream: StreamHolds, Version: res.FirstVersion, Position: res.FirstPosition, Type: typ, Data: body})
	if err := s.audit(ctx, a, policy.ActionErase, auditRecord{Subject: subject, Effect: effect, Reason: reason}); err != nil {
		return *s.holds[subject], err
	}
	return *s.holds[subject], nil
}

// GetHold returns a subject's hold (Active false and ErrNoHold if it never
// had one). Needs action erase.
func (s *Service) GetHold(ctx context.Context, a redaction.Access, subject string) (Hold, error) {
	if err := s.authorize(ctx, a, policy.ActionErase, subject); err != nil {
		return Hold{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.holds[subject]
	if h == nil {
		return Hold{Subject: subject}, fmt.Errorf("get legal hold: %w", ErrNoHold)
	}
	return *h, nil
}

// ListHolds returns the holds, active ones only unless all is set, in the
// order they were first placed. Needs action erase.
func (s *Service) ListHolds(ctx context.Context, a redaction.Access, all bool) ([]Hold, error) {
	if err := s.authorize(ctx, a, policy.ActionErase, ""); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Hold{}
	for _, sub := range s.holdOrder {
		if h := s.holds[sub]; all || h.Active {
			out = append(out, *h)
		}
	}
	return out, nil
}
