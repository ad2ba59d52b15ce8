// Package hashicorptest gives tests a real HashiCorp Vault: the shared dev
// server that .ci/devvault.sh starts (VAULT_ADDR, VAULT_TOKEN), or a private
// one started from the devvault binary (PIIVAULT_DEVVAULT_BIN), for tests
// that stop Vault on purpose.
//
// # Absent Vault
//
// When no Vault is configured, a test fails if CI=true (CI must never pass
// by skipping) and skips otherwise, with a message saying how to start one:
//
//	source .ci/devvault.sh && devvault_start
package hashicorptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// HowToStart tells a developer how to get a Vault for these tests.
const HowToStart = "start a dev Vault from the repository root with `source .ci/devvault.sh && devvault_start` " +
	"(builds tools/devvault once, ~15 min cold, then cached), then run the tests from that shell"

// Missing fails the test in CI and skips it elsewhere.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set, and CI=true: HashiCorp Vault integration tests must not skip in CI; %s", what, HowToStart)
	}
	t.Skipf("%s is not set: skipping HashiCorp Vault integration test; %s", what, HowToStart)
}

// Client returns a client for the shared Vault named by VAULT_ADDR and
// VAULT_TOKEN, with retries off so a stopped Vault fails fast.
func Client(t testing.TB) *api.Client {
	t.Helper()
	addr, tok := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || tok == "" {
		Missing(t, "VAULT_ADDR or VAULT_TOKEN")
	}
	return NewClient(t, addr, tok)
}

// NewClient returns a client for addr with token tok and no retries.
func NewClient(t testing.TB, addr, tok string) *api.Client {
	t.Helper()
	c, _ := CountingClient(t, addr, tok)
	return c
}

// CountingClient is NewClient that also counts the HTTP requests sent.
func CountingClient(t testing.TB, addr, tok string) (*api.Client, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	cfg := api.DefaultConfig()
	if tr, ok := cfg.HttpClient.Transport.(*http.Transport); ok {
		// The default keeps GOMAXPROCS+1 idle connections; the stores and
		// benchmarks send many requests at once.
		tr.MaxIdleConnsPerHost = 64
	}
	cfg.HttpClient.Transport = counting{rt: cfg.HttpClient.Transport, n: &n}
	cfg.Address = addr
	cfg.MaxRetries = 0
	cfg.Timeout = 10 * time.Second
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("api.NewClient(%s): %v", addr, err)
	}
	c.SetToken(tok)
	return c, &n
}

type counting struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// Random returns a short random hex string for prefixes and names.
func Random() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Server is a private dev Vault started from PIIVAULT_DEVVAULT_BIN, with its
// storage in a folder so that it can be stopped and started again with its
// data (tokens, mounts, Transit keys, secrets).
type Server struct {
	Addr   string // http://127.0.0.1:port
	Token  string // root token
	bin    string
	dir    string
	host   string // 127.0.0.1:port, kept across restarts
	cmd    *exec.Cmd
	exited chan error
}

// Start starts a private dev Vault and stops it at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("PIIVAULT_DEVVAULT_BIN")
	if bin == "" {
		Missing(t, "PIIVAULT_DEVVAULT_BIN")
	}
	s := &Server{bin: bin, dir: t.TempDir(), Token: "root-" + Random(), host: "127.0.0.1:0"}
	s.start(t)
	t.Cleanup(s.Stop)
	return s
}

// Client returns a client for this server with the root token and no
// retries.
func (s *Server) Client(t testing.TB) *api.Client {
	t.Helper()
	return NewClient(t, s.Addr, s.Token)
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	addrFile := filepath.Join(s.dir, "addr")
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		_ = os.Remove(addrFile)
		if err := s.launch(addrFile); err != nil {
			lastErr = err
			// After a stop the port can take a moment to be free again.
			time.Sleep(250 * time.Millisecond)
			continue
		}
		return
	}
	t.Fatalf("devvault did not start: %v", lastErr)
}

// launch starts the binary once and waits until /v1/sys/health answers.
func (s *Server) launch(addrFile string) error {
	cmd := exec.Command(s.bin, "-addr", s.host, "-root-token", s.Token, "-addr-file", addrFile, "-data", filepath.Join(s.dir, "data"))
	logf, err := os.OpenFile(filepath.Join(s.dir, "devvault.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("devvault exited: %v; log:\n%s", err, s.log())
		default:
		}
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			addr := strings.TrimSpace(string(b))
			if healthy(addr) {
				s.Addr, s.host, s.cmd, s.exited = addr, strings.TrimPrefix(addr, "http://"), cmd, exited
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("devvault not healthy after 30s; log:\n%s", s.log())
}

func healthy(addr string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(addr + "/v1/sys/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "devvault.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Kill stops the server with SIGKILL, as a crash would, and waits until
// its port refuses connections. The data folder is kept.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", s.host, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart starts the server again on the same address with the same data
// (it unseals itself).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.cmd != nil {
		s.Kill()
	}
	s.start(t)
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s).
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// EnableAppRole mounts AppRole auth (if needed), writes a policy that
// allows what piivault needs under the given KV prefix and Transit key,
// and creates a role with it. It returns the role ID and a secret ID.
func EnableAppRole(t testing.TB, c *api.Client, role, kvMount, prefix, transitMount, transitKey string, tokenTTL, maxTTL time.Duration) (roleID, secretID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	auths, err := c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		t.Fatalf("list auth: %v", err)
	}
	if _, ok := auths["approle/"]; !ok {
		if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, "approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
			t.Fatalf("enable approle: %v", err)
		}
	}
	policy := fmt.Sprintf(`
path "%[1]s/data/%[2]s/*"     { capabilities = ["create", "read", "update"] }
path "%[1]s/metadata/%[2]s/*" { capabilities = ["read", "list"] }
path "%[1]s/metadata/%[2]s/b/*" { capabilities = ["read", "list", "delete"] }
path "%[1]s/metadata/%[2]s"   { capabilities = ["list"] }
path "%[1]s/destroy/%[2]s/*"  { capabilities = ["update"] }
path "%[3]s/encrypt/%[4]s"    { capabilities = ["update"] }
path "%[3]s/decrypt/%[4]s"    { capabilities = ["update"] }
path "%[3]s/rewrap/%[4]s"     { capabilities = ["update"] }
`, kvMount, prefix, transitMount, transitKey)
	if err := c.Sys().PutPolicyWithContext(ctx, "piivault-"+role, policy); err != nil {
		t.Fatalf("put policy: %v", err)
	}
	if _, err := c.Logical().WriteWithContext(ctx, "auth/approle/role/"+role, map[string]interface{}{
		"token_policies": []string{"piivault-" + role},
		"token_ttl":      int(tokenTTL.Seconds()),
		"token_max_ttl":  int(maxTTL.Seconds()),
	}); err != nil {
		t.Fatalf("write approle role: %v", err)
	}
	r, err := c.Logical().ReadWithContext(ctx, "auth/approle/role/"+role+"/role-id")
	if err != nil || r == nil {
		t.Fatalf("read role id: %v", err)
	}
	roleID, _ = r.Data["role_id"].(string)
	sec, err := c.Logical().WriteWithContext(ctx, "auth/approle/role/"+role+"/secret-id", nil)
	if err != nil || sec == nil {
		t.Fatalf("create secret id: %v", err)
	}
	secretID, _ = sec.Data["secret_id"].(string)
	if roleID == "" || secretID == "" {
		t.Fatal("approle: empty role or secret ID")
	}
	return roleID, secretID
}
