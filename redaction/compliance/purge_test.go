package compliance

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/embedded"
)

// backgroundStore stands for a vault that purges in the background: it
// says so, and counts the Purge calls it gets (Advance must make none).
// The test purges the embedded vault under it itself, as its background
// purge would.
type backgroundStore struct {
	vault.Store
	emb    *embedded.Store
	purges *atomic.Int64
}

func (b backgroundStore) Capabilities() vault.Capabilities {
	return b.Store.Capabilities() | vault.CapBackgroundPurge
}

func (b backgroundStore) AwaitsPurge(ctx context.Context, subject string) (bool, error) {
	return b.emb.AwaitsPurge(ctx, subject)
}

func (b backgroundStore) Purge(ctx context.Context) (vault.PurgeReport, error) {
	b.purges.Add(1)
	return b.Store.Purge(ctx)
}

var _ vault.Store = backgroundStore{}

// newBackgroundEnv returns an env over a backgroundStore, the count of the
// Purge calls the store gets, and the requested erasure of customer c1
// under requestID.
func newBackgroundEnv(t *testing.T, requestID string) (*env, *atomic.Int64, Erasure) {
	t.Helper()
	purges := &atomic.Int64{}
	e := newEnv(t, Options{})
	e.wrap = func(s vault.Store) vault.Store {
		return backgroundStore{Store: s, emb: s.(*embedded.Store), purges: purges}
	}
	e.reopen()
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-1", "c1", "canary.one@example.com", "+44 20 7946 0001", "Canary Onesmith")
	er, err := e.comp.Request(context.Background(), pDPO, "c1", redaction.ErasureRequest{RequestID: requestID, Reason: "art17"})
	if err != nil {
		t.Fatalf("Request = %v", err)
	}
	return e, purges, er
}

// TestAdvanceWaitsForBackgroundPurge: with a vault that purges in the
// background, Advance never purges (which would stall the vault's writers
// on the request path); an erased erasure waits, counted as
// AwaitingPurge, until the vault has purged its subject, then completes.
func TestAdvanceWaitsForBackgroundPurge(t *testing.T) {
	ctx := context.Background()
	e, purges, er := newBackgroundEnv(t, "bg-1")
	rep, err := e.comp.Advance(ctx)
	if err != nil || rep != (AdvanceReport{AwaitingPurge: 1}) {
		t.Fatalf("Advance before the vault's purge = %+v, %v; want 1 awaiting purge", rep, err)
	}
	if got, err := e.comp.Get(ctx, pDPO, er.ID); err != nil || got.Status != StatusErased {
		t.Fatalf("Get before the vault's purge = %+v, %v; want erased", got, err)
	}
	if _, err := e.emb.Purge(ctx); err != nil { // what the vault's background purge does
		t.Fatal(err)
	}
	rep, err = e.comp.Advance(ctx)
	if err != nil || rep != (AdvanceReport{Purged: 1, Completed: 1}) {
		t.Fatalf("Advance after the vault's purge = %+v, %v; want 1 purged and completed", rep, err)
	}
	got, err := e.comp.Get(ctx, pDPO, er.ID)
	if err != nil || got.Status != StatusCompleted || len(got.Receipt) == 0 {
		t.Fatalf("Get after = %+v, %v; want completed with a receipt", got, err)
	}
	if r, err := VerifyReceipt(got.Receipt, e.comp.PublicKey()); err != nil || !r.PurgeDone {
		t.Fatalf("receipt = %+v, %v; want a valid one with purge done", r, err)
	}
	if n := purges.Load(); n != 0 {
		t.Errorf("Advance called the vault's Purge %d times, want 0", n)
	}
}

// TestPurgeNow completes an erasure that waits for the vault's background
// purge at once, through the vault's Purge.
func TestPurgeNow(t *testing.T) {
	ctx := context.Background()
	e, purges, er := newBackgroundEnv(t, "now-1")
	rep, err := e.comp.PurgeNow(ctx)
	if err != nil || rep != (AdvanceReport{Purged: 1, Completed: 1}) || purges.Load() != 1 {
		t.Fatalf("PurgeNow = %+v, %v, %d vault purges; want 1 purged and completed after 1 purge", rep, err, purges.Load())
	}
	if got, err := e.comp.Get(ctx, pDPO, er.ID); err != nil || got.Status != StatusCompleted {
		t.Fatalf("Get after PurgeNow = %+v, %v; want completed", got, err)
	}
}

// #16 item 19: a graceful stop right after an erasure, before the vault's
// background purge, finishes it (purged, receipted) instead of leaving it
// to the next start; without an open erasure Shutdown purges nothing.
func TestShutdownFinishesPendingPurge(t *testing.T) {
	ctx := context.Background()
	e, purges, er := newBackgroundEnv(t, "bg-stop")
	if err := e.comp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if wait, err := e.emb.AwaitsPurge(ctx, "c1"); err != nil || wait {
		t.Errorf("vault AwaitsPurge(c1) after Shutdown = %v, %v; want purged", wait, err)
	}
	got, err := e.comp.Get(ctx, pDPO, er.ID)
	if err != nil || got.Status != StatusCompleted || len(got.Receipt) == 0 {
		t.Errorf("erasure after Shutdown = %s, %d receipt bytes, %v; want completed with a receipt", got.Status, len(got.Receipt), err)
	}
	e.reopen()
	n := purges.Load()
	if err := e.comp.Shutdown(ctx); err != nil || purges.Load() != n {
		t.Errorf("Shutdown with nothing open = %v, %d purges; want none", err, purges.Load()-n)
	}
}
