package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
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

func TestEraseBody(t *testing.T) {
	var req struct {
		Events []struct {
			Data struct {
				CustomerID string `json:"customerId"`
			} `json:"data"`
		} `json:"events"`
	}
	if err := json.Unmarshal(eraseBody(7, 100), &req); err != nil || len(req.Events) != 100 {
		t.Fatalf("eraseBody(100) = %d events, %v", len(req.Events), err)
	}
	subjects := map[string]int{}
	for _, e := range req.Events {
		subjects[e.Data.CustomerID]++
	}
	if len(subjects) != eraseSubjectsPerBatch || subjects[eraseSubject(7, 0)] != 100/eraseSubjectsPerBatch {
		t.Errorf("subjects of a batch = %v, want %d subjects with %d events each", subjects, eraseSubjectsPerBatch, 100/eraseSubjectsPerBatch)
	}
}

// TestSmokeErase runs the erase scenario on a tiny log: 250 events (30
// subjects), 2 runs of 5 erasures.
func TestSmokeErase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the sidecar")
	}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := run(ctx, []string{"--runs", "2", "--skip", "ceiling,append-1,append-100,read-100",
		"--erase-log-events", "250", "--erase-count", "5", "--erase-clients", "2", "--erase-duration", "2m"}, os.Getenv, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, s := range []string{"filled 250 events", "erase       run 2:", "erase medians of 2 runs", "(0 errors)", "erase all 10 erasures pooled"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output has no %q:\n%s", s, out.String())
		}
	}
	// 2 x 5 erasures need 10 distinct subjects; 7 x 5 do not fit in 30.
	err = run(ctx, []string{"--runs", "7", "--skip", "ceiling,append-1,append-100,read-100",
		"--erase-log-events", "250", "--erase-count", "5"}, os.Getenv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "has 30") {
		t.Errorf("35 erasures of a 30-subject log: %v, want an error naming 30 subjects", err)
	}
}

func TestEraseSubjects(t *testing.T) {
	for _, c := range []struct{ n, want int64 }{{0, 0}, {1, 1}, {9, 9}, {10, 10}, {100, 10}, {105, 15}, {250, 30}, {1_000_000, 100_000}} {
		t.Run(strconv.FormatInt(c.n, 10), func(t *testing.T) {
			if got := eraseSubjects(c.n); got != c.want {
				t.Errorf("eraseSubjects(%d) = %d, want %d", c.n, got, c.want)
			}
		})
	}
}

func TestSortedAtMost(t *testing.T) {
	lat := []time.Duration{1, 2, 2, 5, 9}
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {1, 1}, {2, 3}, {4, 3}, {9, 5}, {10, 5}} {
		if got := sortedAtMost(lat, c.d); got != c.want {
			t.Errorf("sortedAtMost(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}
