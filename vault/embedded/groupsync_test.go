package embedded

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGroupSyncCoversEarlierCommits(t *testing.T) {
	// Every wait must be covered by a sync that started after the wait was
	// called: model "commit" as a counter bumped before wait, and the sync
	// as recording the counter when it starts.
	var committed, durable atomic.Int64
	g := newGroupSync(func() error {
		seen := committed.Load()
		time.Sleep(200 * time.Microsecond)
		for {
			d := durable.Load()
			if seen <= d || durable.CompareAndSwap(d, seen) {
				return nil
			}
		}
	})
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				mine := committed.Add(1)
				if err := g.wait(); err != nil {
					t.Error(err)
					return
				}
				if durable.Load() < mine {
					t.Errorf("wait returned before commit %d was synced (durable %d)", mine, durable.Load())
					return
				}
			}
		}()
	}
	wg.Wait()
	n, _ := g.stats()
	if n >= 32*50 {
		t.Errorf("%d syncs for %d waits: no grouping", n, 32*50)
	}
	t.Logf("%d waits, %d syncs", 32*50, n)
}

func TestGroupSyncErrorSticky(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	g := newGroupSync(func() error {
		calls++
		if calls == 1 {
			return boom
		}
		return nil
	})
	if err := g.wait(); !errors.Is(err, boom) {
		t.Fatalf("wait = %v, want boom", err)
	}
	if err := g.wait(); !errors.Is(err, boom) {
		t.Fatalf("wait after a failed sync = %v, want the sticky error", err)
	}
}
