package validate

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Compose is the subset of the Compose specification that
// deploy/compose/compose.yaml uses. Decoding is strict against this subset:
// a key outside it is an error, so a typo ("read-only", "depend_on") fails
// here rather than being ignored by `docker compose`. Adding a Compose
// feature to the file means adding its field here.
type Compose struct {
	Name     string                    `json:"name"`
	Services map[string]ComposeService `json:"services"`
	Volumes  map[string]ComposeVolume  `json:"volumes,omitempty"`
}

// ComposeService is one service.
type ComposeService struct {
	Image       string                      `json:"image,omitempty"`
	Build       *ComposeBuild               `json:"build,omitempty"`
	Command     []string                    `json:"command,omitempty"`
	Entrypoint  []string                    `json:"entrypoint,omitempty"`
	Environment map[string]string           `json:"environment,omitempty"`
	Ports       []string                    `json:"ports,omitempty"`
	Volumes     []string                    `json:"volumes,omitempty"`
	Tmpfs       []string                    `json:"tmpfs,omitempty"`
	ReadOnly    bool                        `json:"read_only,omitempty"`
	User        string                      `json:"user,omitempty"`
	CapDrop     []string                    `json:"cap_drop,omitempty"`
	SecurityOpt []string                    `json:"security_opt,omitempty"`
	NetworkMode string                      `json:"network_mode,omitempty"`
	Healthcheck *ComposeHealthcheck         `json:"healthcheck,omitempty"`
	DependsOn   map[string]ComposeDependsOn `json:"depends_on,omitempty"`
	Restart     string                      `json:"restart,omitempty"`
}

// ComposeBuild is a service's build section.
type ComposeBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

// ComposeHealthcheck is a service's health check.
type ComposeHealthcheck struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval,omitempty"`
	Timeout     string   `json:"timeout,omitempty"`
	StartPeriod string   `json:"start_period,omitempty"`
	Retries     int      `json:"retries,omitempty"`
}

// ComposeDependsOn is the long form of depends_on.
type ComposeDependsOn struct {
	Condition string `json:"condition"`
}

// ComposeVolume is a named volume.
type ComposeVolume struct {
	Driver string `json:"driver,omitempty"`
}

// DecodeCompose decodes a compose file strictly into Compose.
func DecodeCompose(data []byte) (*Compose, error) {
	var c Compose
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("compose: %w: %v", ErrStrictDecode, err)
	}
	for name, s := range c.Services {
		for dep, d := range s.DependsOn {
			switch d.Condition {
			case "service_started", "service_healthy", "service_completed_successfully":
			default:
				return nil, fmt.Errorf("compose: service %s: depends_on %s: condition %q: %w", name, dep, d.Condition, ErrStrictDecode)
			}
			if _, ok := c.Services[dep]; !ok {
				return nil, fmt.Errorf("compose: service %s depends on unknown service %s: %w", name, dep, ErrStrictDecode)
			}
		}
	}
	return &c, nil
}

// CheckComposeSidecar applies the container rules to the piivault service
// of a compose file: pinned images everywhere, and for piivault a read-only
// root, a numeric non-root user, every capability dropped,
// no-new-privileges, /tmp as tmpfs, /data on a named volume, a health check
// in exec form, a start only after the Vault init succeeded, and known
// configuration names.
func CheckComposeSidecar(c *Compose, sidecar string) []Finding {
	var out []Finding
	add := func(svc, rule, format string, args ...any) {
		out = append(out, Finding{Source: "compose.yaml", Object: "service/" + svc, Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	for name, s := range c.Services {
		if s.Image != "" {
			if err := CheckImageRef(s.Image); err != nil {
				add(name, RuleImageTag, "%v", err)
			}
		} else if s.Build == nil {
			add(name, RuleImageTag, "neither image nor build")
		}
	}
	s, ok := c.Services[sidecar]
	if !ok {
		add(sidecar, "sidecar", "no such service")
		return out
	}
	if !s.ReadOnly {
		add(sidecar, RuleReadOnlyRootFS, "read_only is not true")
	}
	uid, _, _ := strings.Cut(s.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		add(sidecar, RuleRunAsNonRoot, "user %q is not a numeric non-root UID", s.User)
	}
	if !contains(s.CapDrop, "ALL") {
		add(sidecar, RuleDropAllCaps, "cap_drop does not contain ALL")
	}
	if !contains(s.SecurityOpt, "no-new-privileges:true") {
		add(sidecar, RuleNoPrivEscalation, "security_opt lacks no-new-privileges:true")
	}
	if !contains(s.Tmpfs, "/tmp") {
		add(sidecar, "tmp", "/tmp is not a tmpfs")
	}
	data := false
	for _, v := range s.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		if strings.HasPrefix(dst, "/data") && !strings.ContainsAny(src, "./") {
			if _, ok := c.Volumes[src]; ok {
				data = true
			}
		}
	}
	if !data {
		add(sidecar, "data", "/data is not a named volume")
	}
	if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] != "CMD" {
		add(sidecar, RuleHealthcheck, "healthcheck must be exec form [\"CMD\", ...] (the image has no shell)")
	}
	for dep, d := range s.DependsOn {
		if strings.Contains(dep, "init") && d.Condition != "service_completed_successfully" {
			add(sidecar, "ordering", "depends_on %s must wait for service_completed_successfully", dep)
		}
	}
	for _, b := range CheckConfigNames(s.Environment, s.Command) {
		add(sidecar, "config-names", "%s", b)
	}
	if _, ok := s.Environment["PIIVAULT_DEV_ROOT_TOKEN"]; ok || contains(s.Command, "--dev") {
		add(sidecar, "no-dev", "the compose set-up runs the hashicorp backend, not --dev")
	}
	return out
}
