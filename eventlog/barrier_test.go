package eventlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeBarrier counts its syncs and fails them with fail.
type fakeBarrier struct {
	fail  error
	syncs atomic.Int64
}

func (b *fakeBarrier) Sync() error {
	b.syncs.Add(1)
	return b.fail
}

func TestAppendAfterSyncsFirst(t *testing.T) {
	l, _ := openTest(t)
	ctx := context.Background()
	b := &orderBarrier{l: l}
	res, err := l.AppendAfter(ctx, "s", Any, []EventData{ev("a", `{}`)}, b)
	if err != nil {
		t.Fatal(err)
	}
	if b.headAtSync != 0 || res.FirstPosition != 1 {
		t.Errorf("barrier saw head %d, append landed at %d; want the sync before the commit", b.headAtSync, res.FirstPosition)
	}
	if _, err := l.AppendAfter(ctx, "$sys", Any, []EventData{ev("a", `{}`)}, b); !errors.Is(err, ErrReservedStream) {
		t.Errorf("AppendAfter to a $ stream = %v, want ErrReservedStream", err)
	}
}

// orderBarrier records the log's head when it syncs.
type orderBarrier struct {
	l          *Log
	headAtSync uint64
}

func (b *orderBarrier) Sync() error {
	h, err := b.l.Head(context.Background())
	b.headAtSync = h
	return err
}

// Concurrent appenders with one barrier share its syncs (at most one per
// group), and a failing barrier fails its appends alone, writing nothing.
func TestAppendAfterGroups(t *testing.T) {
	l, _ := openTest(t)
	ctx := context.Background()
	good := &fakeBarrier{}
	bad := &fakeBarrier{fail: errors.New("vault sync failed")}
	var wg sync.WaitGroup
	const workers, per = 32, 20
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				st := fmt.Sprintf("s%d", w)
				if _, err := l.AppendAfter(ctx, st, Any, []EventData{tagged("a", `{}`, "good")}, good); err != nil {
					t.Error(err)
					return
				}
				if w%4 == 0 {
					_, err := l.AppendAfter(ctx, st, Any, []EventData{tagged("a", `{}`, "bad")}, bad)
					if !errors.Is(err, bad.fail) {
						t.Errorf("AppendAfter with a failing barrier = %v, want its error", err)
					}
				}
				if _, err := l.Append(ctx, st, Any, []EventData{tagged("a", `{}`, "plain")}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := good.syncs.Load(); n == 0 || n > int64(workers*per) {
		t.Errorf("good barrier synced %d times for %d appends", n, workers*per)
	}
	if h, _ := l.Head(ctx); h != 2*workers*per {
		t.Errorf("head = %d, want %d (no event of a failed barrier)", h, 2*workers*per)
	}
	if evs, err := l.ReadTag(ctx, "bad", 0, 0); err != nil || len(evs) != 0 {
		t.Errorf("ReadTag(bad) = %d events, %v; want none", len(evs), err)
	}
	if g := l.groups.Load(); good.syncs.Load() > int64(g) {
		t.Errorf("good barrier synced %d times in %d groups", good.syncs.Load(), g)
	}
}
