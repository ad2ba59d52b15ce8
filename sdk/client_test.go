package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

func fastRetry() sdk.Option {
	return sdk.WithRetry(sdk.RetryPolicy{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond})
}

func TestAPIErrorIs(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   error
	}{
		{409, sdk.CodeConflict, sdk.ErrConflict},
		{409, sdk.CodeErased, sdk.ErrErased},
		{403, sdk.CodeDenied, sdk.ErrDenied},
		{403, "", sdk.ErrDenied},
		{401, "whatever", sdk.ErrUnauthenticated},
		{404, "", sdk.ErrNotFound},
		{413, "", sdk.ErrTooLarge},
		{422, sdk.CodeLeak, sdk.ErrLeak},
		{400, sdk.CodeInvalidPointer, sdk.ErrBadRequest},
		{422, "", sdk.ErrBadRequest},
		{503, "", sdk.ErrUnavailable},
		{500, "", sdk.ErrServer},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d_%s", tt.status, tt.code), func(t *testing.T) {
			var err error = &sdk.APIError{Status: tt.status, Code: tt.code}
			err = fmt.Errorf("wrapped: %w", err)
			if !errors.Is(err, tt.want) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.want)
			}
			var ae *sdk.APIError
			if !errors.As(err, &ae) || ae.Status != tt.status {
				t.Errorf("errors.As(%v) = %v, want status %d", err, ae, tt.status)
			}
		})
	}
}

// countingServer answers 503 for the first fail calls, then 201/200.
func countingServer(t *testing.T, fail int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) <= fail {
			w.Header().Set("Content-Type", sdk.ContentTypeProblem)
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"title":"x","status":503,"code":"vault_unavailable"}`)
			return
		}
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"firstVersion":1,"lastVersion":1,"firstPosition":1,"lastPosition":1,"events":[]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestRetryOnlyWhereSafe(t *testing.T) {
	ev := sdk.EventInput{Type: "T", Data: json.RawMessage(`{}`)}
	evID := ev
	evID.ID = "6f1c1d3e-0000-4000-8000-000000000001"
	tests := []struct {
		name      string
		call      func(c *sdk.Client) error
		wantCalls int32
		wantErr   bool
	}{
		{"append without IDs is sent once", func(c *sdk.Client) error {
			_, err := c.Append(context.Background(), "s", sdk.Any, ev)
			return err
		}, 1, true},
		{"append with IDs is retried", func(c *sdk.Client) error {
			_, err := c.Append(context.Background(), "s", sdk.Any, evID)
			return err
		}, 3, false},
		{"read is retried", func(c *sdk.Client) error {
			_, err := c.ReadStreamPage(context.Background(), "s", 0, 10, sdk.Forward, "")
			return err
		}, 3, false},
		{"erase without request ID is sent once", func(c *sdk.Client) error {
			_, err := c.Erase(context.Background(), "x", sdk.ErasureRequest{})
			return err
		}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := countingServer(t, 2)
			c, err := sdk.New(srv.URL, fastRetry())
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call(c)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, sdk.ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable", err)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(403)
		_, _ = io.WriteString(w, `{"title":"Forbidden","status":403,"code":"denied","detail":"role analytics may not read email"}`)
	}))
	defer srv.Close()
	c, _ := sdk.New(srv.URL, fastRetry())
	_, err := c.ReadStreamPage(context.Background(), "s", 0, 10, "", "")
	var ae *sdk.APIError
	if !errors.As(err, &ae) || ae.Detail != "role analytics may not read email" || !errors.Is(err, sdk.ErrDenied) {
		t.Errorf("err = %v, want denied with detail", err)
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d, want 1", calls.Load())
	}
}

func TestContextCancelsRetries(t *testing.T) {
	srv, _ := countingServer(t, 1000)
	c, _ := sdk.New(srv.URL, sdk.WithRetry(sdk.RetryPolicy{Attempts: 100, Base: time.Second, Max: time.Second}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Verify(ctx)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("Verify = %v after %v, want an error soon after the deadline", err, time.Since(start))
	}
}

func TestReadStreamPaging(t *testing.T) {
	f, srv := newFake()
	defer srv.Close()
	ctx := context.Background()
	c, _ := sdk.New(srv.URL, sdk.WithToken("t"), sdk.WithPageSize(3))
	for i := range 10 {
		if _, err := c.Append(ctx, "s", sdk.ExpectedVersion(i), sdk.EventInput{Type: "T", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		o    sdk.ReadOptions
		want []uint64
	}{
		{"all", sdk.ReadOptions{}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"from", sdk.ReadOptions{From: 8}, []uint64{8, 9, 10}},
		{"max", sdk.ReadOptions{From: 2, Max: 4}, []uint64{2, 3, 4, 5}},
		{"page size 1", sdk.ReadOptions{From: 9, PageSize: 1}, []uint64{9, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			for ev, err := range c.ReadStream(ctx, "s", tt.o) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.Version)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ReadStream(%+v) versions = %v, want %v", tt.o, got, tt.want)
			}
		})
	}
	f.mu.Lock()
	before := f.calls
	f.mu.Unlock()
	for range c.ReadStream(ctx, "s", sdk.ReadOptions{}) {
		break
	}
	f.mu.Lock()
	if f.calls-before != 1 {
		t.Errorf("breaking after the first event made %d calls, want 1", f.calls-before)
	}
	f.mu.Unlock()
}

func TestReadYieldsErrorOnce(t *testing.T) {
	_, srv := newFake()
	defer srv.Close()
	c, _ := sdk.New(srv.URL) // no token: 401
	n := 0
	for _, err := range c.ReadAll(context.Background(), sdk.ReadOptions{}) {
		n++
		if !errors.Is(err, sdk.ErrUnauthenticated) {
			t.Errorf("err = %v, want ErrUnauthenticated", err)
		}
	}
	if n != 1 {
		t.Errorf("iterations = %d, want 1", n)
	}
}

// TestSubscribeResumes drops the connection after every event and checks
// that the subscriber still sees each event once, in order.
func TestSubscribeResumes(t *testing.T) {
	var conns atomic.Int32
	var mu sync.Mutex
	var lastIDs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns.Add(1)
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get(sdk.HeaderLastEventID))
		mu.Unlock()
		if a := r.Header.Get("Accept"); a != "text/event-stream" {
			t.Errorf("Accept = %q, want text/event-stream", a)
		}
		var next uint64 = 1
		if id := r.Header.Get(sdk.HeaderLastEventID); id != "" {
			_, _ = fmt.Sscan(id, &next)
			// A server that replays the last event: the client must drop it.
		}
		w.Header().Set("Content-Type", "text/event-stream")
		// Two events per connection, then drop.
		for p := next; p < next+2 && p <= 6; p++ {
			_, _ = fmt.Fprintf(w, "id: %d\nevent: event\ndata: {\"position\":%d,\n", p, p)
			_, _ = fmt.Fprintf(w, "data: \"type\":\"T\"}\n\n: ping\n\n")
		}
	}))
	defer srv.Close()
	c, _ := sdk.New(srv.URL, sdk.WithReconnectDelay(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []uint64
	var reconnects int
	for ev, err := range c.Subscribe(ctx, sdk.SubscribeOptions{OnReconnect: func(error) { reconnects++ }}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Position)
		if ev.Position == 6 {
			break
		}
	}
	if want := "[1 2 3 4 5 6]"; fmt.Sprint(got) != want {
		t.Errorf("positions = %v, want %s", got, want)
	}
	if reconnects < 2 {
		t.Errorf("reconnects = %d, want at least 2", reconnects)
	}
	mu.Lock()
	defer mu.Unlock()
	if lastIDs[0] != "" || lastIDs[1] != "2" {
		t.Errorf("Last-Event-ID headers = %q, want \"\" then \"2\"", lastIDs)
	}
}

func TestSubscribeStopsOn401(t *testing.T) {
	_, srv := newFake()
	defer srv.Close()
	c, _ := sdk.New(srv.URL)
	for _, err := range c.Subscribe(context.Background(), sdk.SubscribeOptions{}) {
		if !errors.Is(err, sdk.ErrUnauthenticated) {
			t.Errorf("err = %v, want ErrUnauthenticated", err)
		}
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8200", "ftp://x", "http://"} {
		if _, err := sdk.New(u); err == nil {
			t.Errorf("New(%q) = nil error, want one", u)
		}
	}
}

func TestStreamNameEscaped(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		_, _ = io.WriteString(w, `{"events":[]}`)
	}))
	defer srv.Close()
	c, _ := sdk.New(srv.URL + "/")
	_, _ = c.ReadStreamPage(context.Background(), "orders/7 a", 0, 0, "", "")
	if !strings.HasPrefix(path, "/v1/streams/orders%2F7%20a/events") {
		t.Errorf("path = %q, want the stream name escaped as one segment", path)
	}
}

func TestSubscribeErrorEvent(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   error
		conns  int32
	}{
		{"4xx stops", 403, sdk.ErrDenied, 1},
		{"5xx reconnects", 503, sdk.ErrDenied, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conns atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				status := tt.status
				if conns.Add(1) > 1 {
					status = 403
				}
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = fmt.Fprintf(w, "id: 1\nevent: event\ndata: {\"position\":1}\n\nevent: error\ndata: {\"status\":%d,\"code\":\"x\"}\n\n", status)
			}))
			defer srv.Close()
			c, _ := sdk.New(srv.URL, sdk.WithReconnectDelay(time.Millisecond))
			var errs []error
			for _, err := range c.Subscribe(context.Background(), sdk.SubscribeOptions{}) {
				if err != nil {
					errs = append(errs, err)
				}
			}
			if len(errs) != 1 || !errors.Is(errs[0], tt.want) || conns.Load() != tt.conns {
				t.Errorf("errors %v after %d connections, want one %v after %d", errs, conns.Load(), tt.want, tt.conns)
			}
		})
	}
}
