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
	return &instrumentedStore{Store: store, m: m}
}

type vaultMetrics struct {
	ops   *prometheus.CounterVec
	dur   *prometheus.HistogramVec
	items *prometheus.CounterVec
}

type instrumentedStore struct {
	vault.Store
	m *vaultMetrics
}

var _ vault.Store = (*instrumentedStore)(nil)

// Unwrap returns the store under the instruments. The wrapper has only the
// vault.Store methods: code that looks for a backend's optional capabilities
// by type assertion (compliance: Expire, the blind index, EraseMany) should
// be given the bare store, or unwrap.
func (s *instrumentedStore) Unwrap() vault.Store { return s.Store }

func vaultOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, vault.ErrErased):
		return "erased"
	case errors.Is(err, vault.ErrUnavailable), errors.Is(err, vault.ErrClosed):
		return "unavailable"
	case errors.Is(err, vault.ErrInvalid):
		return "invalid"
	default:
		return "error"
	}
}

func (s *instrumentedStore) done(op string, start time.Time, err error) {
	s.m.dur.WithLabelValues(op).Observe(time.Since(start).Seconds())
	s.m.ops.WithLabelValues(op, vaultOutcome(err)).Inc()
}

func (s *instrumentedStore) Put(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	start := time.Now()
	toks, err := s.Store.Put(ctx, entries)
	s.done("put", start, err)
	if err == nil {
		s.m.items.WithLabelValues("put").Add(float64(len(toks)))
	}
	return toks, err
}

func (s *instrumentedStore) Resolve(ctx context.Context, toks []vault.Token) ([]vault.Resolved, error) {
	start := time.Now()
	res, err := s.Store.Resolve(ctx, toks)
	s.done("resolve", start, err)
	if err == nil {
		s.m.items.WithLabelValues("resolve").Add(float64(len(toks)))
	}
	return res, err
}

func (s *instrumentedStore) Delete(ctx context.Context, toks []vault.Token) error {
	start := time.Now()
	err := s.Store.Delete(ctx, toks)
	s.done("delete", start, err)
	if err == nil {
		s.m.items.WithLabelValues("delete").Add(float64(len(toks)))
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
	return func(r policy.DecisionRecord) {
		outcome := "deny"
		switch {
		case r.Error != "":
			outcome = "error"
		case r.Kind == policy.KindField && r.Decision.Effect.Valid():
			outcome = string(r.Decision.Effect)
		case r.Decision.Allow:
			outcome = "allow"
		}
		action := string(r.Action)
		if !r.Action.Valid() {
			action = "other"
		}
		kind := string(r.Kind)
		if r.Kind != policy.KindField && r.Kind != policy.KindRequest {
			kind = "other"
		}
		c.WithLabelValues(kind, action, outcome).Inc()
		if next != nil {
			next(r)
		}
	}
}
