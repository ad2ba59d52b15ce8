package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

// TestSDKAgainstServer drives the real stack through the Go SDK, so that
// the wire contract is checked from both ends: the SDK's decoding, its
// sentinel errors, its paging iterators and its SSE subscription.
func TestSDKAgainstServer(t *testing.T) {
	e := newComplianceEnv(t, Options{HeartbeatInterval: 50 * time.Millisecond, MaxPageSize: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := func(role, purpose string, more ...sdk.Option) *sdk.Client {
		t.Helper()
		opts := append([]sdk.Option{sdk.WithToken(roleTokens[role]), sdk.WithPurpose(purpose), sdk.WithHTTPClient(e.ts.Client())}, more...)
		c, err := sdk.New(e.ts.URL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin, svc, support, dpo := client("admin", ""), client("service", ""), client("support", "support", sdk.WithPageSize(2)), client("dpo", "")

	var sc sdk.Schema
	if err := json.Unmarshal([]byte(customerSchema), &sc); err != nil {
		t.Fatal(err)
	}
	if got, err := admin.PutSchema(ctx, "CustomerRegistered", sc); err != nil || got.Version != 1 {
		t.Fatalf("PutSchema = %+v, %v", got, err)
	}
	for i := 0; i < 5; i++ {
		data := json.RawMessage(`{"customerId":"cust-9","email":"` + canaryEmail + `","name":"n","phone":"p","i":` + string(rune('0'+i)) + `}`)
		if _, err := svc.Append(ctx, "customer-9", sdk.Any, sdk.EventInput{Type: "CustomerRegistered", Data: data}); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	_, err := svc.Append(ctx, "customer-9", sdk.NoStream, sdk.EventInput{Type: "X", Data: json.RawMessage(`{}`)})
	var apiErr *sdk.APIError
	if !errors.Is(err, sdk.ErrConflict) || !errors.As(err, &apiErr) || apiErr.Status != 409 {
		t.Errorf("Append NoStream on an existing stream: %v", err)
	}

	// Pages of 2 (the server's maximum): the iterator pages for the client.
	n := 0
	for ev, err := range support.ReadStream(ctx, "customer-9", sdk.ReadOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if ev.Version != uint64(n) || !strings.Contains(string(ev.Data), canaryEmail) {
			t.Fatalf("event %d: %+v", n, ev)
		}
	}
	if n != 5 {
		t.Errorf("ReadStream yielded %d events, want 5", n)
	}
	// A page larger than the server allows is refused, not cut short.
	if _, err := client("support", "support").ReadStreamPage(ctx, "customer-9", 0, 3, sdk.Forward, ""); err == nil {
		t.Error("a page of 3 from a server whose maximum is 2 did not fail")
	}
	if _, err := client("intern", "").ReadStreamPage(ctx, "customer-9", 0, 10, sdk.Forward, ""); !errors.Is(err, sdk.ErrDenied) {
		t.Errorf("intern read: %v, want ErrDenied", err)
	}

	// Subscribe from the start, take the first customer event.
	sctx, stop := context.WithCancel(ctx)
	for ev, err := range svc.Subscribe(sctx, sdk.SubscribeOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Stream == "customer-9" {
			break
		}
	}
	stop()

	er, err := dpo.Erase(ctx, "cust-9", sdk.ErasureRequest{Reason: "art17"})
	if err != nil || er.ErasureID == "" {
		t.Fatalf("Erase = %+v, %v", er, err)
	}
	if got, err := dpo.GetErasure(ctx, er.ErasureID); err != nil || got.ErasureID != er.ErasureID {
		t.Errorf("GetErasure = %+v, %v", got, err)
	}
	_, err = svc.Append(ctx, "customer-10", sdk.Any, sdk.EventInput{Type: "CustomerRegistered",
		Data: json.RawMessage(`{"customerId":"cust-9","email":"x@example.com","name":"n","phone":"p"}`)})
	if !errors.Is(err, sdk.ErrErased) {
		t.Errorf("Append for an erased subject: %v, want ErrErased", err)
	}
	if x, err := dpo.Export(ctx, "cust-9"); err != nil || !x.Erased {
		t.Errorf("Export after erasure = %+v, %v", x, err)
	}
	if page, err := dpo.Audit(ctx, sdk.AuditQuery{Subject: "cust-9"}); err != nil || len(page.Records) == 0 {
		t.Errorf("Audit = %+v, %v", page, err)
	}
	if v, err := admin.Verify(ctx); err != nil || !v.OK {
		t.Errorf("Verify = %+v, %v", v, err)
	}
}

// TestSDKPurgeErasures: with the embedded vault wired as the binary wires
// it, an erasure waits for the vault's background purge (which, with a
// minute of quiet required, does not come during the test): advance
// counts it as awaiting the purge and leaves it erased. The SDK's
// PurgeErasures purges at once and completes it, and says so in a report
// of counts and times only. A second purge finds nothing to do.
func TestSDKPurgeErasures(t *testing.T) {
	e := newBackgroundPurgeEnv(t, Options{}, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := func(role string) *sdk.Client {
		t.Helper()
		c, err := sdk.New(e.ts.URL, sdk.WithToken(roleTokens[role]), sdk.WithHTTPClient(e.ts.Client()))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin, svc, dpo := client("admin"), client("service"), client("dpo")
	const subject = "cust-purge-1"
	var sc sdk.Schema
	if err := json.Unmarshal([]byte(customerSchema), &sc); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutSchema(ctx, "CustomerRegistered", sc); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	if _, err := svc.Append(ctx, "customer-purge-1", sdk.NoStream, sdk.EventInput{Type: "CustomerRegistered",
		Data: json.RawMessage(`{"customerId":"` + subject + `","email":"` + canaryEmail + `","name":"n","phone":"p"}`)}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	er, err := dpo.Erase(ctx, subject, sdk.ErasureRequest{Reason: "art17", RequestID: "purge-req-1"})
	if err != nil || er.Status != sdk.ErasureErased {
		t.Fatalf("Erase = %+v, %v; want erased", er, err)
	}

	// The vault has not purged: advance leaves the erasure waiting.
	var adv map[string]int
	if r := e.doJSON(t, http.MethodPost, "/v1/admin/erasures/advance", roleTokens["admin"], nil, &adv); r.status != http.StatusOK ||
		adv["awaitingPurge"] != 1 || adv["completed"] != 0 {
		t.Fatalf("advance before the purge = %d %s; want awaitingPurge 1, completed 0", r.status, r.body)
	}
	if got, err := dpo.GetErasure(ctx, er.ErasureID); err != nil || got.Status != sdk.ErasureErased {
		t.Fatalf("GetErasure while the purge waits = %q, %v; want erased", got.Status, err)
	}
	// The workflow's own vault calls show in the metrics: it has the same
	// metered store as the redaction service.
	if m := e.do(t, http.MethodGet, "/metrics", "", nil); !strings.Contains(string(m.body), `piivault_vault_operations_total{op="awaits_purge",outcome="ok"}`) {
		t.Errorf("/metrics has no awaits_purge of the compliance workflow")
	}

	if _, err := dpo.PurgeErasures(ctx); !errors.Is(err, sdk.ErrDenied) {
		t.Errorf("PurgeErasures as dpo = %v, want ErrDenied (admin only)", err)
	}
	before := time.Now().UTC()
	rep, err := admin.PurgeErasures(ctx)
	if err != nil || rep.AdvanceReport != (sdk.AdvanceReport{Purged: 1, Completed: 1}) {
		t.Fatalf("PurgeErasures = %+v, %v; want 1 purged and completed, none awaiting", rep, err)
	}
	if rep.StartedAt.Before(before.Add(-time.Second)) || rep.DoneAt.Before(rep.StartedAt) || time.Since(rep.DoneAt) > time.Minute {
		t.Errorf("PurgeErasures times = %v .. %v, want around %v", rep.StartedAt, rep.DoneAt, before)
	}
	got, err := dpo.GetErasure(ctx, er.ErasureID)
	if err != nil || got.Status != sdk.ErasureCompleted || len(got.Receipt) == 0 {
		t.Fatalf("GetErasure after PurgeErasures = %q with %d receipt bytes, %v; want completed with a receipt", got.Status, len(got.Receipt), err)
	}
	if wait, err := e.emb.AwaitsPurge(ctx, subject); err != nil || wait {
		t.Errorf("vault AwaitsPurge after PurgeErasures = %v, %v; want false", wait, err)
	}

	// Again: nothing left; the answer is counts and times, nothing else.
	var again map[string]any
	r := e.doJSON(t, http.MethodPost, "/v1/admin/erasures/purge", roleTokens["admin"], nil, &again)
	if r.status != http.StatusOK {
		t.Fatalf("second purge = %d %s", r.status, r.body)
	}
	want := map[string]any{"erased": 0.0, "purged": 0.0, "completed": 0.0, "awaitingPurge": 0.0}
	for k, v := range want {
		if again[k] != v {
			t.Errorf("second purge %s = %v, want %v (%s)", k, again[k], v, r.body)
		}
	}
	for k := range again {
		if _, ok := want[k]; !ok && k != "startedAt" && k != "doneAt" {
			t.Errorf("purge answer has %q: %s", k, r.body)
		}
	}
	if strings.Contains(string(r.body), subject) || strings.Contains(string(r.body), canaryEmail) {
		t.Errorf("purge answer names the subject or a value: %s", r.body)
	}
}

// TestSDKPurgeErasuresWithoutWorkflow: a server without the erasure
// workflow answers 501, which the SDK reports as ErrNotImplemented.
func TestSDKPurgeErasuresWithoutWorkflow(t *testing.T) {
	e := newRealEnv(t, Options{})
	c, err := sdk.New(e.ts.URL, sdk.WithToken(roleTokens["admin"]), sdk.WithHTTPClient(e.ts.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeErasures(context.Background()); !errors.Is(err, sdk.ErrNotImplemented) {
		t.Errorf("PurgeErasures without a workflow = %v, want ErrNotImplemented", err)
	}
}
