package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

// TestAuditFiltersPurposeAndTimeServerSide: GET /v1/audit filters by
// purpose, since and until on the server, over the whole trail, so a match
// past the first page of unfiltered records is found (the console used to
// filter only the page it fetched). Real stack; pages of 2.
func TestAuditFiltersPurposeAndTimeServerSide(t *testing.T) {
	e := newComplianceEnv(t, Options{MaxPageSize: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := func(role, purpose string) *sdk.Client {
		t.Helper()
		c, err := sdk.New(e.ts.URL, sdk.WithToken(roleTokens[role]), sdk.WithPurpose(purpose), sdk.WithHTTPClient(e.ts.Client()))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin, svc, support, marketing, dpo := client("admin", ""), client("service", ""), client("support", "support"), client("support", "marketing"), client("dpo", "")
	var sc sdk.Schema
	if err := json.Unmarshal([]byte(customerSchema), &sc); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutSchema(ctx, "CustomerRegistered", sc); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Append(ctx, "customer-1", sdk.Any, sdk.EventInput{Type: "CustomerRegistered",
		Data: json.RawMessage(`{"customerId":"cust-1","email":"a@example.com","name":"n","phone":"p"}`)}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := support.ReadStreamPage(ctx, "customer-1", 0, 2, sdk.Forward, ""); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	t1 := time.Now()
	time.Sleep(5 * time.Millisecond)
	// A read for a purpose support may not use: denied, and audited so.
	if _, err := marketing.ReadStreamPage(ctx, "customer-1", 0, 2, sdk.Forward, ""); !errors.Is(err, sdk.ErrDenied) {
		t.Fatalf("support reading for marketing: %v, want ErrDenied", err)
	}
	time.Sleep(5 * time.Millisecond)
	t2 := time.Now()
	time.Sleep(5 * time.Millisecond)
	if _, err := support.ReadStreamPage(ctx, "customer-1", 0, 2, sdk.Forward, ""); err != nil {
		t.Fatal(err)
	}

	all := func(q sdk.AuditQuery) []sdk.AuditRecord {
		t.Helper()
		var out []sdk.AuditRecord
		for {
			p, err := dpo.Audit(ctx, q)
			if err != nil {
				t.Fatalf("Audit(%+v): %v", q, err)
			}
			out = append(out, p.Records...)
			if p.Next == 0 {
				return out
			}
			q.From = p.Next
		}
	}
	purposes := func(rs []sdk.AuditRecord) map[string]int {
		m := map[string]int{}
		for _, r := range rs {
			m[r.Purpose]++
		}
		return m
	}
	if got := purposes(all(sdk.AuditQuery{})); got["support"] < 6 || got["marketing"] != 1 {
		t.Fatalf("unfiltered trail has purposes %v, want 6+ support and 1 marketing", got)
	}
	// The first filtered page holds the marketing read, though it comes after
	// more than a page of support reads.
	p, err := dpo.Audit(ctx, sdk.AuditQuery{Purpose: "marketing", Limit: 2})
	if err != nil || len(p.Records) != 1 || p.Records[0].Purpose != "marketing" || p.Records[0].Principal == "" {
		t.Errorf("first page for purpose marketing = %+v, %v; want the one marketing read", p, err)
	}
	if got := purposes(all(sdk.AuditQuery{Since: t1})); got["marketing"] != 1 || got["support"] == 0 || len(got) != 2 {
		t.Errorf("since t1: purposes %v, want the marketing read and the last support read", got)
	}
	if got := purposes(all(sdk.AuditQuery{Until: t1})); got["marketing"] != 0 || got["support"] < 5 {
		t.Errorf("until t1: purposes %v, want support reads only", got)
	}
	if got := all(sdk.AuditQuery{Since: t1, Until: t2}); len(got) != 1 || got[0].Purpose != "marketing" ||
		got[0].Time.Before(t1) || !got[0].Time.Before(t2) {
		t.Errorf("between t1 and t2: %+v, want the marketing read", got)
	}
	if got := all(sdk.AuditQuery{Since: t2, Purpose: "marketing"}); len(got) != 0 {
		t.Errorf("marketing since t2: %+v, want none", got)
	}
	// Malformed times are a 400 problem, checked here beside the matrix.
	for _, q := range []string{"since=yesterday", "until=2026-01-01"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/v1/audit?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+roleTokens["dpo"])
		res, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("?%s: %d %s, want 400 problem+json", q, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}
