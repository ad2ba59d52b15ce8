package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestEventShape(t *testing.T) {
	b := eventJSON("bench-s-001", 7)
	if n := len(b); n < 900 || n > 1200 {
		t.Errorf("event is %d bytes, want about 1 KiB", n)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"customerId", "email", "name", "phone"} {
		if _, ok := m[k]; !ok {
			t.Errorf("event has no %q", k)
		}
	}
	var req struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(appendBody("s", 0, 100), &req); err != nil || len(req.Events) != 100 {
		t.Errorf("appendBody(100) = %d events, %v", len(req.Events), err)
	}
}

func TestStats(t *testing.T) {
	if m := median([]float64{5, 1, 3}); m != 3 {
		t.Errorf("median odd = %v, want 3", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v, want 2.5", m)
	}
	r := result{lat: []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	if p := r.pct(0.5); p != 5 {
		t.Errorf("pct(0.5) = %v, want 5", p)
	}
	if p := r.pct(0.99); p != 9 {
		t.Errorf("pct(0.99) = %v, want 9", p)
	}
	if c := procCPU(os.Getpid()); c < 0 {
		t.Errorf("procCPU(self) = %v", c)
	}
}

// TestSmoke runs every scenario briefly against a real sidecar.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the sidecar")
	}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The ceiling server is this program re-executed; under go test the
	// executable is the test binary, so the smoke run skips it.
	err := run(ctx, []string{"--duration", "300ms", "--runs", "1", "--clients", "4", "--batch-clients", "2", "--read-clients", "2", "--skip", "ceiling"}, os.Getenv, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, s := range []string{"append-1", "append-100", "read-100", "medians of 1 runs"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output has no %q:\n%s", s, out.String())
		}
	}
	if strings.Contains(out.String(), " errors, ") && !strings.Contains(out.String(), " 0 errors") {
		t.Errorf("errors in the run:\n%s", out.String())
	}
}
