package compliance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
)

var errVaultDown = errors.New("injected: vault down")

// flakyStore fails Erase and Purge while down is set.
type flakyStore struct {
	vault.Store
	down *atomic.Bool
}

func (f flakyStore) Erase(ctx context.Context, subject, id string) (vault.EraseResult, error) {
	if f.down.Load() {
		return vault.EraseResult{}, errVaultDown
	}
	return f.Store.Erase(ctx, subject, id)
}

func (f flakyStore) Purge(ctx context.Context) (vault.PurgeReport, error) {
	if f.down.Load() {
		return vault.PurgeReport{}, errVaultDown
	}
	return f.Store.Purge(ctx)
}

// TestVaultDownDuringErasure: the request is recorded, the vault fails; the
// erasure stays requested (and is reported), and Advance finishes it once
// the vault is back. A purge failure leaves it erased, not completed.
func TestVaultDownDuringErasure(t *testing.T) {
	ctx := context.Background()
	down := &atomic.Bool{}
	e := newEnvWrapped(t, Options{}, func(s vault.Store) vault.Store { return flakyStore{s, down} })
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-f", "f1", "flaky.f1@example.com", "+1 415 555 0106", "Flaky Fone")

	down.Store(true)
	er, err := e.comp.Request(ctx, pDPO, "f1", redaction.ErasureRequest{RequestID: "rq-f1"})
	if !errors.Is(err, redaction.ErrVaultUnavailable) && !errors.Is(err, errVaultDown) {
		t.Fatalf("Request with the vault down = %v", err)
	}
	if er.Status != StatusRequested || er.ID == "" {
		t.Fatalf("Request with the vault down = %+v, want requested", er)
	}
	if _, err := e.comp.Advance(ctx); err == nil {
		t.Fatal("Advance with the vault down succeeded")
	}
	down.Store(false)
	// Same request again: the same erasure, still requested until advanced.
	again, err := e.comp.Request(ctx, pDPO, "f1", redaction.ErasureRequest{RequestID: "rq-f1"})
	if err != nil || again.ID != er.ID || again.Status != StatusRequested {
		t.Fatalf("Request again = %+v, %v", again, err)
	}
	rep, err := e.comp.Advance(ctx)
	if err != nil || rep.Erased != 1 || rep.Completed != 1 {
		t.Fatalf("Advance = %+v, %v", rep, err)
	}
	got, _ := e.comp.Get(ctx, pDPO, er.ID)
	if got.Status != StatusCompleted {
		t.Fatalf("Get = %+v", got)
	}
	if r, err := VerifyReceipt(got.Receipt, e.comp.PublicKey()); err != nil || r.ValuesDestroyed != 3 {
		t.Fatalf("receipt = %+v, %v", r, err)
	}

	// A purge failure: erased, not purged, not completed.
	e.appendCustomer("customer-g", "g1", "flaky.g1@example.com", "+1 415 555 0107", "Flaky Gone")
	er2, err := e.comp.Request(ctx, pDPO, "g1", redaction.ErasureRequest{RequestID: "rq-g1"})
	if err != nil || er2.Status != StatusErased {
		t.Fatalf("Request = %+v, %v", er2, err)
	}
	down.Store(true)
	if _, err := e.comp.Advance(ctx); err == nil {
		t.Fatal("Advance with a failing purge succeeded")
	}
	if got, _ := e.comp.Get(ctx, pDPO, er2.ID); got.Status != StatusErased {
		t.Fatalf("after a failed purge: %s, want erased", got.Status)
	}
	down.Store(false)
	if rep, err := e.comp.Advance(ctx); err != nil || rep.Completed != 1 {
		t.Fatalf("Advance = %+v, %v", rep, err)
	}
}

// TestErasureThroughRedaction: an erasure made by redaction's Erase
// directly (an older route) joins the workflow and is completed.
func TestErasureThroughRedaction(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-d", "d1", "direct.d1@example.com", "+1 415 555 0108", "Direct Done")
	res, err := e.svc.Erase(ctx, pDPO, "d1", redaction.ErasureRequest{RequestID: "rq-direct"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ErasureID != redaction.ErasureID("d1", "rq-direct") {
		t.Fatalf("erasure ID %s", res.ErasureID)
	}
	got, err := e.comp.Get(ctx, pDPO, res.ErasureID)
	if err != nil || got.Status != StatusErased || got.RequestID != "rq-direct" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if again, err := e.comp.Request(ctx, pDPO, "d1", redaction.ErasureRequest{RequestID: "rq-direct"}); err != nil || again.ID != res.ErasureID {
		t.Fatalf("Request with the same request ID = %+v, %v", again, err)
	}
	if rep, err := e.comp.Advance(ctx); err != nil || rep.Completed != 1 {
		t.Fatalf("Advance = %+v, %v", rep, err)
	}
}

func TestReapplyPaths(t *testing.T) {
	ctx := context.Background()
	const n = 2500
	e := newEnv(t, Options{})
	recordErasures(t, e.log, n)
	e.reopen()
	got, err := e.comp.Reapply(ctx)
	if err != nil || got != n {
		t.Fatalf("Reapply = %d, %v; want %d", got, err, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		info, err := e.store.Describe(ctx, fmt.Sprintf("subject-%d", i))
		if err != nil || !info.Erased || info.ErasureID != fmt.Sprintf("e-%d", i) {
			t.Errorf("subject-%d: %+v, %v", i, info, err)
		}
	}
	// Again: everything is erased already; nothing is written.
	if got, err := e.comp.Reapply(ctx); err != nil || got != n {
		t.Errorf("second Reapply = %d, %v", got, err)
	}
	if !strings.Contains(e.out.String(), `"count":2500,"written":0`) {
		t.Errorf("second Reapply's log line does not say 0 written")
	}
}
