package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/sdk"
)

// Helpers of the compliance end-to-end tests (issue 6): one sidecar
// process with its own data folder, tokens per role and everything it
// printed, plus the canary scans that follow each test.

// Placeholders the shipped configuration reads erased and expired values as.
const (
	erasedPlaceholder  = "[deleted under GDPR]"
	expiredPlaceholder = "[expired under retention policy]"
)

// compRoles are the roles every compliance sidecar has a token for.
var compRoles = []string{"admin", "service", "support", "analytics", "dpo"}

// compSidecar is one piivault process of a compliance test, restartable on
// the same data folder.
type compSidecar struct {
	t      *testing.T
	name   string
	data   string
	env    []string
	out    *testenv.Buffer // everything every run of the process printed
	tokens map[string]string
	s      *sidecar // nil while stopped
	base   string
}

// newCompSidecar makes a data folder with a token per role of compRoles;
// it does not start the process.
func newCompSidecar(t *testing.T, name string, env ...string) *compSidecar {
	t.Helper()
	c := &compSidecar{
		t: t, name: name, data: t.TempDir(), out: &testenv.Buffer{}, tokens: map[string]string{},
		env: append([]string{"PIIVAULT_LOG_LEVEL=debug", "PIIVAULT_SHUTDOWN_TIMEOUT=20s"}, env...),
	}
	for _, role := range compRoles {
		c.tokens[role] = strings.TrimSpace(cli(t, nil, "token", "create", "--data", c.data, "--principal", role+"-1", "--roles", role))
	}
	return c
}

// start runs the process on a free port and waits until it is ready; it
// returns the offset in c.out where this run's output begins.
func (c *compSidecar) start() int {
	c.t.Helper()
	off := len(c.out.Bytes())
	c.s = start(c.t, c.out, c.env, "--listen", "127.0.0.1:0", "--data", c.data)
	c.base = "http://" + c.s.addr
	return off
}

func (c *compSidecar) stop() {
	c.t.Helper()
	c.s.stop()
	c.s = nil
}

// as is an SDK client with role's token and purpose.
func (c *compSidecar) as(role, purpose string) *sdk.Client {
	c.t.Helper()
	cl, err := sdk.New(c.base, sdk.WithToken(c.tokens[role]), sdk.WithPurpose(purpose))
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// raw sends one request with role's token and returns status and body.
// For what the SDK does not wrap: /metrics.
func (c *compSidecar) raw(ctx context.Context, method, path, role string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+c.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// advance runs the erasure workflow now through the SDK, as admin.
func (c *compSidecar) advance(ctx context.Context) sdk.AdvanceReport {
	c.t.Helper()
	rep, err := c.as("admin", "").AdvanceErasures(ctx)
	if err != nil {
		c.t.Fatalf("AdvanceErasures: %v", err)
	}
	return rep
}

// metrics returns the /metrics exposition.
func (c *compSidecar) metrics(ctx context.Context) []byte {
	c.t.Helper()
	code, b := c.raw(ctx, http.MethodGet, "/metrics", "")
	if code != http.StatusOK {
		c.t.Fatalf("GET /metrics = %d", code)
	}
	return b
}

// auditAll returns every record of the $audit stream, read through the
// audit API as dpo, page by page, as JSON.
func (c *compSidecar) auditAll(ctx context.Context) ([]sdk.AuditRecord, []byte) {
	c.t.Helper()
	dpo := c.as("dpo", "")
	var all []sdk.AuditRecord
	from := uint64(0)
	for range 1000 {
		p, err := dpo.Audit(ctx, sdk.AuditQuery{From: from, Limit: 500})
		if err != nil {
			c.t.Fatalf("Audit: %v", err)
		}
		all = append(all, p.Records...)
		if p.Next == 0 || p.Next <= from || len(p.Records) == 0 {
			break
		}
		from = p.Next
	}
	b, _ := json.Marshal(all)
	return all, b
}

// scanLive checks the canaries against what the running process serves
// that must never hold a value: /metrics and the whole audit stream. It
// returns the audit records.
func (c *compSidecar) scanLive(ctx context.Context, canaries []string) []sdk.AuditRecord {
	c.t.Helper()
	scan(c.t, c.name+" /metrics", "", c.metrics(ctx), canaries)
	recs, b := c.auditAll(ctx)
	if len(recs) == 0 {
		c.t.Errorf("%s: the audit stream is empty", c.name)
	}
	scan(c.t, c.name+" audit stream", "", b, canaries)
	return recs
}

// scanStopped checks the canaries against every byte of the data folder
// and of everything the process printed (every run). The process must be
// stopped, so that its stores are flushed and closed.
func (c *compSidecar) scanStopped(canaries []string) {
	c.t.Helper()
	if c.s != nil {
		c.t.Fatal("scanStopped on a running sidecar")
	}
	scan(c.t, c.name+" server output", c.data, c.out.Bytes(), canaries)
}

// logLine returns the first JSON log line from offset on whose msg is msg,
// decoded; nil if there is none.
func (c *compSidecar) logLine(offset int, msg string) map[string]any {
	c.t.Helper()
	for _, line := range strings.Split(string(c.out.Bytes()[offset:]), "\n") {
		if !strings.Contains(line, `"msg":"`+msg+`"`) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			return m
		}
	}
	return nil
}

// hashiCorpEnv returns the serve environment of a sidecar using the
// HashiCorp Vault dev server of VAULT_ADDR/VAULT_TOKEN with the given
// Transit key. Like TestEndToEndHashiCorp it fails in CI without a
// server and skips elsewhere.
func hashiCorpEnv(t *testing.T, transitKey string) []string {
	t.Helper()
	addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("VAULT_ADDR and VAULT_TOKEN must be set in CI (.ci/devvault.sh starts a dev server)")
		}
		t.Skip("VAULT_ADDR/VAULT_TOKEN not set: no HashiCorp Vault dev server")
	}
	return []string{
		"PIIVAULT_VAULT_BACKEND=hashicorp",
		"PIIVAULT_HASHICORP_ADDR=" + addr,
		"PIIVAULT_HASHICORP_AUTH=token",
		"PIIVAULT_HASHICORP_TOKEN=" + token,
		"PIIVAULT_HASHICORP_TRANSIT_KEY=" + transitKey,
	}
}

// customerSchema declares CustomerRegistered with three PII fields.
var customerSchema = sdk.Schema{
	Subject: "/customerId",
	Fields: []sdk.SchemaField{
		{Path: "/email", Class: "email"}, {Path: "/name", Class: "name"}, {Path: "/phone", Class: "phone"},
	},
}

// customer is a data subject with unique canary values.
type customer struct {
	id, email, name, phone string
}

func newCustomer(t *testing.T, label string) customer {
	t.Helper()
	r := randHex(t, 8)
	return customer{
		id:    "cust-" + label + "-" + r,
		email: "canary-" + label + "-" + r + "@example.com",
		name:  "Canary " + label + " " + r,
		phone: "+49-555-" + r,
	}
}

func (c customer) canaries() []string { return []string{c.email, c.name, c.phone} }

func (c customer) event(t *testing.T) sdk.EventInput {
	t.Helper()
	d, err := json.Marshal(map[string]string{"customerId": c.id, "email": c.email, "name": c.name, "phone": c.phone, "plan": "pro"})
	if err != nil {
		t.Fatal(err)
	}
	return sdk.EventInput{Type: "CustomerRegistered", Data: d}
}

// logCount reads an integer attribute of a decoded log line.
func logCount(m map[string]any, key string) (int, bool) {
	switch v := m[key].(type) {
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

// waitErasure polls the erasure until it reaches status or the deadline.
func waitErasure(t *testing.T, ctx context.Context, c *sdk.Client, id, status string, within time.Duration) sdk.Erasure {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		e, err := c.GetErasure(ctx, id)
		if err == nil && e.Status == status {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("erasure %s: status %q (%v), want %q within %s", id, e.Status, err, status, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vaultKV reads path (e.g. secret/metadata/...) from the HashiCorp Vault
// of VAULT_ADDR with VAULT_TOKEN and returns status and body.
func vaultKV(t *testing.T, ctx context.Context, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, os.Getenv("VAULT_ADDR")+"/v1/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", os.Getenv("VAULT_TOKEN"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("Vault GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// vaultRecords returns, for every version of subject's record in the
// HashiCorp backend's KV v2 layout (secret/piivault/s/<base64url subject>,
// vault/hashicorp/kv.go), the record body, or nil for a destroyed or
// deleted version, and the current version number.
func vaultRecords(t *testing.T, ctx context.Context, subject string) (map[int][]byte, int) {
	t.Helper()
	seg := base64.RawURLEncoding.EncodeToString([]byte(subject))
	code, b := vaultKV(t, ctx, "secret/metadata/piivault/s/"+seg)
	if code != http.StatusOK {
		t.Fatalf("Vault metadata of %s: %d %s", subject, code, b)
	}
	var meta struct {
		Data struct {
			Current  int                        `json:"current_version"`
			Versions map[string]json.RawMessage `json:"versions"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatalf("Vault metadata: %v", err)
	}
	out := map[int][]byte{}
	for v := range meta.Data.Versions {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("Vault metadata version %q", v)
		}
		code, b := vaultKV(t, ctx, "secret/data/piivault/s/"+seg+"?version="+v)
		var read struct {
			Data struct {
				Data map[string]json.RawMessage `json:"data"`
			} `json:"data"`
		}
		if code == http.StatusNotFound {
			out[n] = nil
			continue
		}
		if code != http.StatusOK || json.Unmarshal(b, &read) != nil {
			t.Fatalf("Vault read of %s version %s: %d %s", subject, v, code, b)
		}
		if read.Data.Data == nil {
			out[n] = nil
			continue
		}
		body, _ := json.Marshal(read.Data.Data)
		if r, ok := read.Data.Data["r"]; ok {
			var s string
			if json.Unmarshal(r, &s) == nil {
				body = []byte(s)
			}
		}
		out[n] = body
	}
	return out, meta.Data.Current
}
