package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// deployPolicies returns every operator Rego file deploy/ ships, by a
// unique file name: deploy/compose/policy/*.rego, the Kubernetes policy
// ConfigMap, and the policy files of the chart's example values.
func deployPolicies(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, _ := filepath.Glob("../compose/policy/*.rego")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out["compose-"+filepath.Base(f)] = string(b)
	}
	for _, o := range loadManifests(t, kubernetesDir) {
		if cm, ok := o.Value.(*corev1.ConfigMap); ok {
			for k, v := range cm.Data {
				if strings.HasSuffix(k, ".rego") {
					out["k8s-"+cm.Name+"-"+k] = v
				}
			}
		}
	}
	vfiles, _ := filepath.Glob(filepath.Join(chartDir, "ci", "*.yaml"))
	for _, f := range vfiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Policy struct {
				Files map[string]string `json:"files"`
			} `json:"policy"`
		}
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k, body := range v.Policy.Files {
			if strings.HasSuffix(k, ".rego") {
				out["chart-"+strings.TrimSuffix(filepath.Base(f), ".yaml")+"-"+k] = body
			}
		}
	}
	return out
}

// TestDeployPoliciesAreOneRule: deploy/ ships the same example policy in
// three places; they must not drift apart.
func TestDeployPoliciesAreOneRule(t *testing.T) {
	ps := deployPolicies(t)
	var first, firstName string
	for name, body := range ps {
		if !strings.Contains(body, "package piivault.authz") {
			t.Errorf("%s: not in package piivault.authz, so it would not extend the shipped default policy", name)
		}
		// Compare from the package clause on: the header comments differ.
		_, rules, _ := strings.Cut(body, "package piivault.authz")
		if first == "" {
			first, firstName = rules, name
			continue
		}
		if strings.TrimSpace(rules) != strings.TrimSpace(first) {
			t.Errorf("%s differs from %s", name, firstName)
		}
	}
}
