package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

func TestComplianceCalls(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+string(b))
		switch {
		case r.URL.Path == "/v1/erasures":
			_, _ = io.WriteString(w, `{"erasures":[{"erasureId":"e1","subject":"s1","status":"requested","overdue":true,"dueAt":"2026-01-01T00:00:00Z"}]}`)
		case r.URL.Path == "/v1/subjects/s1/hold":
			_, _ = io.WriteString(w, `{"subject":"s1","active":true,"reason":"litigation","placedBy":"dpo"}`)
		case r.URL.Path == "/v1/subjects/s2/erasure":
			w.WriteHeader(409)
			_, _ = io.WriteString(w, `{"title":"Conflict","status":409,"code":"legal_hold","detail":"under legal hold: litigation"}`)
		case r.URL.Path == "/v1/subjects/search":
			w.WriteHeader(501)
			_, _ = io.WriteString(w, `{"title":"Not Implemented","status":501,"code":"not_implemented"}`)
		case r.URL.Path == "/v1/receipts/public-key":
			_, _ = io.WriteString(w, "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n")
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, _ := sdk.New(srv.URL, sdk.WithToken("t"))

	list, err := c.ListErasures(ctx, sdk.ErasureQuery{Overdue: true, Status: "open", Limit: 5})
	if err != nil || len(list) != 1 || !list[0].Overdue || list[0].DueAt.IsZero() {
		t.Errorf("ListErasures = %+v, %v", list, err)
	}
	if h, err := c.PlaceHold(ctx, "s1", "litigation"); err != nil || !h.Active {
		t.Errorf("PlaceHold = %+v, %v", h, err)
	}
	if _, err := c.LiftHold(ctx, "s1", "settled"); err != nil {
		t.Errorf("LiftHold: %v", err)
	}
	_, err = c.Erase(ctx, "s2", sdk.ErasureRequest{Reason: "x"})
	var ae *sdk.APIError
	if !errors.Is(err, sdk.ErrLegalHold) || !errors.As(err, &ae) || ae.Detail != "under legal hold: litigation" {
		t.Errorf("Erase under hold: %v, want ErrLegalHold with the reason", err)
	}
	if _, err := c.FindSubjects(ctx, "email", "a@example.com"); !errors.Is(err, sdk.ErrNotImplemented) {
		t.Errorf("FindSubjects without blind index: %v, want ErrNotImplemented", err)
	}
	// The looked-up value travels in the body, never in the URL.
	if last := seen[len(seen)-1]; last != `POST /v1/subjects/search {"email":"a@example.com"}` {
		t.Errorf("FindSubjects sent %q", last)
	}
	if _, err := c.FindSubjects(ctx, "shoe-size", "44"); err == nil {
		t.Error("FindSubjects(class shoe-size) = nil error")
	}
	if pem, err := c.ReceiptPublicKey(ctx); err != nil || len(pem) == 0 {
		t.Errorf("ReceiptPublicKey = %q, %v", pem, err)
	}
	want := []string{
		"GET /v1/erasures?limit=5&overdue=true&status=open ",
		`PUT /v1/subjects/s1/hold {"reason":"litigation"}`,
		`DELETE /v1/subjects/s1/hold {"reason":"settled"}`,
	}
	for i, w := range want {
		if seen[i] != w {
			t.Errorf("call %d = %q, want %q", i, seen[i], w)
		}
	}
}

func TestErasureCompletedOf(t *testing.T) {
	tests := []struct {
		name string
		ev   sdk.Event
		ok   bool
	}{
		{"completed", sdk.Event{Stream: "$erasures", Type: "ErasureCompleted", Data: json.RawMessage(`{"erasureId":"e","subject":"cust-1"}`)}, true},
		{"other type", sdk.Event{Stream: "$erasures", Type: "SubjectErased", Data: json.RawMessage(`{"subject":"cust-1"}`)}, false},
		{"other stream", sdk.Event{Stream: "orders", Type: "ErasureCompleted", Data: json.RawMessage(`{"subject":"cust-1"}`)}, false},
		{"bad data", sdk.Event{Stream: "$erasures", Type: "ErasureCompleted", Data: json.RawMessage(`[]`)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := sdk.ErasureCompletedOf(tt.ev)
			if ok != tt.ok || (ok && e.Subject != "cust-1") {
				t.Errorf("ErasureCompletedOf = %+v, %v; want ok %v", e, ok, tt.ok)
			}
		})
	}
}

func TestExportCSV(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Query().Get("format") != "csv" || !strings.Contains(r.Header.Get("Accept"), "application/zip") {
			t.Errorf("request %s %s Accept %q, want GET ?format=csv accepting application/zip", r.Method, r.URL.RequestURI(), r.Header.Get("Accept"))
		}
		switch r.URL.Path {
		case "/v1/subjects/flaky/export":
			if n == 1 {
				w.WriteHeader(503)
				_, _ = io.WriteString(w, `{"title":"Service Unavailable","status":503,"code":"unavailable"}`)
				return
			}
			w.Header().Set("Content-Type", "application/zip")
			_, _ = io.WriteString(w, "PK-zip-bytes")
		case "/v1/subjects/json/export":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"subject":"json"}`)
		case "/v1/subjects/denied/export":
			w.Header().Set("Content-Type", sdk.ContentTypeProblem)
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `{"title":"Forbidden","status":403,"code":"denied"}`)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, _ := sdk.New(srv.URL, sdk.WithToken("t"), sdk.WithRetry(sdk.RetryPolicy{Attempts: 3}))

	if b, err := c.ExportCSV(ctx, "flaky"); err != nil || string(b) != "PK-zip-bytes" || calls.Load() != 2 {
		t.Errorf("ExportCSV(flaky) = %q, %v after %d calls; want the zip bytes after one retry", b, err, calls.Load())
	}
	if b, err := c.ExportCSV(ctx, "json"); err == nil || !strings.Contains(err.Error(), "application/zip") {
		t.Errorf("ExportCSV answered JSON = %q, %v; want an error naming application/zip", b, err)
	}
	if _, err := c.ExportCSV(ctx, "denied"); !errors.Is(err, sdk.ErrDenied) {
		t.Errorf("ExportCSV(denied) = %v, want ErrDenied", err)
	}
}

func TestAdminCalls(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path)
		switch r.URL.Path {
		case "/v1/admin/erasures/advance":
			_, _ = io.WriteString(w, `{"erased":1,"purged":2,"completed":3,"awaitingPurge":4}`)
		case "/v1/admin/erasures/purge":
			if n := len(seen); n == 2 {
				w.WriteHeader(503) // the first try: a retry follows
				_, _ = io.WriteString(w, `{"title":"Service Unavailable","status":503,"code":"unavailable"}`)
				return
			}
			_, _ = io.WriteString(w, `{"erased":0,"purged":2,"completed":2,"awaitingPurge":0,"startedAt":"2026-01-02T03:04:05Z","doneAt":"2026-01-02T03:04:06.5Z"}`)
		case "/v1/admin/retention/run":
			if r.Header.Get("Authorization") == "Bearer none" {
				w.WriteHeader(501)
				_, _ = io.WriteString(w, `{"title":"Not Implemented","status":501,"code":"not_implemented"}`)
				return
			}
			_, _ = io.WriteString(w, `{"scanned":10,"expired":2,"records":1,"cursor":11,"mode":"expired"}`)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, _ := sdk.New(srv.URL, sdk.WithToken("admin"))
	if rep, err := c.AdvanceErasures(ctx); err != nil || rep != (sdk.AdvanceReport{Erased: 1, Purged: 2, Completed: 3, AwaitingPurge: 4}) {
		t.Errorf("AdvanceErasures = %+v, %v", rep, err)
	}
	rep, err := c.PurgeErasures(ctx)
	if err != nil || rep.AdvanceReport != (sdk.AdvanceReport{Purged: 2, Completed: 2}) ||
		rep.DoneAt.Sub(rep.StartedAt) != 1500*time.Millisecond || rep.StartedAt.Year() != 2026 {
		t.Errorf("PurgeErasures = %+v, %v", rep, err)
	}
	if rep, err := c.RunRetention(ctx); err != nil || rep != (sdk.RetentionReport{Scanned: 10, Expired: 2, Records: 1, Cursor: 11, Mode: "expired"}) {
		t.Errorf("RunRetention = %+v, %v", rep, err)
	}
	if _, err := c.WithToken("none").RunRetention(ctx); !errors.Is(err, sdk.ErrNotImplemented) {
		t.Errorf("RunRetention without a workflow = %v, want ErrNotImplemented", err)
	}
	// The purge is idempotent, so the SDK retries it after a 503.
	want := []string{"POST /v1/admin/erasures/advance", "POST /v1/admin/erasures/purge", "POST /v1/admin/erasures/purge",
		"POST /v1/admin/retention/run", "POST /v1/admin/retention/run"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q, want %q", seen, want)
	}
}

// TestTransportErrorQuotesNoValue: a transport error of FindSubjects or of
// a call on a subject names the server, not the path or query that hold the
// subject and the value.
func TestTransportErrorQuotesNoValue(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // every call now fails in the transport
	c, _ := sdk.New(base, sdk.WithRetry(sdk.RetryPolicy{Attempts: 1}))
	ctx := context.Background()
	_, findErr := c.FindSubjects(ctx, "email", "canary.one@example.com")
	_, holdErr := c.GetHold(ctx, "subject-canary")
	for _, err := range []error{findErr, holdErr} {
		if err == nil {
			t.Fatal("call to a closed server succeeded")
		}
		if msg := err.Error(); strings.Contains(msg, "canary") || !strings.Contains(msg, base) {
			t.Errorf("error = %q, want the server %s and no subject or value", msg, base)
		}
	}
}
