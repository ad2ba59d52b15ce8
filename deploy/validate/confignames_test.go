package validate

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestKnownNamesExistInInternalConfig keeps KnownEnv and KnownFlags honest:
// every name deploy/ may use must be one that internal/config reads, or the
// binary would silently ignore it. --config and --dev are handled by
// cmd/piivault, not by the settings table.
func TestKnownNamesExistInInternalConfig(t *testing.T) {
	src, err := os.ReadFile("../../internal/config/config.go")
	if err != nil {
		t.Fatalf("read the settings table: %v", err)
	}
	envs := map[string]bool{}
	for _, m := range regexp.MustCompile(`"(PIIVAULT_[A-Z0-9_]+)"`).FindAllSubmatch(src, -1) {
		envs[string(m[1])] = true
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`Flag:\s*"([a-z0-9-]+)"`).FindAllSubmatch(src, -1) {
		flags["--"+string(m[1])] = true
	}
	for name := range KnownEnv {
		if !envs[name] {
			t.Errorf("deploy allows %s, but internal/config does not read it", name)
		}
	}
	for name := range KnownFlags {
		if name == "--config" || name == "--dev" {
			continue
		}
		if !flags[name] {
			t.Errorf("deploy allows %s, but internal/config has no such flag", name)
		}
	}
	for name := range envs {
		if !KnownEnv[name] {
			t.Logf("internal/config reads %s, which deploy does not use yet", name)
		}
	}
	if !strings.Contains(string(src), "hashicorp") {
		t.Errorf("internal/config does not mention the hashicorp backend")
	}
}
