package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/piivault/piivault/sdk"
)

// A data protection officer finds a customer by e-mail through the blind
// index with the value in the body (POST /v1/subjects/search), as with the
// older GET, whose URL carries the value; the answer holds subject IDs,
// never values, and the value reaches no log line.
func TestSearchSubjectsByEmail(t *testing.T) {
	ctx := context.Background()
	e := buildRealEnv(t, Options{}, realSetup{compliance: true, blindIndex: true})
	if r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != 200 {
		t.Fatalf("PUT schema = %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, http.MethodPost, "/v1/streams/c-7/events", roleTokens["service"], `{"events":[`+customerEvent("", "cust-7")+`]}`, nil); r.status != 201 {
		t.Fatalf("append = %d %s", r.status, r.body)
	}
	if _, err := e.flow.IndexBlind(ctx); err != nil {
		t.Fatalf("IndexBlind: %v", err)
	}
	dpo := roleTokens["dpo"]
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"email as appended", `{"email":"` + canaryEmail + `"}`, []string{"cust-7"}},
		{"email in other case, spaced", `{"email":" ` + strings.ToUpper(canaryEmail) + ` "}`, []string{"cust-7"}},
		{"unknown email", `{"email":"nobody@example.com"}`, []string{}},
	} {
		var got sdk.SubjectList
		if r := e.doJSON(t, http.MethodPost, "/v1/subjects/search", dpo, tc.body, &got); r.status != http.StatusOK {
			t.Errorf("%s: POST /v1/subjects/search = %d %s", tc.name, r.status, r.body)
			continue
		}
		if !slices.Equal(got.Subjects, tc.want) {
			t.Errorf("%s: subjects %v, want %v", tc.name, got.Subjects, tc.want)
		}
	}
	var viaGet sdk.SubjectList
	r := e.doJSON(t, http.MethodGet, "/v1/subjects?email="+url.QueryEscape(canaryEmail), dpo, "", &viaGet)
	if r.status != http.StatusOK || !slices.Equal(viaGet.Subjects, []string{"cust-7"}) {
		t.Errorf("GET /v1/subjects?email= = %d %s, want cust-7", r.status, r.body)
	}
	if r.header.Get("Deprecation") != "true" || !strings.Contains(r.header.Get("Link"), "/v1/subjects/search") {
		t.Errorf("GET /v1/subjects headers Deprecation %q, Link %q: want the POST named as its successor", r.header.Get("Deprecation"), r.header.Get("Link"))
	}
	if r := e.doJSON(t, http.MethodPost, "/v1/subjects/search", roleTokens["analytics"], `{"email":"`+canaryEmail+`"}`, nil); r.status != http.StatusForbidden {
		t.Errorf("analytics: POST /v1/subjects/search = %d %s, want 403", r.status, r.body)
	}
	if strings.Contains(e.logs.String(), canaryEmail) {
		t.Error("logs hold the looked-up e-mail")
	}
}

// #16 item 20: without a blind-index key the search says the key is
// missing (not that the vault backend cannot), and with one an append is
// found by the next search, with no run of the background indexer.
func TestSearchSubjectsSaysWhyAndSeesAppendAtOnce(t *testing.T) {
	off := buildRealEnv(t, Options{}, realSetup{compliance: true})
	r := off.doJSON(t, http.MethodPost, "/v1/subjects/search", roleTokens["dpo"], `{"email":"`+canaryEmail+`"}`, nil)
	if body := string(r.body); r.status != http.StatusNotImplemented || !strings.Contains(body, "blindIndex.keyFile") || strings.Contains(body, "vault backend") {
		t.Errorf("search without a key = %d %s; want 501 naming blindIndex.keyFile", r.status, r.body)
	}

	e := buildRealEnv(t, Options{}, realSetup{compliance: true, blindIndex: true})
	if r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != 200 {
		t.Fatalf("PUT schema = %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, http.MethodPost, "/v1/streams/c-8/events", roleTokens["service"], `{"events":[`+customerEvent("", "cust-8")+`]}`, nil); r.status != 201 {
		t.Fatalf("append = %d %s", r.status, r.body)
	}
	var got sdk.SubjectList
	if r := e.doJSON(t, http.MethodPost, "/v1/subjects/search", roleTokens["dpo"], `{"email":"`+canaryEmail+`"}`, &got); r.status != http.StatusOK || !slices.Equal(got.Subjects, []string{"cust-8"}) {
		t.Errorf("search right after the append = %d %s; want cust-8", r.status, r.body)
	}
}
