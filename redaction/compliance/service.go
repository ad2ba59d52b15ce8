package compliance

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
)

// eventLog is what the Service needs of the event log; *eventlog.Log has it.
type eventLog interface {
	AppendSystem(ctx context.Context, stream string, expected eventlog.ExpectedVersion, events []eventlog.EventData) (eventlog.AppendResult, error)
	ReadStream(ctx context.Context, stream string, from uint64, limit int, dir eventlog.Direction) ([]eventlog.Event, error)
	ReadAll(ctx context.Context, from uint64, limit int, filter eventlog.Filter) ([]eventlog.Event, error)
	Head(ctx context.Context) (uint64, error)
	Verify(ctx context.Context) (eventlog.VerifyResult, error)
}

// headHasher is an O(1) head hash, used when the log has one.
type headHasher interface {
	HeadHash(ctx context.Context) (uint64, [32]byte, error)
}

// redactor is what the Service needs of redaction; *redaction.Service has it.
type redactor interface {
	Erase(ctx context.Context, a redaction.Access, subject string, req redaction.ErasureRequest) (redaction.Erasure, error)
	Export(ctx context.Context, a redaction.Access, subject string) (*redaction.SubjectExport, error)
}

// decider is what the Service needs of the policy; *policy.Engine has it.
type decider interface {
	Authorize(ctx context.Context, in policy.Input) (policy.Decision, error)
}

var (
	_ eventLog   = (*eventlog.Log)(nil)
	_ headHasher = (*eventlog.Log)(nil)
	_ redactor   = (*redaction.Service)(nil)
	_ decider    = (*policy.Engine)(nil)
)

// systemAccess is the principal the workflow acts as when it reads for a
// receipt (the subject's event list; never values) and runs its jobs.
var systemAccess = redaction.Access{Principal: policy.Principal{ID: "piivault-compliance", Root: true}, Purpose: "compliance"}

// Service runs the compliance workflows. It is safe for concurrent use.
type Service struct {
	red   redactor
	log   eventLog
	store vault.Store
	pol   decider
	opts  Options
	lg    *slog.Logger
	pub   ed25519.PublicKey

	mu        sync.Mutex
	erasures  map[string]*Erasure
	order     []string          // erasure IDs in request order
	byRequest map[string]string // request ID -> erasure ID
	pending   map[string]chan struct{}
	holds     map[string]*Hold
	holdOrder []string
	lastRead  uint64 // $erasures version replayed through

	advMu   sync.Mutex
	retMu   sync.Mutex
	bixMu   sync.Mutex
	bixFrom uint64 // under bixMu: the first position IndexBlind has not read (0: not run yet)

	kick    chan struct{}
	stop    context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Once
	closed  chan struct{}
}

// New builds the compliance workflows over a redaction service, on the log,
// vault and policy that service was built with (redaction.Service.Parts).
// It replays $erasures and $holds and starts the background workers
// (advance, retention, blind index) that Options enable. Close stops them;
// it does not close the redaction service or its parts.
func New(svc *redaction.Service, opts Options) (*Service, error) {
	if svc == nil {
		return nil, fmt.Errorf("new compliance service: %w: a redaction service is required", ErrInvalid)
	}
	log, store, pol := svc.Parts()
	if log == nil || store == nil || pol == nil {
		return nil, fmt.Errorf("new compliance service: %w: the redaction service was not built by redaction.New", ErrInvalid)
	}
	return newService(context.Background(), svc, log, store, pol, opts)
}

func newService(ctx context.Context, red redactor, log eventLog, store vault.Store, pol decider, opts Options) (*Service, error) {
	opts = opts.withDefaults()
	if len(opts.SigningKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("new compliance service: %w: an Ed25519 signing key is required (LoadOrCreateSigningKey)", ErrInvalid)
	}
	if opts.BlindIndexKey != nil && len(opts.BlindIndexKey) < 32 {
		return nil, fmt.Errorf("new compliance service: %w: blind index key must be at least 32 bytes", ErrInvalid)
	}
	for _, r := range opts.Retention {
		if r.Period <= 0 {
			return nil, fmt.Errorf("new compliance service: %w: retention period of %q/%q must be positive", ErrInvalid, r.EventType, r.Class)
		}
	}
	s := &Service{red: red, log: log, store: store, pol: pol, opts: opts, lg: opts.Logger,
		pub:      opts.SigningKey.Public().(ed25519.PublicKey),
		erasures: map[string]*Erasure{}, byRequest: map[string]string{}, pending: map[string]chan struct{}{},
		holds: map[string]*Hold{}, kick: make(chan struct{}, 1), closed: make(chan struct{})}
	if err := s.replay(ctx); err != nil {
		return nil, err
	}
	bctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	if opts.AdvanceInterval > 0 {
		s.wg.Add(1)
		go s.advanceLoop(bctx)
	}
	if opts.RetentionInterval > 0 && len(opts.Retention) > 0 {
		s.wg.Add(1)
		go s.every(bctx, opts.RetentionInterval, true, "retention", func(ctx context.Context) error { _, err := s.RunRetention(ctx); return err })
	}
	if opts.BlindIndexKey != nil && opts.AdvanceInterval > 0 {
		if store.Capabilities().Has(vault.CapBlindIndex) {
			s.wg.Add(1)
			go s.every(bctx, opts.AdvanceInterval, false, "blind index", func(ctx context.Context) error { _, err := s.IndexBlind(ctx); return err })
		}
	}
	return s, nil
}

// Close stops the background workers. It does not close the log, the vault,
// the policy or the redaction service.
func (s *Service) Close() error {
	s.closeMu.Do(func() {
		close(s.closed)
		s.stop()
		s.wg.Wait()
	})
	return nil
}

// Shutdown stops the background workers like Close, then finishes the
// erasures still open within ctx: one vault Purge and an Advance (PurgeNow),
// so that an erasure acknowledged just before a stop is purged and
// receipted before the process ends instead of at the next start (the
// embedded vault purges in the background only after a quiet moment).
// Without open erasures it does nothing more. What ctx cuts short stays
// recorded in $erasures, and the next start finishes it (Reapply purges,
// the worker advances); the error says so.
func (s *Service) Shutdown(ctx context.Context) error {
	_ = s.Close()
	if s.openErasures(ctx) == 0 {
		return nil
	}
	rep, err := s.PurgeNow(ctx)
	if err != nil {
		return fmt.Errorf("finish erasures at shutdown (the next start finishes them): %w", err)
	}
	if open := s.openErasures(ctx); open > 0 {
		return fmt.Errorf("finish erasures at shutdown: %d still open; the next start finishes them", open)
	}
	s.lg.Info("erasures finished at shutdown", "completed", rep.Completed)
	return nil
}

// openErasures counts the erasures requested, erased or purged, not yet
// completed (1 if $erasures cannot be read: look rather than skip).
func (s *Service) openErasures(ctx context.Context) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.catchUp(ctx) != nil {
		return 1
	}
	n := 0
	for _, rec := range s.erasures {
		switch rec.Status {
		case StatusRequested, StatusErased, StatusPurged:
			n++
		}
	}
	return n
}

// PublicKey returns the public key receipts are signed with.
func (s *Service) PublicKey() ed25519.PublicKey { return s.pub }

// advanceLoop moves open erasures on: shortly after each new erasure and
// every AdvanceInterval.
func (s *Service) advanceLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.AdvanceInterval)
	defer t.Stop()
	var soon <-chan time.Time // set while erasures wait for the vault's background purge
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.opts.AdvanceDelay):
			}
		case <-t.C:
		case <-soon:
		}
		soon = nil
		rep, err := s.Advance(ctx)
		if err != nil && ctx.Err() == nil {
			s.lg.Warn("erasure workflow: advance failed, will retry", logKeyErr, err.Error())
		}
		if err == nil && rep.AwaitingPurge > 0 {
			soon = time.After(min(awaitPurgePoll, s.opts.AdvanceInterval))
		}
	}
}

// awaitPurgePoll is how often the worker looks again while erasures wait
// for the vault's background purge.
const awaitPurgePoll = time.Second

// every runs fn every d (and once at once if now is set) until ctx ends.
func (s *Service) every(ctx context.Context, d time.Duration, now bool, what string, fn func(context.Context) error) {
	defer s.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	run := func() {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			s.lg.Warn("compliance job failed, will retry", "job", what, logKeyErr, err.Error())
		}
	}
	if now {
		run()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			run()
		}
	}
}

func (s *Service) kickAdvance() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// authorize asks the policy; a denial is audited and returned wrapping
// redaction.ErrDenied.
func (s *Service) authorize(ctx context.Context, a redaction.Access, action policy.Action, subject string) error {
	if a.Decided(action, policy.Resource{Subject: subject}) {
		return nil
	}
	d, err := s.pol.Authorize(ctx, policy.Input{Principal: a.Principal, Action: action, Purpose: a.Purpose,
		Resource: policy.Resource{Subject: subject}})
	if err == nil && d.Allow {
		return nil
	}
	reason := d.Reason
	if err != nil {
		reason = "policy could not decide"
	}
	if aerr := s.audit(ctx, a, action, auditRecord{Subject: subject, Effect: string(policy.EffectDeny), State: string(redaction.StateDenied), Reason: reason}); aerr != nil {
		return aerr
	}
	return fmt.Errorf("%w: %s: %s", redaction.ErrDenied, action, reason)
}

// audit appends one record to $audit in redaction's shape.
func (s *Service) audit(ctx context.Context, a redaction.Access, action policy.Action, recs ...auditRecord) error {
	ev := auditEvent{Time: s.opts.Now().UTC(), Principal: a.Principal.ID, Roles: a.Principal.Roles, Root: a.Principal.Root,
		Action: string(action), Purpose: a.Purpose, RequestID: a.RequestID, Records: recs}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("%w: %w", redaction.ErrAudit, err)
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.log.AppendSystem(actx, streamAudit, eventlog.Any, []eventlog.EventData{{Type: eventPIIAccessed, Data: body}}); err != nil {
		return fmt.Errorf("%w: %w", redaction.ErrAudit, err)
	}
	return nil
}

// appendSystem appends events to a system stream; a cancelled caller does
// not cut a step of the workflow in half.
func (s *Service) appendSystem(ctx context.Context, stream string, evs ...eventlog.EventData) (eventlog.AppendResult, error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return s.log.AppendSystem(actx, stream, eventlog.Any, evs)
}

// readStream calls fn for every event of a stream from version from on.
func (s *Service) readStream(ctx context.Context, stream string, from uint64, fn func(eventlog.Event) error) (uint64, error) {
	for {
		evs, err := s.log.ReadStream(ctx, stream, from, 1000, eventlog.Forward)
		if errors.Is(err, eventlog.ErrStreamNotFound) {
			return from, nil
		}
		if err != nil {
			return from, fmt.Errorf("read %s: %w", stream, err)
		}
		if len(evs) == 0 {
			return from, nil
		}
		for _, e := range evs {
			from = e.Version + 1
			if err := fn(e); err != nil {
				return from, err
			}
		}
	}
}

// replay rebuilds the workflow state from $erasures and $holds.
func (s *Service) replay(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := s.readStream(ctx, StreamErasures, 1, func(e eventlog.Event) error { s.applyErasure(e); return nil })
	if err != nil {
		return fmt.Errorf("new compliance service: %w", err)
	}
	s.lastRead = next - 1
	if _, err := s.readStream(ctx, StreamHolds, 1, func(e eventlog.Event) error { s.applyHold(e); return nil }); err != nil {
		return fmt.Errorf("new compliance service: %w", err)
	}
	return nil
}

// Reapply makes the vault agree with $erasures after a start or a restore
// of an older vault backup: every subject named in $erasures (by
// ErasureRequested or SubjectErased; rejected requests never are) is
// erased again in the vault (erasure is idempotent; an erasure a crash left
// without SubjectErased gets it here, with what this erasure destroyed),
// then one vault Purge
// makes re-erased values physically gone, and a log line says how many
// erasures were re-applied. Options.ReapplyWorkers erasures are in flight
// so the vault can share its durable commits. The sidecar calls it before it serves a single read.
func (s *Service) Reapply(ctx context.Context) (int, error) {
	start := time.Now()
	// Not beside Advance: both erase requested erasures, and the one that
	// does must be the one that records what was destroyed.
	s.advMu.Lock()
	defer s.advMu.Unlock()
	s.mu.Lock()
	if err := s.catchUp(ctx); err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("reapply erasures: %w", err)
	}
	// rec is set for an erasure with no SubjectErased yet (a crash came
	// after its request): the erasure Reapply does is this erasure's, and
	// is recorded with what it destroyed.
	type job struct {
		subject, id string
		rec         *Erasure
	}
	seen := map[string]bool{}
	jobs := make([]job, 0, len(s.order))
	for _, id := range s.order {
		rec := s.erasures[id]
		if rec.Status == StatusRejected || seen[rec.Subject] {
			continue
		}
		seen[rec.Subject] = true
		j := job{subject: rec.Subject, id: rec.ID}
		if _, busy := s.pending[rec.RequestID]; rec.Status == StatusRequested && !busy {
			c := *rec
			j.rec = &c
		}
		jobs = append(jobs, j)
	}
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		written atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	fail := func(err error) { errOnce.Do(func() { first = fmt.Errorf("reapply erasures: %w", err); cancel() }) }
	workers, step := s.opts.ReapplyWorkers, 1
	for w := 0; w < min(workers, (len(jobs)+step-1)/step); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next.Add(int64(step))) - step
				if lo >= len(jobs) {
					return
				}
				hi := min(lo+step, len(jobs))
				// A subject the vault shows erased needs no write (and no
				// durable commit): the tombstone is what the re-application
				// would write, and the vault finishes an erasure a crash
				// interrupted after its tombstone on open.
				var todo []job
				for _, j := range jobs[lo:hi] {
					if info, err := s.store.Describe(ctx, j.subject); err == nil && info.Erased {
						continue
					}
					todo = append(todo, j)
				}
				if len(todo) == 0 {
					continue
				}
				j := todo[0]
				res, err := s.store.Erase(ctx, j.subject, j.id)
				if err != nil {
					fail(fmt.Errorf("erase %s: %w", j.id, err))
					return
				}
				if !res.AlreadyErased {
					written.Add(1)
				}
				if j.rec != nil {
					if _, err := s.recordErased(ctx, *j.rec, res); err != nil {
						fail(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	erased := time.Since(start)
	if len(jobs) > 0 {
		// Also when nothing was written: a restored vault may hold
		// erasures its backup caught before their purge.
		if _, err := s.store.Purge(ctx); err != nil {
			return len(jobs), fmt.Errorf("reapply erasures: purge: %w", err)
		}
	}
	s.lg.Info("erasures re-applied to the vault", logKeyCount, len(jobs), "written", written.Load(),
		"erase_took", erased.String(), "took", time.Since(start).String())
	return len(jobs), nil
}
