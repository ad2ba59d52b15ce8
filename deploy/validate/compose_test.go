package validate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const composeDir = "../compose"

func loadCompose(t *testing.T) (*Compose, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(composeDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeCompose(data)
	if err != nil {
		t.Fatal(err)
	}
	return c, data
}

// tokenEntry is one line of a PIIVAULT_TOKENS_FILE (internal/config).
type tokenEntry struct {
	Hash       string            `json:"hash"`
	Principal  string            `json:"principal"`
	Roles      []string          `json:"roles"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

func TestComposeFile(t *testing.T) {
	c, _ := loadCompose(t)
	for _, f := range CheckComposeSidecar(c, "piivault") {
		t.Errorf("%s", f)
	}
	pv := c.Services["piivault"]
	// The build points at the real Dockerfile, from the repository root.
	if pv.Build == nil {
		t.Fatal("piivault has no build section")
	}
	if _, err := os.Stat(filepath.Join(composeDir, pv.Build.Context, pv.Build.Dockerfile)); err != nil {
		t.Errorf("build: %v", err)
	}
	if _, err := os.Stat(filepath.Join(composeDir, pv.Build.Context, "go.mod")); err != nil {
		t.Errorf("build context is not the repository root: %v", err)
	}
	// Sidecar pattern: piivault joins the app's network namespace.
	if app, ok := strings.CutPrefix(pv.NetworkMode, "service:"); !ok || c.Services[app].Image == "" {
		t.Errorf("piivault network_mode = %q, want service:<app>", pv.NetworkMode)
	}
	// Every bind mount exists.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(composeDir, src)); err != nil {
					t.Errorf("service %s mounts missing %s", name, src)
				}
			}
		}
	}
	// vault-init and piivault agree on the AppRole credentials.
	init := c.Services["vault-init"]
	if init.Environment["PIIVAULT_APPROLE_ROLE_ID"] != pv.Environment["PIIVAULT_HASHICORP_ROLE_ID"] ||
		init.Environment["PIIVAULT_APPROLE_SECRET_ID"] != pv.Environment["PIIVAULT_HASHICORP_SECRET_ID"] {
		t.Errorf("vault-init's AppRole IDs differ from piivault's")
	}
	if d := init.DependsOn["vault"]; d.Condition != "service_healthy" {
		t.Errorf("vault-init depends_on vault = %q, want service_healthy", d.Condition)
	}
	if pv.Environment["PIIVAULT_HASHICORP_ADDR"] != "http://vault:8200" {
		t.Errorf("PIIVAULT_HASHICORP_ADDR = %q", pv.Environment["PIIVAULT_HASHICORP_ADDR"])
	}
	// The clear tokens the app uses hash to entries of tokens.yaml.
	raw, err := os.ReadFile(filepath.Join(composeDir, "tokens.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []tokenEntry
	if err := yaml.UnmarshalStrict(raw, &entries); err != nil {
		t.Fatalf("tokens.yaml: %v", err)
	}
	hashes := map[string]tokenEntry{}
	for _, e := range entries {
		if len(e.Hash) != 64 || strings.ToLower(e.Hash) != e.Hash {
			t.Errorf("tokens.yaml: %s: hash is not 64 lowercase hex digits", e.Principal)
		}
		hashes[e.Hash] = e
	}
	for k, v := range c.Services["app"].Environment {
		if !strings.HasSuffix(k, "_TOKEN") {
			continue
		}
		sum := sha256.Sum256([]byte(v))
		if _, ok := hashes[hex.EncodeToString(sum[:])]; !ok {
			t.Errorf("app's %s has no entry in tokens.yaml", k)
		}
	}
}

// TestShellScriptsParse runs `sh -n` on the scripts deploy/ ships.
func TestShellScriptsParse(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this machine")
	}
	scripts, _ := filepath.Glob("../*/*/*.sh")
	if len(scripts) < 3 {
		t.Fatalf("found scripts %v, want vault-init.sh, demo.sh and setup.sh", scripts)
	}
	for _, s := range scripts {
		if out, err := exec.Command(sh, "-n", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
	}
}

// TestVaultPoliciesInStep: compose and Kubernetes ship the same Vault
// policies for piivault.
func TestVaultPoliciesInStep(t *testing.T) {
	for _, f := range []string{"piivault.hcl", "piivault-operator.hcl"} {
		a, err1 := os.ReadFile(filepath.Join(composeDir, "vault", f))
		b, err2 := os.ReadFile(filepath.Join(kubernetesDir, "vault", f))
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("deploy/compose/vault/%s and deploy/kubernetes/vault/%s differ", f, f)
		}
	}
}

func TestComposeRejects(t *testing.T) {
	_, good := loadCompose(t)
	tests := []struct {
		name, old, new string
		rule           string // "" means the decode itself must fail
	}{
		{"typo in key", "    read_only: true\n    user: \"65532:65532\"", "    read-only: true\n    user: \"65532:65532\"", ""},
		{"wrong type", "      retries: 5", "      retries: five", ""},
		{"condition typo", "condition: service_completed_successfully", "condition: service_completed", ""},
		{"writable root", "    read_only: true\n    user: \"65532:65532\"", "    read_only: false\n    user: \"65532:65532\"", RuleReadOnlyRootFS},
		{"root user", "user: \"65532:65532\"", "user: \"0:0\"", RuleRunAsNonRoot},
		{"latest image", "hashicorp/vault:1.21.2\n    command", "hashicorp/vault:latest\n    command", RuleImageTag},
		{"unknown env", "PIIVAULT_HASHICORP_KV_MOUNT", "PIIVAULT_HASHICORP_KV_MOUNTS", "config-names"},
		{"shell healthcheck", `test: ["CMD", "/usr/local/bin/piivault", "healthcheck"]`, `test: ["CMD-SHELL", "curl -f localhost:8200/healthz"]`, RuleHealthcheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(tt.old)) {
				t.Fatalf("compose.yaml no longer contains %q: update the test", tt.old)
			}
			bad := bytes.Replace(good, []byte(tt.old), []byte(tt.new), 1)
			c, err := DecodeCompose(bad)
			if tt.rule == "" {
				if !errors.Is(err, ErrStrictDecode) {
					t.Fatalf("DecodeCompose = %v, want %v", err, ErrStrictDecode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := CheckComposeSidecar(c, "piivault")
			if !slices.ContainsFunc(got, func(f Finding) bool { return f.Rule == tt.rule }) {
				t.Fatalf("CheckComposeSidecar = %v, want a %s finding", got, tt.rule)
			}
		})
	}
}

// TestKubernetesClientTokenMatchesHash: the example client token Secret
// hashes to an entry of the example tokens Secret.
func TestKubernetesClientTokenMatchesHash(t *testing.T) {
	var tokens []tokenEntry
	var client string
	for _, o := range loadManifests(t, kubernetesDir) {
		s, ok := o.Value.(interface{ GetName() string })
		if !ok {
			continue
		}
		switch s.GetName() {
		case "piivault-tokens":
			raw := secretValue(t, o, "tokens.yaml")
			if err := yaml.UnmarshalStrict([]byte(raw), &tokens); err != nil {
				t.Fatalf("piivault-tokens tokens.yaml: %v", err)
			}
		case "orders-piivault-client":
			client = secretValue(t, o, "token")
		}
	}
	sum := sha256.Sum256([]byte(client))
	if !slices.ContainsFunc(tokens, func(e tokenEntry) bool { return e.Hash == hex.EncodeToString(sum[:]) }) {
		t.Errorf("the client token's SHA-256 is not in piivault-tokens")
	}
}

// TestVaultPolicyMatchesREADME: the least-privilege policy README.md gives
// for the HashiCorp backend and the one deploy/ ships grant the same paths
// with the same capabilities, so neither can lack a path the backend needs
// (the blind-index delete was once missing from deploy/).
func TestVaultPolicyMatchesREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```hcl\n")
	if !ok {
		t.Fatal("README.md has no ```hcl block with the Vault policy")
	}
	block, _, _ = strings.Cut(block, "```")
	shipped, err := os.ReadFile(filepath.Join(composeDir, "vault", "piivault.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	want, got := hclGrants(t, block), hclGrants(t, string(shipped))
	if len(want) == 0 {
		t.Fatal("no path found in README.md's policy")
	}
	for path, caps := range want {
		if got[path] != caps {
			t.Errorf("path %q: deploy grants %q, README.md grants %q", path, got[path], caps)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("path %q is granted by deploy but not in README.md's policy", path)
		}
	}
}

var hclPathRE = regexp.MustCompile(`path\s+"([^"]+)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]`)

// hclGrants maps each policy path to its capabilities, normalised.
func hclGrants(t *testing.T, hcl string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range hclPathRE.FindAllStringSubmatch(hcl, -1) {
		var caps []string
		for c := range strings.SplitSeq(m[2], ",") {
			caps = append(caps, strings.Trim(strings.TrimSpace(c), `"`))
		}
		slices.Sort(caps)
		out[m[1]] = strings.Join(caps, ",")
	}
	return out
}
