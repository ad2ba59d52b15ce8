package validate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const dockerfilePath = "../docker/Dockerfile"

func parseDockerfileFile(t *testing.T, path string) *Dockerfile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	df, err := ParseDockerfile(data)
	if err != nil {
		t.Fatalf("ParseDockerfile(%s): %v", path, err)
	}
	return df
}

func TestDockerfileFollowsRules(t *testing.T) {
	df := parseDockerfileFile(t, dockerfilePath)
	for _, f := range CheckDockerfile(df) {
		t.Errorf("%s", f)
	}
	// The build stage's Go is the main module's: go.mod's go line.
	gomod, err := os.ReadFile(filepath.Join(mainModule, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := ""
	for _, l := range splitLines(string(gomod)) {
		if v, ok := strings.CutPrefix(l, "go "); ok {
			goVersion = strings.TrimSpace(v)
		}
	}
	if got, want := df.Stages[0].Base, "golang:"+goVersion; goVersion == "" || got != want {
		t.Errorf("build stage base = %q, want %q (go.mod's go line)", got, want)
	}
	env, args, err := df.GoBuild()
	if err != nil {
		t.Fatal(err)
	}
	if env["CGO_ENABLED"] != "0" || !slices.Contains(args, "-trimpath") || !slices.Contains(args, "./cmd/piivault") {
		t.Errorf("GoBuild() = %v %v, want CGO_ENABLED=0 go build -trimpath ... ./cmd/piivault", env, args)
	}
	if i := slices.Index(args, "-ldflags=-s -w -X main.version=dev"); i < 0 {
		t.Errorf("GoBuild() args %q: want the quoted -ldflags with ${VERSION} expanded to its ARG default", args)
	}
}

// TestDockerignoreKeepsSecretsOut: the build context never carries local
// data folders, keys or the git history into an image layer.
func TestDockerignoreKeepsSecretsOut(t *testing.T) {
	data, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := splitLines(string(data))
	for _, want := range []string{".git", "**/piivault-data", "**/*.kek", "**/*.key", "**/*.pem", "**/.env"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
	for _, never := range []string{"go.mod", "go.sum", "cmd", "*.go", "**/*.go"} {
		if slices.Contains(lines, never) {
			t.Errorf(".dockerignore excludes %q, which the build needs", never)
		}
	}
}

func TestDockerfileRulesReject(t *testing.T) {
	tests := []struct {
		file string
		rule string
	}{
		{"single-stage.Dockerfile", RuleMultiStage},
		{"latest-base.Dockerfile", RuleBasePinned},
		{"untagged-base.Dockerfile", RuleBasePinned},
		{"arg-latest-base.Dockerfile", RuleBasePinned},
		{"no-user.Dockerfile", RuleNonRootUser},
		{"root-user.Dockerfile", RuleNonRootUser},
		{"named-user.Dockerfile", RuleNonRootUser},
		{"cgo.Dockerfile", RuleStaticBuild},
		{"no-healthcheck.Dockerfile", RuleHealthcheck},
		{"no-volume.Dockerfile", RuleDataVolume},
		{"fat-runtime.Dockerfile", RuleStaticRuntime},
		{"remote-add.Dockerfile", RuleNoRemoteAdd},
	}
	good := parseDockerfileFile(t, filepath.Join("testdata", "dockerfile", "good.Dockerfile"))
	if f := CheckDockerfile(good); len(f) != 0 {
		t.Fatalf("good.Dockerfile fails: %v", f)
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			df := parseDockerfileFile(t, filepath.Join("testdata", "dockerfile", tt.file))
			got := CheckDockerfile(df)
			if !slices.ContainsFunc(got, func(f Finding) bool { return f.Rule == tt.rule }) {
				t.Fatalf("CheckDockerfile(%s) = %v, want a %s finding", tt.file, got, tt.rule)
			}
		})
	}
}

func FuzzParseDockerfile(f *testing.F) {
	for _, p := range []string{dockerfilePath, "testdata/dockerfile/good.Dockerfile", "testdata/dockerfile/arg-latest-base.Dockerfile"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("FROM a\nRUN go build"))
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := ParseDockerfile(data)
		if err != nil {
			return
		}
		_ = CheckDockerfile(df) // must not panic
		_, _, _ = df.GoBuild()
	})
}

func FuzzDecodeStrict(f *testing.F) {
	for _, p := range []string{"../kubernetes/deployment.yaml", "testdata/bad/second-document-bad.yaml", "testdata/bad/duplicate-key.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := DecodeStrict("fuzz", data)
		if err != nil {
			return
		}
		_ = CheckObjects(objs) // must not panic
	})
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
