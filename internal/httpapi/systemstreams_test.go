package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// Every system stream needs, read as a stream, the action of the API that
// serves what it holds: a reader never gets through GET /v1/streams/$x what
// that API refuses it. The walk covers every role of the shipped policy.
func TestSystemStreamsNeedTheirOwnAction(t *testing.T) {
	e := newComplianceEnv(t, Options{})
	// Something in the streams: a schema, an event, a hold (placed and
	// lifted), an erasure, an audit record.
	if r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != 200 {
		t.Fatalf("PUT schema = %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, http.MethodPost, "/v1/streams/c-1/events", roleTokens["service"], `{"events":[`+customerEvent("", "cust-1")+`]}`, nil); r.status != 201 {
		t.Fatalf("append = %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, http.MethodPut, "/v1/subjects/cust-1/hold", roleTokens["dpo"], `{"reason":"litigation 7"}`, nil); r.status >= 300 {
		t.Fatalf("hold = %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, http.MethodDelete, "/v1/subjects/cust-1/hold", roleTokens["dpo"], `{"reason":"settled"}`, nil); r.status >= 300 {
		t.Fatalf("lift = %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, http.MethodPost, "/v1/subjects/cust-1/erasure", roleTokens["dpo"], `{"reason":"art17"}`, nil); r.status >= 300 {
		t.Fatalf("erase = %d %s", r.status, r.body)
	}
	// Who may read each stream: a read needs the route's action (read) and
	// the stream's own: the roles of the shipped policy that read may read
	// $schemas and $erasures (as $all shows them); no role has read and
	// erase, audit or admin at once, so the other system streams are
	// unreadable as streams and served only by their own APIs.
	readers := []string{"service", "support", "analytics"}
	allowed := map[string][]string{
		"$schemas":        readers,
		"$erasures":       readers,
		"$audit":          nil,
		"$holds":          nil,
		"$retention":      nil,
		"$instance":       nil,
		"$index":          nil,
		"$subject-cust-1": nil,
		"$whatever":       nil,
	}
	for stream, ok := range allowed {
		for _, role := range []string{"service", "support", "analytics", "dpo", "admin", "intern"} {
			r := e.do(t, http.MethodGet, "/v1/streams/"+url.PathEscape(stream)+"/events", roleTokens[role], nil, "X-Purpose", role)
			want := slices.Contains(ok, role)
			if got := r.status != http.StatusForbidden; got != want {
				t.Errorf("GET %s as %s = %d, want allowed=%v", stream, role, r.status, want)
			}
		}
	}
}
