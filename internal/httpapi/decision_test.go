package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOneDecisionPerRequest: an HTTP append and a revealed read each ask
// the policy one request-level question (the read then one field question
// per PII field), and a denial over HTTP is audited.
func TestOneDecisionPerRequest(t *testing.T) {
	e := newRealEnv(t, Options{})
	if r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != http.StatusOK {
		t.Fatalf("PUT schema = %d %s", r.status, r.body)
	}
	requests := func(ds []string) []string {
		var out []string
		for _, d := range ds {
			if strings.HasPrefix(d, "request ") {
				out = append(out, d)
			}
		}
		return out
	}
	head := func() uint64 {
		h, err := e.log.Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	e.decisions.take()
	body := `{"events":[` + customerEvent("0b9f3c1e-8a53-4d8e-9a77-3c7d2f0e6a12", "cust-7") + `]}`
	if r := e.doJSON(t, http.MethodPost, "/v1/streams/customer-7/events", roleTokens["service"], body, nil); r.status != http.StatusCreated {
		t.Fatalf("append = %d %s", r.status, r.body)
	}
	if got := e.decisions.take(); !slices.Equal(got, []string{"request append"}) {
		t.Errorf("append decisions = %v, want one request decision", got)
	}

	before := head()
	r, page := e.read(t, "support", "support", "/v1/streams/customer-7/events")
	if r.status != http.StatusOK || len(page.Events) != 1 {
		t.Fatalf("read = %d %s", r.status, r.body)
	}
	got := e.decisions.take()
	if req := requests(got); !slices.Equal(req, []string{"request read"}) {
		t.Errorf("read request decisions = %v, want one", req)
	}
	if len(got) != 1+len(page.Events[0].PII) {
		t.Errorf("read decisions = %v, want one request and one per PII field (%d)", got, len(page.Events[0].PII))
	}
	if w := e.writtenSince(t, before, false); len(w) != 1 || !strings.HasSuffix(w[0], " $audit PIIAccessed") {
		t.Errorf("revealed read wrote %v, want one audit record", w)
	}

	before = head()
	if r := e.doJSON(t, http.MethodPost, "/v1/streams/customer-8/events", roleTokens["intern"], body, nil); r.status != http.StatusForbidden {
		t.Fatalf("append by intern = %d %s", r.status, r.body)
	}
	if got := e.decisions.take(); !slices.Equal(got, []string{"request append"}) {
		t.Errorf("denied append decisions = %v, want one", got)
	}
	if w := e.writtenSince(t, before, false); len(w) != 1 || !strings.HasSuffix(w[0], " $audit PIIAccessed") {
		t.Errorf("denied append wrote %v, want one audit record", w)
	}
}
