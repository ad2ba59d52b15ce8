package validate

import (
	"fmt"
	"path"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// SidecarContainerName is the name of the piivault container in every
// workload deploy/ renders.
const SidecarContainerName = "piivault"

// SidecarWant says what the piivault sidecar of a rendering must look like.
type SidecarWant struct {
	Backend string // "embedded" or "hashicorp"
	Auth    string // with hashicorp: "kubernetes", "approle" or "token"
}

// CheckSidecar checks the piivault sidecar of every workload that has one,
// and that at least one workload has it:
//   - a native sidecar (init container with restartPolicy Always);
//   - startup, readiness and liveness probes on /healthz or /readyz;
//   - only known PIIVAULT_ variables and flags;
//   - the data folder on a persistent volume, /tmp on an emptyDir;
//   - the policy folder from a ConfigMap mounted without subPath (so that it
//     hot-reloads), the tokens file from a Secret;
//   - with the HashiCorp backend and Kubernetes auth: a role, a projected
//     ServiceAccount token for the audience "vault", and no static token.
func CheckSidecar(objs []Object, want SidecarWant) []Finding {
	var out []Finding
	found := 0
	for _, o := range objs {
		spec := PodTemplate(o.Value)
		if spec == nil {
			continue
		}
		c, isInit := findContainer(spec, SidecarContainerName)
		if c == nil {
			continue
		}
		found++
		obj := o.GVK.Kind + "/" + o.Name
		add := func(rule, format string, args ...any) {
			out = append(out, Finding{Source: o.Source, Object: obj, Where: "piivault", Rule: rule, Detail: fmt.Sprintf(format, args...)})
		}
		if !isInit || c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			add("native-sidecar", "piivault must be an init container with restartPolicy: Always")
		}
		for name, p := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil || (p.HTTPGet.Path != "/healthz" && p.HTTPGet.Path != "/readyz") {
				add("probes", "%s must be an httpGet on /healthz or /readyz", name)
			}
		}
		if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			add("probes", "readinessProbe must use /readyz (stores open, policy loaded)")
		}
		env := ContainerEnv(*c)
		args := append(append([]string{}, c.Command...), c.Args...)
		for _, b := range CheckConfigNames(env, args) {
			add("config-names", "%s", b)
		}
		backend := env["PIIVAULT_VAULT_BACKEND"]
		if v, ok := flagValue(args, "--vault-backend"); ok {
			backend = v
		}
		if backend == "" {
			backend = "embedded"
		}
		if backend != want.Backend {
			add("backend", "backend is %q, want %q", backend, want.Backend)
		}
		mounts := map[string]corev1.VolumeMount{}
		for _, m := range c.VolumeMounts {
			mounts[m.MountPath] = m
		}
		vols := map[string]corev1.Volume{}
		for _, v := range spec.Volumes {
			vols[v.Name] = v
		}
		dataDir := env["PIIVAULT_DATA"]
		if v, ok := flagValue(args, "--data"); ok {
			dataDir = v
		}
		if dataDir == "" {
			add("data", "PIIVAULT_DATA or --data must name the data folder")
		} else if m, ok := mounts[dataDir]; !ok {
			add("data", "data folder %s is not a volume mount", dataDir)
		} else if !persistent(o.Value, vols, m.Name) {
			add("data", "data folder %s is not on a PersistentVolumeClaim", dataDir)
		}
		if m, ok := mounts["/tmp"]; !ok || vols[m.Name].EmptyDir == nil {
			add("tmp", "/tmp must be an emptyDir (read-only root filesystem)")
		}
		policyDir, hasPolicy := flagValue(args, "--policy-dir")
		if !hasPolicy {
			policyDir, hasPolicy = env["PIIVAULT_POLICY_DIR"], env["PIIVAULT_POLICY_DIR"] != ""
		}
		if hasPolicy {
			m, ok := mounts[policyDir]
			switch {
			case !ok:
				add("policy", "policy folder %s is not a volume mount", policyDir)
			case m.SubPath != "" || m.SubPathExpr != "":
				add("policy", "policy folder is mounted with subPath: ConfigMap updates would never arrive")
			case vols[m.Name].ConfigMap == nil:
				add("policy", "policy folder is not a ConfigMap volume")
			}
		}
		if tf := env["PIIVAULT_TOKENS_FILE"]; tf != "" {
			m, ok := mounts[path.Dir(tf)]
			if !ok || vols[m.Name].Secret == nil {
				add("tokens", "tokens file %s is not in a Secret volume", tf)
			}
		}
		if _, ok := env["PIIVAULT_DEV_ROOT_TOKEN"]; ok {
			add("no-dev", "PIIVAULT_DEV_ROOT_TOKEN must not be set in a deployment")
		}
		if _, ok := flagValue(args, "--dev"); ok || contains(args, "--dev") {
			add("no-dev", "--dev must not be used in a deployment")
		}
		if backend == "hashicorp" {
			if env["PIIVAULT_HASHICORP_ADDR"] == "" {
				add("hashicorp", "PIIVAULT_HASHICORP_ADDR is not set")
			}
			if got := env["PIIVAULT_HASHICORP_AUTH"]; got != want.Auth {
				add("hashicorp", "PIIVAULT_HASHICORP_AUTH is %q, want %q", got, want.Auth)
			}
			if want.Auth == "kubernetes" {
				if _, ok := env["PIIVAULT_HASHICORP_TOKEN"]; ok {
					add("hashicorp", "Kubernetes auth must not carry a static PIIVAULT_HASHICORP_TOKEN")
				}
				if env["PIIVAULT_HASHICORP_K8S_ROLE"] == "" {
					add("hashicorp", "PIIVAULT_HASHICORP_K8S_ROLE is not set")
				}
				m, ok := mounts["/var/run/secrets/kubernetes.io/serviceaccount"]
				if !ok || !projectedSAToken(vols[m.Name], "vault") {
					add("hashicorp", "no projected ServiceAccount token (audience vault) at the default token path")
				}
			}
		}
	}
	if found == 0 {
		out = append(out, Finding{Source: "(all)", Rule: "sidecar", Detail: "no workload has a piivault container"})
	}
	return out
}

func findContainer(spec *corev1.PodSpec, name string) (*corev1.Container, bool) {
	for i := range spec.InitContainers {
		if spec.InitContainers[i].Name == name {
			return &spec.InitContainers[i], true
		}
	}
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i], false
		}
	}
	return nil, false
}

// flagValue finds --flag=value or --flag value in args.
func flagValue(args []string, flag string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
		if a == flag && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			return args[i+1], true
		}
	}
	return "", false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func persistent(workload any, vols map[string]corev1.Volume, name string) bool {
	if v, ok := vols[name]; ok {
		return v.PersistentVolumeClaim != nil
	}
	if sts, ok := workload.(*appsv1.StatefulSet); ok {
		for _, t := range sts.Spec.VolumeClaimTemplates {
			if t.Name == name {
				return true
			}
		}
	}
	return false
}

func projectedSAToken(v corev1.Volume, audience string) bool {
	if v.Projected == nil {
		return false
	}
	for _, s := range v.Projected.Sources {
		if s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience == audience && s.ServiceAccountToken.Path == "token" {
			return true
		}
	}
	return false
}
