package validate

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The configuration names piivault understands (the "Config names" section
// of the team's API agreement). Deployment files may use no other PIIVAULT_
// variable and no other flag: a typo would be ignored by the binary and
// silently change behaviour.
var (
	KnownEnv = set(
		"PIIVAULT_CONFIG", "PIIVAULT_LISTEN", "PIIVAULT_DATA", "PIIVAULT_DEV_ROOT_TOKEN", "PIIVAULT_VAULT_BACKEND",
		"PIIVAULT_POLICY_DIR", "PIIVAULT_LOG_LEVEL", "PIIVAULT_KEK_FILE", "PIIVAULT_TOKENS_FILE",
		"PIIVAULT_HASHICORP_ADDR", "PIIVAULT_HASHICORP_AUTH", "PIIVAULT_HASHICORP_TOKEN",
		"PIIVAULT_HASHICORP_ROLE_ID", "PIIVAULT_HASHICORP_SECRET_ID", "PIIVAULT_HASHICORP_K8S_ROLE",
		"PIIVAULT_HASHICORP_KV_MOUNT", "PIIVAULT_HASHICORP_TRANSIT_MOUNT", "PIIVAULT_HASHICORP_TRANSIT_KEY",
		// Added by internal/config beyond the agreement.
		"PIIVAULT_LOG_FORMAT", "PIIVAULT_SHUTDOWN_TIMEOUT",
	)
	KnownFlags = set("--config", "--listen", "--data", "--dev", "--vault-backend", "--policy-dir", "--log-level",
		// Added by internal/config beyond the agreement.
		"--log-format", "--tokens-file", "--kek-file", "--shutdown-timeout")
	// KnownAuth are the values of PIIVAULT_HASHICORP_AUTH.
	KnownAuth = set("token", "approle", "kubernetes")
	// KnownBackends are the values of PIIVAULT_VAULT_BACKEND / --vault-backend.
	KnownBackends = set("embedded", "hashicorp")
)

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// CheckConfigNames reports PIIVAULT_ variables and flags of a piivault
// container that the binary does not know, and values out of their enums.
// env maps variable name to its literal value ("" when it comes from
// valueFrom); args are the container's command line after the image's
// entrypoint.
func CheckConfigNames(env map[string]string, args []string) []string {
	var bad []string
	for name, val := range env {
		if strings.HasPrefix(name, "PIIVAULT_") && !KnownEnv[name] {
			bad = append(bad, fmt.Sprintf("unknown variable %s", name))
		}
		if name == "PIIVAULT_HASHICORP_AUTH" && val != "" && !KnownAuth[val] {
			bad = append(bad, fmt.Sprintf("PIIVAULT_HASHICORP_AUTH=%q", val))
		}
		if name == "PIIVAULT_VAULT_BACKEND" && val != "" && !KnownBackends[val] {
			bad = append(bad, fmt.Sprintf("PIIVAULT_VAULT_BACKEND=%q", val))
		}
	}
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		flag, val, hasVal := strings.Cut(a, "=")
		if !KnownFlags[flag] {
			bad = append(bad, fmt.Sprintf("unknown flag %s", flag))
			continue
		}
		if flag == "--vault-backend" {
			if !hasVal && i+1 < len(args) {
				val = args[i+1]
			}
			if !KnownBackends[val] {
				bad = append(bad, fmt.Sprintf("--vault-backend %q", val))
			}
		}
	}
	return bad
}

// ContainerEnv returns a container's environment as name -> literal value.
func ContainerEnv(c corev1.Container) map[string]string {
	m := make(map[string]string, len(c.Env))
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}
