package validate

import (
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Finding is one broken rule: where, which rule, and what was found.
type Finding struct {
	Source string // manifest source (file#doc)
	Object string // Kind/name
	Where  string // container or field, when the rule is about one
	Rule   string // a stable rule ID, see the Rule* constants
	Detail string
}

func (f Finding) String() string {
	w := f.Object
	if f.Where != "" {
		w += " " + f.Where
	}
	return fmt.Sprintf("%s: %s: %s: %s", f.Source, w, f.Rule, f.Detail)
}

// Rule IDs of the pod-template checks.
const (
	RuleRunAsNonRoot       = "run-as-non-root"
	RuleNoPrivEscalation   = "no-privilege-escalation"
	RuleNotPrivileged      = "not-privileged"
	RuleReadOnlyRootFS     = "read-only-root-filesystem"
	RuleSeccompDefault     = "seccomp-runtime-default"
	RuleDropAllCaps        = "drop-all-capabilities"
	RuleLimits             = "resource-limits"
	RuleImageTag           = "image-tag-pinned"
	RuleNoInlineSecret     = "no-inline-secret"
	RuleNoHostNamespaces   = "no-host-namespaces"
	RuleNoAutomountedToken = "no-automounted-sa-token"
)

// PodTemplate returns the pod spec of a workload object, or nil for kinds
// that have none.
func PodTemplate(v any) *corev1.PodSpec {
	switch o := v.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.Spec
	case *corev1.Pod:
		return &o.Spec
	}
	return nil
}

// templateLabels returns the pod template labels of a workload object.
func templateLabels(v any) map[string]string {
	switch o := v.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.Labels
	case *appsv1.StatefulSet:
		return o.Spec.Template.Labels
	case *appsv1.DaemonSet:
		return o.Spec.Template.Labels
	case *batchv1.Job:
		return o.Spec.Template.Labels
	case *corev1.Pod:
		return o.Labels
	}
	return nil
}

// CheckObjects runs the pod-template rules on every workload in objs.
func CheckObjects(objs []Object) []Finding {
	var out []Finding
	for _, o := range objs {
		spec := PodTemplate(o.Value)
		if spec == nil {
			continue
		}
		out = append(out, CheckPodSpec(o.Source, o.GVK.Kind+"/"+o.Name, spec)...)
	}
	return out
}

// CheckPodSpec applies the security, resource, image and secret rules to
// one pod spec. A container passes a securityContext rule if its own
// securityContext satisfies it, or, where Kubernetes inherits the field
// (runAsNonRoot, seccompProfile), the pod's does.
func CheckPodSpec(source, object string, spec *corev1.PodSpec) []Finding {
	var out []Finding
	add := func(where, rule, format string, args ...any) {
		out = append(out, Finding{Source: source, Object: object, Where: where, Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		add("", RuleNoHostNamespaces, "hostNetwork/hostPID/hostIPC must be false")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		add("", RuleNoAutomountedToken, "automountServiceAccountToken must be false (mount a projected token where needed)")
	}
	type named struct {
		kind string
		c    corev1.Container
	}
	var all []named
	for _, c := range spec.InitContainers {
		all = append(all, named{"initContainer", c})
	}
	for _, c := range spec.Containers {
		all = append(all, named{"container", c})
	}
	for _, n := range all {
		c := n.c
		where := fmt.Sprintf("%s %q", n.kind, c.Name)
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		nonRoot := boolOr(sc.RunAsNonRoot, psc.RunAsNonRoot)
		uid := int64Or(sc.RunAsUser, psc.RunAsUser)
		if !nonRoot {
			add(where, RuleRunAsNonRoot, "runAsNonRoot is not true (container or pod)")
		}
		if uid != nil && *uid == 0 {
			add(where, RuleRunAsNonRoot, "runAsUser is 0")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add(where, RuleNoPrivEscalation, "allowPrivilegeEscalation is not false")
		}
		if sc.Privileged != nil && *sc.Privileged {
			add(where, RuleNotPrivileged, "privileged is true")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			add(where, RuleReadOnlyRootFS, "readOnlyRootFilesystem is not true")
		}
		sp := sc.SeccompProfile
		if sp == nil {
			sp = psc.SeccompProfile
		}
		if sp == nil || sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			add(where, RuleSeccompDefault, "seccompProfile.type is not RuntimeDefault (container or pod)")
		}
		if sc.Capabilities == nil || !hasCap(sc.Capabilities.Drop, "ALL") {
			add(where, RuleDropAllCaps, "capabilities.drop does not contain ALL")
		} else if len(sc.Capabilities.Add) > 0 {
			add(where, RuleDropAllCaps, "capabilities.add is not empty: %v", sc.Capabilities.Add)
		}
		lim := c.Resources.Limits
		if _, ok := lim[corev1.ResourceMemory]; !ok {
			add(where, RuleLimits, "no memory limit")
		}
		if _, ok := lim[corev1.ResourceCPU]; !ok {
			add(where, RuleLimits, "no cpu limit")
		}
		if req := c.Resources.Requests; req == nil {
			add(where, RuleLimits, "no resource requests")
		}
		if err := CheckImageRef(c.Image); err != nil {
			add(where, RuleImageTag, "%v", err)
		}
		for _, e := range c.Env {
			if e.Value != "" && LooksSecret(e.Name) {
				add(where, RuleNoInlineSecret, "env %s has an inline value; use valueFrom.secretKeyRef or a mounted Secret", e.Name)
			}
		}
	}
	return out
}

// secretName matches environment variable names that hold credentials.
// Names of files, paths, folders, mounts, roles and key names are not
// secrets themselves (PIIVAULT_TOKENS_FILE, PIIVAULT_HASHICORP_TRANSIT_KEY).
var (
	secretName    = regexp.MustCompile(`(?i)(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY)`)
	notSecretName = regexp.MustCompile(`(?i)(_FILE|_PATH|_DIR|_MOUNT|_ROLE|_URL|_ADDR|_TRANSIT_KEY|_KEY_NAME|_ID_FILE)$`)
)

// LooksSecret reports whether an environment variable of this name is
// expected to hold a credential, and so must never have an inline value.
func LooksSecret(name string) bool {
	return secretName.MatchString(name) && !notSecretName.MatchString(name)
}

// CheckImageRef reports an error unless ref names a tag other than
// "latest" (a digest is accepted too).
func CheckImageRef(ref string) error {
	if ref == "" {
		return fmt.Errorf("image is empty")
	}
	if strings.Contains(ref, "@sha256:") {
		return nil
	}
	// The tag is after the last ':' that comes after the last '/'
	// (a registry host may carry a port: registry:5000/app:1.0).
	last := ref[strings.LastIndex(ref, "/")+1:]
	i := strings.LastIndex(last, ":")
	if i < 0 {
		return fmt.Errorf("image %q has no tag (implies latest)", ref)
	}
	tag := last[i+1:]
	if tag == "" || strings.EqualFold(tag, "latest") {
		return fmt.Errorf("image %q uses tag %q", ref, tag)
	}
	if strings.Contains(tag, "{{") || strings.Contains(tag, "$") {
		return fmt.Errorf("image %q has an unrendered tag", ref)
	}
	return nil
}

func boolOr(a, b *bool) bool {
	if a != nil {
		return *a
	}
	return b != nil && *b
}

func int64Or(a, b *int64) *int64 {
	if a != nil {
		return a
	}
	return b
}

func hasCap(caps []corev1.Capability, want corev1.Capability) bool {
	for _, c := range caps {
		if strings.EqualFold(string(c), string(want)) {
			return true
		}
	}
	return false
}
