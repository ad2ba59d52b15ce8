package vaulttest

import (
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

// capabilityTests are the tests of the optional capabilities; each checks
// a capability the backend lists, and that a backend without it answers
// ErrNotSupported from every one of its methods.
var capabilityTests = []struct {
	name string
	fn   func(t *testing.T, h Harness)
}{
	{"CapabilityUnsyncedPut", testUnsyncedPut},
	{"CapabilityExpire", testExpire},
	{"CapabilityBlindIndex", testBlindIndex},
	{"CapabilityPurgeQueue", testPurgeQueue},
}

// RunCapabilities runs only the capability tests, for a second
// configuration of a backend whose capabilities differ (an embedded vault
// without background purge) or for a wrapper of a backend.
func RunCapabilities(t *testing.T, h Harness) {
	t.Helper()
	for _, tc := range capabilityTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// digests returns n random 32-byte blind-index digests (every backend takes
// 32): random, like the subjects, so that a backend that cannot start empty
// finds no entries of an earlier run.
func digests(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 32)
		_, _ = rand.Read(out[i])
	}
	return out
}

// notSupported fails t unless err wraps vault.ErrNotSupported.
func notSupported(t *testing.T, method string, err error) {
	t.Helper()
	if !errors.Is(err, vault.ErrNotSupported) {
		t.Errorf("%s without the capability = %v, want ErrNotSupported", method, err)
	}
}

func testUnsyncedPut(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := ctxT(t)
	sub := Subject("unsynced")
	entries := []vault.Entry{{Subject: sub, Class: "email", Value: Value("u1")}, {Subject: sub, Class: "phone", Value: Value("u2")}}
	if !s.Capabilities().Has(vault.CapUnsyncedPut) {
		_, err := s.PutUnsynced(ctx, entries)
		notSupported(t, "PutUnsynced", err)
		notSupported(t, "Sync", s.Sync())
		return
	}
	toks, err := s.PutUnsynced(ctx, entries)
	if err != nil || len(toks) != len(entries) {
		t.Fatalf("PutUnsynced = %d tokens, %v; want %d, nil", len(toks), err, len(entries))
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if h.Reopen != nil {
		s = h.Reopen(t, s)
	}
	for i, r := range mustResolve(t, s, toks) {
		checkFound(t, r, entries[i])
	}
	mustErase(t, s, sub, "e-unsynced")
	if _, err := s.PutUnsynced(ctx, entries[:1]); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("PutUnsynced for an erased subject = %v, want ErrErased", err)
	}
	if _, err := s.PutUnsynced(ctx, []vault.Entry{{Subject: "", Class: "email", Value: Value("x")}}); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("PutUnsynced with an empty subject = %v, want ErrInvalid", err)
	}
}

func testExpire(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := ctxT(t)
	sub := Subject("expire")
	entries := []vault.Entry{{Subject: sub, Class: "email", Value: Value("x1")}, {Subject: sub, Class: "phone", Value: Value("x2")}}
	toks := mustPut(t, s, entries)
	if !s.Capabilities().Has(vault.CapExpire) {
		_, err := s.Expire(ctx, toks[:1])
		notSupported(t, "Expire", err)
		for i, r := range mustResolve(t, s, toks) {
			checkFound(t, r, entries[i])
		}
		return
	}
	n, err := s.Expire(ctx, toks[:1])
	if err != nil || n != 1 {
		t.Fatalf("Expire(1 token) = %d, %v; want 1, nil", n, err)
	}
	res := mustResolve(t, s, toks)
	if res[0].State != vault.Expired || !res[0].Value.IsZero() {
		t.Fatalf("expired token = %v (value set %v), want Expired without value", res[0].State, !res[0].Value.IsZero())
	}
	checkFound(t, res[1], entries[1])
	if n, err := s.Expire(ctx, toks[:1]); err != nil || n != 0 {
		t.Fatalf("Expire again = %d, %v; want 0, nil", n, err)
	}
	mustErase(t, s, sub, "e-expire")
	if n, err := s.Expire(ctx, toks[1:]); err != nil || n != 0 {
		t.Fatalf("Expire of an erased subject's token = %d, %v; want 0, nil", n, err)
	}
	if res := mustResolve(t, s, toks[1:]); res[0].State != vault.Erased {
		t.Fatalf("erased token after Expire = %v, want Erased", res[0].State)
	}
}

func testBlindIndex(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := ctxT(t)
	a, b := Subject("blind-a"), Subject("blind-b")
	mustPut(t, s, []vault.Entry{{Subject: a, Class: "email", Value: Value("a")}, {Subject: b, Class: "email", Value: Value("b")}})
	d := digests(3)
	if !s.Capabilities().Has(vault.CapBlindIndex) {
		notSupported(t, "PutBlindIndex", s.PutBlindIndex(ctx, a, "email", d[0]))
		_, err := s.LookupBlindIndex(ctx, "email", d[0])
		notSupported(t, "LookupBlindIndex", err)
		return
	}
	for _, sub := range []string{a, b} {
		for range 2 { // idempotent
			if err := s.PutBlindIndex(ctx, sub, "email", d[0]); err != nil {
				t.Fatalf("PutBlindIndex: %v", err)
			}
		}
	}
	if err := s.PutBlindIndex(ctx, a, "phone", d[1]); err != nil {
		t.Fatalf("PutBlindIndex: %v", err)
	}
	want := []string{a, b}
	slices.Sort(want)
	if got, err := s.LookupBlindIndex(ctx, "email", d[0]); err != nil || !slices.Equal(got, want) {
		t.Fatalf("LookupBlindIndex = %v, %v; want %v", got, err, want)
	}
	if got, err := s.LookupBlindIndex(ctx, "email", d[1]); err != nil || len(got) != 0 {
		t.Fatalf("LookupBlindIndex of another class's digest = %v, %v; want none", got, err)
	}
	mustErase(t, s, a, "e-blind")
	if got, err := s.LookupBlindIndex(ctx, "email", d[0]); err != nil || !slices.Equal(got, []string{b}) {
		t.Fatalf("LookupBlindIndex after erasing %s = %v, %v; want [%s]", a, got, err, b)
	}
	if got, err := s.LookupBlindIndex(ctx, "phone", d[1]); err != nil || len(got) != 0 {
		t.Fatalf("LookupBlindIndex of the erased subject's only digest = %v, %v; want none", got, err)
	}
	if err := s.PutBlindIndex(ctx, a, "email", d[2]); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("PutBlindIndex for an erased subject = %v, want ErrErased", err)
	}
	if err := s.PutBlindIndex(ctx, b, "", d[2]); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("PutBlindIndex with an empty class = %v, want ErrInvalid", err)
	}
}

func testPurgeQueue(t *testing.T, h Harness) {
	s := h.Open(t)
	ctx := ctxT(t)
	gone, kept := Subject("queued"), Subject("kept")
	mustPut(t, s, []vault.Entry{{Subject: gone, Class: "email", Value: Value("q")}, {Subject: kept, Class: "email", Value: Value("k")}})
	caps := s.Capabilities()
	if caps.Has(vault.CapBackgroundPurge) && !caps.Has(vault.CapPurgeQueue) {
		t.Fatalf("Capabilities = %v: background purge without a purge queue", caps)
	}
	mustErase(t, s, gone, "e-queue")
	if !caps.Has(vault.CapPurgeQueue) {
		_, err := s.AwaitsPurge(ctx, gone)
		notSupported(t, "AwaitsPurge", err)
		return
	}
	if wait, err := s.AwaitsPurge(ctx, kept); err != nil || wait {
		t.Fatalf("AwaitsPurge of a subject never erased = %v, %v; want false", wait, err)
	}
	if caps.Has(vault.CapBackgroundPurge) {
		// The backend purges by itself: the subject stops waiting without
		// a Purge call. The deadline is the test's context.
		for {
			wait, err := s.AwaitsPurge(ctx, gone)
			if err != nil {
				t.Fatalf("AwaitsPurge: %v", err)
			}
			if !wait {
				return
			}
			if ctx.Err() != nil {
				t.Fatal("the background purge did not run before the test's deadline")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if wait, err := s.AwaitsPurge(ctx, gone); err != nil || !wait {
		t.Fatalf("AwaitsPurge after Erase = %v, %v; want true", wait, err)
	}
	if _, err := s.Purge(ctx); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if wait, err := s.AwaitsPurge(ctx, gone); err != nil || wait {
		t.Fatalf("AwaitsPurge after Purge = %v, %v; want false", wait, err)
	}
}
