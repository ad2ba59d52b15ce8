package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/piivault/piivault/sdk"
)

// badBody is one malformed request body and the problem it must get.
type badBody struct {
	name   string
	body   string
	ct     string // default application/json
	status int
	code   string
}

// Bodies every JSON route must refuse.
func commonBadBodies(valid string, limit int) []badBody {
	return []badBody{
		{"malformed", `{"events":[`, "", 400, sdk.CodeInvalidJSON},
		{"not JSON", `hello`, "", 400, sdk.CodeInvalidJSON},
		{"array", `[]`, "", 400, sdk.CodeInvalidJSON},
		{"string", `"x"`, "", 400, sdk.CodeInvalidJSON},
		{"unknown field", `{"nope":1}`, "", 400, sdk.CodeInvalidJSON},
		{"trailing object", valid + valid, "", 400, sdk.CodeInvalidJSON},
		{"trailing garbage past the limit", valid + strings.Repeat("x", limit), "", 413, sdk.CodeTooLarge},
		{"huge", `{"a":"` + strings.Repeat("x", limit) + `"}`, "", 413, sdk.CodeTooLarge},
		{"text/plain", valid, "text/plain", 415, sdk.CodeUnsupportedMediaType},
		{"invalid UTF-8 and control bytes", "{\"\xff\x00\":1}", "", 400, sdk.CodeInvalidJSON},
		{"valid body but for one invalid UTF-8 byte", strings.Replace(valid, "\"", "\"\xfe", 1), "", 400, sdk.CodeInvalidJSON},
	}
}

// TestBadInputChangesNothing sends malformed JSON, wrong types, huge
// bodies, bad pointers, bad tokens and no token to every route of the
// table, against the real stack, and checks the problem answer and that
// the log head and the vault counts did not move.
func TestBadInputChangesNothing(t *testing.T) {
	const limit = 16 << 10
	e := newComplianceEnv(t, Options{MaxBodyBytes: limit})
	// A stream, a schema and a value exist, so "changes nothing" means something.
	if r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != 200 {
		t.Fatalf("PUT schema = %d %s", r.status, r.body)
	}
	if r := e.doJSON(t, http.MethodPost, "/v1/streams/c-1/events", roleTokens["service"], `{"events":[`+customerEvent("", "cust-1")+`]}`, nil); r.status != 201 {
		t.Fatalf("append = %d %s", r.status, r.body)
	}
	head := e.head(t)
	values, erasures := e.store.counts()

	validAppend := `{"events":[` + customerEvent("", "cust-2") + `]}`
	validSchema := customerSchema
	validSnap := `{"version":1,"data":{"a":1}}`
	validErase := `{"reason":"r"}`
	bodies := map[string][]badBody{
		"PUT /v1/schemas/:eventType": append(commonBadBodies(validSchema, limit),
			badBody{"pointer without slash", `{"subject":"customerId","fields":[]}`, "", 400, sdk.CodeInvalidPointer},
			badBody{"bad escape in pointer", `{"subject":"/c","fields":[{"path":"/a~2b","class":"email"}]}`, "", 400, sdk.CodeInvalidPointer},
			badBody{"empty field pointer", `{"subject":"/c","fields":[{"path":"","class":"email"}]}`, "", 400, sdk.CodeInvalidPointer},
			badBody{"wildcard subject", `{"subject":"/c/*","fields":[]}`, "", 400, sdk.CodeBadRequest},
			badBody{"unknown class", `{"subject":"/c","fields":[{"path":"/e","class":"shoe-size"}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"overlapping fields", `{"subject":"/c","fields":[{"path":"/a","class":"email"},{"path":"/a/b","class":"email"}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"fields not an array", `{"subject":"/c","fields":{}}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"subject a number", `{"subject":7,"fields":[]}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"event type differs from path", `{"eventType":"Other","subject":"/c","fields":[]}`, "", 400, sdk.CodeBadRequest},
			badBody{"bad leak guard", `{"subject":"/c","fields":[],"leakGuard":"maybe"}`, "", 400, sdk.CodeBadRequest},
		),
		"POST /v1/streams/:stream/events": append(commonBadBodies(validAppend, limit),
			badBody{"no events", `{"events":[]}`, "", 400, sdk.CodeBadRequest},
			badBody{"events null", `{"events":null}`, "", 400, sdk.CodeBadRequest},
			badBody{"events an object", `{"events":{}}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"type missing", `{"events":[{"data":{}}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"type a number", `{"events":[{"type":1,"data":{}}]}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"data missing", `{"events":[{"type":"X"}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"data a string", `{"events":[{"type":"X","data":"x"}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"metadata an array", `{"events":[{"type":"X","data":{},"metadata":[1]}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"id not a UUID", `{"events":[{"id":"nope","type":"X","data":{}}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"invalid UTF-8 in a value", "{\"events\":[{\"type\":\"X\",\"data\":{\"a\":\"x\xff\xfey\"}}]}", "", 400, sdk.CodeInvalidJSON},
			badBody{"invalid UTF-8 in a key", "{\"events\":[{\"type\":\"X\",\"data\":{\"x\xffy\":1}}]}", "", 400, sdk.CodeInvalidJSON},
			badBody{"invalid UTF-8 in the type", "{\"events\":[{\"type\":\"X\xff\",\"data\":{}}]}", "", 400, sdk.CodeInvalidJSON},
			badBody{"duplicated subject key", `{"events":[{"type":"CustomerRegistered","data":{"customerId":"cust-3","customerId":"cust-4","email":"a@example.com"}}]}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"duplicated key, escaped", `{"events":[{"type":"X","data":{"a":1,"\u0061":2}}]}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"duplicated nested key", `{"events":[{"type":"X","data":{"o":{"k":1,"k":2}}}]}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"duplicated metadata key", `{"events":[{"type":"X","data":{},"metadata":{"ip":"1","ip":"2"}}]}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"id the nil UUID", `{"events":[{"id":"00000000-0000-0000-0000-000000000000","type":"X","data":{}}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"expectedVersion negative", `{"expectedVersion":-1,"events":[{"type":"X","data":{}}]}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"expectedVersion a string", `{"expectedVersion":"1","events":[{"type":"X","data":{}}]}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"expectedVersion huge", `{"expectedVersion":18446744073709551615,"events":[{"type":"X","data":{}}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"subject pointer missing", `{"events":[{"type":"CustomerRegistered","data":{"email":"a@b.c"}}]}`, "", 400, sdk.CodeInvalidEvent},
			badBody{"subject a number", `{"events":[{"type":"CustomerRegistered","data":{"customerId":5}}]}`, "", 400, sdk.CodeInvalidEvent},
			badBody{"undeclared e-mail", `{"events":[{"type":"Note","data":{"t":"x@example.com"}}]}`, "", 422, sdk.CodeLeak},
			badBody{"duplicate IDs in one batch", `{"events":[{"id":"0b9f3c1e-8a53-4d8e-9a77-3c7d2f0e6a12","type":"X","data":{}},{"id":"0b9f3c1e-8a53-4d8e-9a77-3c7d2f0e6a12","type":"X","data":{}}]}`, "", 400, sdk.CodeBadRequest},
			badBody{"conflict", `{"expectedVersion":7,"events":[{"type":"X","data":{}}]}`, "", 409, sdk.CodeConflict},
		),
		"PUT /v1/streams/:stream/snapshot": append(commonBadBodies(validSnap, limit),
			badBody{"version zero", `{"version":0,"data":{}}`, "", 400, sdk.CodeBadRequest},
			badBody{"version a string", `{"version":"1","data":{}}`, "", 400, sdk.CodeInvalidJSON},
			badBody{"data missing", `{"version":1}`, "", 400, sdk.CodeBadRequest},
		),
		"PUT /v1/subjects/:subject/hold": append(commonBadBodies(`{"reason":"r"}`, limit),
			badBody{"reason missing", `{}`, "", 400, sdk.CodeBadRequest},
			badBody{"reason a number", `{"reason":1}`, "", 400, sdk.CodeInvalidJSON},
		),
		"DELETE /v1/subjects/:subject/hold": append(commonBadBodies(`{"reason":"r"}`, limit),
			badBody{"reason missing", `{"reason":" "}`, "", 400, sdk.CodeBadRequest},
			badBody{"no hold to lift", `{"reason":"r"}`, "", 404, sdk.CodeNotFound},
		),
		"POST /v1/subjects/search": append(commonBadBodies(`{"email":"a@example.com"}`, limit),
			badBody{"neither email nor phone", `{}`, "", 400, sdk.CodeBadRequest},
			badBody{"both email and phone", `{"email":"a@example.com","phone":"+49 30 1234567"}`, "", 400, sdk.CodeBadRequest},
			badBody{"email a number", `{"email":1}`, "", 400, sdk.CodeInvalidJSON},
		),
		"POST /v1/subjects/:subject/erasure": append(commonBadBodies(validErase, limit),
			badBody{"reason a number", `{"reason":1}`, "", 400, sdk.CodeInvalidJSON},
		),
	}
	queries := map[string][]string{
		"GET /v1/streams/:stream/events":   {"?from=-1", "?from=x", "?limit=0", "?limit=-5", "?limit=1.5", "?direction=up"},
		"GET /v1/events":                   {"?from=x", "?limit=0", "?direction=backward"},
		"GET /v1/subscribe":                {"?from=x"},
		"GET /v1/audit":                    {"?from=x", "?limit=0", "?since=yesterday", "?until=2026-13-01T00:00:00Z", "?since=2026-01-01"},
		"GET /v1/erasures":                 {"?overdue=maybe", "?nearDeadline=2", "?limit=0"},
		"GET /v1/subjects":                 {"", "?email=a@b.c&phone=1"},
		"GET /v1/subjects/:subject/export": {"?format=xml"},
		"GET /v1/holds":                    {"?all=sometimes"},
	}
	params := strings.NewReplacer(":eventType", "CustomerRegistered", ":stream", "c-1", ":subject", "cust-1", ":id", "er-1")

	denials := 0
	for _, rt := range e.srv.routes {
		key := rt.method + " " + rt.path
		path := params.Replace(rt.path)
		if rt.public {
			continue
		}
		if rt.method != http.MethodGet && !strings.HasPrefix(rt.path, "/v1/admin/") {
			if _, ok := bodies[key]; !ok {
				t.Errorf("%s takes a body but has no bad-body cases", key)
			}
		}
		t.Run(key, func(t *testing.T) {
			for name, hdr := range map[string]string{"no token": "", "unknown token": "Bearer nope", "basic": "Basic cm9vdA==", "root as basic": "Basic " + rootToken} {
				r := e.do(t, rt.method, path, "", strings.NewReader(`{}`), "Authorization", hdr)
				if r.status != 401 || r.problem(t).Code != sdk.CodeUnauthenticated {
					t.Errorf("%s: %d %s, want 401 unauthenticated", name, r.status, r.body)
				}
			}
			before, err := e.log.Head(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r := e.do(t, rt.method, path, roleTokens["intern"], strings.NewReader(`{}`))
			if r.status != 403 || r.problem(t).Code != sdk.CodeDenied || r.problem(t).Detail == "" {
				t.Errorf("intern: %d %s, want 403 denied with the policy's reason", r.status, r.body)
			}
			// The one decision of the request is audited, denial included.
			if w := e.writtenSince(t, before, false); len(w) != 1 || !strings.HasSuffix(w[0], " $audit PIIAccessed") {
				t.Errorf("intern's denial wrote %v, want one audit record", w)
			}
			denials++
			r = e.do(t, rt.method, path, rootToken, nil, sdk.HeaderPurpose, "not a purpose!")
			if r.status != 400 {
				t.Errorf("bad X-Purpose: %d %s, want 400", r.status, r.body)
			}
			if key == "GET /v1/subscribe" {
				for _, last := range []string{"x", "-1", "18446744073709551615"} {
					if r := e.do(t, rt.method, path, rootToken, nil, sdk.HeaderLastEventID, last); r.status != 400 {
						t.Errorf("Last-Event-ID %q: %d, want 400", last, r.status)
					}
				}
			}
			for _, q := range queries[key] {
				r := e.do(t, rt.method, path+q, rootToken, nil)
				if r.status != 400 || r.problem(t).Code != sdk.CodeBadRequest {
					t.Errorf("query %s: %d %s, want 400 bad_request", q, r.status, r.body)
				}
			}
			for _, b := range bodies[key] {
				ct := b.ct
				if ct == "" {
					ct = "application/json"
				}
				r := e.do(t, rt.method, path, rootToken, strings.NewReader(b.body), "Content-Type", ct)
				if r.status != b.status {
					t.Errorf("%s: status %d, want %d (%s)", b.name, r.status, b.status, r.body)
					continue
				}
				if p := r.problem(t); p.Code != b.code {
					t.Errorf("%s: code %q, want %q (%s)", b.name, p.Code, b.code, p.Detail)
				}
			}
		})
	}

	var other []string
	audits := 0
	for _, w := range e.writtenSince(t, head, false) {
		if strings.HasSuffix(w, " $audit PIIAccessed") {
			audits++
		} else {
			other = append(other, w)
		}
	}
	if len(other) > 0 || audits != denials {
		t.Errorf("bad input wrote to the log after head %d: %v and %d audit records, want only the %d of the denials", head, other, audits, denials)
	}
	if v, er := e.store.counts(); v != values || er != erasures {
		t.Errorf("vault counts moved: values %d -> %d, erasures %d -> %d", values, v, erasures, er)
	}
}
