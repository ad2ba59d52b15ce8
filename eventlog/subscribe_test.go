package eventlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestSubscribeCatchUpThenLive appends while a subscriber that started in
// the past reads: it must see every position exactly once, in order.
func TestSubscribeCatchUpThenLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := DefaultOptions()
	opts.SubscriptionBatch = 7 // many catch-up/live switches
	l, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const before, writers, perWriter = 50, 4, 100
	for i := 0; i < before; i++ {
		mustAppend(t, l, "s", Any, ev("t", fmt.Sprint(i)))
	}
	tests := []struct {
		name string
		from uint64
	}{{"from start", 0}, {"from middle", 20}, {"from head+1", before + 1}}
	subs := make([]*Subscription, len(tests))
	for i, tt := range tests {
		subs[i] = l.Subscribe(ctx, tt.from)
		defer subs[i].Close()
	}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if _, err := l.Append(ctx, fmt.Sprintf("w%d", w), Any, []EventData{ev("t", `{}`)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	total := uint64(before + writers*perWriter)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := max(tt.from, 1)
			for want <= total {
				e, err := subs[i].Next(ctx)
				if err != nil {
					t.Fatalf("Next at %d: %v", want, err)
				}
				if e.Position != want {
					t.Fatalf("Next = position %d, want %d (gap or duplicate)", e.Position, want)
				}
				want++
			}
		})
	}
	wg.Wait()
}

func TestSubscribeEnds(t *testing.T) {
	l, _ := openTest(t)
	mustAppend(t, l, "s", Any, ev("t", `1`))

	t.Run("Close", func(t *testing.T) {
		s := l.Subscribe(context.Background(), 0)
		if _, err := s.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
		go func() { time.Sleep(20 * time.Millisecond); s.Close() }()
		if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close = %v, want ErrClosed", err)
		}
	})
	t.Run("Next ctx", func(t *testing.T) {
		s := l.Subscribe(context.Background(), 2)
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next with expiring ctx = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("Subscribe ctx already done", func(t *testing.T) {
		for i := 0; i < 100; i++ { // the AfterFunc races Subscribe; -race watches
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			s := l.Subscribe(ctx, 1)
			if _, err := s.Next(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
				t.Fatalf("Next = %v", err)
			}
			s.Close()
		}
	})
	t.Run("Subscribe ctx", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		s := l.Subscribe(ctx, 2)
		cancel()
		if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Next after the Subscribe ctx ended = %v, want ErrClosed", err)
		}
	})
}

// TestSlowSubscriberBoundedMemory: a subscriber that does not read does not
// block appends, and when it reads again it holds at most one batch.
func TestSlowSubscriberBoundedMemory(t *testing.T) {
	ctx := context.Background()
	opts := DefaultOptions()
	opts.SubscriptionBatch = 16
	l, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := l.Subscribe(ctx, 0)
	defer s.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 500; i++ {
			mustAppend(t, l, "s", Any, ev("t", `{}`))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("appends blocked by an idle subscriber")
	}
	for want := uint64(1); want <= 500; want++ {
		e, err := s.Next(ctx)
		if err != nil || e.Position != want {
			t.Fatalf("Next = %d, %v; want %d", e.Position, err, want)
		}
		if cap(s.buf) > opts.SubscriptionBatch {
			t.Fatalf("subscriber buffer capacity %d > batch %d", cap(s.buf), opts.SubscriptionBatch)
		}
	}
}

func TestSubscribeLogClose(t *testing.T) {
	l, err := Open(t.TempDir(), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	s := l.Subscribe(context.Background(), 0)
	go func() { time.Sleep(20 * time.Millisecond); l.Close() }()
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Next when the log closes = %v, want ErrClosed", err)
	}
}
