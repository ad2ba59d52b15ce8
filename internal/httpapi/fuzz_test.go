package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/piivault/piivault/sdk"
)

// serveOnce runs one request through the server in process (the fuzzers
// need speed more than a socket) and checks the invariants every answer
// keeps: no 5xx, a problem+json body with a code on error, JSON on success.
func serveOnce(t *testing.T, e *realEnv, method, path, token string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	req.URL = &url.URL{Path: path, RawPath: path}
	req.RequestURI = path
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	if w.Code >= 500 {
		t.Fatalf("%s %s with %q = %d %s", method, path, body, w.Code, w.Body)
	}
	if w.Code >= 400 {
		var p sdk.Problem
		if w.Header().Get("Content-Type") != sdk.ContentTypeProblem || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Code == "" || p.Status != w.Code {
			t.Fatalf("%s %s with %q = %d, not a problem: %s", method, path, body, w.Code, w.Body)
		}
	} else if w.Code != http.StatusNoContent && !json.Valid(w.Body.Bytes()) {
		t.Fatalf("%s %s = %d with invalid JSON %q", method, path, w.Code, w.Body)
	}
	return w
}

// FuzzAppendHandler posts arbitrary bodies to arbitrary streams on the real
// stack. A refused append must leave the log head where it was.
func FuzzAppendHandler(f *testing.F) {
	e := newRealEnv(f, Options{MaxBodyBytes: 64 << 10})
	for _, seed := range []struct{ stream, body string }{
		{"c-1", `{"events":[` + customerEvent("", "cust-1") + `]}`},
		{"c-1", `{"expectedVersion":0,"events":[{"type":"X","data":{}}]}`},
		{"c-2", `{"events":[{"id":"0b9f3c1e-8a53-4d8e-9a77-3c7d2f0e6a13","type":"X","data":{"a":[1,2,{"b":null}]},"metadata":{"m":1}}]}`},
		{"c-3", `{"events":[{"type":"Note","data":{"t":"x@example.com"}}]}`},
		{"$all", `{"events":[{"type":"X","data":{}}]}`},
		{"a/b", `{"events":[{"type":"X","data":{}}]}`},
		{"", `{}`},
		{"c-4", `{"events":[{"type":"X","data":{}}]}{}`},
		{"c-5", `{"events":[{"type":"","data":{}}]}`},
		{"c-6", "{\"events\":[{\"type\":\"\u0000\",\"data\":{}}]}"},
		{"c-7", `{"events":[{"type":"CustomerRegistered","data":{"customerId":"","email":"x"}}]}`},
		{"c-8", `{"expectedVersion":9223372036854775808,"events":[{"type":"X","data":{}}]}`},
		{"c-9", `[`},
	} {
		f.Add(seed.stream, []byte(seed.body))
	}
	if r := e.doJSON(f, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != http.StatusOK {
		f.Fatalf("PUT schema = %d %s", r.status, r.body)
	}
	f.Fuzz(func(t *testing.T, stream string, body []byte) {
		before := e.head(t)
		w := serveOnce(t, e, http.MethodPost, "/v1/streams/"+url.PathEscape(stream)+"/events", roleTokens["service"], body)
		switch {
		case w.Code == http.StatusCreated:
			var res sdk.AppendResult
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.LastPosition > e.head(t) || res.FirstVersion == 0 {
				t.Fatalf("201 with %s", w.Body)
			}
		default:
			if written := e.writtenSince(t, before, true); len(written) > 0 {
				t.Fatalf("refused append (%d %s) wrote %v", w.Code, w.Body, written)
			}
		}
	})
}

// FuzzSchemaHandler puts arbitrary schema documents for arbitrary event
// types. A refused schema must not be stored.
func FuzzSchemaHandler(f *testing.F) {
	e := newRealEnv(f, Options{MaxBodyBytes: 64 << 10})
	for _, seed := range []struct{ eventType, body string }{
		{"CustomerRegistered", customerSchema},
		{"Order", `{"subject":"/customer/id","fields":[{"path":"/addresses/*/street","class":"address","subject":"/addresses/*/owner"}]}`},
		{"Order", `{"subject":"/c","fields":[{"path":"/a~1b~0c","class":"email"}]}`},
		{"Order", `{"subject":"c","fields":[]}`},
		{"Order", `{"subject":"/c","fields":[{"path":"/a","class":"email"},{"path":"/a","class":"name"}]}`},
		{"Order", `{"subject":"/c","fields":[],"leakGuard":"tokenize"}`},
		{"Order", `{"eventType":"Other","subject":"/c","fields":[]}`},
		{"$schemas", `{"subject":"/c","fields":[]}`},
		{"", `{"subject":"/c","fields":[]}`},
		{"x", `{"subject":"/c","fields":null}`},
		{"x", `{"subject":"/~","fields":[]}`},
	} {
		f.Add(seed.eventType, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, eventType string, body []byte) {
		before := e.head(t)
		w := serveOnce(t, e, http.MethodPut, "/v1/schemas/"+url.PathEscape(eventType), roleTokens["admin"], body)
		if w.Code >= 400 {
			if written := e.writtenSince(t, before, true); len(written) > 0 {
				t.Fatalf("refused schema (%d %s) wrote %v", w.Code, w.Body, written)
			}
		}
		if w.Code == http.StatusOK {
			var sc sdk.Schema
			if err := json.Unmarshal(w.Body.Bytes(), &sc); err != nil || sc.Version == 0 || sc.EventType != eventType {
				t.Fatalf("200 with %s for event type %q", w.Body, eventType)
			}
		}
	})
}

// FuzzDecodeJSON checks the strict body decoder: it never panics, every
// failure is a bad request with code invalid_json, and no failure detail
// quotes the input (the canary stands for a personal value in a body: an
// e-mail address; a key that looks like an identifier may be named, which
// is what tells a client its typo).
func FuzzDecodeJSON(f *testing.F) {
	const canary = "zq@canary"
	for _, s := range []string{
		`{"events":[{"type":"x","data":{"zq@canary":1}}]}`,
		`{"zq@canary":1}`,
		`{"events":[{"type":"zq@canary","data":"zq@canary"}]}`,
		`{"expectedVersion":"zq@canary","events":[]}`,
		`{"expectedVersion":-123456789,"events":[]}`,
		`{"events":[{"type":1e999,"data":{}}]}`,
		`{"events":[` + "\"zq@canary\xff" + `]}`,
		`{"events":[]} zq@canary`,
		`zq@canary`,
		`{"events":[{"type":"x","data":{}}]}{"zq@canary":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req sdk.AppendRequest
		err := unmarshalStrict(b, &req)
		if err == nil {
			if _, err := json.Marshal(req); err != nil {
				t.Fatalf("decoded %q into a value that does not encode: %v", b, err)
			}
			return
		}
		p := problemFor(err)
		if p.Status != http.StatusBadRequest || p.Code != sdk.CodeInvalidJSON {
			t.Fatalf("decode %q: problem %+v, want 400 invalid_json", b, p)
		}
		if bytes.Contains(b, []byte(canary)) && strings.Contains(p.Detail, canary) {
			t.Fatalf("decode %q: detail %q quotes the input", b, p.Detail)
		}
	})
}
