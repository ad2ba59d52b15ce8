package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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
		case r.URL.Path == "/v1/subjects":
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
