package compliance

import (
	"context"
	"testing"
	"time"

	"github.com/piivault/piivault/redaction"
)

// receiptOf verifies an erasure's signed receipt and returns it.
func receiptOf(t *testing.T, e *env, got Erasure) *Receipt {
	t.Helper()
	r, err := VerifyReceipt(got.Receipt, e.comp.PublicKey())
	if err != nil {
		t.Fatalf("VerifyReceipt(%s) = %v", got.ID, err)
	}
	return r
}

// TestDueAtFixedAtRequest: an erasure's due date is fixed when the request
// is recorded; a restart with a shorter deadline neither moves it nor makes
// erasures answered in time late, open ones overdue, or rejected ones
// different (issue 16 item 15).
func TestDueAtFixedAtRequest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{Deadline: 30 * 24 * time.Hour})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-f1", "f1", "due.f1@example.com", "+1 415 555 0111", "Due One")
	e.appendCustomer("customer-f2", "f2", "due.f2@example.com", "+1 415 555 0112", "Due Two")
	done, err := e.comp.Request(ctx, pDPO, "f1", redaction.ErasureRequest{RequestID: "rq-f1"})
	if err != nil {
		t.Fatal(err)
	}
	want := done.RequestedAt.Add(30 * 24 * time.Hour)
	if !done.DueAt.Equal(want) {
		t.Fatalf("DueAt = %v, want %v", done.DueAt, want)
	}
	if _, err := e.comp.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Hour)
	open, err := e.comp.Request(ctx, pDPO, "f2", redaction.ErasureRequest{RequestID: "rq-f2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.comp.PlaceHold(ctx, pDPO, "f1", "case-1"); err != nil {
		t.Fatal(err)
	}
	rej, _ := e.comp.Request(ctx, pDPO, "f1", redaction.ErasureRequest{RequestID: "rq-f1-again"})
	if rej.Status != StatusRejected {
		t.Fatalf("Request under hold = %+v", rej)
	}

	// Restart with a one-hour deadline, two hours later.
	e.opts.Deadline = time.Hour
	e.reopen()
	e.clock.Add(2 * time.Hour)
	got, err := e.comp.Get(ctx, pDPO, done.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DueAt.Equal(want) || got.Late {
		t.Errorf("completed erasure after restart: dueAt %v late %v, want %v and not late", got.DueAt, got.Late, want)
	}
	if r := receiptOf(t, e, got); !r.DueAt.Equal(want) {
		t.Errorf("receipt dueAt %v, want %v", r.DueAt, want)
	}
	if g, _ := e.comp.Get(ctx, pDPO, open.ID); !g.DueAt.Equal(open.DueAt) || g.Overdue {
		t.Errorf("open erasure after restart: dueAt %v overdue %v, want %v and not overdue", g.DueAt, g.Overdue, open.DueAt)
	}
	if g, _ := e.comp.Get(ctx, pDPO, rej.ID); !g.DueAt.Equal(rej.DueAt) {
		t.Errorf("rejected erasure after restart: dueAt %v, want %v", g.DueAt, rej.DueAt)
	}
	if st, _ := e.comp.Stats(ctx); st.Late != 0 || st.Overdue != 0 {
		t.Errorf("Stats = %+v, want none late or overdue", st)
	}
	// The open one completes under the new deadline with its own due date.
	if _, err := e.comp.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	g, _ := e.comp.Get(ctx, pDPO, open.ID)
	if r := receiptOf(t, e, g); !r.DueAt.Equal(open.DueAt) || g.Late {
		t.Errorf("receipt dueAt %v late %v, want %v and not late", r.DueAt, g.Late, open.DueAt)
	}
}

// TestReErasureTakesEffectWhenRequested: erasing an erased subject again
// records an erasedAt no earlier than the new request, in the record and
// in its receipt (issue 16 item 17).
func TestReErasureTakesEffectWhenRequested(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-g", "g1", "again.g1@example.com", "+1 415 555 0113", "Again")
	first, err := e.comp.Request(ctx, pDPO, "g1", redaction.ErasureRequest{RequestID: "rq-g1"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Hour)
	second, err := e.comp.Request(ctx, pDPO, "g1", redaction.ErasureRequest{RequestID: "rq-g1-again"})
	if err != nil {
		t.Fatal(err)
	}
	if !second.AlreadyErased || second.ErasedAt.Before(second.RequestedAt) {
		t.Errorf("re-erasure: alreadyErased %v requestedAt %v erasedAt %v", second.AlreadyErased, second.RequestedAt, second.ErasedAt)
	}
	if _, err := e.comp.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{first.ID, second.ID} {
		g, _ := e.comp.Get(ctx, pDPO, id)
		r := receiptOf(t, e, g)
		if g.ErasedAt.Before(g.RequestedAt) || r.ErasedAt.Before(r.RequestedAt) {
			t.Errorf("%s: requestedAt %v erasedAt %v, receipt %v %v", id, g.RequestedAt, g.ErasedAt, r.RequestedAt, r.ErasedAt)
		}
	}
}
