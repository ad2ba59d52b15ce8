package validate

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Dockerfile is a parsed Dockerfile: the global ARG defaults (before the
// first FROM) and its stages, parsed by BuildKit's own parser.
type Dockerfile struct {
	Args   map[string]string
	Stages []Stage
}

// Stage is one FROM ... section.
type Stage struct {
	Name      string // the AS name, lowercased; "" if none
	BaseRaw   string // the image as written, such as golang:${GO_VERSION}
	Base      string // the image with global ARGs expanded
	Line      int
	Nodes     []*parser.Node // the stage's instructions after FROM
	LocalArgs map[string]string
}

// ParseDockerfile parses data with BuildKit's Dockerfile parser.
func ParseDockerfile(data []byte) (*Dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse dockerfile: %w", err)
	}
	df := &Dockerfile{Args: map[string]string{}}
	lex := shell.NewLex(res.EscapeToken)
	for _, n := range res.AST.Children {
		switch strings.ToLower(n.Value) {
		case "arg":
			dst := df.Args
			if len(df.Stages) > 0 {
				dst = df.Stages[len(df.Stages)-1].LocalArgs
			}
			for a := n.Next; a != nil; a = a.Next {
				k, v, _ := strings.Cut(a.Value, "=")
				if len(df.Stages) > 0 && v == "" {
					// A stage re-declaring a global ARG inherits its default.
					v = df.Args[k]
				}
				dst[k] = v
			}
		case "from":
			if n.Next == nil {
				return nil, fmt.Errorf("parse dockerfile: line %d: FROM without an image", n.StartLine)
			}
			st := Stage{BaseRaw: n.Next.Value, Line: n.StartLine, LocalArgs: map[string]string{}}
			if as := n.Next.Next; as != nil && strings.EqualFold(as.Value, "as") && as.Next != nil {
				st.Name = strings.ToLower(as.Next.Value)
			}
			base, _, err := lex.ProcessWord(st.BaseRaw, envMap(df.Args))
			if err != nil {
				return nil, fmt.Errorf("parse dockerfile: line %d: %w", n.StartLine, err)
			}
			st.Base = base
			df.Stages = append(df.Stages, st)
		default:
			if len(df.Stages) == 0 {
				return nil, fmt.Errorf("parse dockerfile: line %d: %s before the first FROM", n.StartLine, n.Value)
			}
			s := &df.Stages[len(df.Stages)-1]
			s.Nodes = append(s.Nodes, n)
		}
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("parse dockerfile: no FROM")
	}
	return df, nil
}

// Rule IDs of the Dockerfile checks.
const (
	RuleMultiStage    = "multi-stage"
	RuleBasePinned    = "base-image-pinned"
	RuleNonRootUser   = "non-root-user"
	RuleStaticBuild   = "static-build"
	RuleHealthcheck   = "healthcheck"
	RuleDataVolume    = "data-volume"
	RuleStaticRuntime = "static-runtime-base"
	RuleNoRemoteAdd   = "no-remote-add"
)

// CheckDockerfile applies piivault's image rules: at least two stages; every
// base pinned by a tag that is not latest (or by digest); the final stage
// on distroless/static or scratch, copying the binary from an earlier
// stage, running as a numeric non-root USER, declaring /data a VOLUME and a
// HEALTHCHECK; a go build with CGO_ENABLED=0; no ADD of a URL.
func CheckDockerfile(df *Dockerfile) []Finding {
	var out []Finding
	add := func(line int, rule, format string, args ...any) {
		out = append(out, Finding{Source: "Dockerfile", Object: fmt.Sprintf("line %d", line), Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	if len(df.Stages) < 2 {
		add(df.Stages[0].Line, RuleMultiStage, "one stage: build in one stage and copy only the binary into the runtime stage")
	}
	names := map[string]bool{}
	for _, st := range df.Stages {
		if names[strings.ToLower(st.Base)] {
			// FROM an earlier stage: pinned by construction.
		} else if st.Base != "scratch" {
			if err := CheckImageRef(st.Base); err != nil {
				add(st.Line, RuleBasePinned, "FROM %s: %v", st.BaseRaw, err)
			}
		}
		if st.Name != "" {
			names[st.Name] = true
		}
		for _, n := range st.Nodes {
			if strings.EqualFold(n.Value, "add") && n.Next != nil && regexp.MustCompile(`^(https?|git)://`).MatchString(n.Next.Value) {
				add(n.StartLine, RuleNoRemoteAdd, "ADD of a URL is not reproducible; download in a build stage with a checksum")
			}
		}
	}
	final := df.Stages[len(df.Stages)-1]
	if !(final.Base == "scratch" || strings.Contains(final.Base, "distroless/static")) {
		add(final.Line, RuleStaticRuntime, "final base %s: want gcr.io/distroless/static* or scratch for a static binary", final.Base)
	}
	var user string
	userLine := final.Line
	var health, volume, copyFrom bool
	for _, n := range final.Nodes {
		switch strings.ToLower(n.Value) {
		case "user":
			if n.Next != nil {
				user, userLine = n.Next.Value, n.StartLine
			}
		case "healthcheck":
			health = n.Next != nil && !strings.EqualFold(n.Next.Value, "none")
		case "volume":
			for a := n.Next; a != nil; a = a.Next {
				if strings.TrimRight(a.Value, "/") == "/data" {
					volume = true
				}
			}
		case "copy":
			for _, f := range n.Flags {
				if strings.HasPrefix(f, "--from=") {
					copyFrom = true
				}
			}
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	switch n, err := strconv.Atoi(uid); {
	case user == "":
		add(userLine, RuleNonRootUser, "the final stage sets no USER (runs as root)")
	case err != nil:
		add(userLine, RuleNonRootUser, "USER %s is not numeric: Kubernetes runAsNonRoot cannot verify a user name", user)
	case n == 0:
		add(userLine, RuleNonRootUser, "USER %s is root", user)
	}
	if !health {
		add(final.Line, RuleHealthcheck, "the final stage has no HEALTHCHECK")
	}
	if !volume {
		add(final.Line, RuleDataVolume, "the final stage does not declare VOLUME /data")
	}
	if !copyFrom {
		add(final.Line, RuleMultiStage, "the final stage copies nothing from a build stage")
	}
	if env, args, err := df.GoBuild(); err != nil {
		add(final.Line, RuleStaticBuild, "%v", err)
	} else if env["CGO_ENABLED"] != "0" {
		add(final.Line, RuleStaticBuild, "go build without CGO_ENABLED=0 (args %v)", args)
	}
	return out
}

// GoBuild finds the RUN instruction that runs `go build` and returns its
// variable assignments and the go command's words (starting with "go",
// "build"), with ARG defaults expanded and quotes removed, as the shell in
// the build stage would see them.
func (df *Dockerfile) GoBuild() (env map[string]string, args []string, err error) {
	lex := shell.NewLex('\\')
	for _, st := range df.Stages {
		// The stage's ARGs (collected by ParseDockerfile), then its ENVs.
		vars := map[string]string{}
		for k, v := range st.LocalArgs {
			vars[k] = v
		}
		for _, n := range st.Nodes {
			switch strings.ToLower(n.Value) {
			case "env":
				// BuildKit stores ENV as (key, value, separator) triples.
				for a := n.Next; a != nil && a.Next != nil; {
					vars[a.Value] = a.Next.Value
					if a.Next.Next == nil {
						break
					}
					a = a.Next.Next.Next
				}
			case "run":
				if n.Next == nil || !strings.Contains(n.Next.Value, "go build") {
					continue
				}
				words, err := lex.ProcessWords(n.Next.Value, envMap(vars))
				if err != nil {
					return nil, nil, fmt.Errorf("line %d: %w", n.StartLine, err)
				}
				return splitGoBuild(words)
			}
		}
	}
	return nil, nil, fmt.Errorf("no RUN with go build")
}

var envAssign = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func splitGoBuild(words []string) (map[string]string, []string, error) {
	env := map[string]string{}
	start := -1
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "go" && words[i+1] == "build" {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, nil, fmt.Errorf("no go build command")
	}
	// Assignments directly before "go" apply to it.
	for i := start - 1; i >= 0 && envAssign.MatchString(words[i]); i-- {
		k, v, _ := strings.Cut(words[i], "=")
		env[k] = v
	}
	var args []string
	for _, w := range words[start:] {
		if w == "&&" || w == ";" || w == "||" || w == "|" {
			break
		}
		args = append(args, w)
	}
	return env, args, nil
}

type envMap map[string]string

func (m envMap) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func (m envMap) Keys() []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
