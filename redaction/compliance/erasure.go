package compliance

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
)

// Erasure statuses. An erasure moves requested -> erased -> purged ->
// completed, or is rejected at once.
const (
	StatusRequested = "requested"
	StatusErased    = "erased"
	StatusPurged    = "purged"
	StatusCompleted = "completed"
	StatusRejected  = "rejected"
)

// rejectionPrefix starts the Rejection of an erasure refused for a hold.
const rejectionPrefix = "legal hold: "

// Erasure is the state of one erasure request. It holds identifiers, the
// request's free-text fields (checked not to look like personal data),
// counts and times.
type Erasure struct {
	ID        string `json:"erasureId"`
	Subject   string `json:"subject"`
	Status    string `json:"status"`
	RequestID string `json:"requestId,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Requester string `json:"requester,omitempty"`
	Ticket    string `json:"ticket,omitempty"`
	Principal string `json:"principal,omitempty"`
	// Rejection says why a rejected request was rejected.
	Rejection string `json:"rejection,omitempty"`

	ValuesDeleted int  `json:"valuesDeleted"`
	DEKDestroyed  bool `json:"dekDestroyed"`
	AlreadyErased bool `json:"alreadyErased,omitempty"`

	RequestedAt time.Time `json:"requestedAt"`
	ErasedAt    time.Time `json:"erasedAt,omitzero"`
	PurgedAt    time.Time `json:"purgedAt,omitzero"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	RejectedAt  time.Time `json:"rejectedAt,omitzero"`
	// DueAt is RequestedAt plus the deadline configured when the request
	// was recorded (the current deadline for records that lack it).
	DueAt time.Time `json:"dueAt"`
	// Overdue: still open past DueAt. NearDeadline: still open, within
	// Options.NearDeadline of DueAt. Late: completed after DueAt.
	Overdue      bool `json:"overdue,omitempty"`
	NearDeadline bool `json:"nearDeadline,omitempty"`
	Late         bool `json:"late,omitempty"`

	// Receipt is the signed receipt document, once completed.
	Receipt json.RawMessage `json:"receipt,omitempty"`
}

// Open reports whether the erasure still has steps to go.
func (e *Erasure) Open() bool {
	return e.Status == StatusRequested || e.Status == StatusErased || e.Status == StatusPurged
}

// view returns a copy of e with the deadline flags computed for now.
func (s *Service) view(e *Erasure, now time.Time) Erasure {
	out := *e
	if out.DueAt.IsZero() {
		out.DueAt = e.RequestedAt.Add(s.opts.Deadline)
	}
	if out.Open() {
		out.Overdue = now.After(out.DueAt)
		out.NearDeadline = !out.Overdue && now.After(out.DueAt.Add(-s.opts.NearDeadline))
	}
	out.Late = out.Status == StatusCompleted && out.CompletedAt.After(out.DueAt)
	return out
}

// rank orders statuses so that replay only moves an erasure forward.
func rank(status string) int {
	switch status {
	case StatusRequested:
		return 1
	case StatusErased:
		return 2
	case StatusPurged:
		return 3
	case StatusCompleted, StatusRejected:
		return 4
	}
	return 0
}

// applyErasure folds one $erasures event into the state. Called with s.mu
// held. It is idempotent: events seen again change nothing.
func (s *Service) applyErasure(e eventlog.Event) {
	var head struct {
		ErasureID string `json:"erasureId"`
		Subject   string `json:"subject"`
	}
	if json.Unmarshal(e.Data, &head) != nil || head.ErasureID == "" || head.Subject == "" {
		return
	}
	rec := s.erasures[head.ErasureID]
	get := func() *Erasure {
		if rec == nil {
			rec = &Erasure{ID: head.ErasureID, Subject: head.Subject, RequestedAt: e.RecordedAt.UTC()}
			s.erasures[rec.ID] = rec
			s.order = append(s.order, rec.ID)
		}
		return rec
	}
	advance := func(to string) {
		if rank(to) > rank(rec.Status) {
			rec.Status = to
		}
	}
	switch e.Type {
	case EventErasureRequested:
		var rq erasureRequested
		if json.Unmarshal(e.Data, &rq) != nil {
			return
		}
		fresh := rec == nil
		get()
		if fresh || rec.RequestID == "" {
			rec.RequestID, rec.Reason, rec.Requester, rec.Ticket, rec.Principal = rq.RequestID, rq.Reason, rq.Requester, rq.Ticket, rq.Principal
			if !rq.RequestedAt.IsZero() {
				rec.RequestedAt = rq.RequestedAt.UTC()
			}
			if !rq.DueAt.IsZero() {
				rec.DueAt = rq.DueAt.UTC()
			}
		}
		advance(StatusRequested)
		if rq.RequestID != "" {
			if _, ok := s.byRequest[rq.RequestID]; !ok {
				s.byRequest[rq.RequestID] = rec.ID
			}
		}
	case EventSubjectErased:
		var done redaction.Erasure
		if json.Unmarshal(e.Data, &done) != nil {
			return
		}
		get()
		if rec.ErasedAt.IsZero() {
			rec.ErasedAt = done.ErasedAt.UTC()
			// Records written before the fix carry the earlier erasure's
			// time for a subject erased already: this one took effect no
			// earlier than it was requested.
			if rec.ErasedAt.Before(rec.RequestedAt) {
				rec.ErasedAt = rec.RequestedAt
			}
			rec.ValuesDeleted, rec.DEKDestroyed, rec.AlreadyErased = done.ValuesDeleted, done.DEKDestroyed, done.AlreadyErased
		}
		advance(StatusErased)
	case EventErasurePurged:
		var p erasurePurged
		if json.Unmarshal(e.Data, &p) != nil {
			return
		}
		get()
		if rec.PurgedAt.IsZero() {
			rec.PurgedAt = p.PurgedAt.UTC()
		}
		advance(StatusPurged)
	case EventErasureCompleted:
		var c ErasureCompletedEvent
		if json.Unmarshal(e.Data, &c) != nil {
			return
		}
		get()
		if rec.CompletedAt.IsZero() {
			rec.CompletedAt, rec.Receipt = c.CompletedAt.UTC(), c.Receipt
		}
		advance(StatusCompleted)
	case EventErasureRejected:
		var rj erasureRejected
		if json.Unmarshal(e.Data, &rj) != nil {
			return
		}
		if rec != nil {
			return
		}
		get()
		rec.RequestID, rec.Reason, rec.Requester, rec.Ticket, rec.Principal = rj.RequestID, rj.Reason, rj.Requester, rj.Ticket, rj.Principal
		rec.RequestedAt, rec.RejectedAt, rec.Rejection = rj.RequestedAt.UTC(), rj.RejectedAt.UTC(), rj.Rejection
		if !rj.DueAt.IsZero() {
			rec.DueAt = rj.DueAt.UTC()
		}
		rec.Status = StatusRejected
		if rj.RequestID != "" {
			if _, ok := s.byRequest[rj.RequestID]; !ok {
				s.byRequest[rj.RequestID] = rec.ID
			}
		}
	}
}

// catchUp folds in $erasures events appended since the last read (by this
// Service or by anyone calling redaction's Erase directly). Called with
// s.mu held.
func (s *Service) catchUp(ctx context.Context) error {
	next, err := s.readStream(ctx, StreamErasures, s.lastRead+1, func(e eventlog.Event) error { s.applyErasure(e); return nil })
	if next > 0 {
		s.lastRead = next - 1
	}
	return err
}

// checkText refuses free text that looks like personal data: it is stored
// in system streams and receipts.
func checkText(what string, fields map[string]string) error {
	for name, v := range fields {
		if k := redaction.DetectPII(v); k != "" {
			return &redaction.LeakError{Type: what, Path: "/" + name, Kind: k}
		}
		if len(v) > 1024 {
			return fmt.Errorf("%w: %w: %s longer than 1024 bytes", ErrInvalid, redaction.ErrInvalid, name)
		}
	}
	return nil
}

func checkSubject(subject string) error {
	if err := vault.ValidateSubject(subject); err != nil {
		return fmt.Errorf("%w: %w: bad subject ID", ErrInvalid, redaction.ErrInvalid)
	}
	return nil
}

// Request asks for the erasure of a subject (GDPR Art. 17). It needs action
// erase. It is idempotent per request ID: a request ID seen before returns
// that erasure as it stands now (ErrRequestIDReused if it was for another
// subject); an empty request ID gets a fresh one. A subject under legal
// hold is not erased: the request is recorded as rejected (ErasureRejected
// in $erasures), audited, and the returned error is a *LegalHoldError.
// Otherwise redaction's Erase records the request, erases the vault and
// records SubjectErased; Request returns with status erased, and the
// background worker (or Advance) purges, signs the receipt and records
// ErasureCompleted.
func (s *Service) Request(ctx context.Context, a redaction.Access, subject string, req redaction.ErasureRequest) (Erasure, error) {
	if err := s.authorize(ctx, a, policy.ActionErase, subject); err != nil {
		return Erasure{}, err
	}
	if err := checkSubject(subject); err != nil {
		return Erasure{}, fmt.Errorf("erasure request: %w", err)
	}
	if err := checkText("ErasureRequest", map[string]string{"requestId": req.RequestID, "reason": req.Reason,
		"requester": req.Requester, "ticket": req.Ticket}); err != nil {
		return Erasure{}, err
	}
	if req.RequestID == "" {
		req.RequestID = uuid.NewString()
	}
	for {
		s.mu.Lock()
		if err := s.catchUp(ctx); err != nil {
			s.mu.Unlock()
			return Erasure{}, fmt.Errorf("erasure request: %w", err)
		}
		if id, ok := s.byRequest[req.RequestID]; ok {
			rec := s.erasures[id]
			out := s.view(rec, s.opts.Now())
			s.mu.Unlock()
			if rec.Subject != subject {
				return Erasure{}, fmt.Errorf("erasure request: %w", ErrRequestIDReused)
			}
			if out.Status == StatusRejected {
				return out, &LegalHoldError{Subject: subject, ErasureID: out.ID, Reason: strings.TrimPrefix(out.Rejection, rejectionPrefix)}
			}
			return out, nil
		}
		if wait, ok := s.pending[req.RequestID]; ok {
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return Erasure{}, ctx.Err()
			}
		}
		if h := s.holds[subject]; h != nil && h.Active {
			defer s.mu.Unlock()
			return s.reject(ctx, a, subject, req, h)
		}
		done := make(chan struct{})
		s.pending[req.RequestID] = done
		s.mu.Unlock()
		out, err := s.erase(ctx, a, subject, req)
		s.mu.Lock()
		delete(s.pending, req.RequestID)
		close(done)
		s.mu.Unlock()
		return out, err
	}
}

// erase runs redaction's Erase and folds in what it recorded.
func (s *Service) erase(ctx context.Context, a redaction.Access, subject string, req redaction.ErasureRequest) (Erasure, error) {
	req.Deadline = s.opts.Deadline
	res, err := s.red.Erase(ctx, a, subject, req)
	if res.ErasureID != "" {
		s.kickAdvance()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cerr := s.catchUp(ctx); cerr != nil && err == nil {
		err = cerr
	}
	rec, ok := s.erasures[res.ErasureID]
	if !ok {
		if err == nil {
			err = fmt.Errorf("erasure request: erasure %s not found in %s after it was recorded", res.ErasureID, StreamErasures)
		}
		return Erasure{}, err
	}
	if id, ok := s.byRequest[req.RequestID]; !ok || id != rec.ID {
		s.byRequest[req.RequestID] = rec.ID
	}
	return s.view(rec, s.opts.Now()), err
}

// reject records a rejected request. Called with s.mu held.
func (s *Service) reject(ctx context.Context, a redaction.Access, subject string, req redaction.ErasureRequest, h *Hold) (Erasure, error) {
	now := s.opts.Now().UTC()
	id := redaction.ErasureID(subject, req.RequestID) // the ID Erase would have given
	rj := erasureRejected{erasureRequested: erasureRequested{ErasureID: id, Subject: subject, RequestID: req.RequestID,
		Reason: req.Reason, Requester: req.Requester, Ticket: req.Ticket, Principal: a.Principal.ID, RequestedAt: now,
		DueAt: now.Add(s.opts.Deadline)}, RejectedAt: now, Rejection: rejectionPrefix + h.Reason}
	body, _ := json.Marshal(rj)
	if _, err := s.appendSystem(ctx, StreamErasures, eventlog.EventData{Type: EventErasureRejected, Data: body}); err != nil {
		return Erasure{}, fmt.Errorf("erasure request: record rejection: %w", err)
	}
	if err := s.catchUp(ctx); err != nil {
		return Erasure{}, fmt.Errorf("erasure request: %w", err)
	}
	if err := s.audit(ctx, a, policy.ActionErase, auditRecord{Subject: subject, Effect: "reject", State: StatusRejected,
		Reason: rj.Rejection, ErasureID: id}); err != nil {
		return Erasure{}, err
	}
	rec := s.erasures[id]
	if rec == nil {
		return Erasure{}, fmt.Errorf("erasure request: rejection %s not found after it was recorded", id)
	}
	return s.view(rec, now), &LegalHoldError{Subject: subject, ErasureID: id, Reason: h.Reason}
}

// Get returns an erasure by ID, with its receipt once completed. Needs
// action erase. An unknown ID gives ErrNotFound (which also matches
// redaction.ErrErasureNotFound).
func (s *Service) Get(ctx context.Context, a redaction.Access, id string) (Erasure, error) {
	if err := s.authorize(ctx, a, policy.ActionErase, ""); err != nil {
		return Erasure{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.catchUp(ctx); err != nil {
		return Erasure{}, fmt.Errorf("get erasure: %w", err)
	}
	rec, ok := s.erasures[id]
	if !ok {
		return Erasure{}, fmt.Errorf("get erasure %q: %w: %w", id, ErrNotFound, redaction.ErrErasureNotFound)
	}
	return s.view(rec, s.opts.Now()), nil
}

// ListQuery selects erasures. Zero fields match everything.
type ListQuery struct {
	// Status is one of the Status constants, or "open" for requested,
	// erased and purged together.
	Status string
	// Overdue keeps open erasures past their deadline; NearDeadline keeps
	// open ones past their deadline or within Options.NearDeadline of it.
	Overdue      bool
	NearDeadline bool
	Subject      string
	// Limit caps the answer (default and maximum 1000).
	Limit int
	// After is an erasure ID: the page starts after it (request order).
	After string
}

// List returns erasures in request order. Needs action erase. Receipts are
// left out (Get has them).
func (s *Service) List(ctx context.Context, a redaction.Access, q ListQuery) ([]Erasure, error) {
	if err := s.authorize(ctx, a, policy.ActionErase, q.Subject); err != nil {
		return nil, err
	}
	switch q.Status {
	case "", "open", StatusRequested, StatusErased, StatusPurged, StatusCompleted, StatusRejected:
	default:
		return nil, fmt.Errorf("list erasures: %w: %w: status %q", ErrInvalid, redaction.ErrInvalid, q.Status)
	}
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.catchUp(ctx); err != nil {
		return nil, fmt.Errorf("list erasures: %w", err)
	}
	now := s.opts.Now()
	out := []Erasure{}
	started := q.After == ""
	for _, id := range s.order {
		if !started {
			started = id == q.After
			continue
		}
		rec := s.erasures[id]
		v := s.view(rec, now)
		switch {
		case q.Status == "open" && !v.Open(),
			q.Status != "" && q.Status != "open" && v.Status != q.Status,
			q.Subject != "" && v.Subject != q.Subject,
			q.Overdue && !v.Overdue,
			q.NearDeadline && !v.Overdue && !v.NearDeadline:
			continue
		}
		v.Receipt = nil
		out = append(out, v)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Stats counts erasures for metrics; no policy check, no identifiers.
type Stats struct {
	Open         int
	Overdue      int
	NearDeadline int
	Completed    int
	Late         int // completed after the deadline
	Rejected     int
	// OldestOpen is the request time of the oldest open erasure (zero if
	// none).
	OldestOpen time.Time
	// ActiveHolds counts subjects under legal hold.
	ActiveHolds int
}

// Stats returns the counts a /metrics endpoint exports, at the clock's now.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.catchUp(ctx); err != nil {
		return Stats{}, fmt.Errorf("erasure stats: %w", err)
	}
	now := s.opts.Now()
	var st Stats
	for _, id := range s.order {
		v := s.view(s.erasures[id], now)
		switch {
		case v.Open():
			st.Open++
			if v.Overdue {
				st.Overdue++
			}
			if v.NearDeadline {
				st.NearDeadline++
			}
			if st.OldestOpen.IsZero() || v.RequestedAt.Before(st.OldestOpen) {
				st.OldestOpen = v.RequestedAt
			}
		case v.Status == StatusCompleted:
			st.Completed++
			if v.Late {
				st.Late++
			}
		case v.Status == StatusRejected:
			st.Rejected++
		}
	}
	for _, h := range s.holds {
		if h.Active {
			st.ActiveHolds++
		}
	}
	return st, nil
}

// AdvanceReport says what one Advance did.
type AdvanceReport struct {
	Erased    int // requested erasures whose vault erasure was (re)done
	Purged    int
	Completed int
	// AwaitingPurge counts erased erasures left for a later Advance
	// because their vault purges in the background and has not yet.
	AwaitingPurge int
}

// PurgeNow makes every erased subject physical in the vault at once (the
// vault's Purge, which with the embedded vault stalls its writers and
// readers while it runs), then advances the workflow, so that erasures
// waiting for the vault's background purge complete now. It is for
// operators; the workflow itself never calls it.
func (s *Service) PurgeNow(ctx context.Context) (AdvanceReport, error) {
	if _, err := s.store.Purge(ctx); err != nil {
		return AdvanceReport{}, fmt.Errorf("purge now: %w", err)
	}
	return s.Advance(ctx)
}

// purge returns the erased erasures whose subjects are purged: with a
// vault that purges in the background, the ones it has purged (and how
// many still wait); with any other, all of them, after one Purge. A vault
// that purges in the background (vault.CapBackgroundPurge: the embedded
// vault, whose purge stalls its writers and readers and therefore waits
// for a quiet moment) is never asked to Purge here.
func (s *Service) purge(ctx context.Context, erased []Erasure) (done []Erasure, waiting int, err error) {
	if !s.store.Capabilities().Has(vault.CapBackgroundPurge) {
		if _, err := s.store.Purge(ctx); err != nil {
			return nil, 0, fmt.Errorf("purge: %w", err)
		}
		return erased, 0, nil
	}
	for _, rec := range erased {
		wait, err := s.store.AwaitsPurge(ctx, rec.Subject)
		if err != nil {
			return nil, 0, fmt.Errorf("purge: %w", err)
		}
		if wait {
			waiting++
			continue
		}
		done = append(done, rec)
	}
	return done, waiting, nil
}

// Advance moves every open erasure as far as it goes: requested ones (a
// crash came between the request and the vault) are erased, then one vault
// purge makes every erased subject physical (or, with a vault that purges
// in the background, the ones it has purged move on and the others wait
// for a later Advance), then each gets its signed receipt and
// ErasurePurged + ErasureCompleted are recorded together. The background
// worker calls it; it is exported for the CLI and tests.
func (s *Service) Advance(ctx context.Context) (AdvanceReport, error) {
	s.advMu.Lock()
	defer s.advMu.Unlock()
	var rep AdvanceReport
	s.mu.Lock()
	if err := s.catchUp(ctx); err != nil {
		s.mu.Unlock()
		return rep, fmt.Errorf("advance erasures: %w", err)
	}
	var requested, erased, purged []Erasure
	for _, id := range s.order {
		rec := s.erasures[id]
		if _, busy := s.pending[rec.RequestID]; busy {
			continue
		}
		switch rec.Status {
		case StatusRequested:
			requested = append(requested, *rec)
		case StatusErased:
			erased = append(erased, *rec)
		case StatusPurged:
			purged = append(purged, *rec)
		}
	}
	s.mu.Unlock()

	for _, rec := range requested {
		res, err := s.store.Erase(ctx, rec.Subject, rec.ID)
		if err != nil {
			return rep, fmt.Errorf("advance erasures: erase %s: %w", rec.ID, err)
		}
		done, err := s.recordErased(ctx, rec, res)
		if err != nil {
			return rep, fmt.Errorf("advance erasures: %w", err)
		}
		rec.Status, rec.ErasedAt, rec.ValuesDeleted, rec.DEKDestroyed, rec.AlreadyErased = StatusErased, done.ErasedAt,
			done.ValuesDeleted, done.DEKDestroyed, done.AlreadyErased
		erased = append(erased, rec)
		rep.Erased++
	}
	if len(erased) > 0 {
		var err error
		if erased, rep.AwaitingPurge, err = s.purge(ctx, erased); err != nil {
			return rep, fmt.Errorf("advance erasures: %w", err)
		}
	}
	if len(erased)+len(purged) == 0 {
		return rep, nil
	}
	purgedAt := s.opts.Now().UTC()
	head, err := s.logHead(ctx)
	if err != nil {
		return rep, fmt.Errorf("advance erasures: %w", err)
	}
	todo := append(erased, purged...)
	slices.SortFunc(todo, func(a, b Erasure) int { return cmp.Compare(a.RequestedAt.UnixNano(), b.RequestedAt.UnixNano()) })
	var errs []error
	for _, rec := range todo {
		var evs []eventlog.EventData
		if rec.Status == StatusErased {
			rec.PurgedAt = purgedAt
			body, _ := json.Marshal(erasurePurged{ErasureID: rec.ID, Subject: rec.Subject, PurgedAt: purgedAt})
			evs = append(evs, eventlog.EventData{Type: EventErasurePurged, Data: body})
			rep.Purged++
		}
		doc, err := s.receipt(ctx, &rec, head)
		if err != nil {
			errs = append(errs, fmt.Errorf("receipt %s: %w", rec.ID, err))
			continue
		}
		body, _ := json.Marshal(ErasureCompletedEvent{ErasureID: rec.ID, Subject: rec.Subject, CompletedAt: s.opts.Now().UTC(), Receipt: doc})
		evs = append(evs, eventlog.EventData{Type: EventErasureCompleted, Data: body})
		if _, err := s.appendSystem(ctx, StreamErasures, evs...); err != nil {
			errs = append(errs, fmt.Errorf("record completion of %s: %w", rec.ID, err))
			continue
		}
		rep.Completed++
		s.lg.Info("erasure completed", logKeyErasure, rec.ID)
	}
	s.mu.Lock()
	err = s.catchUp(ctx)
	s.mu.Unlock()
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("advance erasures: %w", err)
	}
	return rep, nil
}

// recordErased appends the SubjectErased of a requested erasure whose
// vault erasure res was done outside redaction's Erase (by Advance or
// Reapply, after a crash between the request and its SubjectErased). A
// vault that shows the subject erased under this erasure's own ID was
// erased by this erasure (the crash came after the vault's first commit):
// it is not "already erased", and its erasedAt is the vault's.
func (s *Service) recordErased(ctx context.Context, rec Erasure, res vault.EraseResult) (redaction.Erasure, error) {
	done := redaction.Erasure{ErasureID: rec.ID, Subject: rec.Subject, Status: redaction.ErasureErased, RequestedAt: rec.RequestedAt,
		ErasedAt: res.ErasedAt.UTC(), ValuesDeleted: res.ValuesDeleted, DEKDestroyed: res.DEKDestroyed, AlreadyErased: res.AlreadyErased}
	if res.AlreadyErased && res.ErasureID == rec.ID {
		done.AlreadyErased = false
	}
	if done.ErasedAt.IsZero() || done.ErasedAt.Before(rec.RequestedAt) {
		done.ErasedAt = s.opts.Now().UTC()
	}
	body, _ := json.Marshal(done)
	if _, err := s.appendSystem(ctx, StreamErasures, eventlog.EventData{Type: EventSubjectErased, Data: body}); err != nil {
		return done, fmt.Errorf("record %s: %w", rec.ID, err)
	}
	return done, nil
}

// logHead returns the log's head position and hash: O(1) if the log can,
// else by walking the chain (which also verifies it).
func (s *Service) logHead(ctx context.Context) (LogHead, error) {
	if h, ok := s.log.(headHasher); ok {
		pos, hash, err := h.HeadHash(ctx)
		if err != nil {
			return LogHead{}, fmt.Errorf("log head: %w", err)
		}
		return LogHead{Position: pos, Hash: fmt.Sprintf("%x", hash)}, nil
	}
	v, err := s.log.Verify(ctx)
	if err != nil {
		return LogHead{}, fmt.Errorf("log head: %w", err)
	}
	return LogHead{Position: v.HeadPosition, Hash: fmt.Sprintf("%x", v.HeadHash), Verified: v.OK}, nil
}

// receipt builds and signs the receipt of an erasure whose purge is done.
func (s *Service) receipt(ctx context.Context, rec *Erasure, head LogHead) ([]byte, error) {
	x, err := s.red.Export(ctx, systemAccess, rec.Subject)
	if err != nil {
		return nil, fmt.Errorf("list the subject's events: %w", err)
	}
	r := &Receipt{Type: ReceiptType, ErasureID: rec.ID, Subject: rec.Subject, RequestID: rec.RequestID, Reason: rec.Reason,
		Requester: rec.Requester, Ticket: rec.Ticket, Principal: rec.Principal,
		ValuesDestroyed: rec.ValuesDeleted, DEKDestroyed: rec.DEKDestroyed, AlreadyErased: rec.AlreadyErased, PurgeDone: true,
		Events: make([]ReceiptEvent, 0, len(x.Events)), LogHead: head,
		RequestedAt: rec.RequestedAt.UTC(), ErasedAt: rec.ErasedAt.UTC(), PurgedAt: rec.PurgedAt.UTC(),
		IssuedAt: s.opts.Now().UTC(), DueAt: s.view(rec, time.Time{}).DueAt.UTC()}
	for _, ev := range x.Events {
		paths := ev.Paths
		if paths == nil {
			paths = []string{}
		}
		r.Events = append(r.Events, ReceiptEvent{Stream: ev.Stream, Version: ev.Version, Position: ev.Position, Type: ev.Type, Paths: paths})
	}
	return SignReceipt(r, s.opts.SigningKey)
}
