package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
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

// TestEventJSONMatchesMarshal pins the hand-built event to what
// json.Marshal made of the same map before.
func TestEventJSONMatchesMarshal(t *testing.T) {
	for _, c := range []struct {
		subject string
		i       int
	}{{"bench-s-000", 0}, {"bench-s-063", 63}, {"bench-b-12345", 99}, {"s", 123456789}} {
		want, err := json.Marshal(map[string]any{
			"customerId": c.subject,
			"email":      fmt.Sprintf("user%d.%s@example.com", c.i, c.subject),
			"name":       fmt.Sprintf("Person %d of %s", c.i, c.subject),
			"phone":      fmt.Sprintf("+49 151 %08d", c.i),
			"plan":       "pro",
			"seats":      c.i % 50,
			"notes":      padding,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := eventJSON(c.subject, c.i); !bytes.Equal(got, want) {
			t.Errorf("eventJSON(%q, %d) =\n%s\nwant\n%s", c.subject, c.i, got, want)
		}
	}
}

// TestRequester checks both clients against a server that checks what it
// gets: method, path, query, headers and body on every call, a fresh
// answer each time, answers with a length, chunked ones and ones that close
// the connection, and an error on an unexpected status.
func TestRequester(t *testing.T) {
	var calls, conns atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Purpose") != "p" || r.Header.Get("Content-Type") != "application/json" ||
			r.ContentLength != int64(len(b)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(http.StatusTeapot)
			return
		case "/close":
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%d %s %s %s %s", n, r.Method, r.URL.Path, r.URL.RawQuery, b)
		if r.URL.Path == "/big" { // no length declared: chunked
			w.Write(bytes.Repeat([]byte("x"), 100_000))
		}
	}))
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	for _, client := range []string{clientNetHTTP, clientRaw} {
		t.Run(strings.ReplaceAll(client, "/", "-"), func(t *testing.T) {
			calls.Store(0)
			conns.Store(0)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var r *requester
			var err error
			if client == clientRaw {
				r, err = newRawRequester(ctx, "POST", ts.URL+"/a?limit=1", "tok", "p", http.StatusCreated)
			} else {
				r, err = newRequester(ctx, ts.Client(), "POST", ts.URL+"/a?limit=1", "tok", "p", http.StatusCreated)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range []struct {
				path, body, want string
			}{
				{"", `{"x":1}`, `1 POST /a limit=1 {"x":1}`},
				{"/b", `{}`, `2 POST /b limit=1 {}`},
				{"/fail", `{}`, ``},
				{"/c", `{"y":2}`, `4 POST /c limit=1 {"y":2}`},
				{"/close", `{"z":3}`, `5 POST /close limit=1 {"z":3}`},
				{"/d", ``, `6 POST /d limit=1 `},
			} {
				got, err := r.do(c.path, []byte(c.body))
				if c.want == "" {
					if err == nil {
						t.Errorf("call %d: no error for status 418", i)
					}
					continue
				}
				if err != nil || string(got) != c.want {
					t.Errorf("call %d: do(%q) = %q, %v, want %q", i, c.path, got, err, c.want)
				}
			}
			for range 3 {
				got, err := r.do("/big", nil)
				if err != nil || !bytes.HasSuffix(got, bytes.Repeat([]byte("x"), 100_000)) || !bytes.Contains(got, []byte(" POST /big limit=1 ")) {
					t.Errorf("chunked answer: %d bytes, %v", len(got), err)
				}
			}
			// One connection, a second after "Connection: close"; the
			// net/http client may open another after the 418.
			if n := conns.Load(); n < 2 || n > 3 {
				t.Errorf("%d connections, want 2 (3 for net/http)", n)
			}
		})
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
	testenv.SkipUnlessSlow(t) // builds and starts the sidecar
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The ceiling server is this program re-executed; under go test the
	// executable is the test binary, so the smoke run skips it.
	err := run(ctx, []string{"--duration", "300ms", "--runs", "1", "--clients", "4", "--batch-clients", "2", "--read-clients", "2", "--skip", "ceiling"}, os.Getenv, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, s := range []string{"append-1", "append-100", "read-100", "medians of 1 runs", "cross-check piivault_events_appended_total", "cross-check piivault_events_read_total"} {
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
	testenv.SkipUnlessSlow(t) // builds and starts the sidecar
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

// TestLoadEndsWithoutErrors checks that requests the end of a run cuts off
// are not counted as errors, with either client, against a slow server.
func TestLoadEndsWithoutErrors(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusCreated)
	}))
	defer ts.Close()
	for _, client := range []string{clientNetHTTP, clientRaw} {
		t.Run(strings.ReplaceAll(client, "/", "-"), func(t *testing.T) {
			rs := newRequesters(16, func(ctx context.Context) (*requester, error) {
				if client == clientRaw {
					return newRawRequester(ctx, "POST", ts.URL+"/x", "tok", "", http.StatusCreated)
				}
				return newRequester(ctx, ts.Client(), "POST", ts.URL+"/x", "tok", "", http.StatusCreated)
			})
			for range 3 {
				res := load(context.Background(), 16, 150*time.Millisecond, 1<<40, func(ctx context.Context, c int, _ *rand.Rand) (int, error) {
					r, err := rs.get(ctx, c)
					if err != nil {
						return 0, err
					}
					_, err = r.do("", []byte(`{}`))
					return 1, err
				})
				if res.errors != 0 || res.events == 0 {
					t.Fatalf("run: %d events, %d errors, want some and none", res.events, res.errors)
				}
			}
		})
	}
}
