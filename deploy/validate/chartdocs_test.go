package validate

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// TestChartValuesDocumented: every key of values.yaml, down to the level
// the chart documents (a key whose value is not a map, or an empty map), is
// in the chart README's values table.
func TestChartValuesDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]any
	if err := yaml.Unmarshal(raw, &vals); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Maps whose keys are free-form Kubernetes or operator data are
	// documented as one key.
	opaque := map[string]bool{
		"podSecurityContext": true, "containerSecurityContext": true, "piivault.resources": true,
		"piivault.startupProbe": true, "piivault.readinessProbe": true, "piivault.livenessProbe": true,
		"persistence.annotations": true, "networkPolicy.metricsNamespaceSelector": true,
		"networkPolicy.vaultNamespaceSelector": true,
	}
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !opaque[p] {
				walk(p, sub)
				continue
			}
			keys = append(keys, p)
		}
	}
	walk("", vals)
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.Contains(string(readme), "| `"+k+"` |") {
			t.Errorf("values key %s is not in the chart README's values table", k)
		}
	}
	// And the schema knows every top-level key (it refuses unknown ones).
	schema, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range vals {
		if !strings.Contains(string(schema), `"`+k+`"`) {
			t.Errorf("values key %s is not in values.schema.json", k)
		}
	}
}

// TestChartAsDependency renders a parent chart that keeps its own
// Deployment and includes "piivault.sidecar" and "piivault.volumes" from
// this chart as a dependency, exactly as the chart README shows.
func TestChartAsDependency(t *testing.T) {
	parent := t.TempDir()
	if err := copyDir(chartDir, filepath.Join(parent, "charts", "piivault")); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(parent, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Chart.yaml", "apiVersion: v2\nname: orders\nversion: 1.0.0\nappVersion: \"1.4.2\"\n"+
		"dependencies:\n  - name: piivault\n    version: 0.1.0\n")
	write("values.yaml", "piivault:\n  workload:\n    create: false\n  piivault:\n    backend: hashicorp\n")
	write("templates/deployment.yaml", `{{- $pv := dict "Values" .Values.piivault "Release" .Release "Chart" (dict "Name" "piivault" "Version" "0.1.0" "AppVersion" "0.1.0") }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      {{- include "piivault.selectorLabels" $pv | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "piivault.selectorLabels" $pv | nindent 8 }}
    spec:
      serviceAccountName: {{ .Release.Name }}-piivault
      automountServiceAccountToken: false
      securityContext:
        {{- toYaml .Values.piivault.podSecurityContext | nindent 8 }}
      initContainers:
        {{- include "piivault.sidecar" $pv | nindent 8 }}
      containers:
        - name: orders
          image: ghcr.io/example/orders:1.4.2
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: "1", memory: 256Mi}
          securityContext:
            {{- toYaml .Values.piivault.containerSecurityContext | nindent 12 }}
      volumes:
        {{- include "piivault.volumes" $pv | nindent 8 }}
        - name: data
          persistentVolumeClaim: {claimName: {{ .Release.Name }}-piivault-data}
`)
	out, err := RenderChart(parent, map[string]any{}, DefaultRenderOptions())
	if err != nil {
		t.Fatalf("RenderChart(parent): %v", err)
	}
	objs, err := DecodeRendered(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range CheckObjects(objs) {
		t.Errorf("%s", f)
	}
	for _, f := range CheckSidecar(objs, SidecarWant{Backend: "hashicorp", Auth: "kubernetes"}) {
		t.Errorf("%s", f)
	}
	// The subchart's metrics Service and NetworkPolicy select the parent's pods.
	for _, f := range CheckSelectors(objs) {
		t.Errorf("%s", f)
	}
	deployments := 0
	for _, o := range objs {
		if _, ok := o.Value.(*appsv1.Deployment); ok {
			deployments++
		}
	}
	if deployments != 1 {
		t.Errorf("rendered %d Deployments, want only the parent's (workload.create=false)", deployments)
	}
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
