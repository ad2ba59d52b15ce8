package redaction

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/vault"
)

// System streams this package writes. None of them holds a PII value.
const (
	// StreamSchemas holds one SchemaDefined event per schema version.
	StreamSchemas = "$schemas"
	// StreamAudit holds one PIIAccessed event per read request (and one per
	// export, erasure and denied attempt).
	StreamAudit = "$audit"
	// StreamAll is the stream name the policy is asked about for a read
	// of every stream (ReadAll) and for a subscription.
	StreamAll = "$all"
	// StreamErasures holds ErasureRequested and SubjectErased events.
	StreamErasures = "$erasures"
	// subjectStreamPrefix starts the legacy per-subject index streams
	// (index.go); streamIndex held their checkpoints. Neither is written
	// any more; reads still hide them.
	subjectStreamPrefix = "$subject-"
	streamIndex         = "$index"
)

// Default values of Options.
const (
	DefaultPlaceholder        = "[deleted under GDPR]"
	DefaultExpiredPlaceholder = "[expired under retention policy]"
	DefaultSweepInterval      = time.Minute
	DefaultMaxReadLimit       = 1000
	defaultAuditEventBytes    = 512 << 10
)

// slog attribute keys.
const (
	logKeyErr    = "err"
	logKeyCount  = "count"
	logKeyStream = "stream"
	logKeyType   = "event_type"
)

// Options tune a Service. Start from DefaultOptions; a zero field means the
// default.
type Options struct {
	// Logger receives operational messages. They never carry a PII value.
	Logger *slog.Logger
	// Placeholder replaces an erased subject's values on read.
	Placeholder string
	// ExpiredPlaceholder replaces values destroyed by a retention rule.
	ExpiredPlaceholder string
	// DefaultLeakGuard applies to schemas without leakGuard and to event
	// types without a schema. Default reject.
	DefaultLeakGuard LeakGuard
	// SweepInterval is how often orphaned vault values (of appends whose log
	// write failed and whose immediate clean-up failed too) are retried.
	// Negative: no background sweeper (call Sweep yourself).
	SweepInterval time.Duration
	// MaxReadLimit caps the limit of one read.
	MaxReadLimit int
	// UnattributedSubject names the subject of values the leak guard
	// tokenizes in events whose type has no schema. Default: the stream name.
	UnattributedSubject func(stream, eventType string) string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultOptions returns the options the sidecar runs with.
func DefaultOptions() Options {
	return Options{
		Placeholder:         DefaultPlaceholder,
		ExpiredPlaceholder:  DefaultExpiredPlaceholder,
		DefaultLeakGuard:    LeakReject,
		SweepInterval:       DefaultSweepInterval,
		MaxReadLimit:        DefaultMaxReadLimit,
		UnattributedSubject: func(stream, _ string) string { return stream },
		Now:                 time.Now,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Placeholder == "" {
		o.Placeholder = d.Placeholder
	}
	if o.ExpiredPlaceholder == "" {
		o.ExpiredPlaceholder = d.ExpiredPlaceholder
	}
	if o.DefaultLeakGuard == "" {
		o.DefaultLeakGuard = d.DefaultLeakGuard
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = d.SweepInterval
	}
	if o.MaxReadLimit <= 0 {
		o.MaxReadLimit = d.MaxReadLimit
	}
	if o.UnattributedSubject == nil {
		o.UnattributedSubject = d.UnattributedSubject
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	return o
}

// eventLog is what the Service needs of the event log; *eventlog.Log has it.
type eventLog interface {
	Append(ctx context.Context, stream string, expected eventlog.ExpectedVersion, events []eventlog.EventData) (eventlog.AppendResult, error)
	AppendSystem(ctx context.Context, stream string, expected eventlog.ExpectedVersion, events []eventlog.EventData) (eventlog.AppendResult, error)
	AppendAfter(ctx context.Context, stream string, expected eventlog.ExpectedVersion, events []eventlog.EventData, before eventlog.Barrier) (eventlog.AppendResult, error)
	ReadStream(ctx context.Context, stream string, from uint64, limit int, dir eventlog.Direction) ([]eventlog.Event, error)
	ReadAll(ctx context.Context, from uint64, limit int, filter eventlog.Filter) ([]eventlog.Event, error)
	ReadTag(ctx context.Context, tag string, from uint64, limit int) ([]eventlog.Event, error)
	StreamInfo(ctx context.Context, stream string) (eventlog.StreamInfo, error)
	Subscribe(ctx context.Context, from uint64) *eventlog.Subscription
	SaveSnapshot(ctx context.Context, stream string, version uint64, data json.RawMessage) error
	LoadSnapshot(ctx context.Context, stream string) (eventlog.Snapshot, error)
	Verify(ctx context.Context) (eventlog.VerifyResult, error)
	Head(ctx context.Context) (uint64, error)
	// MaxBatchEvents is the most events one append may carry.
	MaxBatchEvents() int
}

// decider is what the Service needs of the policy; *policy.Engine has it.
type decider interface {
	Authorize(ctx context.Context, in policy.Input) (policy.Decision, error)
	Field(ctx context.Context, in policy.Input) (policy.Decision, error)
}

var (
	_ eventLog = (*eventlog.Log)(nil)
	_ decider  = (*policy.Engine)(nil)
)

// Access is who asks and why. Every Service method that touches events or
// personal data takes one; the Service asks the policy itself (and audits a
// denial), unless Decision already answers its question: a caller that
// must decide before it reads a request (the HTTP layer) asks Authorize
// once and passes the Access it returns.
type Access struct {
	Principal policy.Principal
	// Purpose is the purpose of a read (X-Purpose).
	Purpose string
	// RequestID is copied into audit records.
	RequestID string
	// Decision is the request-level decision Authorize made for this
	// request, if the caller asked first (the HTTP layer does, before it
	// reads a body). A method whose own question is the same one does not
	// ask the policy again; any other question is asked and audited.
	Decision *Decision
}

// Decision is a request-level policy decision that Authorize made (and
// allowed) for one principal and purpose. Only Authorize makes one that
// matches anything.
type Decision struct {
	principal, purpose string
	action             policy.Action
	res                policy.Resource
}

// Decided reports whether a.Decision answers the question of action on res
// for a's principal and purpose, so that it need not be asked again.
func (a Access) Decided(action policy.Action, res policy.Resource) bool {
	d := a.Decision
	return d != nil && d.action != "" && d.action == action && d.res == res &&
		d.principal == a.Principal.ID && d.purpose == a.Purpose
}

// Authorize asks the policy whether a may do action on res; a denial is
// audited and returned as ErrDenied. It is the request-level decision of
// the HTTP layer: the Access it returns carries the decision, and the
// Service methods that would ask the same question do not ask again.
func (s *Service) Authorize(ctx context.Context, a Access, action policy.Action, res policy.Resource) (Access, error) {
	if err := s.authorize(ctx, a, action, res); err != nil {
		return a, err
	}
	a.Decision = &Decision{principal: a.Principal.ID, purpose: a.Purpose, action: action, res: res}
	return a, nil
}

// Service is the redaction-aware event store. It is safe for concurrent use.
type Service struct {
	log   eventLog
	store vault.Store
	pol   decider
	opts  Options
	lg    *slog.Logger

	schemaMu sync.RWMutex
	schemas  map[string][]*Schema // event type -> versions, index v-1
	putMu    sync.Mutex           // serialises PutSchema

	sw      sweeper
	pend    pending
	started time.Time   // markers created before are of earlier runs
	pendOK  atomic.Bool // the markers of earlier runs are resolved
	retDone chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
	closeMu sync.Once
}

// New composes the event log, the vault and the policy. It loads the schemas
// from the $schemas stream, resolves the pending markers that earlier runs
// left (pending.go), and starts the orphan sweeper. The Service does not
// own its parts: close it before them.
func New(log *eventlog.Log, store vault.Store, pol *policy.Engine, opts Options) (*Service, error) {
	if log == nil || store == nil || pol == nil {
		return nil, fmt.Errorf("new redaction service: %w: log, store and policy are required", ErrInvalid)
	}
	return newService(context.Background(), log, store, pol, opts)
}

func newService(ctx context.Context, log eventLog, store vault.Store, pol decider, opts Options) (*Service, error) {
	opts = opts.withDefaults()
	if !opts.DefaultLeakGuard.Valid() {
		return nil, fmt.Errorf("new redaction service: %w: leak guard %q", ErrInvalid, opts.DefaultLeakGuard)
	}
	s := &Service{log: log, store: store, pol: pol, opts: opts, lg: opts.Logger, schemas: map[string][]*Schema{}}
	if err := s.loadSchemas(ctx); err != nil {
		return nil, err
	}
	if err := s.loadInstance(ctx, false); err != nil {
		return nil, err
	}
	s.started = time.Now()
	// The subject index names every event in the log (it is written with
	// the events) and no append is in flight: resolve the markers that
	// earlier runs left.
	if _, err := s.recoverPending(ctx, time.Time{}); err != nil {
		s.lg.Warn("pending markers of earlier runs not resolved, the sweeper retries", logKeyErr, err.Error())
	} else {
		s.pendOK.Store(true)
	}
	s.done = make(chan struct{})
	s.retDone = make(chan struct{})
	sctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go s.every(sctx, retireEvery, s.retDone, s.retireMarkers, "pending markers not deleted, will retry")
	if opts.SweepInterval > 0 {
		go s.every(sctx, opts.SweepInterval, s.done, s.Sweep, "sweep incomplete, retrying next interval")
	} else {
		close(s.done)
	}
	return s, nil
}

// Parts returns the event log, vault and policy engine New was given, so
// that redaction/compliance records its streams in the same log, erases in
// the same vault and asks the same policy. The log and the engine are nil
// for a Service built over other implementations (tests).
func (s *Service) Parts() (*eventlog.Log, vault.Store, *policy.Engine) {
	l, _ := s.log.(*eventlog.Log)
	p, _ := s.pol.(*policy.Engine)
	return l, s.store, p
}

// Close stops the sweeper after one last sweep attempt. It does not close
// the log, the vault or the policy.
func (s *Service) Close() error {
	s.closeMu.Do(func() {
		s.stop()
		<-s.done
		<-s.retDone
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Sweep(ctx)
		if err := s.retireMarkers(ctx); err != nil {
			s.lg.Warn("pending markers left at close; the next start resolves them", logKeyErr, err.Error())
		}
	})
	return nil
}

// authorize asks the policy whether a request may happen; a denial is
// audited and returned as ErrDenied.
func (s *Service) authorize(ctx context.Context, a Access, action policy.Action, res policy.Resource) error {
	if a.Decided(action, res) {
		return nil
	}
	d, err := s.pol.Authorize(ctx, policy.Input{Principal: a.Principal, Action: action, Purpose: a.Purpose, Resource: res})
	if err == nil && d.Allow {
		return nil
	}
	reason := d.Reason
	if err != nil {
		reason = "policy could not decide"
	}
	rec := auditRecord{Subject: res.Subject, Stream: res.Stream, Effect: string(policy.EffectDeny), State: StateDenied, Reason: reason}
	if res.Path != "" {
		rec.Paths = []string{res.Path}
	}
	if aerr := s.audit(ctx, a, action, []auditRecord{rec}); aerr != nil {
		return aerr
	}
	if err != nil {
		return fmt.Errorf("%w: %s: policy could not decide: %v", ErrDenied, action, err)
	}
	return fmt.Errorf("%w: %s: %s", ErrDenied, action, d.Reason)
}
