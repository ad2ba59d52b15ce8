package validate

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

const kubernetesDir = "../kubernetes"

// loadManifests decodes every *.yaml of dir strictly, except kustomization.yaml.
func loadManifests(t *testing.T, dir string) []Object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (err %v)", dir, err)
	}
	var objs []Object
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o, err := DecodeStrict(filepath.Base(f), data)
		if err != nil {
			t.Errorf("DecodeStrict: %v", err)
			continue
		}
		objs = append(objs, o...)
	}
	return objs
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	objs := loadManifests(t, kubernetesDir)
	want := []string{"ConfigMap", "Deployment", "NetworkPolicy", "PersistentVolumeClaim", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount"}
	var got []string
	for _, o := range objs {
		got = append(got, o.GVK.Kind)
	}
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("deploy/kubernetes has no %s (kinds: %v)", k, got)
		}
	}
}

func TestKubernetesManifestsFollowRules(t *testing.T) {
	objs := loadManifests(t, kubernetesDir)
	for _, f := range CheckObjects(objs) {
		t.Errorf("%s", f)
	}
	for _, f := range CheckSidecar(objs, SidecarWant{Backend: "hashicorp", Auth: "kubernetes"}) {
		t.Errorf("%s", f)
	}
	for _, f := range CheckSelectors(objs) {
		t.Errorf("%s", f)
	}
}

// TestKustomizationListsEveryManifest keeps `kubectl apply -k` in step with
// the folder: a manifest added but not listed would never be applied.
func TestKustomizationListsEveryManifest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(kubernetesDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(kubernetesDir, "*.yaml"))
	optional := map[string]bool{"vault-auth-delegator.yaml": true} // cluster-scoped, documented as opt-in
	for _, f := range files {
		b := filepath.Base(f)
		if b == "kustomization.yaml" {
			continue
		}
		listed := slices.Contains(k.Resources, b)
		if !listed && !optional[b] {
			t.Errorf("kustomization.yaml does not list %s", b)
		}
		if optional[b] && !strings.Contains(string(data), b) {
			t.Errorf("kustomization.yaml does not mention the optional %s", b)
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(kubernetesDir, r)); err != nil {
			t.Errorf("kustomization.yaml lists missing %s", r)
		}
	}
}

// TestStrictDecodeRejects proves the decoder is strict: each of these is a
// mistake the API server would silently accept or reject only at apply time.
func TestStrictDecodeRejects(t *testing.T) {
	tests := []struct {
		file string
		want error
	}{
		{"unknown-field.yaml", ErrStrictDecode},                // runAsNonRooot
		{"misplaced-field.yaml", ErrStrictDecode},              // ports under the pod spec
		{"wrong-type-replicas.yaml", ErrStrictDecode},          // replicas: "two"
		{"wrong-type-port.yaml", ErrStrictDecode},              // containerPort: [8200]
		{"duplicate-key.yaml", ErrStrictDecode},                // image given twice
		{"unknown-kind.yaml", ErrUnknownKind},                  // kind: Deplyment
		{"wrong-api-version.yaml", ErrUnknownKind},             // apps/v1beta3
		{"missing-kind.yaml", ErrNoTypeMeta},                   // no kind
		{"second-document-bad.yaml", ErrStrictDecode},          // the error is in document #1
		{"servicemonitor-unknown-field.yaml", ErrStrictDecode}, // CRD types are strict too
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "bad", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeStrict(tt.file, data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeStrict(%s) = %v, want %v", tt.file, err, tt.want)
			}
			t.Logf("rejected as expected: %v", err)
		})
	}
}

// TestChecksReject proves each rule can fail: a good Deployment is broken
// in one way at a time and the matching rule must report it.
func TestChecksReject(t *testing.T) {
	base := goodDeployment(t)
	f := false
	tr := true
	zero := int64(0)
	tests := []struct {
		name   string
		break_ func(d *appsv1.Deployment)
		rule   string
	}{
		{"latest tag", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "curlimages/curl:latest" }, RuleImageTag},
		{"no tag", func(d *appsv1.Deployment) { d.Spec.Template.Spec.InitContainers[0].Image = "ghcr.io/piivault/piivault" }, RuleImageTag},
		{"no memory limit", func(d *appsv1.Deployment) {
			delete(d.Spec.Template.Spec.InitContainers[0].Resources.Limits, corev1.ResourceMemory)
		}, RuleLimits},
		{"no limits at all", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
		}, RuleLimits},
		{"privilege escalation", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = &tr
		}, RuleNoPrivEscalation},
		{"privileged", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].SecurityContext.Privileged = &tr }, RuleNotPrivileged},
		{"writable root", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.InitContainers[0].SecurityContext.ReadOnlyRootFilesystem = &f
		}, RuleReadOnlyRootFS},
		{"root user", func(d *appsv1.Deployment) { d.Spec.Template.Spec.InitContainers[0].SecurityContext.RunAsUser = &zero }, RuleRunAsNonRoot},
		{"runAsNonRoot off everywhere", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
			d.Spec.Template.Spec.Containers[0].SecurityContext.RunAsNonRoot = nil
		}, RuleRunAsNonRoot},
		{"seccomp unconfined", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, RuleSeccompDefault},
		{"capability added", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}, RuleDropAllCaps},
		{"capabilities not dropped", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.InitContainers[0].SecurityContext.Capabilities = nil
		}, RuleDropAllCaps},
		{"inline vault token", func(d *appsv1.Deployment) {
			c := &d.Spec.Template.Spec.InitContainers[0]
			c.Env = append(c.Env, corev1.EnvVar{Name: "PIIVAULT_HASHICORP_TOKEN", Value: "hvs.inline"})
		}, RuleNoInlineSecret},
		{"inline app token", func(d *appsv1.Deployment) {
			c := &d.Spec.Template.Spec.Containers[0]
			for i := range c.Env {
				if c.Env[i].Name == "PIIVAULT_APP_TOKEN" {
					c.Env[i].ValueFrom = nil
					c.Env[i].Value = "example"
				}
			}
		}, RuleNoInlineSecret},
		{"host network", func(d *appsv1.Deployment) { d.Spec.Template.Spec.HostNetwork = true }, RuleNoHostNamespaces},
		{"automounted token", func(d *appsv1.Deployment) { d.Spec.Template.Spec.AutomountServiceAccountToken = &tr }, RuleNoAutomountedToken},
	}
	if got := CheckPodSpec("good", "Deployment/orders", &base.Spec.Template.Spec); len(got) != 0 {
		t.Fatalf("the good deployment already fails: %v", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := base.DeepCopy()
			tt.break_(d)
			got := CheckPodSpec("test", "Deployment/orders", &d.Spec.Template.Spec)
			if !slices.ContainsFunc(got, func(f Finding) bool { return f.Rule == tt.rule }) {
				t.Fatalf("CheckPodSpec after %q = %v, want a %s finding", tt.name, got, tt.rule)
			}
		})
	}
}

func goodDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	for _, o := range loadManifests(t, kubernetesDir) {
		if d, ok := o.Value.(*appsv1.Deployment); ok {
			return d
		}
	}
	t.Fatal("no Deployment in deploy/kubernetes")
	return nil
}

func TestCheckImageRef(t *testing.T) {
	tests := []struct {
		ref string
		ok  bool
	}{
		{"ghcr.io/piivault/piivault:0.1.0", true},
		{"registry:5000/piivault:1.2", true},
		{"piivault@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"piivault", false},
		{"registry:5000/piivault", false},
		{"piivault:latest", false},
		{"piivault:LATEST", false},
		{"piivault:", false},
		{"", false},
		{"piivault:{{ .Values.tag }}", false},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if err := CheckImageRef(tt.ref); (err == nil) != tt.ok {
				t.Errorf("CheckImageRef(%q) = %v, want ok=%v", tt.ref, err, tt.ok)
			}
		})
	}
}

func TestLooksSecret(t *testing.T) {
	tests := map[string]bool{
		"PIIVAULT_HASHICORP_TOKEN":       true,
		"PIIVAULT_HASHICORP_SECRET_ID":   true,
		"PIIVAULT_DEV_ROOT_TOKEN":        true,
		"DB_PASSWORD":                    true,
		"AWS_SECRET_ACCESS_KEY":          true,
		"PIIVAULT_TOKENS_FILE":           false,
		"PIIVAULT_HASHICORP_TRANSIT_KEY": false,
		"PIIVAULT_HASHICORP_K8S_ROLE":    false,
		"PIIVAULT_LISTEN":                false,
		"GOMEMLIMIT":                     false,
	}
	for name, want := range tests {
		if got := LooksSecret(name); got != want {
			t.Errorf("LooksSecret(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCheckConfigNames(t *testing.T) {
	good := map[string]string{"PIIVAULT_LISTEN": "0.0.0.0:8200", "PIIVAULT_HASHICORP_AUTH": "kubernetes"}
	if bad := CheckConfigNames(good, []string{"serve", "--vault-backend=hashicorp", "--policy-dir", "/p"}); len(bad) != 0 {
		t.Errorf("CheckConfigNames(good) = %v", bad)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"typo in variable", map[string]string{"PIIVAULT_HASHICORP_ADRESS": "x"}, nil},
		{"unknown auth", map[string]string{"PIIVAULT_HASHICORP_AUTH": "k8s"}, nil},
		{"unknown flag", nil, []string{"serve", "--listen-addr=:8200"}},
		{"unknown backend", nil, []string{"serve", "--vault-backend", "consul"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bad := CheckConfigNames(tt.env, tt.args); len(bad) == 0 {
				t.Errorf("CheckConfigNames(%v, %v) found nothing", tt.env, tt.args)
			}
		})
	}
}

func secretValue(t *testing.T, o Object, key string) string {
	t.Helper()
	s, ok := o.Value.(*corev1.Secret)
	if !ok {
		t.Fatalf("%s is not a Secret", o.Name)
	}
	if v, ok := s.StringData[key]; ok {
		return v
	}
	return string(s.Data[key])
}
