package compliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
)

func TestErasureWorkflow(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-1", "c1", "canary.one@example.com", "+44 20 7946 0001", "Canary Onesmith")
	e.appendCustomer("customer-1b", "c1", "canary.one@example.com", "+44 20 7946 0001", "Canary Onesmith")
	e.appendCustomer("customer-2", "c2", "keeper.two@example.com", "+44 20 7946 0002", "Keeper Twosmith")

	// Subscribers of everything see the workflow's events.
	sub, err := e.svc.Subscribe(ctx, pService, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	req := redaction.ErasureRequest{RequestID: "req-1", Reason: "art17 request", Requester: "staff-7", Ticket: "JIRA-1"}
	er, err := e.comp.Request(ctx, pDPO, "c1", req)
	if err != nil {
		t.Fatalf("Request = %v", err)
	}
	if er.Status != StatusErased || er.ValuesDeleted != 6 || !er.DEKDestroyed || er.RequestedAt.IsZero() || er.ErasedAt.IsZero() {
		t.Fatalf("Request = %+v, want erased with 6 values and the DEK", er)
	}
	if want := er.RequestedAt.Add(DefaultDeadline); !er.DueAt.Equal(want) {
		t.Errorf("DueAt = %v, want %v", er.DueAt, want)
	}
	if st, _ := readField(t, e.svc, "customer-1", "/email"); st != redaction.StateErased {
		t.Errorf("read after erasure: state %s, want erased", st)
	}
	// Idempotent per request ID, also across a restart.
	again, err := e.comp.Request(ctx, pDPO, "c1", req)
	if err != nil || again.ID != er.ID {
		t.Fatalf("Request again = %+v, %v; want the same erasure %s", again, err, er.ID)
	}
	if _, err := e.comp.Request(ctx, pDPO, "c2", req); !errors.Is(err, ErrRequestIDReused) {
		t.Fatalf("Request(c2, same request ID) = %v, want ErrRequestIDReused", err)
	}

	rep, err := e.comp.Advance(ctx)
	if err != nil {
		t.Fatalf("Advance = %v", err)
	}
	if rep.Purged != 1 || rep.Completed != 1 {
		t.Errorf("Advance = %+v, want 1 purged, 1 completed", rep)
	}
	got, err := e.comp.Get(ctx, pDPO, er.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusCompleted || got.PurgedAt.IsZero() || got.CompletedAt.IsZero() || len(got.Receipt) == 0 {
		t.Fatalf("Get = %+v, want completed with a receipt", got)
	}
	if !(!got.RequestedAt.After(got.ErasedAt) && !got.ErasedAt.After(got.PurgedAt) && !got.PurgedAt.After(got.CompletedAt)) {
		t.Errorf("times out of order: %v %v %v %v", got.RequestedAt, got.ErasedAt, got.PurgedAt, got.CompletedAt)
	}
	r, err := VerifyReceipt(got.Receipt, e.comp.PublicKey())
	if err != nil {
		t.Fatalf("VerifyReceipt = %v", err)
	}
	if r.Subject != "c1" || r.ErasureID != er.ID || r.ValuesDestroyed != 6 || !r.DEKDestroyed || !r.PurgeDone ||
		len(r.Events) != 2 || r.LogHead.Position == 0 || len(r.LogHead.Hash) != 64 || r.Reason != "art17 request" {
		t.Errorf("receipt = %+v", r)
	}
	for _, ev := range r.Events {
		if ev.Stream != "customer-1" && ev.Stream != "customer-1b" || len(ev.Paths) != 3 || ev.Type != "CustomerRegistered" {
			t.Errorf("receipt event = %+v", ev)
		}
	}
	// Completed stays completed; a second Advance has nothing to do.
	if rep, err := e.comp.Advance(ctx); err != nil || rep != (AdvanceReport{}) {
		t.Errorf("Advance again = %+v, %v", rep, err)
	}

	// The steps are events in $erasures, and subscribers see ErasureCompleted.
	var types []string
	for _, ev := range mustRead(t, e.log, StreamErasures) {
		types = append(types, ev.Type)
	}
	if want := "ErasureRequested SubjectErased ErasurePurged ErasureCompleted"; strings.Join(types, " ") != want {
		t.Errorf("$erasures = %v, want %s", types, want)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		ev, err := sub.Next(sctx)
		if err != nil {
			t.Fatalf("subscription: %v (no ErasureCompleted)", err)
		}
		if ev.Type == EventErasureCompleted {
			var c ErasureCompletedEvent
			if err := json.Unmarshal(ev.Data, &c); err != nil || c.Subject != "c1" || c.ErasureID != er.ID {
				t.Errorf("ErasureCompleted = %s", ev.Data)
			}
			break
		}
	}

	// Restart: the state comes back from the log, idempotency too.
	e.reopen()
	got2, err := e.comp.Get(ctx, pDPO, er.ID)
	if err != nil || got2.Status != StatusCompleted || string(got2.Receipt) != string(got.Receipt) {
		t.Fatalf("Get after restart = %+v, %v", got2.Status, err)
	}
	if again, err := e.comp.Request(ctx, pDPO, "c1", req); err != nil || again.ID != er.ID || again.Status != StatusCompleted {
		t.Fatalf("Request after restart = %+v, %v", again, err)
	}
	if _, err := e.comp.Get(ctx, pDPO, "nope"); !errors.Is(err, ErrNotFound) || !errors.Is(err, redaction.ErrErasureNotFound) {
		t.Errorf("Get(unknown) = %v", err)
	}
	// Not for everyone.
	if _, err := e.comp.Request(ctx, pSupport, "c2", redaction.ErasureRequest{}); !errors.Is(err, redaction.ErrDenied) {
		t.Errorf("Request by support = %v, want ErrDenied", err)
	}
	if _, err := e.comp.Get(ctx, pSupport, er.ID); !errors.Is(err, redaction.ErrDenied) {
		t.Errorf("Get by support = %v, want ErrDenied", err)
	}
	// Free text that looks like personal data is refused.
	if _, err := e.comp.Request(ctx, pDPO, "c2", redaction.ErasureRequest{Requester: "jane@example.com"}); !errors.Is(err, redaction.ErrLeak) {
		t.Errorf("Request with an email as requester = %v, want ErrLeak", err)
	}
	if st, _ := readField(t, e.svc, "customer-2", "/email"); st == redaction.StateErased {
		t.Errorf("c2 erased by a refused request")
	}
	if found := scanDir(t, e.dir, "canary.one@example.com", "Canary Onesmith"); len(found) > 0 {
		t.Errorf("after completion, on disk: %v", found)
	}
	checkNoLeaks(t, e, "canary.one@example.com", "Canary Onesmith", "keeper.two@example.com", "jane@example.com")
}

// TestConcurrentRequests: many concurrent requests with one request ID make
// one erasure; different request IDs for one subject make several, all
// completing.
func TestConcurrentRequests(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-k", "k1", "conc.k1@example.com", "+1 415 555 0104", "Conc Kone")
	var wg sync.WaitGroup
	ids := make([]string, 16)
	errs := make([]error, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rid := "same"
			if i%4 == 3 {
				rid = fmt.Sprintf("other-%d", i)
			}
			er, err := e.comp.Request(ctx, pDPO, "k1", redaction.ErasureRequest{RequestID: rid})
			ids[i], errs[i] = er.ID, err
		}()
	}
	wg.Wait()
	distinct := map[string]bool{}
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("Request %d = %v", i, errs[i])
		}
		if i%4 != 3 && id != ids[0] {
			t.Errorf("request %d with the same request ID got erasure %s, want %s", i, id, ids[0])
		}
		distinct[id] = true
	}
	if len(distinct) != 5 {
		t.Errorf("%d distinct erasures, want 5", len(distinct))
	}
	if _, err := e.comp.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := e.comp.List(ctx, pDPO, ListQuery{Subject: "k1"})
	if err != nil || len(l) != 5 {
		t.Fatalf("List = %d, %v", len(l), err)
	}
	for _, x := range l {
		if x.Status != StatusCompleted {
			t.Errorf("%s: %s, want completed", x.ID, x.Status)
		}
	}
	n := 0
	for _, ev := range mustRead(t, e.log, StreamErasures) {
		if ev.Type == EventErasureRequested {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d ErasureRequested events, want 5", n)
	}
}

func mustRead(t testing.TB, l *eventlog.Log, stream string) []eventlog.Event {
	t.Helper()
	evs, err := l.ReadStream(context.Background(), stream, 1, 10000, eventlog.Forward)
	if err != nil {
		t.Fatalf("ReadStream(%s) = %v", stream, err)
	}
	return evs
}

func TestDeadlines(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{Deadline: 30 * 24 * time.Hour, NearDeadline: 5 * 24 * time.Hour})
	e.putSchema("CustomerRegistered", customerSchema)
	for _, s := range []string{"d1", "d2", "d3"} {
		e.appendCustomer("customer-"+s, s, s+"@example.com", "+1 415 555 0100", "N")
	}
	// Requested "26 days ago" by the clock; completion happens later.
	for _, s := range []string{"d1", "d2"} {
		if _, err := e.comp.Request(ctx, pDPO, s, redaction.ErasureRequest{RequestID: "r-" + s}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(q ListQuery) []string {
		t.Helper()
		l, err := e.comp.List(ctx, pDPO, q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range l {
			ids = append(ids, x.Subject+":"+x.Status)
		}
		return ids
	}
	if got := list(ListQuery{Overdue: true}); len(got) != 0 {
		t.Errorf("overdue at once = %v", got)
	}
	e.clock.Add(26 * 24 * time.Hour)
	if got := list(ListQuery{NearDeadline: true}); strings.Join(got, ",") != "d1:erased,d2:erased" {
		t.Errorf("near deadline after 26 days = %v", got)
	}
	st, _ := e.comp.Stats(ctx)
	if st.Open != 2 || st.NearDeadline != 2 || st.Overdue != 0 {
		t.Errorf("Stats = %+v", st)
	}
	e.clock.Add(5 * 24 * time.Hour)
	if _, err := e.comp.Request(ctx, pDPO, "d3", redaction.ErasureRequest{RequestID: "r-d3"}); err != nil {
		t.Fatal(err)
	}
	if got := list(ListQuery{Overdue: true}); strings.Join(got, ",") != "d1:erased,d2:erased" {
		t.Errorf("overdue after 31 days = %v", got)
	}
	st, _ = e.comp.Stats(ctx)
	if st.Open != 3 || st.Overdue != 2 || st.NearDeadline != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if _, err := e.comp.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	if got := list(ListQuery{Overdue: true}); len(got) != 0 {
		t.Errorf("overdue after completion = %v", got)
	}
	if got := list(ListQuery{Status: StatusCompleted}); len(got) != 3 {
		t.Errorf("completed = %v", got)
	}
	st, _ = e.comp.Stats(ctx)
	if st.Completed != 3 || st.Late != 2 || st.Open != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if _, err := e.comp.List(ctx, pDPO, ListQuery{Status: "bogus"}); !errors.Is(err, redaction.ErrInvalid) {
		t.Errorf("List(bogus) = %v", err)
	}
}

func TestLegalHold(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-h", "h1", "held.person@example.com", "+1 415 555 0101", "Held Person")

	if _, err := e.comp.PlaceHold(ctx, pSupport, "h1", "litigation LIT-9"); !errors.Is(err, redaction.ErrDenied) {
		t.Fatalf("PlaceHold by support = %v, want ErrDenied", err)
	}
	if _, err := e.comp.PlaceHold(ctx, pDPO, "h1", "call 415-555-0101"); !errors.Is(err, redaction.ErrLeak) {
		t.Fatalf("PlaceHold with a phone number in the reason = %v, want ErrLeak", err)
	}
	h, err := e.comp.PlaceHold(ctx, pDPO, "h1", "litigation LIT-9")
	if err != nil || !h.Active || h.PlacedBy != "dpo-1" {
		t.Fatalf("PlaceHold = %+v, %v", h, err)
	}
	er, err := e.comp.Request(ctx, pDPO, "h1", redaction.ErasureRequest{RequestID: "rq-h1", Reason: "art17"})
	var lh *LegalHoldError
	if !errors.As(err, &lh) || !errors.Is(err, ErrLegalHold) || lh.Reason != "litigation LIT-9" {
		t.Fatalf("Request under hold = %v, want *LegalHoldError with the reason", err)
	}
	if er.Status != StatusRejected || er.Rejection != "legal hold: litigation LIT-9" || er.ID == "" {
		t.Errorf("rejected erasure = %+v", er)
	}
	if st, _ := readField(t, e.svc, "customer-h", "/email"); st == redaction.StateErased {
		t.Fatal("held subject was erased")
	}
	// The rejection is recorded, audited, and survives a restart; the
	// rejected request is not re-applied as an erasure on start.
	page, err := e.svc.Audit(ctx, pDPO, redaction.AuditQuery{Subject: "h1", Action: "erase"})
	if err != nil {
		t.Fatal(err)
	}
	var effects []string
	for _, r := range page.Records {
		effects = append(effects, r.Effect)
	}
	if strings.Join(effects, ",") != "deny,hold_place,reject" {
		t.Errorf("audit effects = %v, want deny (support's attempt),hold_place,reject", effects)
	}
	e.reopen()
	if n, err := e.comp.Reapply(ctx); err != nil || n != 0 {
		t.Errorf("Reapply = %d, %v; want 0", n, err)
	}
	if st, _ := readField(t, e.svc, "customer-h", "/email"); st == redaction.StateErased {
		t.Fatal("held subject erased after restart")
	}
	got, err := e.comp.Get(ctx, pDPO, er.ID)
	if err != nil || got.Status != StatusRejected {
		t.Fatalf("Get(rejected) after restart = %+v, %v", got, err)
	}
	hs, err := e.comp.ListHolds(ctx, pDPO, false)
	if err != nil || len(hs) != 1 || hs[0].Subject != "h1" {
		t.Fatalf("ListHolds = %+v, %v", hs, err)
	}
	// Same request ID again: still the rejection (idempotent).
	if _, err := e.comp.Request(ctx, pDPO, "h1", redaction.ErasureRequest{RequestID: "rq-h1"}); !errors.As(err, &lh) || lh.Reason != "litigation LIT-9" {
		t.Errorf("same request again = %v, want the hold's reason", err)
	}
	// Lift, then a new request erases.
	if _, err := e.comp.LiftHold(ctx, pDPO, "h1", "case closed"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.comp.LiftHold(ctx, pDPO, "h1", "case closed"); !errors.Is(err, ErrNoHold) {
		t.Errorf("second LiftHold = %v, want ErrNoHold", err)
	}
	if er, err := e.comp.Request(ctx, pDPO, "h1", redaction.ErasureRequest{RequestID: "rq-h1-2"}); err != nil || er.Status != StatusErased {
		t.Fatalf("Request after lift = %+v, %v", er, err)
	}
	var types []string
	for _, ev := range mustRead(t, e.log, StreamHolds) {
		types = append(types, ev.Type)
	}
	if strings.Join(types, ",") != "HoldPlaced,HoldLifted" {
		t.Errorf("$holds = %v", types)
	}
	st, _ := e.comp.Stats(ctx)
	if st.Rejected != 1 || st.ActiveHolds != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestCrashBetweenRequestAndVault: ErasureRequested is in the log but the
// vault was never touched (a crash); Advance finishes it.
func TestAdvanceFinishesInterruptedErasure(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-x", "x1", "interrupted.x@example.com", "+1 415 555 0102", "Inter Rupted")
	body, _ := json.Marshal(erasureRequested{ErasureID: "e-x1", Subject: "x1", RequestID: "rq-x1", Principal: "dpo-1", RequestedAt: e.clock.Now()})
	if _, err := e.log.AppendSystem(ctx, StreamErasures, eventlog.Any, []eventlog.EventData{{Type: EventErasureRequested, Data: body}}); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	got, err := e.comp.Get(ctx, pDPO, "e-x1")
	if err != nil || got.Status != StatusRequested {
		t.Fatalf("Get = %+v, %v; want requested", got, err)
	}
	rep, err := e.comp.Advance(ctx)
	if err != nil || rep.Erased != 1 || rep.Completed != 1 {
		t.Fatalf("Advance = %+v, %v", rep, err)
	}
	got, _ = e.comp.Get(ctx, pDPO, "e-x1")
	if got.Status != StatusCompleted || got.ValuesDeleted != 3 {
		t.Errorf("Get = %+v", got)
	}
	if st, _ := readField(t, e.svc, "customer-x", "/email"); st != redaction.StateErased {
		t.Errorf("state %s, want erased", st)
	}
}

func TestCollector(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-m", "metric-subject-1", "metric.canary@example.com", "+1 415 555 0105", "Metric Canary")
	if _, err := e.comp.Request(ctx, pDPO, "metric-subject-1", redaction.ErasureRequest{RequestID: "rq-m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.comp.PlaceHold(ctx, pDPO, "metric-subject-2", "audit LIT-1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(31 * 24 * time.Hour)
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.comp.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
	}
	for name, want := range map[string]float64{"piivault_erasures_overdue": 1, "piivault_erasures_open": 1,
		"piivault_legal_holds_active": 1, "piivault_erasures_completed": 0} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if got["piivault_erasure_oldest_open_age_seconds"] < 31*24*3600 {
		t.Errorf("oldest open age = %v", got["piivault_erasure_oldest_open_age_seconds"])
	}
	var buf strings.Builder
	for _, mf := range mfs {
		buf.WriteString(mf.String())
	}
	for _, c := range []string{"metric-subject", "metric.canary", "Metric Canary"} {
		if strings.Contains(buf.String(), c) {
			t.Errorf("metrics hold %q", c)
		}
	}
}

func TestListPaging(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	var ids []string
	for i := 0; i < 5; i++ {
		er, err := e.comp.Request(ctx, pDPO, fmt.Sprintf("p%d", i), redaction.ErasureRequest{RequestID: fmt.Sprintf("rq-p%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, er.ID)
	}
	var got []string
	after := ""
	for {
		page, err := e.comp.List(ctx, pDPO, ListQuery{Limit: 2, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, x := range page {
			got = append(got, x.ID)
			if x.Receipt != nil {
				t.Errorf("List returned a receipt")
			}
		}
		after = page[len(page)-1].ID
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("paged List = %v, want %v", got, ids)
	}
	if l, _ := e.comp.List(ctx, pDPO, ListQuery{Subject: "p3"}); len(l) != 1 || l[0].ID != ids[3] {
		t.Errorf("List(subject p3) = %+v", l)
	}
	if l, _ := e.comp.List(ctx, pDPO, ListQuery{Status: "open"}); len(l) != 5 {
		t.Errorf("List(open) = %d, want 5", len(l))
	}
}

// TestBackgroundWorker: with the worker on, an erasure completes by itself,
// and the blind indexer and retention job run too.
func TestBackgroundWorker(t *testing.T) {
	ctx := context.Background()
	key := []byte(strings.Repeat("b", 32))
	e := newEnv(t, Options{AdvanceInterval: 50 * time.Millisecond, AdvanceDelay: 10 * time.Millisecond,
		BlindIndexKey: key, Retention: []RetentionRule{{Class: "ip_address", Period: time.Hour}}, RetentionInterval: 50 * time.Millisecond})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-w", "w1", "worker.w1@example.com", "+1 415 555 0109", "Worker Wone")
	e.appendWithIP("customer-w2", "w2", "worker.w2@example.com", "198.51.100.9", "Worker Wtwo")
	er, err := e.comp.Request(ctx, pDPO, "w1", redaction.ErasureRequest{RequestID: "rq-w1"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := e.comp.Get(ctx, pDPO, er.ID)
		if err != nil {
			t.Fatal(err)
		}
		subs, _ := e.comp.FindSubjects(ctx, pDPO, ClassEmail, vault.NewPII([]byte("worker.w2@example.com")))
		st, _ := readField(t, e.svc, "customer-w2", "/ip")
		if got.Status == StatusCompleted && len(subs) == 1 && st == redaction.StateExpired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: erasure %s, blind index %v, ip %s", got.Status, subs, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
