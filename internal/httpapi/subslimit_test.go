package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSubscriptionsPerPrincipal is #15 item 9: one principal cannot take
// every subscription slot; past its own cap it gets a 503 that names the
// per-principal limit, while another principal still subscribes, and a 503
// at the server's limit names that one.
func TestSubscriptionsPerPrincipal(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{MaxSubscriptions: 3, MaxSubscriptionsPerPrincipal: 2, HeartbeatInterval: time.Second})
	_, stop1 := sseOpen(t, e, readerToken, "")
	defer stop1()
	_, stop2 := sseOpen(t, e, readerToken, "")
	defer stop2()
	r := e.do(t, http.MethodGet, "/v1/subscribe", readerToken, nil)
	p := r.problem(t)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(p.Detail, "per-principal") {
		t.Fatalf("reader's third subscription = %d %+v (Retry-After %q), want 503 naming the per-principal limit", r.status, p, r.header.Get("Retry-After"))
	}
	// The refused attempt held no slot: another principal gets the last one.
	_, stop3 := sseOpen(t, e, rootToken, "")
	defer stop3()
	r = e.do(t, http.MethodGet, "/v1/subscribe", rootToken, nil)
	p = r.problem(t)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(p.Detail, "all principals") || strings.Contains(p.Detail, "per-principal") {
		t.Fatalf("fourth subscription = %d %+v, want 503 naming the server's limit", r.status, p)
	}
	// A slot that ends is given back to its principal.
	stop1()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, stop := sseOpenMaybe(t, e)
		if stop != nil {
			stop()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reader's slot never came free")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.srv.subsMu.Lock()
	defer e.srv.subsMu.Unlock()
	if len(e.srv.subsOf) > 2 {
		t.Errorf("per-principal counts = %v", e.srv.subsOf)
	}
}

func TestSubscriptionsPerPrincipalDefault(t *testing.T) {
	if d := DefaultOptions().MaxSubscriptionsPerPrincipal; d <= 0 || d >= DefaultOptions().MaxSubscriptions {
		t.Errorf("default per-principal cap = %d, want between 0 and MaxSubscriptions", d)
	}
	if o := (Options{}).withDefaults(); o.MaxSubscriptionsPerPrincipal != DefaultOptions().MaxSubscriptionsPerPrincipal {
		t.Errorf("withDefaults per-principal cap = %d", o.MaxSubscriptionsPerPrincipal)
	}
}
