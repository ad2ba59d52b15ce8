package validate

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsCoverOperations: the operations and scale-out documents keep the
// sections the deployment relies on, and every relative link in them and
// in deploy's READMEs points at a file that exists.
func TestDocsCoverOperations(t *testing.T) {
	want := map[string][]string{
		"../../docs/operations.md": {"## Backup", "## Restore, and why it is erasure-safe", "re-applies every recorded erasure",
			"## KEK rotation", "## Several sidecars on one HashiCorp Vault", "## When Vault is unreachable", "503", "## Capacity"},
		"../../docs/scale-out.md": {"```mermaid", "HashiCorp Vault cluster", "## Figures", "## When Vault saturates", "performance standbys", "Batch", "cache"},
	}
	for file, sections := range want {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sections {
			if !strings.Contains(string(b), s) {
				t.Errorf("%s lacks %q", file, s)
			}
		}
	}
	link := regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`)
	files := []string{"../../docs/operations.md", "../../docs/scale-out.md", "../README.md",
		"../compose/README.md", "../kubernetes/README.md", filepath.Join(chartDir, "README.md")}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := filepath.Join(filepath.Dir(f), m[1])
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s links to %s, which does not exist", f, m[1])
			}
		}
	}
}
