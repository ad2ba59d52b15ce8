package embedded

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

// TestBackgroundPurgeWaitsForQuiet erases a subject while another writes
// without pause: the background purge, which would stall that writer,
// waits until the writes stop (PurgeDelay of quiet), and AwaitsPurge says
// so meanwhile. The store's clock is the test's: it moves 10 ms per write
// and never by itself, so a slow machine (a Put taking longer than
// PurgeDelay) does not pass for quiet; only the test's step after the
// writes does.
func TestBackgroundPurgeWaitsForQuiet(t *testing.T) {
	f := newFixture(t, testOptions())
	clock := newManualClock()
	f.opts.Now = clock.Now
	f.opts.PurgeDelay = 100 * time.Millisecond
	f.opts.PurgeMaxDelay = -1
	purged := make(chan time.Time, 4)
	f.opts.OnPurge = func(r vault.PurgeReport) { purged <- r.DoneAt }
	s := f.open(t)
	ctx := context.Background()
	if !s.BackgroundPurge() {
		t.Fatal("BackgroundPurge = false with PurgeDelay 100 ms")
	}
	put(t, s, "quiet-erased")
	if _, err := s.Erase(ctx, "quiet-erased", "e1"); err != nil {
		t.Fatal(err)
	}
	// 60 writes, 10 ms of the store's time apart: 600 ms of writes that
	// never leave PurgeDelay of quiet. The waiter polls every 25 ms of
	// real time, so it sees many of them whatever the machine's speed.
	var lastPut time.Time
	for i := range 60 {
		clock.Advance(10 * time.Millisecond)
		lastPut = clock.Now()
		put(t, s, fmt.Sprintf("quiet-writer-%d", i))
		time.Sleep(time.Millisecond) // let the waiter poll: order does not matter
	}
	select {
	case at := <-purged:
		t.Fatalf("background purge ran at %s, while writes went on (the last began at %s)", at.Format(time.StampMilli), lastPut.Format(time.StampMilli))
	default:
	}
	if wait, err := s.AwaitsPurge(ctx, "quiet-erased"); err != nil || !wait {
		t.Fatalf("AwaitsPurge while writes go on = %v, %v; want true", wait, err)
	}
	// Now quiet: the store's clock moves on with no commit, a step at a
	// time (the waiter may see the last commit only after the first step).
	deadline := time.Now().Add(30 * time.Second)
	for done := false; !done; {
		select {
		case at := <-purged:
			if at.Before(lastPut.Add(f.opts.PurgeDelay)) {
				t.Fatalf("background purge done at %s, before %s of quiet after the last write began at %s",
					at.Format(time.StampMilli), f.opts.PurgeDelay, lastPut.Format(time.StampMilli))
			}
			done = true
		case <-time.After(5 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no background purge within 30 s of quiet")
			}
			clock.Advance(10 * time.Millisecond)
		}
	}
	if wait, err := s.AwaitsPurge(ctx, "quiet-erased"); err != nil || wait {
		t.Fatalf("AwaitsPurge after the purge = %v, %v; want false", wait, err)
	}
	if wait, err := s.AwaitsPurge(ctx, "quiet-writer-0"); err != nil || wait {
		t.Fatalf("AwaitsPurge of a subject never erased = %v, %v; want false", wait, err)
	}
}

// manualClock is a clock that moves only when told.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestBackgroundPurgeMaxDelay: under writes that never pause, the purge
// runs anyway once PurgeMaxDelay has passed, a chunk at a time with
// forcedPause between chunks, in which the writer goes on.
func TestBackgroundPurgeMaxDelay(t *testing.T) {
	f := newFixture(t, testOptions())
	f.opts.PurgeDelay = 100 * time.Millisecond
	f.opts.PurgeMaxDelay = 300 * time.Millisecond
	purged := make(chan vault.PurgeReport, 4)
	f.opts.OnPurge = func(r vault.PurgeReport) { purged <- r }
	s := f.open(t)
	ctx := context.Background()
	const n = 2*purgeChunk + 1 // three chunks, two pauses
	for i := range n {
		sub := fmt.Sprintf("max-erased-%d", i)
		put(t, s, sub)
		if _, err := s.Erase(ctx, sub, "e1"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	var during int // writes while the purge was under way
	for i := 0; ; i++ {
		select {
		case r := <-purged:
			if r.Subjects != n {
				t.Fatalf("forced purge report %+v, want all %d subjects in one purge", r, n)
			}
			if d := r.DoneAt.Sub(r.StartedAt); d < 2*forcedPause {
				t.Errorf("forced purge of 3 chunks took %s, want at least 2 pauses of %s", d, forcedPause)
			}
			if during < 10 {
				t.Errorf("the writer made %d writes during the forced purge; want it to go on between chunks", during)
			}
			for j := range n {
				if wait, err := s.AwaitsPurge(ctx, fmt.Sprintf("max-erased-%d", j)); err != nil || wait {
					t.Fatalf("AwaitsPurge after the purge = %v, %v; want false", wait, err)
				}
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no background purge within 30 s under constant writes, PurgeMaxDelay 300 ms")
		}
		put(t, s, fmt.Sprintf("max-writer-%d", i))
		if p, _ := s.PendingPurge(ctx); p < n {
			during++
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBackgroundPurgeOff: PurgeDelay negative leaves the purge to Purge.
func TestBackgroundPurgeOff(t *testing.T) {
	f := newFixture(t, testOptions())
	f.opts.PurgeDelay = -1
	s := f.open(t)
	ctx := context.Background()
	if s.BackgroundPurge() {
		t.Fatal("BackgroundPurge = true with PurgeDelay -1")
	}
	put(t, s, "off")
	if _, err := s.Erase(ctx, "off", "e1"); err != nil {
		t.Fatal(err)
	}
	if wait, err := s.AwaitsPurge(ctx, "off"); err != nil || !wait {
		t.Fatalf("AwaitsPurge before Purge = %v, %v; want true", wait, err)
	}
	if _, err := s.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if wait, err := s.AwaitsPurge(ctx, "off"); err != nil || wait {
		t.Fatalf("AwaitsPurge after Purge = %v, %v; want false", wait, err)
	}
}

func put(t *testing.T, s *Store, subject string) {
	t.Helper()
	if _, err := s.Put(context.Background(), []vault.Entry{{Subject: subject, Class: "c", Value: vault.NewPII([]byte(`"v"`))}}); err != nil {
		t.Fatalf("Put(%s): %v", subject, err)
	}
}

// TestPurgeChunks: the background purge drops purgeChunk subjects at a
// time and stops between chunks when told; Purge (on demand) takes all.
func TestPurgeChunks(t *testing.T) {
	f := newFixture(t, testOptions())
	f.opts.PurgeDelay = -1
	s := f.open(t)
	ctx := context.Background()
	const n = 2*purgeChunk + 5
	for i := range n {
		sub := fmt.Sprintf("chunk-%03d", i)
		put(t, s, sub)
		if _, err := s.Erase(ctx, sub, "e"); err != nil {
			t.Fatal(err)
		}
	}
	asked := 0
	rep, left, err := s.runPurge(ctx, func() bool { asked++; return false })
	if err != nil || rep.Subjects != purgeChunk || left != n-purgeChunk || asked != 1 {
		t.Fatalf("runPurge stopping after one chunk = %+v, %d left, %v, asked %d times; want %d purged, %d left, asked once",
			rep, left, err, asked, purgeChunk, n-purgeChunk)
	}
	if p, _ := s.PendingPurge(ctx); p != n-purgeChunk {
		t.Fatalf("PendingPurge = %d, want %d", p, n-purgeChunk)
	}
	asked = 0
	rep, left, err = s.runPurge(ctx, func() bool { asked++; return true })
	if err != nil || rep.Subjects != n-purgeChunk || left != 0 || asked != 1 {
		t.Fatalf("runPurge going on = %+v, %d left, %v, asked %d times; want the other %d in 2 chunks", rep, left, err, asked, n-purgeChunk)
	}
	for i := range n {
		if wait, err := s.AwaitsPurge(ctx, fmt.Sprintf("chunk-%03d", i)); err != nil || wait {
			t.Fatalf("AwaitsPurge(chunk-%03d) = %v, %v; want false", i, wait, err)
		}
	}
}

// TestBackgroundPurgeYields: a writer that comes back while the
// background purge works through its chunks makes it stop after the chunk
// in hand and wait for quiet again; once the writer stops, the rest goes.
func TestBackgroundPurgeYields(t *testing.T) {
	f := newFixture(t, testOptions())
	f.opts.PurgeDelay = 100 * time.Millisecond
	f.opts.PurgeMaxDelay = -1
	reports := make(chan vault.PurgeReport, 16)
	f.opts.OnPurge = func(r vault.PurgeReport) { reports <- r }
	s := f.open(t)
	ctx := context.Background()
	const n = 3 * purgeChunk
	for i := range n {
		sub := fmt.Sprintf("yield-%03d", i)
		put(t, s, sub)
		if _, err := s.Erase(ctx, sub, "e"); err != nil {
			t.Fatal(err)
		}
	}
	// The writer starts once the first chunk is gone and writes for a
	// while: it must be seen between chunks.
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			if p, err := s.PendingPurge(ctx); err != nil || p < n {
				break
			}
			time.Sleep(time.Millisecond)
		}
		end := time.Now().Add(time.Second)
		for i := 0; time.Now().Before(end); i++ {
			if _, err := s.Put(ctx, []vault.Entry{{Subject: fmt.Sprintf("yield-writer-%d", i), Class: "c", Value: vault.NewPII([]byte(`"v"`))}}); err != nil {
				t.Errorf("Put: %v", err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var first vault.PurgeReport
	select {
	case first = <-reports:
	case <-time.After(30 * time.Second):
		t.Fatal("no background purge within 30 s")
	}
	if first.Subjects >= n {
		t.Fatalf("first background purge took all %d subjects while a writer was back; want it to stop after a chunk", first.Subjects)
	}
	<-writerDone
	total := first.Subjects
	for total < n {
		select {
		case r := <-reports:
			total += r.Subjects
		case <-time.After(30 * time.Second):
			t.Fatalf("background purges reached %d of %d subjects within 30 s after the writer stopped", total, n)
		}
	}
	if p, err := s.PendingPurge(ctx); err != nil || p != 0 {
		t.Fatalf("PendingPurge = %d, %v; want 0", p, err)
	}
}
