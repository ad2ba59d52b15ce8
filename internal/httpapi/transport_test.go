package httpapi

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"
)

// TestMutualTLS runs a real TLS handshake: a client certificate with a
// SPIFFE URI SAN, signed by the CA the server trusts, authenticates without
// a bearer token.
func TestMutualTLS(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	spiffe, _ := url.Parse("spiffe://example.org/ns/shop/sa/reporting")
	cliKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cliTpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "reporting"}, URIs: []*url.URL{spiffe},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	cliDER, err := x509.CreateCertificate(rand.Reader, cliTpl, ca, &cliKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	auth, err := NewAuthenticator(AuthConfig{Certs: []CertEntry{{Match: spiffe.String(), Principal: "reporting", Roles: []string{"reader"}}}})
	if err != nil {
		t.Fatal(err)
	}
	fc := newFakeCore()
	fc.pol = rolePolicy{}
	srv := newServer(fc, Options{Auth: auth, Logger: slog.New(slog.DiscardHandler)})
	ts := httptest.NewUnstartedServer(srv)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ts.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	ts.StartTLS()
	defer ts.Close()

	get := func(c *http.Client) int {
		resp, err := c.Get(ts.URL + "/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if code := get(ts.Client()); code != http.StatusUnauthorized {
		t.Errorf("TLS without client certificate = %d, want 401", code)
	}
	withCert := ts.Client()
	tr := withCert.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}}
	withCert = &http.Client{Transport: tr}
	if code := get(withCert); code != http.StatusOK {
		t.Errorf("TLS with the SPIFFE client certificate = %d, want 200", code)
	}
	// A token that matches nothing fails even beside a good certificate.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := withCert.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad token with a good certificate = %d, want 401", resp.StatusCode)
	}
}

// TestReadHeaderTimeout checks that the http.Server of NewHTTPServer drops
// a client that never finishes its headers.
func TestReadHeaderTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(ln.Addr().String(), http.NotFoundHandler(), Options{ReadHeaderTimeout: 100 * time.Millisecond})
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v (want the server to close the connection)", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("server closed a stalled header after %v", took)
	}
}

// TestRealSubscribeDisconnectNoLeak drops live subscriptions on the real
// stack (waiting inside the event log's subscription) and checks that the
// goroutines they used are gone.
func TestRealSubscribeDisconnectNoLeak(t *testing.T) {
	e := newRealEnv(t, Options{HeartbeatInterval: 10 * time.Millisecond})
	if r := e.doJSON(t, http.MethodPost, "/v1/streams/s/events", roleTokens["service"], `{"events":[{"type":"X","data":{"a":1}}]}`, nil); r.status != http.StatusCreated {
		t.Fatalf("append = %d %s", r.status, r.body)
	}
	count := func() int {
		e.ts.Client().Transport.(*http.Transport).CloseIdleConnections()
		runtime.GC()
		return runtime.NumGoroutine()
	}
	r, stop := sseOpen(t, e.testEnv, roleTokens["service"], "")
	sseNextEvent(t, r)
	stop()
	time.Sleep(50 * time.Millisecond)
	before := count()
	for i := 0; i < 10; i++ {
		r, stop := sseOpen(t, e.testEnv, roleTokens["service"], "")
		sseNextEvent(t, r)
		sseNext(t, r) // a heartbeat: the handler is waiting for live events
		stop()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := count()
		if n <= before+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<17)
			t.Fatalf("%d goroutines after 10 dropped subscriptions, %d before\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSubscribeOutlivesReadTimeout checks that an SSE subscription served by
// NewHTTPServer keeps streaming past the server's ReadTimeout.
func TestSubscribeOutlivesReadTimeout(t *testing.T) {
	opts := Options{ReadTimeout: 200 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond}
	core := newFakeCore()
	e := newEnv(t, core, rolePolicy{}, opts)
	ts := httptest.NewUnstartedServer(e.srv)
	ts.Config = NewHTTPServer("", e.srv, e.srv.opts)
	ts.Start()
	defer ts.Close()
	e.ts = ts
	r, stop := sseOpen(t, e, readerToken, "")
	defer stop()
	// A heartbeat that arrives well after the ReadTimeout shows the stream
	// outlived it (sseNext fails the test if the stream ends).
	past := time.Now().Add(3 * opts.ReadTimeout)
	guard := time.AfterFunc(5*time.Second, stop) // a stalled stream fails, not hangs
	defer guard.Stop()
	for {
		if _, _, c := sseNext(t, r); c == "ping" && time.Now().After(past) {
			return
		}
	}
}

// TestAnswerFraming checks how answers go on the wire: a page of events
// with its length declared and not chunked, an append answer with a length
// too, both JSON.
func TestAnswerFraming(t *testing.T) {
	e := newRealEnv(t, Options{})
	if r := e.doJSON(t, http.MethodPut, "/v1/schemas/CustomerRegistered", roleTokens["admin"], customerSchema, nil); r.status != http.StatusOK {
		t.Fatalf("PUT schema = %d", r.status)
	}
	c := e.ts.Client()
	do := func(method, path, token string, body []byte) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Purpose", "support")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := range 10 {
		resp := do(http.MethodPost, "/v1/streams/c-1/events", roleTokens["service"], benchEvent(int64(i)))
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || resp.ContentLength != int64(len(b)) || len(resp.TransferEncoding) > 0 ||
			resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("append: %d, length %d of %d, transfer encoding %v, type %q", resp.StatusCode, resp.ContentLength, len(b), resp.TransferEncoding, resp.Header.Get("Content-Type"))
		}
	}
	resp := do(http.MethodGet, "/v1/streams/c-1/events?limit=100", roleTokens["support"], nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(b)) || len(b) < 2048 || len(resp.TransferEncoding) > 0 ||
		resp.Header.Get("Content-Type") != "application/json; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("read: %d, length %d of %d, transfer encoding %v, headers %v", resp.StatusCode, resp.ContentLength, len(b), resp.TransferEncoding, resp.Header)
	}
	var page struct{ Events []json.RawMessage }
	if err := json.Unmarshal(b, &page); err != nil || len(page.Events) != 10 {
		t.Fatalf("read: %d events, %v", len(page.Events), err)
	}
}
