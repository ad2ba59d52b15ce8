// Package metered wraps a vault.Store so that every call, the capabilities'
// included, is counted and timed in Prometheus metrics:
//
//	piivault_vault_operations_total{op,outcome}
//	piivault_vault_operation_duration_seconds{op}
//	piivault_vault_items_total{op}
//
// op is the method (put, resolve, delete, erase, export, describe, purge,
// expire, put_blind_index, lookup_blind_index, awaits_purge, sync;
// PutUnsynced counts as put), outcome one of ok, erased, unavailable,
// invalid, not_supported, error. Labels never carry a subject, a token or
// a value. The wrapper adds no work beyond reading the clock twice and
// updating the series of the call; Capabilities is the inner store's.
package metered

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/piivault/piivault/vault"
)

// The label values.
const (
	opPut = iota
	opResolve
	opDelete
	opErase
	opExport
	opDescribe
	opPurge
	opExpire
	opPutBlind
	opLookupBlind
	opAwaitsPurge
	opSync
	numOps
)

var (
	opNames      = [numOps]string{"put", "resolve", "delete", "erase", "export", "describe", "purge", "expire", "put_blind_index", "lookup_blind_index", "awaits_purge", "sync"}
	outcomeNames = [...]string{"ok", "erased", "unavailable", "invalid", "not_supported", "error"}
)

// Store is a vault.Store that counts and times every call of the store it
// wraps.
type Store struct {
	inner vault.Store
	ops   [numOps]opSeries // read-only after New
}

var _ vault.Store = (*Store)(nil)

// opSeries are one operation's series, created on first use so that
// /metrics lists only operations that happened.
type opSeries struct {
	dur      func() prometheus.Observer
	items    func() prometheus.Counter
	outcomes [len(outcomeNames)]func() prometheus.Counter
}

// New wraps store and registers its metrics in reg. Hand the returned
// store to every user of the vault, so that all their calls show.
func New(store vault.Store, reg prometheus.Registerer) *Store {
	ops := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "piivault_vault_operations_total",
		Help: "Vault operations by operation and outcome.",
	}, []string{"op", "outcome"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "piivault_vault_operation_duration_seconds",
		Help:    "Vault operation latency by operation.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"op"})
	items := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "piivault_vault_items_total",
		Help: "Values put, tokens resolved, deleted or expired, by operation.",
	}, []string{"op"})
	reg.MustRegister(ops, dur, items)
	s := &Store{inner: store}
	for i, op := range opNames {
		o := &s.ops[i]
		o.dur = sync.OnceValue(func() prometheus.Observer { return dur.WithLabelValues(op) })
		o.items = sync.OnceValue(func() prometheus.Counter { return items.WithLabelValues(op) })
		for j, out := range outcomeNames {
			o.outcomes[j] = sync.OnceValue(func() prometheus.Counter { return ops.WithLabelValues(op, out) })
		}
	}
	return s
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() vault.Store { return s.inner }

// outcome returns the index in outcomeNames of err's outcome.
func outcome(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, vault.ErrErased):
		return 1
	case errors.Is(err, vault.ErrUnavailable), errors.Is(err, vault.ErrClosed):
		return 2
	case errors.Is(err, vault.ErrInvalid):
		return 3
	case errors.Is(err, vault.ErrNotSupported):
		return 4
	default:
		return 5
	}
}

// done records one call of op that started at start and ended with err,
// and n items when it succeeded.
func (s *Store) done(op int, start time.Time, err error, n int) {
	o := &s.ops[op]
	o.dur().Observe(time.Since(start).Seconds())
	o.outcomes[outcome(err)]().Inc()
	if err == nil && n > 0 {
		o.items().Add(float64(n))
	}
}

// Put counts as put, with one item per value.
func (s *Store) Put(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	start := time.Now()
	toks, err := s.inner.Put(ctx, entries)
	s.done(opPut, start, err, len(toks))
	return toks, err
}

// PutUnsynced counts as put, with one item per value.
func (s *Store) PutUnsynced(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	start := time.Now()
	toks, err := s.inner.PutUnsynced(ctx, entries)
	s.done(opPut, start, err, len(toks))
	return toks, err
}

// Sync counts as sync.
func (s *Store) Sync() error {
	start := time.Now()
	err := s.inner.Sync()
	s.done(opSync, start, err, 0)
	return err
}

// Resolve counts as resolve, with one item per token.
func (s *Store) Resolve(ctx context.Context, toks []vault.Token) ([]vault.Resolved, error) {
	start := time.Now()
	res, err := s.inner.Resolve(ctx, toks)
	s.done(opResolve, start, err, len(toks))
	return res, err
}

// Delete counts as delete, with one item per token.
func (s *Store) Delete(ctx context.Context, toks []vault.Token) error {
	start := time.Now()
	err := s.inner.Delete(ctx, toks)
	s.done(opDelete, start, err, len(toks))
	return err
}

// Erase counts as erase.
func (s *Store) Erase(ctx context.Context, subject, erasureID string) (vault.EraseResult, error) {
	start := time.Now()
	res, err := s.inner.Erase(ctx, subject, erasureID)
	s.done(opErase, start, err, 0)
	return res, err
}

// Export counts as export.
func (s *Store) Export(ctx context.Context, subject string) ([]vault.Record, error) {
	start := time.Now()
	res, err := s.inner.Export(ctx, subject)
	s.done(opExport, start, err, 0)
	return res, err
}

// Describe counts as describe.
func (s *Store) Describe(ctx context.Context, subject string) (vault.SubjectInfo, error) {
	start := time.Now()
	res, err := s.inner.Describe(ctx, subject)
	s.done(opDescribe, start, err, 0)
	return res, err
}

// Purge counts as purge.
func (s *Store) Purge(ctx context.Context) (vault.PurgeReport, error) {
	start := time.Now()
	res, err := s.inner.Purge(ctx)
	s.done(opPurge, start, err, 0)
	return res, err
}

// Close closes the wrapped store; it is not counted.
func (s *Store) Close() error { return s.inner.Close() }

// Capabilities is the wrapped store's; it is not counted.
func (s *Store) Capabilities() vault.Capabilities { return s.inner.Capabilities() }

// Expire counts as expire, with one item per value destroyed.
func (s *Store) Expire(ctx context.Context, toks []vault.Token) (int, error) {
	start := time.Now()
	n, err := s.inner.Expire(ctx, toks)
	s.done(opExpire, start, err, n)
	return n, err
}

// PutBlindIndex counts as put_blind_index.
func (s *Store) PutBlindIndex(ctx context.Context, subject, class string, digest []byte) error {
	start := time.Now()
	err := s.inner.PutBlindIndex(ctx, subject, class, digest)
	s.done(opPutBlind, start, err, 0)
	return err
}

// LookupBlindIndex counts as lookup_blind_index.
func (s *Store) LookupBlindIndex(ctx context.Context, class string, digest []byte) ([]string, error) {
	start := time.Now()
	subs, err := s.inner.LookupBlindIndex(ctx, class, digest)
	s.done(opLookupBlind, start, err, 0)
	return subs, err
}

// AwaitsPurge counts as awaits_purge.
func (s *Store) AwaitsPurge(ctx context.Context, subject string) (bool, error) {
	start := time.Now()
	wait, err := s.inner.AwaitsPurge(ctx, subject)
	s.done(opAwaitsPurge, start, err, 0)
	return wait, err
}
