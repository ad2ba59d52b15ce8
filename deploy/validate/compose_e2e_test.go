package validate

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vaultDev returns the address and root token of the Vault dev server that
// .ci/run starts (VAULT_ADDR, VAULT_TOKEN). Outside CI the test skips
// without one; in CI its absence is a failure.
func vaultDev(t *testing.T) (addr, token string) {
	t.Helper()
	addr, token = os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI: VAULT_ADDR/VAULT_TOKEN not set; .ci/run should have started the Vault dev server")
		}
		t.Skip("SKIP: no VAULT_ADDR/VAULT_TOKEN; start one with: source .ci/devvault.sh && devvault_start")
	}
	return addr, token
}

// vaultAPI calls Vault's HTTP API as the root token.
type vaultAPI struct {
	t           *testing.T
	addr, token string
}

func (v vaultAPI) do(method, path string, body any) (int, []byte) {
	v.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimRight(v.addr, "/")+"/v1/"+path, r)
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", v.token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		v.t.Fatalf("vault %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (v vaultAPI) must(method, path string, body any) []byte {
	v.t.Helper()
	code, out := v.do(method, path, body)
	if code >= 300 {
		v.t.Fatalf("vault %s %s: %d %s", method, path, code, out)
	}
	return out
}

// composeSetup is piivault's command line and environment from
// compose.yaml, pointed at a Vault set up as vault/vault-init.sh does.
type composeSetup struct {
	compose *Compose
	env     []string
	args    []string
	kv, tr  string
}

// setUpComposeVault configures Vault as vault/vault-init.sh does (Transit
// key, KV v2, the least-privilege vault/piivault.hcl, an AppRole), under
// mount names unique to this test (the dev server is shared), and returns
// the piivault service's command and environment from compose.yaml with the
// paths mapped to this machine and PIIVAULT_HASHICORP_ADDR set to
// piivaultVaultAddr.
func setUpComposeVault(t *testing.T, v vaultAPI, piivaultVaultAddr string) composeSetup {
	t.Helper()
	c, _ := loadCompose(t)
	pv := c.Services["piivault"]
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	kv, tr := "kv-deploy-"+suffix, "transit-deploy-"+suffix
	key := pv.Environment["PIIVAULT_HASHICORP_TRANSIT_KEY"]
	v.must("POST", "sys/mounts/"+kv, map[string]any{"type": "kv", "options": map[string]string{"version": "2"}})
	v.must("POST", "sys/mounts/"+tr, map[string]any{"type": "transit"})
	t.Cleanup(func() { v.do("DELETE", "sys/mounts/"+kv, nil); v.do("DELETE", "sys/mounts/"+tr, nil) })
	v.must("POST", tr+"/keys/"+key, map[string]any{"type": "aes256-gcm96"})

	hcl, err := os.ReadFile(filepath.Join(composeDir, "vault", "piivault.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	pol := strings.NewReplacer(`"secret/`, `"`+kv+`/`, `"transit/`, `"`+tr+`/`).Replace(string(hcl))
	if strings.Contains(pol, `"secret/`) || !strings.Contains(pol, kv+"/destroy/") {
		t.Fatalf("policy rewrite failed:\n%s", pol)
	}
	polName := "piivault-deploy-" + suffix
	v.must("PUT", "sys/policies/acl/"+polName, map[string]string{"policy": pol})
	t.Cleanup(func() { v.do("DELETE", "sys/policies/acl/"+polName, nil) })

	// piivault logs in at auth/approle (its default mount).
	if code, out := v.do("POST", "sys/auth/approle", map[string]string{"type": "approle"}); code >= 300 && !strings.Contains(string(out), "already in use") {
		t.Fatalf("enable approle: %d %s", code, out)
	}
	role := "piivault-deploy-" + suffix
	roleID, secretID := pv.Environment["PIIVAULT_HASHICORP_ROLE_ID"]+"-"+suffix, pv.Environment["PIIVAULT_HASHICORP_SECRET_ID"]+"-"+suffix
	v.must("POST", "auth/approle/role/"+role, map[string]any{"token_policies": []string{polName}, "token_ttl": "1h", "token_max_ttl": "24h"})
	t.Cleanup(func() { v.do("DELETE", "auth/approle/role/"+role, nil) })
	v.must("POST", "auth/approle/role/"+role+"/role-id", map[string]string{"role_id": roleID})
	v.must("POST", "auth/approle/role/"+role+"/custom-secret-id", map[string]string{"secret_id": secretID})

	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	env := map[string]string{}
	for k, val := range pv.Environment {
		env[k] = val
	}
	delete(env, "PIIVAULT_LISTEN") // startSidecar passes --listen
	env["PIIVAULT_DATA"] = filepath.Join(t.TempDir(), "data")
	env["PIIVAULT_TOKENS_FILE"] = abs(filepath.Join(composeDir, "tokens.yaml"))
	env["PIIVAULT_HASHICORP_ADDR"] = piivaultVaultAddr
	env["PIIVAULT_HASHICORP_ROLE_ID"], env["PIIVAULT_HASHICORP_SECRET_ID"] = roleID, secretID
	env["PIIVAULT_HASHICORP_KV_MOUNT"], env["PIIVAULT_HASHICORP_TRANSIT_MOUNT"] = kv, tr
	cs := composeSetup{compose: c, kv: kv, tr: tr}
	for k, val := range env {
		cs.env = append(cs.env, k+"="+val)
	}
	for _, a := range pv.Command {
		if a == "serve" {
			continue // startSidecar adds it
		}
		cs.args = append(cs.args, strings.ReplaceAll(a, "/etc/piivault/policy", abs(filepath.Join(composeDir, "policy"))))
	}
	return cs
}

// TestComposeSetupAgainstVault replays deploy/compose against a real Vault
// dev server and the binary the Dockerfile builds, without Docker: it sets
// Vault up as vault/vault-init.sh does (Transit key, KV v2, the
// least-privilege policy vault/piivault.hcl, an AppRole), starts piivault
// with the piivault service's command and environment from compose.yaml,
// the compose tokens file and policy folder, and runs app/demo.sh, the
// example service, against it. The demo must see the e-mail revealed for
// support and the placeholder after the erasure, and Vault must hold only
// the erasure marker for the subject.
//
// The mounts get unique names (the dev server is shared with other tests),
// and the policy's mount names are rewritten to match.
func TestComposeSetupAgainstVault(t *testing.T) {
	addr, root := vaultDev(t)
	for _, tool := range []string{"sh", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIP: no %s on this machine (demo.sh needs it)", tool)
		}
	}
	bin, _ := dockerfileBinary(t)
	v := vaultAPI{t: t, addr: addr, token: root}
	cs := setUpComposeVault(t, v, addr)
	s := startSidecar(t, bin, t.TempDir(), cs.env, cs.args...)
	url, logs := s.url, s.logs
	ctx, cancel := context.WithTimeout(context.Background(), testBudget(t, 2*time.Minute))
	defer cancel()
	app := cs.compose.Services["app"]
	kv := cs.kv

	// The example service's script, with the app's environment from compose.yaml.
	demo := exec.CommandContext(ctx, "sh", filepath.Join(composeDir, "app", "demo.sh"))
	var denv []string
	for k, val := range app.Environment {
		denv = append(denv, k+"="+val)
	}
	denv = append(denv, "PIIVAULT_URL="+url, "DEMO_EXIT=1")
	demo.Env = cleanEnv(denv...)
	out, err := demo.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s\nsidecar:\n%s", err, out, tail(logs.String(), 4000))
	}
	t.Logf("demo.sh:\n%s", out)
	step := func(n string) string {
		_, after, _ := strings.Cut(string(out), "app: "+n+".")
		before, _, _ := strings.Cut(after, "\napp: ")
		return before
	}
	if s := step("3"); strings.Contains(s, "ada@example.com") || !strings.Contains(s, `"tokenized"`) {
		t.Errorf("step 3 (the app's own read) should show tokens only:\n%s", s)
	}
	if s := step("4"); !strings.Contains(s, "ada@example.com") || !strings.Contains(s, `"revealed"`) {
		t.Errorf("step 4 (support, purpose support) should reveal the e-mail:\n%s", s)
	}
	if s := step("6"); strings.Contains(s, "ada@example.com") || !strings.Contains(s, "[deleted under GDPR]") {
		t.Errorf("step 6 (after the erasure) should show the placeholder:\n%s", s)
	}

	// Vault holds the erasure marker and nothing else for the subject.
	subj := base64.RawURLEncoding.EncodeToString([]byte("cust-42"))
	rec := kvRecordBody(t, v.must("GET", kv+"/data/piivault/s/"+subj, nil))
	if !bytes.Contains(rec, []byte(`"erased"`)) || bytes.Contains(rec, []byte(`"dek":"`)) || bytes.Contains(rec, []byte(`"vals"`)) {
		t.Errorf("Vault record of the erased subject: %s", rec)
	}
	if strings.Contains(logs.String(), "ada@example.com") {
		t.Errorf("the sidecar's log contains the demo's e-mail address")
	}
}

// kvRecordBody returns the piivault record inside a KV v2 read answer. The
// HashiCorp backend stores the record as one JSON string under "r" (so a
// large subject is one value, not thousands of KV keys); older layouts kept
// the fields directly under data.data.
func kvRecordBody(t *testing.T, answer []byte) []byte {
	t.Helper()
	var kvRead struct {
		Data struct {
			Data map[string]json.RawMessage `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(answer, &kvRead); err != nil {
		t.Fatalf("decode KV answer: %v", err)
	}
	if r, ok := kvRead.Data.Data["r"]; ok {
		var body string
		if err := json.Unmarshal(r, &body); err == nil {
			return []byte(body)
		}
	}
	out, err := json.Marshal(kvRead.Data.Data)
	if err != nil {
		t.Fatalf("encode KV record: %v", err)
	}
	return out
}
