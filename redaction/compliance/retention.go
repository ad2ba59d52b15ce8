package compliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
)

// RetentionRule keeps values of an event type and/or class for Period after
// the event's recordedAt. An empty EventType or Class matches any; the most
// specific rule wins (type and class, then type, then class).
type RetentionRule struct {
	EventType string        `json:"eventType,omitempty" yaml:"eventType,omitempty"`
	Class     string        `json:"class,omitempty" yaml:"class,omitempty"`
	Period    time.Duration `json:"period" yaml:"period"`
}

// ValuesExpired is the body of the ValuesExpired event: one event's values of one
// subject that a retention rule destroyed. No value, no token.
type ValuesExpired struct {
	Stream     string    `json:"stream"`
	Version    uint64    `json:"version"`
	Position   uint64    `json:"position"`
	EventType  string    `json:"eventType"`
	Subject    string    `json:"subject"`
	Paths      []string  `json:"paths"`
	Classes    []string  `json:"classes"`
	RecordedAt time.Time `json:"recordedAt"`
	ExpiredAt  time.Time `json:"expiredAt"`
	Retention  string    `json:"retention"`
	// Mode is "expired" (the vault keeps an expiry tombstone: reads say
	// expired) or "deleted" (the vault has no expiry support: reads say
	// unavailable).
	Mode string `json:"mode"`
}

type retentionCursor struct {
	Position uint64 `json:"position"`
}

// RetentionReport says what one run of the retention job did.
type RetentionReport struct {
	Scanned int    // events read
	Expired int    // values destroyed
	Records int    // ValuesExpired events written
	Cursor  uint64 // where the next run starts
	Mode    string // "expired" or "deleted", see ValuesExpired
}

// rule returns the retention period for a value, or 0 if none applies.
func (s *Service) rule(eventType, class string) time.Duration {
	var typ, cls time.Duration
	for _, r := range s.opts.Retention {
		switch {
		case r.EventType == eventType && r.Class == class:
			return r.Period
		case r.EventType == eventType && r.Class == "":
			typ = r.Period
		case r.EventType == "" && r.Class == class:
			cls = r.Period
		case r.EventType == "" && r.Class == "" && cls == 0:
			cls = r.Period
		}
	}
	if typ > 0 {
		return typ
	}
	return cls
}

type expiryCandidate struct {
	ev     *eventlog.Event
	ref    redaction.TokenRef
	period time.Duration
}

// RunRetention destroys the values whose retention period, counted from
// their event's recordedAt, has passed at the clock's now. Each destroyed
// group of values is recorded in $retention (ValuesExpired, without
// values). Values of erased subjects and values gone already are skipped,
// so runs are idempotent. The background job calls it at start and every
// RetentionInterval; POST /v1/admin/retention/run calls it at once.
//
// The job keeps a cursor (RetentionCheckpoint in $retention): the first
// event that still has a value to expire later. A run reads from the cursor up to the events
// younger than the shortest rule.
func (s *Service) RunRetention(ctx context.Context) (RetentionReport, error) {
	s.retMu.Lock()
	defer s.retMu.Unlock()
	var rep RetentionReport
	if len(s.opts.Retention) == 0 {
		return rep, nil
	}
	hasExpire := s.store.Capabilities().Has(vault.CapExpire)
	rep.Mode = "deleted"
	if hasExpire {
		rep.Mode = "expired"
	}
	now := s.opts.Now()
	minPeriod := s.opts.Retention[0].Period
	for _, r := range s.opts.Retention {
		minPeriod = min(minPeriod, r.Period)
	}
	cursor, err := s.loadCursor(ctx, EventRetentionCheckpoint)
	if err != nil {
		return rep, fmt.Errorf("retention: %w", err)
	}
	from := max(cursor, 1)
	var blocked uint64 // first event with a value to expire later
	done := false
	for !done {
		evs, err := s.log.ReadAll(ctx, from, 1000, eventlog.Filter{})
		if err != nil {
			return rep, fmt.Errorf("retention: read: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		var cands []expiryCandidate
		for i := range evs {
			e := &evs[i]
			if now.Sub(e.RecordedAt) < minPeriod {
				done = true
				if blocked == 0 {
					blocked = e.Position
				}
				break
			}
			from = e.Position + 1
			rep.Scanned++
			if strings.HasPrefix(e.Stream, "$") {
				continue
			}
			refs, err := redaction.EventTokens(*e)
			if err != nil {
				s.lg.Warn("retention: event metadata not understood, skipped", "position", e.Position, logKeyErr, err.Error())
				continue
			}
			for _, ref := range refs {
				p := s.rule(e.Type, string(ref.Class))
				switch {
				case p == 0:
				case !e.RecordedAt.Add(p).After(now):
					cands = append(cands, expiryCandidate{ev: e, ref: ref, period: p})
				case blocked == 0:
					blocked = e.Position
				}
			}
		}
		if err := s.expire(ctx, cands, hasExpire, now, &rep); err != nil {
			return rep, err
		}
	}
	if blocked == 0 {
		blocked = from
	}
	rep.Cursor = blocked
	if blocked > cursor {
		body, _ := json.Marshal(retentionCursor{Position: blocked})
		if _, err := s.appendSystem(ctx, StreamRetention, eventlog.EventData{Type: EventRetentionCheckpoint, Data: body}); err != nil {
			return rep, fmt.Errorf("retention: record cursor: %w", err)
		}
	}
	if rep.Expired > 0 {
		s.lg.Info("retention: values destroyed", logKeyCount, rep.Expired, "mode", rep.Mode)
	}
	return rep, nil
}

// expire destroys the candidates still held and records them.
func (s *Service) expire(ctx context.Context, cands []expiryCandidate, hasExpire bool, now time.Time, rep *RetentionReport) error {
	if len(cands) == 0 {
		return nil
	}
	toks := make([]vault.Token, len(cands))
	for i, c := range cands {
		toks[i] = c.ref.Token
	}
	res, err := s.store.Resolve(ctx, toks)
	if err != nil {
		return fmt.Errorf("retention: resolve: %w", err)
	}
	var held []vault.Token
	type key struct {
		pos     uint64
		subject string
	}
	groups := map[key]*ValuesExpired{}
	var order []key
	for i, r := range res {
		if r.State != vault.Found {
			continue
		}
		c := cands[i]
		held = append(held, c.ref.Token)
		k := key{c.ev.Position, c.ref.Subject}
		g := groups[k]
		if g == nil {
			g = &ValuesExpired{Stream: c.ev.Stream, Version: c.ev.Version, Position: c.ev.Position, EventType: c.ev.Type,
				Subject: c.ref.Subject, RecordedAt: c.ev.RecordedAt.UTC(), ExpiredAt: now.UTC(), Retention: c.period.String(), Mode: rep.Mode}
			groups[k] = g
			order = append(order, k)
		}
		g.Paths = append(g.Paths, c.ref.Path)
		g.Classes = append(g.Classes, string(c.ref.Class))
	}
	if len(held) == 0 {
		return nil
	}
	if hasExpire {
		n, err := s.store.Expire(ctx, held)
		if err != nil {
			return fmt.Errorf("retention: expire: %w", err)
		}
		rep.Expired += n
	} else {
		if err := s.store.Delete(ctx, held); err != nil {
			return fmt.Errorf("retention: delete: %w", err)
		}
		rep.Expired += len(held)
	}
	var evs []eventlog.EventData
	flush := func() error {
		if len(evs) == 0 {
			return nil
		}
		_, err := s.appendSystem(ctx, StreamRetention, evs...)
		evs = evs[:0]
		if err != nil {
			return fmt.Errorf("retention: record: %w", err)
		}
		return nil
	}
	for _, k := range order {
		body, _ := json.Marshal(groups[k])
		evs = append(evs, eventlog.EventData{Type: EventValuesExpired, Data: body})
		rep.Records++
		if len(evs) == 100 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// loadCursor returns the position of the last cursor event of type typ in
// $retention (0 if none). Cursors are written at the end of a run, so the
// scan back stops within the last run's records.
func (s *Service) loadCursor(ctx context.Context, typ string) (uint64, error) {
	from := uint64(0) // Backward from 0 = from the end
	for {
		evs, err := s.log.ReadStream(ctx, StreamRetention, from, 256, eventlog.Backward)
		if errors.Is(err, eventlog.ErrStreamNotFound) || (err == nil && len(evs) == 0) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", StreamRetention, err)
		}
		for _, e := range evs {
			if e.Type != typ {
				continue
			}
			var c retentionCursor
			if err := json.Unmarshal(e.Data, &c); err != nil {
				return 0, fmt.Errorf("read %s: %w", StreamRetention, err)
			}
			return c.Position, nil
		}
		last := evs[len(evs)-1].Version
		if last <= 1 {
			return 0, nil
		}
		from = last - 1
	}
}

// Expiries lists the ValuesExpired records (no values) of a subject, or of
// everyone if subject is empty, for audits and tests. No policy check: the
// caller (an admin route) decides who may see them.
func (s *Service) Expiries(ctx context.Context, subject string) ([]ValuesExpired, error) {
	var out []ValuesExpired
	_, err := s.readStream(ctx, StreamRetention, 1, func(e eventlog.Event) error {
		var v ValuesExpired
		if e.Type != EventValuesExpired || json.Unmarshal(e.Data, &v) != nil {
			return nil
		}
		if subject == "" || v.Subject == subject {
			out = append(out, v)
		}
		return nil
	})
	return out, err
}
