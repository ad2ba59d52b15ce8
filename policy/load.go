package policy

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

//go:embed default/*.rego
var defaultFS embed.FS

// DefaultPolicy returns the shipped default policy sources (file name to
// Rego text), without its tests. Operators can print it as a starting point.
func DefaultPolicy() map[string]string {
	out := make(map[string]string)
	_ = fs.WalkDir(defaultFS, "default", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isPolicyFile(p) {
			return err
		}
		b, err := defaultFS.ReadFile(p)
		if err != nil {
			return err
		}
		out[path.Base(p)] = string(b)
		return nil
	})
	return out
}

// defaultSources returns the embedded default policy, with its tests for the
// Go test that runs them through OPA's tester.
func defaultSources(withTests bool) map[string]string {
	out := make(map[string]string)
	ents, _ := defaultFS.ReadDir("default")
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".rego") || (!withTests && strings.HasSuffix(n, "_test.rego")) {
			continue
		}
		b, _ := defaultFS.ReadFile("default/" + n)
		out["default/"+n] = string(b)
	}
	return out
}

func isPolicyFile(p string) bool {
	return strings.HasSuffix(p, ".rego") && !strings.HasSuffix(p, "_test.rego")
}

// skipFile is the loader filter for operator folders: tests, dot-files and
// dot-folders (editor swap files, Kubernetes ConfigMap ..data links) are not
// policy.
func skipFile(abspath string, info fs.FileInfo, depth int) bool {
	name := info.Name()
	if strings.HasPrefix(name, ".") && depth > 0 {
		return true
	}
	if info.IsDir() {
		return false
	}
	if strings.HasSuffix(name, "_test.rego") {
		return true
	}
	switch path.Ext(name) {
	case ".rego", ".json", ".yaml", ".yml":
		return false
	}
	return true
}

// sources gathers modules and data from the default policy, PolicyDir and
// BundlePath.
func (e *Engine) sources() (map[string]*ast.Module, map[string]any, error) {
	modules := make(map[string]*ast.Module)
	data := make(map[string]any)
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}
	if !e.opts.ReplaceDefault {
		for name, src := range defaultSources(false) {
			m, err := ast.ParseModuleWithOpts("piivault:"+name, src, popts)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: shipped default: %v", ErrInvalidPolicy, err)
			}
			modules["piivault:"+name] = m
		}
	}
	if dir := e.opts.PolicyDir; dir != "" {
		res, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithProcessAnnotation(true).Filtered([]string{dir}, skipFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: policy folder: %v", ErrInvalidPolicy, err)
		}
		for name, f := range res.Modules {
			modules[name] = f.Parsed
		}
		if err := mergeData(data, res.Documents); err != nil {
			return nil, nil, fmt.Errorf("%w: policy folder data: %v", ErrInvalidPolicy, err)
		}
	}
	if bp := e.opts.BundlePath; bp != "" {
		b, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).WithProcessAnnotation(true).AsBundle(bp)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: bundle: %v", ErrInvalidPolicy, err)
		}
		for _, mf := range b.Modules {
			if strings.HasSuffix(mf.Path, "_test.rego") {
				continue
			}
			modules["bundle:"+mf.Path] = mf.Parsed
		}
		if err := mergeData(data, b.Data); err != nil {
			return nil, nil, fmt.Errorf("%w: bundle data: %v", ErrInvalidPolicy, err)
		}
	}
	if len(modules) == 0 {
		return nil, nil, fmt.Errorf("%w: no policy modules (default replaced and no folder or bundle)", ErrInvalidPolicy)
	}
	return modules, data, nil
}

// mergeData merges src into dst, refusing two sources that set the same leaf
// to different values.
func mergeData(dst, src map[string]any) error {
	for k, v := range src {
		old, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			if err := mergeData(om, nm); err != nil {
				return fmt.Errorf("%s.%w", k, err)
			}
			continue
		}
		return fmt.Errorf("%s: set twice", k)
	}
	return nil
}

// compile builds a new state: compile, check entry points, analyse input
// dependencies, prepare both queries.
func (e *Engine) compile(ctx context.Context) (*state, error) {
	modules, data, err := e.sources()
	if err != nil {
		return nil, err
	}
	c := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	c.Compile(modules)
	if c.Failed() {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, c.Errors)
	}
	for _, q := range []string{authorizeQuery, fieldQuery} {
		if len(c.GetRules(ast.MustParseRef(q))) == 0 {
			return nil, fmt.Errorf("%w: %w: %s is not defined", ErrInvalidPolicy, errNoEntryPoint, q)
		}
	}
	store := inmem.NewFromObject(data)
	st := &state{deps: analyseInput(c.Modules), revision: revision(modules, data)}
	for _, p := range []struct {
		q   string
		dst *rego.PreparedEvalQuery
	}{{authorizeQuery, &st.authorize}, {fieldQuery, &st.field}} {
		pq, err := rego.New(rego.Query(p.q), rego.Compiler(c), rego.Store(store)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: prepare %s: %v", ErrInvalidPolicy, p.q, err)
		}
		*p.dst = pq
	}
	if len(c.GetRules(ast.MustParseRef(knownRolesQuery))) > 0 {
		pq, err := rego.New(rego.Query(knownRolesQuery), rego.Compiler(c), rego.Store(store)).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: prepare %s: %v", ErrInvalidPolicy, knownRolesQuery, err)
		}
		st.knownRoles = &pq
	}
	if err := st.probe(ctx); err != nil {
		return nil, err
	}
	if !st.deps.nondeterministic {
		st.cache = newCache(e.opts.CacheSize)
	}
	return st, nil
}

// probe evaluates both queries on a few inputs and refuses the policy if one
// of them fails to evaluate. Rego reports some mistakes only at evaluation,
// two complete rules with different values (a "conflict") being the usual
// one; catching it here keeps the previous policy rather than installing one
// that errors on every request. An undefined answer is not refused: an
// operator's policy may legitimately leave a probe undefined (it is then a
// deny with ErrBadDecision at request time).
func (st *state) probe(ctx context.Context) error {
	for _, a := range []Action{ActionAppend, ActionRead, ActionSubscribe, ActionErase, ActionExport, ActionAudit, ActionAdmin} {
		for _, roles := range [][]string{nil, {"piivault-probe"}, {"service", "support", "billing", "analytics", "dpo", "admin"}} {
			in := Input{
				Principal: Principal{ID: "piivault-probe", Roles: roles},
				Action:    a,
				Resource:  Resource{Stream: "probe", EventType: "Probe", Subject: "probe", Path: "/probe", Class: "email"},
			}
			for _, kind := range []Kind{KindRequest, KindField} {
				if _, err := st.eval(ctx, kind, &in); err != nil && !errors.Is(err, ErrBadDecision) {
					return fmt.Errorf("%w: %s probe for action %s: %v", ErrInvalidPolicy, kind, a, err)
				}
			}
		}
	}
	return nil
}

// revision hashes the sources so logs and decision records name the policy
// that decided.
func revision(modules map[string]*ast.Module, data map[string]any) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		src := modules[name].String()
		fmt.Fprintf(h, "%d:%s%d:%s", len(name), name, len(src), src)
	}
	b, _ := json.Marshal(data) // map keys are encoded sorted
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))[:12]
}
