package eventlog

import (
	"context"
	"errors"
	"sync"
)

// Subscription delivers the log's events in position order, first those
// already stored (catch-up), then new ones as they are committed (live).
// Both phases read from disk by position, so the switch between them has
// no gap and no duplicate, a slow subscriber costs writers nothing, and a
// subscriber holds at most Options.SubscriptionBatch events in memory.
//
// A Subscription is used by one goroutine; Close may be called from any.
type Subscription struct {
	l    *Log
	next uint64
	buf  []Event

	closeOnce sync.Once
	closed    chan struct{}
	mu        sync.Mutex  // guards stop: ctx's AfterFunc may call Close before Subscribe has set it
	stop      func() bool // unregisters the AfterFunc
}

// Subscribe starts a subscription at position from (inclusive; 0 means
// from the start). It ends when ctx ends, on Close, or when the log closes.
func (l *Log) Subscribe(ctx context.Context, from uint64) *Subscription {
	s := &Subscription{l: l, next: max(from, 1), closed: make(chan struct{})}
	stop := context.AfterFunc(ctx, s.Close)
	s.mu.Lock()
	s.stop = stop
	s.mu.Unlock()
	return s
}

// Next returns the next event, waiting for one to be appended if the
// subscriber has caught up. It returns ctx.Err() when ctx ends, and
// ErrClosed after Close or when the log is closed (then only once the
// log's Close has finished, so that the caller may remove its directory).
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		if len(s.buf) > 0 {
			e := s.buf[0]
			s.buf[0] = Event{}
			s.buf = s.buf[1:]
			return e, nil
		}
		select {
		case <-s.closed:
			return Event{}, ErrClosed
		default:
		}
		// Take the wake-up channel before looking, so a commit between the
		// look and the wait is not missed.
		wake := s.l.published()
		if s.next <= s.l.head.Load() {
			evs, err := s.l.ReadAll(ctx, s.next, s.l.opts.SubscriptionBatch, Filter{})
			if errors.Is(err, ErrClosed) {
				return Event{}, s.l.errClosed()
			}
			if err != nil {
				return Event{}, err
			}
			if len(evs) > 0 {
				s.buf = evs
				s.next = evs[len(evs)-1].Position + 1
				continue
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case <-s.closed:
			return Event{}, ErrClosed
		case <-s.l.done:
			return Event{}, s.l.errClosed()
		}
	}
}

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.mu.Lock()
		stop := s.stop
		s.mu.Unlock()
		if stop != nil {
			stop()
		}
	})
}
