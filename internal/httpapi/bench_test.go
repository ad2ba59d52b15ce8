package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/piivault/piivault/sdk"
)

// benchClient posts or gets over loopback with keep-alive connections.
func benchClient(ts *httptest.Server) *http.Client {
	c := ts.Client()
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 256
	return c
}

func benchDo(b *testing.B, c *http.Client, method, url, token string, body []byte, want int) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Purpose", "support")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s = %d, want %d", method, url, resp.StatusCode, want)
	}
}

// BenchmarkGinJSONCeiling is the HTTP ceiling: a bare gin handler that
// decodes a small JSON body and answers JSON, over loopback, with the same
// client as the other benchmarks. Compare the API's figures to it.
func BenchmarkGinJSONCeiling(b *testing.B) {
	ginMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	e := gin.New()
	e.POST("/x", func(c *gin.Context) {
		var v struct {
			A string `json:"a"`
		}
		if err := c.ShouldBindJSON(&v); err != nil {
			c.Status(http.StatusBadRequest)
			return
		}
		c.JSON(http.StatusOK, gin.H{"ok": true, "a": v.A})
	})
	ts := httptest.NewServer(e)
	defer ts.Close()
	c := benchClient(ts)
	body := []byte(`{"a":"hello"}`)
	b.ReportAllocs()
	b.SetParallelism(32) // 64 clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchDo(b, c, http.MethodPost, ts.URL+"/x", "", body, http.StatusOK)
		}
	})
}

// pad makes an event of about 1 KiB with the 3 PII fields of customerSchema.
var pad = strings.Repeat("x", 760)

func benchEvent(i int64) []byte {
	return []byte(fmt.Sprintf(`{"events":[{"type":"CustomerRegistered","data":{"customerId":"cust-%d","email":"u%d@example.com","name":"Name %d","phone":"+44 7700 900 %03d","plan":"gold","notes":"%s"}}]}`,
		i%1000, i, i, i%1000, pad))
}

// BenchmarkAppendOneEvent appends one ~1 KiB event with 3 PII fields per
// request on the real stack (Badger with SyncWrites, embedded vault, OPA),
// from 64 concurrent clients over loopback. ns/op is per event.
func BenchmarkAppendOneEvent(b *testing.B) {
	e := newRealEnv(b, Options{})
	if r := e.doJSON(b, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != http.StatusOK {
		b.Fatalf("PUT schema = %d", r.status)
	}
	c := benchClient(e.ts)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			benchDo(b, c, http.MethodPost, fmt.Sprintf("%s/v1/streams/c-%d/events", e.ts.URL, i%512), roleTokens["service"], benchEvent(i), http.StatusCreated)
		}
	})
}

// BenchmarkReadPage100 reads pages of 100 such events as support for
// purpose support (email and name revealed, phone masked). ns/op is per
// page of 100 events.
func BenchmarkReadPage100(b *testing.B) {
	e := newRealEnv(b, Options{})
	if r := e.doJSON(b, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != http.StatusOK {
		b.Fatalf("PUT schema = %d", r.status)
	}
	for i := int64(0); i < 100; i++ {
		if r := e.doJSON(b, http.MethodPost, "/v1/streams/c-1/events", roleTokens["service"], string(benchEvent(i)), nil); r.status != http.StatusCreated {
			b.Fatalf("append = %d %s", r.status, r.body)
		}
	}
	c := benchClient(e.ts)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchDo(b, c, http.MethodGet, e.ts.URL+"/v1/streams/c-1/events?limit=100", roleTokens["support"], nil, http.StatusOK)
		}
	})
}

// nopCore answers appends without storing, to isolate this package's cost.
type nopCore struct{ *fakeCore }

func (*nopCore) Append(context.Context, Caller, string, sdk.AppendRequest, []uuid.UUID) (sdk.AppendResult, error) {
	return sdk.AppendResult{FirstVersion: 1, LastVersion: 1, FirstPosition: 1, LastPosition: 1}, nil
}

// BenchmarkInProcess compares, without sockets, a bare gin JSON handler
// with this package's append route over a core that stores nothing: the
// difference is what authentication, the policy call (a stub here),
// strict decoding, validation, metrics and the access log cost per
// request.
func BenchmarkInProcess(b *testing.B) {
	body := benchEvent(1)
	run := func(b *testing.B, h http.Handler, path string, token string) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code >= 300 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("gin", func(b *testing.B) {
		ginMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
		e := gin.New()
		e.POST("/x", func(c *gin.Context) {
			var v sdk.AppendRequest
			if err := c.ShouldBindJSON(&v); err != nil {
				c.Status(http.StatusBadRequest)
				return
			}
			c.JSON(http.StatusCreated, sdk.AppendResult{FirstVersion: 1})
		})
		run(b, e, "/x", "")
	})
	b.Run("httpapi", func(b *testing.B) {
		auth := testAuth(b)
		fc := newFakeCore()
		fc.pol = rolePolicy{}
		srv := newServer(&nopCore{fc}, Options{Auth: auth, Logger: slog.New(slog.DiscardHandler)})
		run(b, srv, "/v1/streams/s/events", writerToken)
	})
}
