package httpapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

const orderSchema = `{"subject":"/customerId","fields":[{"path":"/email","class":"email"}]}`

func orderEvent(email string) string {
	return fmt.Sprintf(`{"events":[{"type":"OrderPlaced","data":{"customerId":"cust-1","email":%q,"total":12}}]}`, email)
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"unknown token", "Bearer nope", http.StatusUnauthorized},
		{"token of another length", "Bearer " + strings.Repeat("x", 500), http.StatusUnauthorized},
		{"basic scheme", "Basic " + readerToken, http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"scheme only", "Bearer", http.StatusUnauthorized},
		{"reader", "Bearer " + readerToken, http.StatusOK},
		{"lowercase scheme", "bearer " + readerToken, http.StatusOK},
		{"root", "Bearer " + rootToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodGet, "/v1/events", "", nil, "Authorization", tt.header)
			if r.status != tt.want {
				t.Fatalf("GET /v1/events with %q = %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
			}
			if tt.want == http.StatusUnauthorized {
				if p := r.problem(t); p.Code != sdk.CodeUnauthenticated {
					t.Errorf("code = %q, want %q", p.Code, sdk.CodeUnauthenticated)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			}
		})
	}
}

func TestAuthenticatorConfig(t *testing.T) {
	bad := []AuthConfig{
		{Tokens: []TokenEntry{{SHA256: "abc", Principal: "p"}}},
		{Tokens: []TokenEntry{{SHA256: HashToken("x")}}},
		{RootTokenSHA256: "zz"},
		{Certs: []CertEntry{{Match: "spiffe://x"}}},
	}
	for i, cfg := range bad {
		if _, err := NewAuthenticator(cfg); err == nil {
			t.Errorf("NewAuthenticator(bad[%d]) = nil error", i)
		}
	}
	if _, err := NewAuthenticator(AuthConfig{Tokens: []TokenEntry{{SHA256: strings.ToUpper(HashToken("x")), Principal: "p"}}}); err != nil {
		t.Errorf("upper-case hex digest refused: %v", err)
	}
}

func TestClientCertificateMapping(t *testing.T) {
	a, err := NewAuthenticator(AuthConfig{Certs: []CertEntry{
		{Match: "spiffe://example.org/ns/shop/sa/orders", Principal: "orders", Roles: []string{"service"}},
		{Match: "billing.internal", Principal: "billing", Roles: []string{"billing"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	spiffe, _ := url.Parse("spiffe://example.org/ns/shop/sa/orders")
	tests := []struct {
		name     string
		cert     *x509.Certificate
		verified bool
		want     string
	}{
		{"spiffe URI SAN", &x509.Certificate{URIs: []*url.URL{spiffe}, Subject: pkix.Name{CommonName: "billing.internal"}}, true, "orders"},
		{"common name", &x509.Certificate{Subject: pkix.Name{CommonName: "billing.internal"}}, true, "billing"},
		{"unknown", &x509.Certificate{Subject: pkix.Name{CommonName: "stranger"}}, true, ""},
		{"not verified", &x509.Certificate{Subject: pkix.Name{CommonName: "billing.internal"}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/v1/events", nil)
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tt.cert}}
			if tt.verified {
				r.TLS.VerifiedChains = [][]*x509.Certificate{{tt.cert}}
			}
			p, err := a.Authenticate(r)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Authenticate = %+v, want an error", p)
				}
				return
			}
			if err != nil || p.ID != tt.want {
				t.Fatalf("Authenticate = %+v, %v; want %q", p, err, tt.want)
			}
		})
	}
}

func TestDeniedCarriesPolicyReason(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	r := e.doJSON(t, http.MethodPost, "/v1/subjects/cust-1/erasure", readerToken, "{}", nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("erase as reader = %d, want 403", r.status)
	}
	p := r.problem(t)
	if p.Code != sdk.CodeDenied || !strings.Contains(p.Detail, "no role of the principal allows erase") {
		t.Errorf("problem = %+v, want code denied and the policy's reason", p)
	}
	if p.Instance == "" || p.Instance != r.header.Get(sdk.HeaderRequestID) {
		t.Errorf("instance %q, request ID header %q: want the same request ID", p.Instance, r.header.Get(sdk.HeaderRequestID))
	}
}

func TestBodyLimits(t *testing.T) {
	const limit = 1 << 10
	core := newFakeCore()
	e := newEnv(t, core, rolePolicy{}, Options{MaxBodyBytes: limit})
	valid := orderEvent("a@example.com")
	tests := []struct {
		name string
		body string
		ct   string
		want int
		code string
	}{
		{"valid", valid, "application/json", http.StatusCreated, ""},
		{"valid object then garbage past the limit", valid + strings.Repeat(" x", limit), "application/json", http.StatusRequestEntityTooLarge, sdk.CodeTooLarge},
		{"valid object then white space past the limit", valid + strings.Repeat(" ", limit), "application/json", http.StatusRequestEntityTooLarge, sdk.CodeTooLarge},
		{"valid object then a second object", valid + valid, "application/json", http.StatusBadRequest, sdk.CodeInvalidJSON},
		{"valid object then a byte", valid + "x", "application/json", http.StatusBadRequest, sdk.CodeInvalidJSON},
		{"huge", `{"events":[` + strings.Repeat(`{"type":"x","data":{}},`, limit) + `]}`, "application/json", http.StatusRequestEntityTooLarge, sdk.CodeTooLarge},
		{"text/plain", valid, "text/plain", http.StatusUnsupportedMediaType, sdk.CodeUnsupportedMediaType},
		{"problem+json is JSON", valid, "application/merge-patch+json", http.StatusCreated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, http.MethodPost, "/v1/streams/orders-1/events", writerToken, strings.NewReader(tt.body), "Content-Type", tt.ct)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d (%s)", r.status, tt.want, r.body)
			}
			if tt.code != "" {
				if p := r.problem(t); p.Code != tt.code {
					t.Errorf("code = %q, want %q", p.Code, tt.code)
				}
			}
		})
	}
	// A chunked body with no Content-Length is bounded too.
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(valid))
		for i := 0; i < 64; i++ {
			if _, err := pw.Write([]byte(strings.Repeat(" ", 1024))); err != nil {
				return
			}
		}
		pw.Close()
	}()
	if r := e.do(t, http.MethodPost, "/v1/streams/orders-1/events", writerToken, pr); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversize body = %d, want 413", r.status)
	}
}

func TestPageSize(t *testing.T) {
	core := newFakeCore()
	e := newEnv(t, core, rolePolicy{}, Options{MaxPageSize: 3, DefaultPageSize: 2})
	for i := 0; i < 5; i++ {
		if r := e.doJSON(t, http.MethodPost, "/v1/streams/s/events", writerToken, orderEvent("x"), nil); r.status != http.StatusCreated {
			t.Fatalf("append = %d %s", r.status, r.body)
		}
	}
	for q, want := range map[string]int{"": 2, "?limit=1": 1, "?limit=3": 3} {
		var page sdk.EventsPage
		r := e.doJSON(t, http.MethodGet, "/v1/events"+q, readerToken, nil, &page)
		if r.status != http.StatusOK || len(page.Events) != want {
			t.Errorf("GET /v1/events%s = %d with %d events, want %d", q, r.status, len(page.Events), want)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=-1", "?limit=x", "?limit=4", "?from=-1", "?from=1e3", "?direction=sideways"} {
		r := e.do(t, http.MethodGet, "/v1/streams/s/events"+q, readerToken, nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("GET /v1/streams/s/events%s = %d, want 400", q, r.status)
		}
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	if p := e.do(t, http.MethodGet, "/v2/nothing", rootToken, nil).problem(t); p.Status != 404 || p.Code != sdk.CodeNotFound {
		t.Errorf("unknown route: %+v", p)
	}
	if p := e.do(t, http.MethodDelete, "/v1/streams/s/events", rootToken, nil).problem(t); p.Status != 405 || p.Code != sdk.CodeMethodNotAllowed {
		t.Errorf("DELETE events: %+v", p)
	}
	if p := e.do(t, http.MethodGet, "/v1/events/", rootToken, nil).problem(t); p.Status != 404 {
		t.Errorf("trailing slash: %+v, want 404 not a redirect", p)
	}
}

func TestPurposeHeaderValidated(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	for _, purpose := range []string{"a b", "jane@example.com", strings.Repeat("p", 200)} {
		r := e.do(t, http.MethodGet, "/v1/events", readerToken, nil, sdk.HeaderPurpose, purpose)
		if r.status != http.StatusBadRequest {
			t.Errorf("X-Purpose %q = %d, want 400", purpose, r.status)
		}
	}
	if r := e.do(t, http.MethodGet, "/v1/events", readerToken, nil, sdk.HeaderPurpose, "support"); r.status != http.StatusOK {
		t.Errorf("X-Purpose support = %d", r.status)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	notReady := fmt.Errorf("vault closed")
	ready := error(nil)
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{Ready: func() error { return ready }})
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		if r := e.do(t, http.MethodGet, p, "", nil); r.status != http.StatusOK {
			t.Errorf("GET %s = %d", p, r.status)
		}
	}
	ready = notReady
	if r := e.do(t, http.MethodGet, "/readyz", "", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz when not ready = %d", r.status)
	}
}

// TestMetricsCarryNoSubject appends and reads with a canary subject and
// stream name, then scrapes /metrics: route templates appear, the canary
// does not.
func TestMetricsCarryNoSubject(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	const canary = "zq-canary-subject-7731"
	e.doJSON(t, http.MethodPost, "/v1/streams/"+canary+"/events", writerToken, orderEvent(canary+"@example.com"), nil)
	e.do(t, http.MethodGet, "/v1/streams/"+canary+"/events", readerToken, nil)
	e.doJSON(t, http.MethodPost, "/v1/subjects/"+canary+"/erasure", rootToken, "{}", nil)
	e.do(t, http.MethodGet, "/v1/subjects/"+canary+"/export", readerToken, nil)
	r := e.do(t, http.MethodGet, "/metrics", "", nil)
	body := string(r.body)
	if strings.Contains(body, canary) {
		t.Fatalf("/metrics holds the canary")
	}
	for _, want := range []string{
		`route="/v1/streams/:stream/events"`,
		`route="/v1/subjects/:subject/erasure"`,
		"piivault_events_appended_total 1",
		`piivault_policy_decisions_total{action="export",outcome="deny"} 1`,
		"piivault_subscription_lag_events",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestLogsCarryNoPII sends canaries in every place a request can hold
// them (path, body, query, headers, malformed bodies) and scans the log.
func TestLogsCarryNoPII(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	const canary = "zq-canary-7731"
	e.doJSON(t, http.MethodPut, "/v1/schemas/OrderPlaced", writerToken, orderSchema, nil)
	e.doJSON(t, http.MethodPost, "/v1/streams/"+canary+"/events", writerToken, orderEvent(canary+"@example.com"), nil)
	e.doJSON(t, http.MethodPost, "/v1/streams/s/events", writerToken, `{"events":[{"type":"x","data":{"`+canary+`":1}}], "`+canary+`":2}`, nil)
	e.doJSON(t, http.MethodPost, "/v1/streams/s/events", writerToken, `{"events":[{"type":"x","data":"`+canary+`"}]}`, nil)
	e.doJSON(t, http.MethodPost, "/v1/streams/s/events", writerToken, `{"events":[{"type":8675309123457,"data":{}}]}`, nil)
	e.doJSON(t, http.MethodPost, "/v1/streams/s/events", writerToken, `{"expectedVersion":-8675309123457,"events":[]}`, nil)
	e.doJSON(t, http.MethodPost, "/v1/streams/s/events", writerToken, `{"events":[`+canary, nil)
	e.do(t, http.MethodGet, "/v1/streams/"+canary+"/events?from="+canary, readerToken, nil)
	e.do(t, http.MethodGet, "/v1/subjects/"+canary+"/export", rootToken, nil, sdk.HeaderPurpose, canary)
	e.do(t, http.MethodGet, "/v1/events", "Bearer "+canary, nil)
	e.do(t, http.MethodGet, "/v1/events", readerToken, nil, sdk.HeaderRequestID, canary+"@x")
	e.doJSON(t, http.MethodPost, "/v1/subjects/"+canary+"/erasure", rootToken, `{"reason":"`+canary+`"}`, nil)
	logs := e.logs.String()
	// The numbers are long enough not to turn up in a request ID or a duration.
	if strings.Contains(logs, canary) || strings.Contains(logs, "8675309123457") {
		t.Fatalf("logs hold the canary:\n%s", logs)
	}
	if !strings.Contains(logs, `"route":"/v1/streams/:stream/events"`) || !strings.Contains(logs, `"request_id":`) {
		t.Errorf("access log lacks route template or request ID:\n%s", logs)
	}
}

// sseClient opens GET /v1/subscribe and returns a line reader and a cancel.
func sseOpen(t *testing.T, e *testEnv, token, query string, hdr ...string) (*bufio.Reader, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/v1/subscribe"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("subscribe = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body), func() { cancel(); resp.Body.Close() }
}

// sseNext returns the next message's id (0 for a comment) and data.
func sseNext(t *testing.T, r *bufio.Reader) (id string, data string, comment string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read SSE: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if id != "" || data != "" || comment != "" {
				return id, data, comment
			}
		case strings.HasPrefix(line, ":"):
			comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
}

func sseNextEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	for {
		id, _, _ := sseNext(t, r)
		if id != "" {
			return id
		}
	}
}

func TestSubscribeCatchUpLiveResumeHeartbeat(t *testing.T) {
	core := newFakeCore()
	e := newEnv(t, core, rolePolicy{}, Options{HeartbeatInterval: 20 * time.Millisecond})
	for i := 0; i < 3; i++ {
		e.doJSON(t, http.MethodPost, "/v1/streams/s/events", writerToken, orderEvent("x"), nil)
	}
	r, stop := sseOpen(t, e, readerToken, "?from=2")
	for _, want := range []string{"2", "3"} {
		if got := sseNextEvent(t, r); got != want {
			t.Fatalf("catch-up id = %s, want %s", got, want)
		}
	}
	e.doJSON(t, http.MethodPost, "/v1/streams/s/events", writerToken, orderEvent("x"), nil)
	if got := sseNextEvent(t, r); got != "4" {
		t.Fatalf("live id = %s, want 4", got)
	}
	sawPing := false
	for i := 0; i < 5 && !sawPing; i++ {
		_, _, c := sseNext(t, r)
		sawPing = c == "ping"
	}
	if !sawPing {
		t.Error("no heartbeat")
	}
	stop()
	// Heartbeats sample the subscriber's lag behind the head.
	if m := e.do(t, http.MethodGet, "/metrics", "", nil); strings.Contains(string(m.body), "piivault_subscription_lag_events_count 0") ||
		!strings.Contains(string(m.body), "piivault_subscription_lag_events_count") {
		t.Error("subscription lag was not sampled")
	}

	r, stop = sseOpen(t, e, readerToken, "?from=1", sdk.HeaderLastEventID, "3")
	defer stop()
	if got := sseNextEvent(t, r); got != "4" {
		t.Fatalf("resume after Last-Event-ID 3: id = %s, want 4", got)
	}
}

// TestSubscribeNoGoroutineLeak opens and drops many subscriptions and
// checks that the goroutine count comes back and every subscription was
// closed.
func TestSubscribeNoGoroutineLeak(t *testing.T) {
	core := newFakeCore()
	e := newEnv(t, core, rolePolicy{}, Options{HeartbeatInterval: 5 * time.Millisecond})
	e.doJSON(t, http.MethodPost, "/v1/streams/s/events", writerToken, orderEvent("x"), nil)
	// Warm up the connection pool and gin's pools.
	r, stop := sseOpen(t, e, readerToken, "")
	sseNextEvent(t, r)
	stop()
	e.ts.Client().Transport.(*http.Transport).CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		r, stop := sseOpen(t, e, readerToken, "")
		sseNextEvent(t, r)
		stop()
	}
	e.ts.Client().Transport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		core.mu.Lock()
		open := core.subs
		core.mu.Unlock()
		n := runtime.NumGoroutine()
		if open == 0 && n <= before+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("after 20 dropped subscriptions: %d goroutines (before %d), %d subscriptions open\n%s", n, before, open, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNewHTTPServerTimeouts(t *testing.T) {
	hs := NewHTTPServer("127.0.0.1:0", http.NotFoundHandler(), Options{ReadHeaderTimeout: time.Second})
	if hs.ReadHeaderTimeout != time.Second || hs.ReadTimeout == 0 || hs.IdleTimeout == 0 || hs.MaxHeaderBytes == 0 {
		t.Errorf("http.Server timeouts = %v %v %v %d", hs.ReadHeaderTimeout, hs.ReadTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
	if hs.WriteTimeout != 0 {
		t.Errorf("WriteTimeout = %v, want 0 (SSE)", hs.WriteTimeout)
	}
}

func TestRequestTimeout(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{RequestTimeout: 50 * time.Millisecond})
	start := time.Now()
	r := e.do(t, http.MethodGet, "/v1/subjects/slow/export", rootToken, nil)
	if p := r.problem(t); r.status != http.StatusGatewayTimeout || p.Code != sdk.CodeTimeout {
		t.Errorf("slow export = %d %+v, want 504 timeout", r.status, p)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("slow export took %v", took)
	}
}

func TestMaxSubscriptions(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{MaxSubscriptions: 2, HeartbeatInterval: time.Second})
	_, stop1 := sseOpen(t, e, readerToken, "")
	_, stop2 := sseOpen(t, e, readerToken, "")
	r := e.do(t, http.MethodGet, "/v1/subscribe", readerToken, nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("third subscription = %d (Retry-After %q), want 503", r.status, r.header.Get("Retry-After"))
	}
	stop1()
	stop2()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, stop := sseOpenMaybe(t, e)
		if stop != nil {
			stop()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a slot never came free after two subscriptions ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sseOpenMaybe is sseOpen that reports a refused subscription as nil.
func sseOpenMaybe(t *testing.T, e *testEnv) (*http.Response, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/v1/subscribe", nil)
	req.Header.Set("Authorization", "Bearer "+readerToken)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, nil
	}
	return resp, func() { cancel(); resp.Body.Close() }
}

func TestSetAuthSwapsTokens(t *testing.T) {
	e := newEnv(t, newFakeCore(), rolePolicy{}, Options{})
	if r := e.do(t, http.MethodGet, "/v1/events", readerToken, nil); r.status != http.StatusOK {
		t.Fatalf("before swap = %d", r.status)
	}
	a, err := NewAuthenticator(AuthConfig{Tokens: []TokenEntry{{SHA256: HashToken("new-token"), Principal: "n", Roles: []string{"reader"}}}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetAuth(a)
	if r := e.do(t, http.MethodGet, "/v1/events", readerToken, nil); r.status != http.StatusUnauthorized {
		t.Errorf("old token after swap = %d, want 401", r.status)
	}
	if r := e.do(t, http.MethodGet, "/v1/events", "new-token", nil); r.status != http.StatusOK {
		t.Errorf("new token after swap = %d, want 200", r.status)
	}
}
