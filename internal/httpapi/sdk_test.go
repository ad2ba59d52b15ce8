package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

// TestSDKAgainstServer drives the real stack through the Go SDK, so that
// the wire contract is checked from both ends: the SDK's decoding, its
// sentinel errors, its paging iterators and its SSE subscription.
func TestSDKAgainstServer(t *testing.T) {
	e := newRealEnv(t, Options{HeartbeatInterval: 50 * time.Millisecond, MaxPageSize: 2})
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
