package validate

import (
	"encoding/json"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// tcpProxy forwards a loopback port to Vault so a test can cut piivault off
// from Vault (Close) and reconnect it (Open on the same port) without
// touching the shared Vault dev server.
type tcpProxy struct {
	t        *testing.T
	addr     string // host:port it listens on
	upstream string
	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]bool
}

func newTCPProxy(t *testing.T, upstream string) *tcpProxy {
	p := &tcpProxy{t: t, upstream: upstream, conns: map[net.Conn]bool{}}
	p.addr = net.JoinHostPort("127.0.0.1", freePort(t))
	p.Open()
	t.Cleanup(p.Close)
	return p
}

func (p *tcpProxy) Open() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after Close
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy listen %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

// Close stops listening and cuts every open connection.
func (p *tcpProxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// TestVaultUnreachableFailsClosed checks the table "When Vault is
// unreachable" of docs/operations.md with the built binary on the compose
// set-up: cut off from Vault, an append with PII answers 503
// vault_unavailable and appends nothing, a read marks the field
// "unavailable" with a null value (after the cache TTL), the app's own
// tokenized read still works, /healthz and /readyz stay 200; reconnected,
// it recovers without a restart.
func TestVaultUnreachableFailsClosed(t *testing.T) {
	addr, root := vaultDev(t)
	bin, _ := dockerfileBinary(t)
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	v := vaultAPI{t: t, addr: addr, token: root}
	cs := setUpComposeVault(t, v, u.Scheme+"://"+proxy.addr)
	s := startSidecar(t, bin, t.TempDir(), cs.env, cs.args...)
	app, support := cs.compose.Services["app"].Environment["PIIVAULT_APP_TOKEN"], cs.compose.Services["app"].Environment["PIIVAULT_SUPPORT_TOKEN"]

	if code, out := s.call("PUT", "/v1/schemas/CustomerRegistered", app,
		map[string]any{"subject": "/customerId", "fields": []any{map[string]string{"path": "/email", "class": "email"}}}); code >= 300 {
		t.Fatalf("put schema: %d %s", code, out)
	}
	appendFor := func(subject string) (int, []byte) {
		return s.call("POST", "/v1/streams/customer-"+subject+"/events", app, map[string]any{"events": []any{map[string]any{
			"type": "CustomerRegistered", "data": map[string]string{"customerId": subject, "email": subject + "@example.com"}}}})
	}
	if code, out := appendFor("cust-a"); code != 201 {
		t.Fatalf("append with Vault up: %d %s", code, out)
	}

	proxy.Close()
	time.Sleep(2500 * time.Millisecond) // past the 2 s record/DEK cache

	code, out := appendFor("cust-b")
	if code != 503 || !strings.Contains(string(out), "vault_unavailable") {
		t.Errorf("append with Vault down = %d %s, want 503 vault_unavailable", code, out)
	}
	if code, out := s.call("GET", "/v1/streams/customer-cust-b/events", app, nil); code == 200 && strings.Contains(string(out), "cust-b@example.com") {
		t.Errorf("the refused append left an event: %s", out)
	}
	code, out = s.call("GET", "/v1/streams/customer-cust-a/events", support, nil)
	if code != 200 || !fieldState(t, out, "unavailable") || strings.Contains(string(out), "cust-a@example.com") {
		t.Errorf("support read with Vault down = %d %s, want 200 with the field unavailable", code, out)
	}
	code, out = s.call("GET", "/v1/streams/customer-cust-a/events", app, nil)
	if code != 200 || !fieldState(t, out, "tokenized") {
		t.Errorf("the app's tokenized read with Vault down = %d %s, want 200 with a token", code, out)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := s.call("GET", p, "", nil); code != 200 {
			t.Errorf("GET %s with Vault down = %d, want 200 (readiness is not tied to Vault)", p, code)
		}
	}

	proxy.Open()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out = appendFor("cust-c")
		if code == 201 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != 201 {
		t.Fatalf("append after Vault is back = %d %s, want 201 without a restart", code, out)
	}
	code, out = s.call("GET", "/v1/streams/customer-cust-a/events", support, nil)
	if code != 200 || !strings.Contains(string(out), "cust-a@example.com") {
		t.Errorf("support read after Vault is back = %d %s", code, out)
	}
	if strings.Contains(s.logs.String(), "@example.com") {
		t.Errorf("the sidecar's log contains a personal value")
	}
}

// fieldState reports whether the first event of a read answer has a PII
// field in state want.
func fieldState(t *testing.T, body []byte, want string) bool {
	t.Helper()
	var r struct {
		Events []struct {
			PII []struct {
				State string `json:"state"`
			} `json:"pii"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r.Events) == 0 {
		return false
	}
	for _, f := range r.Events[0].PII {
		if f.State == want {
			return true
		}
	}
	return false
}
