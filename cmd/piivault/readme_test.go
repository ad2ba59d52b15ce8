package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/piivault/piivault/internal/config"
	"github.com/piivault/piivault/internal/testenv"
)

// readmeSection returns the lines of README.md from the heading "## name"
// to the next "## " heading.
func readmeSection(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "## ") {
			if in {
				break
			}
			in = strings.TrimPrefix(line, "## ") == name
			continue
		}
		if in {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		t.Fatalf("README.md has no section %q", name)
	}
	return out
}

// TestREADMECommands holds the README's command list to the binary: the
// same commands, and no flag the README shows that a command does not
// define.
func TestREADMECommands(t *testing.T) {
	known := map[string]bool{}
	for _, c := range commands() {
		known[c.name] = true
	}
	listed := map[string]bool{}
	flagRE := regexp.MustCompile(`(?:^|[\s\[|])(--?[a-z][a-z-]*)`)
	for _, line := range readmeSection(t, "Commands") {
		if !strings.HasPrefix(line, "    piivault ") {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		words := strings.Fields(line)[1:]
		name := words[0]
		if len(words) > 1 && known[words[0]+" "+words[1]] {
			name = words[0] + " " + words[1]
		}
		if !known[name] {
			t.Errorf("README lists %q, which the binary does not know", strings.TrimSpace(line))
			continue
		}
		listed[name] = true
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(strings.Fields(name), "--help"), func(string) string { return "" }, &stdout, &stderr); err != nil {
			t.Errorf("piivault %s --help: %v", name, err)
			continue
		}
		help := stdout.String() + stderr.String()
		for _, m := range flagRE.FindAllStringSubmatch(line, -1) {
			flag := "-" + strings.TrimLeft(m[1], "-")
			if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(flag) + `\b`).MatchString(help) {
				t.Errorf("README shows %s for %q; its --help defines no such flag", m[1], name)
			}
		}
	}
	for _, c := range commands() {
		if !listed[c.name] {
			t.Errorf("README's command list omits %q", c.name)
		}
	}
}

// TestREADMEQuickstart runs the README's curl quickstart, as written,
// against the built binary (serve --dev on a free loopback port, a fresh
// data folder) and checks every output the README shows: each "# ..."
// line's pieces between "..." must appear, in order, in what the command
// before it printed. It fails when the README's shown output drifts from
// the binary (positions, keys, states).
func TestREADMEQuickstart(t *testing.T) {
	bin := binary(t) // a slow test: skips outside CI (internal/testenv)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "piivault")); err != nil {
		t.Fatal(err)
	}
	var out testenv.Buffer
	s := start(t, &out, []string{"PIIVAULT_DEV_ROOT_TOKEN=dev-root"},
		"--dev", "--data", filepath.Join(dir, "piivault-data"), "--listen", "127.0.0.1:0")
	defer s.stop()

	// Commands (with their continuation lines) and the outputs shown after them.
	type step struct {
		cmd  string
		want []string
	}
	var steps []step
	for _, line := range readmeSection(t, "Quickstart with curl") {
		if !strings.HasPrefix(line, "    ") {
			continue
		}
		l := strings.TrimPrefix(line, "    ")
		switch {
		case strings.HasPrefix(l, "# "):
			if len(steps) == 0 {
				t.Fatalf("README quickstart shows output before any command: %q", l)
			}
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, strings.TrimPrefix(l, "# "))
		case strings.HasPrefix(l, "  ") && len(steps) > 0:
			steps[len(steps)-1].cmd += "\n" + l
		case strings.HasPrefix(l, "PIIVAULT_DEV_ROOT_TOKEN=") || strings.HasPrefix(l, "go build"):
			// the server (started above) and the build (done by binary)
		default:
			steps = append(steps, step{cmd: l})
		}
	}
	var curls int
	for _, st := range steps {
		if strings.HasPrefix(st.cmd, "curl") {
			curls++
		}
	}
	if curls < 5 {
		t.Fatalf("found %d curl commands in the README quickstart, want at least 5", curls)
	}

	// One bash script: each step's output between markers.
	var script strings.Builder
	script.WriteString("set -e\ncd " + dir + "\n")
	tokensMade := false
	for i, st := range steps {
		cmd := strings.ReplaceAll(st.cmd, "URL=http://127.0.0.1:8200", "URL="+s.scheme+"://"+s.addr)
		if strings.HasPrefix(cmd, "curl") && !tokensMade {
			script.WriteString("sleep 1.5\n") // the README: the server picks up new tokens within a second
			tokensMade = true
		}
		script.WriteString("echo '<<<step " + string(rune('A'+i)) + ">>>'\n" + cmd + "\necho\n")
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Env = os.Environ()
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README quickstart failed: %v\n%s", err, got)
	}
	outputs := map[int]string{}
	parts := regexp.MustCompile(`<<<step (.)>>>\n`).Split(string(got), -1)
	for i := range steps {
		if i+1 < len(parts) {
			outputs[i] = parts[i+1]
		}
	}
	for i, st := range steps {
		for _, want := range st.want {
			pieces := slices.DeleteFunc(strings.Split(want, "..."), func(p string) bool { return strings.Trim(p, ", ") == "" })
			rest := outputs[i]
			for _, p := range pieces {
				p = strings.Trim(p, ", ")
				j := strings.Index(rest, p)
				if j < 0 {
					t.Errorf("README shows, after\n  %s\nthe output %q, but the binary printed\n  %s\n(missing %q)", st.cmd, want, strings.TrimSpace(outputs[i]), p)
					break
				}
				rest = rest[j+len(p):]
			}
		}
	}
}

// TestDevBannerBesideREADME: the banner's "Try it" must not collide with the
// README's quickstart (erasing its subject would make the quickstart answer
// 409 subject_erased), and its token hint must work in another terminal,
// where PIIVAULT_DEV_ROOT_TOKEN is not set: it prints the value itself.
func TestDevBannerBesideREADME(t *testing.T) {
	var quick strings.Builder
	for _, l := range readmeSection(t, "Quickstart with curl") {
		quick.WriteString(l + "\n")
	}
	for _, generated := range []bool{true, false} {
		var b bytes.Buffer
		devBanner(&b, config.Config{Data: "d", TokensFile: "d/tokens.yaml"}, "http://127.0.0.1:1", "embedded", true, "it's-root", generated)
		banner := b.String()
		for _, name := range regexp.MustCompile(`/v1/(?:streams|subjects)/([^/ ]+)/`).FindAllStringSubmatch(banner, -1) {
			if strings.Contains(quick.String(), "/"+name[1]+"/") {
				t.Errorf("banner (generated=%v) uses %q, as the README quickstart does", generated, name[1])
			}
		}
		// A generated token is shown once, to be exported; one the operator
		// chose is a secret of theirs and never echoed (logs keep banners).
		if generated && !strings.Contains(banner, "export PIIVAULT_TOKEN=it's-root") {
			t.Errorf("banner (generated) does not print the root token's value to export:\n%s", banner)
		}
		if !generated && (strings.Contains(banner, "it's-root") || !strings.Contains(banner, "export PIIVAULT_TOKEN=<the value of PIIVAULT_DEV_ROOT_TOKEN>")) {
			t.Errorf("banner (chosen token) echoes it or gives no export hint:\n%s", banner)
		}
	}
}

// TestVersionMatchesOpenAPI: `piivault version` and /openapi.json report the
// same version.
func TestVersionMatchesOpenAPI(t *testing.T) {
	b, err := os.ReadFile("../../internal/httpapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Info struct {
			Version string `json:"version"`
		} `json:"info"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(out.String()), "piivault "+doc.Info.Version; got != want {
		t.Errorf("piivault version prints %q; openapi.json's info.version gives %q", got, want)
	}
}
