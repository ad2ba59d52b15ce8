package httpapi

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/vault"
)

// InstrumentVault wraps a vault store so that every operation is counted in
// reg as piivault_vault_operations_total{op,outcome} and timed in
// piivault_vault_operation_duration_seconds{op}. The labels are operation
// names and outcomes (ok, erased, unavailable, invalid, error), never a
// subject or a value. Wrap the store before redaction.New and pass the same
// registry in Options.Registry so /metrics serves it.
func InstrumentVault(store vault.Store, reg prometheus.Registerer) vault.Store {
	m := &vaultMetrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "piivault_vault_operations_total",
			Help: "Vault operations by operation and outcome.",
		}, []string{"op", "outcome"}),
		dur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "piivault_vault_operation_duration_seconds",
			Help:    "Vault operation latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"op"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "piivault_vault_items_total",
			Help: "Values put and tokens resolved or deleted, by operation.",
		}, []string{"op"}),
	}
	reg.MustRegister(m.ops, m.dur, m.items)
	m.byOp = make(map[string]*vaultOpSeries, len(vaultOps))
	for _, op := range vaultOps {
		o := &vaultOpSeries{dur: newObserverSeries(m.dur, op), items: newCounterSeries(m.items, op)}
		for i, out := range vaultOutcomes {
			o.outcomes[i] = newCounterSeries(m.ops, op, out)
		}
		m.byOp[op] = o
	}
	is := &instrumentedStore{Store: store, m: m}
	if _, ok := store.(unsyncedPutter); ok {
		return &instrumentedUnsyncedStore{is}
	}
	return is
}

// unsyncedPutter is a vault whose Put can return before the values are
// durable, with Sync as the barrier (the embedded vault); the redaction
// service looks for it by type assertion, so the wrapper keeps it.
type unsyncedPutter interface {
	PutUnsynced(ctx context.Context, entries []vault.Entry) ([]vault.Token, error)
	Sync() error
}

// instrumentedUnsyncedStore is instrumentedStore for an unsyncedPutter:
// PutUnsynced counts as a put.
type instrumentedUnsyncedStore struct{ *instrumentedStore }

var _ unsyncedPutter = (*instrumentedUnsyncedStore)(nil)

// PutUnsynced counts and times the inner store's PutUnsynced as a put.
func (s *instrumentedUnsyncedStore) PutUnsynced(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	start := time.Now()
	toks, err := s.Store.(unsyncedPutter).PutUnsynced(ctx, entries)
	o := s.done("put", start, err)
	if err == nil {
		o.items.get().Add(float64(len(toks)))
	}
	return toks, err
}

// Sync is the inner store's Sync.
func (s *instrumentedUnsyncedStore) Sync() error { return s.Store.(unsyncedPutter).Sync() }

type vaultMetrics struct {
	ops   *prometheus.CounterVec
	dur   *prometheus.HistogramVec
	items *prometheus.CounterVec
	byOp  map[string]*vaultOpSeries // read-only after construction
}

// The label values of the vault metrics.
var (
	vaultOps      = [...]string{"put", "resolve", "delete", "erase", "export", "describe", "purge"}
	vaultOutcomes = [...]string{"ok", "erased", "unavailable", "invalid", "error"}
)

// vaultOpSeries are one operation's series, looked up once.
type vaultOpSeries struct {
	dur      *observerSeries
	items    *counterSeries
	outcomes [len(vaultOutcomes)]*counterSeries
}

type instrumentedStore struct {
	vault.Store
	m *vaultMetrics
}

var _ vault.Store = (*instrumentedStore)(nil)

// Unwrap returns the store under the instruments. The wrapper keeps only
// the vault.Store methods and PutUnsynced/Sync (for redaction's appends):
// code that looks for a backend's other optional capabilities by type
// assertion (compliance: Expire, the blind index, EraseMany,
// BackgroundPurge and AwaitsPurge) should be given the bare store, or
// unwrap.
func (s *instrumentedStore) Unwrap() vault.Store { return s.Store }

// vaultOutcome returns the index in vaultOutcomes of err's outcome.
func vaultOutcome(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, vault.ErrErased):
		return 1
	case errors.Is(err, vault.ErrUnavailable), errors.Is(err, vault.ErrClosed):
		return 2
	case errors.Is(err, vault.ErrInvalid):
		return 3
	default:
		return 4
	}
}

func (s *instrumentedStore) done(op string, start time.Time, err error) *vaultOpSeries {
	o := s.m.byOp[op]
	o.dur.get().Observe(time.Since(start).Seconds())
	o.outcomes[vaultOutcome(err)].get().Inc()
	return o
}

func (s *instrumentedStore) Put(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	start := time.Now()
	toks, err := s.Store.Put(ctx, entries)
	o := s.done("put", start, err)
	if err == nil {
		o.items.get().Add(float64(len(toks)))
	}
	return toks, err
}

func (s *instrumentedStore) Resolve(ctx context.Context, toks []vault.Token) ([]vault.Resolved, error) {
	start := time.Now()
	res, err := s.Store.Resolve(ctx, toks)
	o := s.done("resolve", start, err)
	if err == nil {
		o.items.get().Add(float64(len(toks)))
	}
	return res, err
}

func (s *instrumentedStore) Delete(ctx context.Context, toks []vault.Token) error {
	start := time.Now()
	err := s.Store.Delete(ctx, toks)
	o := s.done("delete", start, err)
	if err == nil {
		o.items.get().Add(float64(len(toks)))
	}
	return err
}

func (s *instrumentedStore) Erase(ctx context.Context, subject, erasureID string) (vault.EraseResult, error) {
	start := time.Now()
	res, err := s.Store.Erase(ctx, subject, erasureID)
	s.done("erase", start, err)
	return res, err
}

func (s *instrumentedStore) Export(ctx context.Context, subject string) ([]vault.Record, error) {
	start := time.Now()
	res, err := s.Store.Export(ctx, subject)
	s.done("export", start, err)
	return res, err
}

func (s *instrumentedStore) Describe(ctx context.Context, subject string) (vault.SubjectInfo, error) {
	start := time.Now()
	res, err := s.Store.Describe(ctx, subject)
	s.done("describe", start, err)
	return res, err
}

func (s *instrumentedStore) Purge(ctx context.Context) (vault.PurgeReport, error) {
	start := time.Now()
	res, err := s.Store.Purge(ctx)
	s.done("purge", start, err)
	return res, err
}

// PolicyDecisionMetrics returns a policy.Options.DecisionLog hook that counts
// every decision of the engine in reg as
// piivault_policy_decisions_evaluated_total{kind,action,outcome}, where
// outcome is allow or deny for requests and the effect for fields, plus
// error. next, if not nil, is called after counting (the decision log).
func PolicyDecisionMetrics(reg prometheus.Registerer, next func(policy.DecisionRecord)) func(policy.DecisionRecord) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "piivault_policy_decisions_evaluated_total",
		Help: "Policy engine decisions (requests and fields) by kind, action and outcome.",
	}, []string{"kind", "action", "outcome"})
	reg.MustRegister(c)
	// Every decision of every read page's fields comes through here: the
	// series are looked up once, by index.
	var series [len(decisionKinds)][len(decisionActions)][len(decisionOutcomes)]*counterSeries
	for k, kind := range decisionKinds {
		for a, action := range decisionActions {
			for o, outcome := range decisionOutcomes {
				series[k][a][o] = newCounterSeries(c, kind, action, outcome)
			}
		}
	}
	return func(r policy.DecisionRecord) {
		outcome := 1 // deny
		switch {
		case r.Error != "":
			outcome = 2
		case r.Kind == policy.KindField && r.Decision.Effect.Valid():
			outcome = effectIndex(r.Decision.Effect)
		case r.Decision.Allow:
			outcome = 0
		}
		kind := 2 // other
		switch r.Kind {
		case policy.KindRequest:
			kind = 0
		case policy.KindField:
			kind = 1
		}
		series[kind][actionIndex(r.Action)][outcome].get().Inc()
		if next != nil {
			next(r)
		}
	}
}

// The label values of piivault_policy_decisions_evaluated_total.
var (
	decisionKinds   = [...]string{string(policy.KindRequest), string(policy.KindField), "other"}
	decisionActions = [...]string{string(policy.ActionAppend), string(policy.ActionRead), string(policy.ActionSubscribe),
		string(policy.ActionErase), string(policy.ActionExport), string(policy.ActionAudit), string(policy.ActionAdmin), "other"}
	decisionOutcomes = [...]string{"allow", "deny", "error",
		string(policy.EffectReveal), string(policy.EffectMask), string(policy.EffectTokenize)}
)

func actionIndex(a policy.Action) int {
	for i, s := range decisionActions[:len(decisionActions)-1] {
		if string(a) == s {
			return i
		}
	}
	return len(decisionActions) - 1
}

// effectIndex returns the index in decisionOutcomes of a valid effect
// (deny is the request outcome's deny).
func effectIndex(e policy.Effect) int {
	switch e {
	case policy.EffectReveal:
		return 3
	case policy.EffectMask:
		return 4
	case policy.EffectTokenize:
		return 5
	}
	return 1
}
