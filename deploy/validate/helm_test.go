package validate

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

const chartDir = "../helm/piivault"

func readValues(t *testing.T, name string) map[string]any {
	t.Helper()
	if name == "" {
		return map[string]any{}
	}
	v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, "ci", name))
	if err != nil {
		t.Fatalf("ReadValuesFile(%s): %v", name, err)
	}
	return v.AsMap()
}

func render(t *testing.T, values map[string]any) []Object {
	t.Helper()
	out, err := RenderChart(chartDir, values, DefaultRenderOptions())
	if err != nil {
		t.Fatalf("RenderChart: %v", err)
	}
	objs, err := DecodeRendered(out)
	if err != nil {
		t.Fatalf("DecodeRendered: %v", err)
	}
	return objs
}

func kindsOf(objs []Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.GVK.Kind)
	}
	return ks
}

// TestChartRenders renders the chart with its defaults and with each example
// values file under ci/, decodes the output strictly into typed objects and
// applies every rule.
func TestChartRenders(t *testing.T) {
	tests := []struct {
		values    string
		want      SidecarWant
		wantKinds []string
		noKinds   []string
		workload  string
		replicas  int32
	}{
		{"", SidecarWant{Backend: "embedded"},
			[]string{"Deployment", "PersistentVolumeClaim", "ServiceAccount", "Service", "NetworkPolicy", "PodDisruptionBudget"},
			[]string{"ServiceMonitor", "StatefulSet", "Secret", "ConfigMap"}, "Deployment", 1},
		{"hashicorp-values.yaml", SidecarWant{Backend: "hashicorp", Auth: "kubernetes"},
			[]string{"Deployment", "PersistentVolumeClaim", "ServiceAccount", "Service", "NetworkPolicy", "PodDisruptionBudget", "ServiceMonitor", "Secret", "ConfigMap"},
			[]string{"StatefulSet"}, "Deployment", 1},
		{"statefulset-values.yaml", SidecarWant{Backend: "hashicorp", Auth: "approle"},
			[]string{"StatefulSet", "ServiceAccount", "Service", "NetworkPolicy", "PodDisruptionBudget"},
			[]string{"Deployment", "PersistentVolumeClaim", "Secret"}, "StatefulSet", 3},
		{"embedded-kek-values.yaml", SidecarWant{Backend: "embedded"},
			[]string{"Deployment", "ServiceAccount"},
			[]string{"PersistentVolumeClaim", "ConfigMap"}, "Deployment", 1},
	}
	for _, tt := range tests {
		name := tt.values
		if name == "" {
			name = "defaults"
		}
		t.Run(name, func(t *testing.T) {
			objs := render(t, readValues(t, tt.values))
			kinds := kindsOf(objs)
			for _, k := range tt.wantKinds {
				if !slices.Contains(kinds, k) {
					t.Errorf("rendered kinds %v lack %s", kinds, k)
				}
			}
			for _, k := range tt.noKinds {
				if slices.Contains(kinds, k) {
					t.Errorf("rendered kinds %v should not have %s", kinds, k)
				}
			}
			for _, f := range CheckObjects(objs) {
				t.Errorf("%s", f)
			}
			for _, f := range CheckSidecar(objs, tt.want) {
				t.Errorf("%s", f)
			}
			for _, f := range CheckSelectors(objs) {
				t.Errorf("%s", f)
			}
			checkVaultEgress(t, objs, tt.want.Backend == "hashicorp")
			for _, o := range objs {
				var replicas *int32
				switch w := o.Value.(type) {
				case *appsv1.Deployment:
					replicas = w.Spec.Replicas
					if w.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
						t.Errorf("Deployment strategy = %q, want Recreate (one writer per log)", w.Spec.Strategy.Type)
					}
				case *appsv1.StatefulSet:
					replicas = w.Spec.Replicas
				default:
					continue
				}
				if o.GVK.Kind != tt.workload || replicas == nil || *replicas != tt.replicas {
					t.Errorf("workload %s replicas %v, want %s with %d", o.GVK.Kind, replicas, tt.workload, tt.replicas)
				}
			}
		})
	}
}

// TestChartInjectsClientEnv: app containers get PIIVAULT_URL and the
// client token by secretKeyRef, and keep their own env and securityContext.
func TestChartInjectsClientEnv(t *testing.T) {
	objs := render(t, readValues(t, "hashicorp-values.yaml"))
	for _, o := range objs {
		d, ok := o.Value.(*appsv1.Deployment)
		if !ok {
			continue
		}
		c := d.Spec.Template.Spec.Containers[0]
		env := map[string]bool{}
		for _, e := range c.Env {
			env[e.Name] = true
			if e.Name == "PIIVAULT_TOKEN" && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "orders-piivault-client") {
				t.Errorf("PIIVAULT_TOKEN = %+v, want secretKeyRef orders-piivault-client", e)
			}
		}
		for _, want := range []string{"DATABASE_PASSWORD", "PIIVAULT_URL", "PIIVAULT_TOKEN"} {
			if !env[want] {
				t.Errorf("app container env lacks %s", want)
			}
		}
		if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil {
			t.Errorf("app container did not get the default securityContext")
		}
		return
	}
	t.Fatal("no Deployment rendered")
}

// TestChartRefuses: values that cannot work fail at render time with a
// message that says why: first through values.schema.json, and (schema
// skipped, as with --skip-schema-validation) through the templates' own
// checks where they have one.
func TestChartRefuses(t *testing.T) {
	tests := []struct {
		name       string
		set        map[string]any
		wantSchema string // "" when the schema has no opinion
		wantTpl    string // "" when only the schema guards it
	}{
		{"two writers on one log", map[string]any{"workload": map[string]any{"replicas": 2}}, "", "replicas must be 1"},
		{"latest tag", map[string]any{"image": map[string]any{"tag": "latest"}}, "/image/tag", "latest"},
		{"approle without Secret", map[string]any{"piivault": map[string]any{"backend": "hashicorp", "hashicorp": map[string]any{"auth": "approle"}}}, "", "credentialsSecret"},
		{"clear token instead of hash", map[string]any{"tokens": map[string]any{"entries": []any{map[string]any{"hash": "my-secret-token", "principal": "x"}}}}, "/tokens/entries/0/hash", "SHA-256"},
		{"no app container", map[string]any{"app": map[string]any{"containers": []any{}}}, "", "app.containers"},
		{"unknown values key", map[string]any{"piivault": map[string]any{"bakend": "hashicorp"}}, "bakend", ""},
		{"backend typo", map[string]any{"piivault": map[string]any{"backend": "hashcorp"}}, "/piivault/backend", ""},
		{"auth typo", map[string]any{"piivault": map[string]any{"backend": "hashicorp", "hashicorp": map[string]any{"auth": "k8s", "credentialsSecret": "x"}}}, "/piivault/hashicorp/auth", ""},
		{"workload kind typo", map[string]any{"workload": map[string]any{"kind": "Deploymnet"}}, "/workload/kind", ""},
		{"wrong type", map[string]any{"piivault": map[string]any{"port": "8200"}}, "/piivault/port", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultRenderOptions()
			_, err := RenderChart(chartDir, tt.set, opts)
			want := tt.wantSchema
			if want == "" {
				want = tt.wantTpl
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("RenderChart = %v, want an error mentioning %q", err, want)
			}
			if tt.wantTpl == "" {
				return
			}
			opts.SkipSchemaValidation = true
			_, err = RenderChart(chartDir, tt.set, opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantTpl) {
				t.Fatalf("RenderChart without schema = %v, want an error mentioning %q", err, tt.wantTpl)
			}
		})
	}
}

// TestChartRulesCatchOverrides: a value that weakens the security context
// renders, and the checks on the rendered output catch it.
func TestChartRulesCatchOverrides(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]any
		rule string
	}{
		{"writable root", map[string]any{"containerSecurityContext": map[string]any{"readOnlyRootFilesystem": false}}, RuleReadOnlyRootFS},
		{"escalation", map[string]any{"containerSecurityContext": map[string]any{"allowPrivilegeEscalation": true}}, RuleNoPrivEscalation},
		{"app without limits", map[string]any{"app": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "a:1"}}}}, RuleLimits},
		{"app on latest", map[string]any{"app": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "a:latest",
			"resources": map[string]any{"requests": map[string]any{"cpu": "1"}, "limits": map[string]any{"cpu": "1", "memory": "1Gi"}}}}}}, RuleImageTag},
		{"inline secret via extraEnv", map[string]any{"piivault": map[string]any{"extraEnv": []any{map[string]any{"name": "PIIVAULT_HASHICORP_TOKEN", "value": "hvs.x"}}}}, RuleNoInlineSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := render(t, tt.set)
			got := CheckObjects(objs)
			if !slices.ContainsFunc(got, func(f Finding) bool { return f.Rule == tt.rule }) {
				t.Fatalf("CheckObjects = %v, want a %s finding", got, tt.rule)
			}
		})
	}
}

// checkVaultEgress: the NetworkPolicy lets the pod reach Vault exactly when
// the backend needs it, and always DNS.
func checkVaultEgress(t *testing.T, objs []Object, want bool) {
	t.Helper()
	for _, o := range objs {
		np, ok := o.Value.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		var dns, vault bool
		for _, r := range np.Spec.Egress {
			for _, p := range r.Ports {
				if p.Port == nil {
					continue
				}
				switch p.Port.IntValue() {
				case 53:
					dns = true
				case 8200:
					vault = true
				}
			}
		}
		if !dns {
			t.Errorf("NetworkPolicy %s: no DNS egress", np.Name)
		}
		if vault != want {
			t.Errorf("NetworkPolicy %s: Vault egress = %v, want %v", np.Name, vault, want)
		}
		return
	}
	t.Errorf("no NetworkPolicy rendered")
}
