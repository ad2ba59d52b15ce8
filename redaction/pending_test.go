package redaction

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

// delFailStore is a vault whose Delete can be made to fail.
type delFailStore struct {
	vault.Store
	failDel atomic.Bool
}

func (d *delFailStore) Delete(ctx context.Context, tokens []vault.Token) error {
	if d.failDel.Load() {
		return vault.ErrUnavailable
	}
	return d.Store.Delete(ctx, tokens)
}

// crash stops a Service's goroutines without any of Close's clean-up (no
// sweep, no marker retirement), as a kill would.
func crash(s *Service) {
	s.closeMu.Do(func() {
		s.stop()
		<-s.done
		<-s.retDone
	})
}

func subjectTokens(t *testing.T, st vault.Store, subject string) []vault.Token {
	t.Helper()
	info, err := st.Describe(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	var out []vault.Token
	for _, ti := range info.Tokens {
		out = append(out, ti.Token)
	}
	return out
}

func resolveStates(t *testing.T, st vault.Store, toks []vault.Token) []vault.State {
	t.Helper()
	rs, err := st.Resolve(context.Background(), toks)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]vault.State, len(rs))
	for i, r := range rs {
		out[i] = r.State
	}
	return out
}

func markersHeld(t *testing.T, s *Service) int {
	t.Helper()
	n := 0
	for _, ms := range s.pend.subjects {
		recs, err := s.store.Export(context.Background(), ms)
		if err != nil {
			t.Fatal(err)
		}
		n += len(recs)
	}
	return n
}

// TestDurableOrphanSweep simulates a crash between the vault Put and the
// log append, with the real embedded vault and event log: after a restart
// the orphaned values are gone, the values of committed events (also one
// whose marker was never retired) still resolve, and an erased subject in
// a marker blocks nothing.
func TestDurableOrphanSweep(t *testing.T) {
	for _, tc := range []struct {
		name string
		// startFails makes the start's recovery fail, so that the running
		// sweeper has to do it.
		startFails bool
	}{
		{name: "at start"},
		{name: "by the sweeper", startFails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			st := &delFailStore{Store: openEmbedded(t, dir, slog.New(slog.DiscardHandler))}
			env := newEnv(t, envConfig{store: st, opts: Options{SweepInterval: -1}})
			svc := env.svc
			mustPutSchema(t, svc, "CustomerRegistered", customerSchema)

			// Committed and settled.
			if _, err := svc.Append(ctx, pService, "s1", Any, []EventInput{
				ev("CustomerRegistered", `{"customerId":"c1","email":"a@example.com","name":"A"}`),
			}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return markersHeld(t, svc) == 0 })

			// From now on no Delete works: markers stay, and the failed
			// append's values are left to the in-memory sweeper.
			st.failDel.Store(true)
			// Committed, but its marker is never retired.
			if _, err := svc.Append(ctx, pService, "s2", Any, []EventInput{
				ev("CustomerRegistered", `{"customerId":"c3","email":"c@example.com","name":"C"}`),
				ev("CustomerRegistered", `{"customerId":"c2","email":"b0@example.com"}`),
			}); err != nil {
				t.Fatal(err)
			}
			committed := append(subjectTokens(t, st, "c1"), subjectTokens(t, st, "c3")...)
			committed = append(committed, subjectTokens(t, st, "c2")...)
			// The log append fails and the clean-up too.
			env.flaky.setFailAppend(true)
			_, err := svc.Append(ctx, pService, "s3", Any, []EventInput{
				ev("CustomerRegistered", `{"customerId":"c2","email":"b@example.com","name":"B"}`),
				ev("CustomerRegistered", `{"customerId":"c4","email":"d@example.com","name":"D"}`),
			})
			env.flaky.setFailAppend(false)
			if !errors.Is(err, errInjected) {
				t.Fatalf("Append = %v, want the injected error", err)
			}
			if o := svc.OrphanedValues(); o != 4 {
				t.Fatalf("Pending orphans = %d, want 4", o)
			}
			var orphans []vault.Token
			for _, tok := range subjectTokens(t, st, "c2") {
				if !slices.Contains(committed, tok) {
					orphans = append(orphans, tok)
				}
			}
			orphans = append(orphans, subjectTokens(t, st, "c4")...)
			if len(orphans) != 4 {
				t.Fatalf("%d orphaned values, want 4", len(orphans))
			}
			if n := markersHeld(t, svc); n != 2 {
				t.Fatalf("%d markers held, want 2", n)
			}
			crash(svc)

			// While down, c4 is erased (outside this Service).
			if _, err := st.Erase(ctx, "c4", "er-1"); err != nil {
				t.Fatal(err)
			}

			// Restart.
			st.failDel.Store(tc.startFails)
			const interval = 50 * time.Millisecond
			svc2, err := newService(ctx, env.flaky, st, env.pol, Options{SweepInterval: interval})
			if err != nil {
				t.Fatal(err)
			}
			defer svc2.Close()
			if svc2.pend.subjects != svc.pend.subjects {
				t.Fatal("the instance's marker subjects changed across the restart")
			}
			start := time.Now()
			if tc.startFails {
				if got := resolveStates(t, st, orphans[:2]); got[0] != vault.Found {
					t.Fatalf("orphan already gone with a failing Delete: %v", got)
				}
				st.failDel.Store(false)
			}
			waitFor(t, func() bool {
				for _, s := range resolveStates(t, st, orphans[:2]) {
					if s != vault.Unknown {
						return false
					}
				}
				return true
			})
			if tc.startFails {
				if d := time.Since(start); d > 4*interval {
					t.Errorf("orphans gone after %v, sweep interval %v", d, interval)
				}
			}
			for i, s := range resolveStates(t, st, orphans[2:]) {
				if s == vault.Found {
					t.Errorf("erased subject's orphan %d resolves", i)
				}
			}
			for i, s := range resolveStates(t, st, committed) {
				if s != vault.Found {
					t.Errorf("committed value %d: state %v, want Found", i, s)
				}
			}
			waitFor(t, func() bool { return markersHeld(t, svc2) == 0 })

			// The committed events read back whole; new appends work; the
			// erased subject refuses new values without leaving a marker.
			evs, err := svc2.ReadStream(ctx, pSupport, "s2", 1, 10, Forward)
			if err != nil || len(evs) != 2 {
				t.Fatalf("ReadStream = %d events, %v", len(evs), err)
			}
			for _, e := range evs {
				for _, f := range e.PII {
					if f.State == StateUnavailable || f.State == StateErased {
						t.Errorf("committed event %d field %s: state %s", e.Version, f.Path, f.State)
					}
				}
			}
			if _, err := svc2.Append(ctx, pService, "s4", Any, []EventInput{
				ev("CustomerRegistered", `{"customerId":"c5","email":"e@example.com"}`),
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc2.Append(ctx, pService, "s4", Any, []EventInput{
				ev("CustomerRegistered", `{"customerId":"c4","email":"d@example.com"}`),
			}); !errors.Is(err, vault.ErrErased) {
				t.Fatalf("Append for an erased subject = %v, want ErrErased", err)
			}
			waitFor(t, func() bool { return markersHeld(t, svc2) == 0 })
		})
	}
}

// TestReservedMarkerSubject: clients cannot put values under, erase or
// export the pending markers' subjects.
func TestReservedMarkerSubject(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{opts: Options{SweepInterval: -1}})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	_, err := svc.Append(ctx, pService, "s1", Any, []EventInput{
		ev("CustomerRegistered", `{"customerId":"$piivault-pending-x-0","email":"a@example.com"}`),
	})
	var ee *EventError
	if !errors.As(err, &ee) {
		t.Fatalf("Append = %v, want an EventError", err)
	}
	if _, err := svc.Erase(ctx, pDPO, markerSubjectPrefix+"-x-0", ErasureRequest{}); err == nil {
		t.Error("Erase of a marker subject succeeded")
	}
	if _, err := svc.Export(ctx, pDPO, markerSubjectPrefix+"-x-0"); err == nil {
		t.Error("Export of a marker subject succeeded")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
