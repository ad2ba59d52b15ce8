package compliance

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/piivault/piivault/eventlog"
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

// TestReapplyRecordsWhatTheErasureDestroyed: a crash after ErasureRequested
// and before the vault was touched; the start-up Reapply erases the
// subject, and the erasure's record and signed receipt state what it
// destroyed, not "0 values, already erased" (issue 16 item 14). A crash
// after the vault's first commit (the vault shows the subject erased under
// the erasure's own ID) is not "already erased" either.
func TestReapplyRecordsWhatTheErasureDestroyed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-c1", "c1", "crash.c1@example.com", "+1 415 555 0121", "Crash One")
	e.appendCustomer("customer-c2", "c2", "crash.c2@example.com", "+1 415 555 0122", "Crash Two")
	for _, s := range []string{"c1", "c2"} {
		body, _ := json.Marshal(erasureRequested{ErasureID: "e-" + s, Subject: s, RequestID: "rq-" + s, Principal: "dpo-1", RequestedAt: e.clock.Now()})
		if _, err := e.log.AppendSystem(ctx, StreamErasures, eventlog.Any, []eventlog.EventData{{Type: EventErasureRequested, Data: body}}); err != nil {
			t.Fatal(err)
		}
	}
	// c2: the vault erased it before the crash, SubjectErased was lost.
	e.clock.Add(time.Minute)
	vres, err := e.store.Erase(ctx, "c2", "e-c2")
	if err != nil || vres.ValuesDeleted != 3 {
		t.Fatalf("vault Erase(c2) = %+v, %v", vres, err)
	}
	e.reopen()
	e.clock.Add(time.Minute)
	if n, err := e.comp.Reapply(ctx); err != nil || n != 2 {
		t.Fatalf("Reapply = %d, %v", n, err)
	}
	if rep, err := e.comp.Advance(ctx); err != nil || rep.Completed != 2 {
		t.Fatalf("Advance = %+v, %v", rep, err)
	}
	g, _ := e.comp.Get(ctx, pDPO, "e-c1")
	r := receiptOf(t, e, g)
	if g.Status != StatusCompleted || g.ValuesDeleted != 3 || !g.DEKDestroyed || g.AlreadyErased {
		t.Errorf("c1 record: %s values %d dek %v already %v, want completed 3 true false", g.Status, g.ValuesDeleted, g.DEKDestroyed, g.AlreadyErased)
	}
	if r.ValuesDestroyed != 3 || !r.DEKDestroyed || r.AlreadyErased {
		t.Errorf("c1 receipt: values %d dek %v already %v, want 3 true false", r.ValuesDestroyed, r.DEKDestroyed, r.AlreadyErased)
	}
	g, _ = e.comp.Get(ctx, pDPO, "e-c2")
	if r := receiptOf(t, e, g); g.AlreadyErased || r.AlreadyErased || !g.ErasedAt.Equal(vres.ErasedAt.UTC()) {
		t.Errorf("c2: already %v (receipt %v) erasedAt %v, want not already and %v", g.AlreadyErased, r.AlreadyErased, g.ErasedAt, vres.ErasedAt)
	}
}
