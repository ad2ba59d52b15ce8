package policy

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentDecisionsDuringReloads asks from several goroutines while the
// policy flips between two revisions; every answer must be one of the two
// revisions' answers. Run with -race to check the state swap.
func TestConcurrentDecisionsDuringReloads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := DefaultOptions()
	opts.PolicyDir, opts.Watch = dir, false
	e := newEngine(t, opts)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := e.Field(ctx, billingName)
				if err != nil || (d.Effect != EffectDeny && d.Effect != EffectReveal) {
					t.Errorf("Field = %+v, %v", d, err)
					return
				}
			}
		}()
	}
	for i := range 10 {
		if i%2 == 0 {
			writeFile(t, filepath.Join(dir, "x.rego"), extension)
		} else {
			writeFile(t, filepath.Join(dir, "x.rego"), "package piivault.authz\n")
		}
		if err := e.Reload(ctx); err != nil {
			t.Fatalf("Reload: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	// After the last reload (an empty extension) the answer is the default's.
	if d, _ := e.Field(ctx, billingName); d.Effect != EffectDeny {
		t.Fatalf("after reloads Field = %+v, want deny", d)
	}
}

func TestClosed(t *testing.T) {
	opts := DefaultOptions()
	opts.PolicyDir, opts.Debounce = t.TempDir(), 1
	e, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if d, err := e.Field(context.Background(), billingName); err != ErrClosed || d.Allow {
		t.Fatalf("Field after Close = %+v, %v", d, err)
	}
	if err := e.Reload(context.Background()); err != ErrClosed {
		t.Fatalf("Reload after Close = %v", err)
	}
}
