package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/piivault/piivault/sdk"
)

// A schema change that stops protecting a declared path (drops it, or files
// it under another subject) is refused unless the request says
// allowUnprotect; then the answer and the audit trail name the paths, and
// the next event keeps the dropped field in the clear only because the
// operator said so.
func TestSchemaChangeThatUnprotectsIsRefused(t *testing.T) {
	e := newComplianceEnv(t, Options{})
	admin := roleTokens["admin"]
	var v1 sdk.Schema
	if r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", admin, customerSchema, &v1); r.status != 200 {
		t.Fatalf("PUT schema = %d %s", r.status, r.body)
	}
	withoutName := `{"subject":"/customerId","fields":[{"path":"/email","class":"email"},{"path":"/phone","class":"phone"}]}`
	otherSubject := `{"subject":"/customerId","fields":[{"path":"/email","class":"email","subject":"/other"},{"path":"/name","class":"name"},{"path":"/phone","class":"phone"}]}`
	for name, body := range map[string]string{"drops /name": withoutName, "moves /email": otherSubject} {
		t.Run(name, func(t *testing.T) {
			r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", admin, body, nil)
			if r.status != http.StatusConflict || r.problem(t).Code != sdk.CodeUnprotect {
				t.Fatalf("PUT %s = %d %s, want 409 %s", name, r.status, r.body, sdk.CodeUnprotect)
			}
			want := "/name"
			if name == "moves /email" {
				want = "/email"
			}
			if !strings.Contains(r.problem(t).Detail, want) {
				t.Errorf("problem detail %q does not name %s", r.problem(t).Detail, want)
			}
			var cur sdk.Schema
			if r := e.doJSON(t, http.MethodGet, "/v1/schemas/CustomerRegistered", admin, nil, &cur); r.status != 200 || cur.Version != v1.Version {
				t.Errorf("after a refused change: GET = %d, version %d; want version %d", r.status, cur.Version, v1.Version)
			}
		})
	}

	allowed := strings.Replace(withoutName, `{"subject"`, `{"allowUnprotect":true,"subject"`, 1)
	var v2 sdk.Schema
	if r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", admin, allowed, &v2); r.status != 200 {
		t.Fatalf("PUT with allowUnprotect = %d %s", r.status, r.body)
	}
	if v2.Version != v1.Version+1 || !slices.Equal(v2.Unprotected, []string{"/name"}) {
		t.Errorf("PUT with allowUnprotect = version %d, unprotected %v; want %d, [/name]", v2.Version, v2.Unprotected, v1.Version+1)
	}
	var page sdk.AuditPage
	if r := e.doJSON(t, http.MethodGet, "/v1/audit?limit=1000", roleTokens["dpo"], nil, &page); r.status != 200 {
		t.Fatalf("GET audit = %d %s", r.status, r.body)
	}
	var audited bool
	for _, rec := range page.Records {
		if rec.Effect == "unprotect" && slices.Contains(rec.Paths, "/name") {
			audited = true
		}
	}
	if !audited {
		t.Errorf("no audit record names /name as unprotected: %+v", page.Records)
	}
}

// Schema routes use append's own checks on the event type, so nothing is
// stored for a type that no append could use.
func TestPutSchemaRefusesEventTypesAppendRefuses(t *testing.T) {
	e := newComplianceEnv(t, Options{})
	head := e.head(t)
	for name, typ := range map[string]string{"NUL": "T%00", "2000 bytes": strings.Repeat("T", 2000), "control": "T%01x"} {
		r := e.doJSON(t, http.MethodPut, "/v1/schemas/"+typ, roleTokens["admin"], `{"subject":"/c","fields":[]}`, nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("PUT /v1/schemas/<%s> = %d %s, want 400", name, r.status, r.body)
		}
	}
	if got := e.head(t); got != head {
		t.Errorf("log head moved %d -> %d: a refused schema was recorded", head, got)
	}
}
