package redaction

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/piivault/piivault/vault"
)

// sweeper holds the vault values that a failed append left behind and
// whose immediate deletion failed too.
type sweeper struct {
	mu      sync.Mutex
	orphans []orphan
}

type orphan struct {
	tokens []vault.Token
	since  time.Time
}

func (w *sweeper) addOrphans(tokens []vault.Token, now time.Time) {
	w.mu.Lock()
	w.orphans = append(w.orphans, orphan{tokens: tokens, since: now})
	w.mu.Unlock()
}

// OrphanedValues reports how many vault values a failed append left behind
// (their immediate deletion failed too) wait for the sweeper.
func (s *Service) OrphanedValues() int {
	n := 0
	s.sw.mu.Lock()
	for _, o := range s.sw.orphans {
		for _, t := range o.tokens {
			if subj, err := vault.ParseToken(t); err != nil || !isMarkerSubject(subj) {
				n++
			}
		}
	}
	s.sw.mu.Unlock()
	return n
}

// Sweep retries the deletion of orphaned vault values. The sweeper calls it
// every SweepInterval; it is exported for operators and tests.
func (s *Service) Sweep(ctx context.Context) error {
	s.sw.mu.Lock()
	orphans := s.sw.orphans
	s.sw.orphans = nil
	s.sw.mu.Unlock()
	var errs []error
	var left []orphan
	for _, o := range orphans {
		if err := s.store.Delete(ctx, o.tokens); err != nil {
			errs = append(errs, err)
			left = append(left, o)
		}
	}
	if len(left) > 0 {
		s.sw.mu.Lock()
		s.sw.orphans = append(left, s.sw.orphans...)
		s.sw.mu.Unlock()
	}
	if n := len(orphans) - len(left); n > 0 {
		s.lg.Info("sweeper deleted orphaned vault values", logKeyCount, n)
	}
	// Markers of earlier runs that the start could not resolve (markers of
	// this process are never judged here: their appends may be in flight).
	if !s.pendOK.Load() {
		if _, err := s.recoverPending(ctx, s.started); err != nil {
			errs = append(errs, err)
		} else {
			s.pendOK.Store(true)
		}
	}
	return errors.Join(errs...)
}

// every calls fn every interval until ctx is done, then closes done. A
// failure is logged with msg and left for the next call to retry.
func (s *Service) every(ctx context.Context, interval time.Duration, done chan<- struct{}, fn func(context.Context) error, msg string) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				s.lg.Warn(msg, logKeyErr, err.Error())
			}
		}
	}
}
