package redaction

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/vault"
)

// sweeper holds the work a failed append left behind: vault values of
// events that were never written (to delete) and subject-index entries of
// events that were (to write).
type sweeper struct {
	mu      sync.Mutex
	orphans []orphan
	index   []indexWork
}

type orphan struct {
	tokens []vault.Token
	since  time.Time
}

type indexWork struct {
	stream string
	events []eventlog.EventData
}

func (w *sweeper) addOrphans(tokens []vault.Token, now time.Time) {
	w.mu.Lock()
	w.orphans = append(w.orphans, orphan{tokens: tokens, since: now})
	w.mu.Unlock()
}

func (w *sweeper) addIndex(stream string, events []eventlog.EventData) {
	w.mu.Lock()
	w.index = append(w.index, indexWork{stream: stream, events: events})
	w.mu.Unlock()
}

// Pending reports how many orphaned values and index entries wait for the
// sweeper.
func (s *Service) Pending() (orphans, indexEntries int) {
	s.sw.mu.Lock()
	defer s.sw.mu.Unlock()
	for _, o := range s.sw.orphans {
		orphans += len(o.tokens)
	}
	for _, w := range s.sw.index {
		indexEntries += len(w.events)
	}
	return orphans, indexEntries
}

// Sweep retries the deletion of orphaned vault values and the writing of
// deferred subject-index entries. The sweeper calls it every SweepInterval;
// it is exported for operators and tests.
func (s *Service) Sweep(ctx context.Context) error {
	s.sw.mu.Lock()
	orphans, index := s.sw.orphans, s.sw.index
	s.sw.orphans, s.sw.index = nil, nil
	s.sw.mu.Unlock()
	var errs []error
	var left []orphan
	for _, o := range orphans {
		if err := s.store.Delete(ctx, o.tokens); err != nil {
			errs = append(errs, err)
			left = append(left, o)
		}
	}
	var leftIdx []indexWork
	for _, w := range index {
		if _, err := s.log.AppendSystem(ctx, w.stream, eventlog.Any, w.events); err != nil {
			errs = append(errs, err)
			leftIdx = append(leftIdx, w)
		}
	}
	if len(left) > 0 || len(leftIdx) > 0 {
		s.sw.mu.Lock()
		s.sw.orphans = append(left, s.sw.orphans...)
		s.sw.index = append(leftIdx, s.sw.index...)
		s.sw.mu.Unlock()
	}
	if n := len(orphans) - len(left); n > 0 {
		s.lg.Info("sweeper deleted orphaned vault values", logKeyCount, n)
	}
	return errors.Join(errs...)
}

func (s *Service) sweepLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.lg.Warn("sweep incomplete, retrying next interval", logKeyErr, err.Error())
			}
		}
	}
}
