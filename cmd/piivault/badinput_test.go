package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/sdk"
)

func errorsIsNotFound(err error) bool { return errors.Is(err, sdk.ErrNotFound) }

// TestBadInputChangesNothing sends malformed requests to the real process
// (raw HTTP: the SDK cannot send them) and checks that each gets a 4xx
// problem answer and that neither the log head nor the vault changed.
func TestBadInputChangesNothing(t *testing.T) {
	data := t.TempDir()
	root := "root-" + randHex(t, 8)
	s := start(t, &testenv.Buffer{}, []string{"PIIVAULT_DEV_ROOT_TOKEN=" + root}, "--dev", "--listen", "127.0.0.1:0", "--data", data)
	base := "http://" + s.addr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _ := sdk.New(base, sdk.WithToken(root))
	if _, err := c.PutSchema(ctx, "Registered", sdk.Schema{Subject: "/customerId", Fields: []sdk.SchemaField{{Path: "/email", Class: "email"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, "cust-1", sdk.NoStream, sdk.EventInput{Type: "Registered", Data: json.RawMessage(`{"customerId":"c1","email":"a@example.com"}`)}); err != nil {
		t.Fatal(err)
	}
	state := func() (uint64, int) {
		t.Helper()
		v, err := c.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := c.Export(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		return v.HeadPosition, len(ex.Values)
	}
	head0, vals0 := state()

	huge := `{"events":[{"type":"Registered","data":{"customerId":"c1","email":"` + strings.Repeat("x", 5<<20) + `"}}]}`
	bearer := "Bearer " + root
	tests := []struct {
		name, method, path, auth, body string
		status                         int
	}{
		{"malformed JSON", "POST", "/v1/streams/cust-1/events", bearer, `{"events":[`, 400},
		{"wrong types", "POST", "/v1/streams/cust-1/events", bearer, `{"expectedVersion":"one","events":"x"}`, 400},
		{"trailing data", "POST", "/v1/streams/cust-1/events", bearer, `{"events":[{"type":"Registered","data":{"customerId":"c1","email":"b@example.com"}}]} {"x":1}`, 400},
		{"huge body", "POST", "/v1/streams/cust-1/events", bearer, huge, 413},
		{"no events", "POST", "/v1/streams/cust-1/events", bearer, `{"events":[]}`, 400},
		{"undeclared PII", "POST", "/v1/streams/cust-9/events", bearer, `{"events":[{"type":"Unknown","data":{"contact":"leak@example.com"}}]}`, 422},
		{"stale version", "POST", "/v1/streams/cust-1/events", bearer, `{"expectedVersion":0,"events":[{"type":"Registered","data":{"customerId":"c1","email":"c@example.com"}}]}`, 409},
		{"bad pointer", "PUT", "/v1/schemas/Other", bearer, `{"subject":"customerId","fields":[{"path":"email~","class":"email"}]}`, 400},
		{"schema wrong types", "PUT", "/v1/schemas/Other", bearer, `{"subject":1,"fields":{}}`, 400},
		{"bad token", "POST", "/v1/streams/cust-1/events", "Bearer nope", `{"events":[{"type":"Registered","data":{"customerId":"c1","email":"d@example.com"}}]}`, 401},
		{"no token", "POST", "/v1/subjects/c1/erasure", "", `{"reason":"x"}`, 401},
		{"bad from", "GET", "/v1/streams/cust-1/events?from=minus", bearer, "", 400},
		{"bad erasure body", "POST", "/v1/subjects/c1/erasure", bearer, `{"reason":`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, _ := http.NewRequestWithContext(ctx, tt.method, base+tt.path, body)
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, b, tt.status)
			}
			var p sdk.Problem
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, sdk.ContentTypeProblem) || json.Unmarshal(b, &p) != nil || p.Code == "" {
				t.Errorf("answer %q (%s): want a problem with a code", b, ct)
			}
			if bytes.Contains(b, []byte("@example.com")) {
				t.Errorf("answer echoes a value: %s", b)
			}
		})
	}
	// The head grows by audit records of the reads themselves; the streams
	// the bad requests aimed at must not.
	if head, vals := state(); head < head0 || vals != vals0 {
		t.Errorf("after bad input: head %d, %d values; before: %d, %d", head, vals, head0, vals0)
	}
	for stream, want := range map[string]int{"cust-1": 1, "cust-9": 0} {
		evs, err := readStream(t, c, stream)
		if len(evs) != want || (err != nil && !errorsIsNotFound(err)) {
			t.Errorf("stream %s after bad input: %d events, %v; want %d", stream, len(evs), err, want)
		}
	}
	if _, err := c.GetSchema(ctx, "Other"); !errorsIsNotFound(err) {
		t.Errorf("schema Other after bad input: %v, want not found", err)
	}
	s.stop()
}
