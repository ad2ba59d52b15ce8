package policy

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestShippedPolicyRego runs the Rego unit tests next to the shipped policy
// (default/*_test.rego) through OPA's own tester.
func TestShippedPolicyRego(t *testing.T) {
	ctx := context.Background()
	modules := make(map[string]*ast.Module)
	for name, src := range defaultSources(true) {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		modules[name] = m
	}
	ch, err := tester.NewRunner().SetDefaultRegoVersion(ast.RegoV1).SetModules(modules).RaiseBuiltinErrors(true).Run(ctx, modules)
	if err != nil {
		t.Fatalf("run rego tests: %v", err)
	}
	n := 0
	for r := range ch {
		n++
		t.Run(r.Name, func(t *testing.T) {
			if r.Error != nil {
				t.Fatalf("%s: error: %v", r.Name, r.Error)
			}
			if r.Fail {
				t.Fatalf("%s: failed (%s)", r.Name, r.Location)
			}
			if r.Skip {
				t.Skipf("%s: skipped", r.Name)
			}
		})
	}
	if n < 10 {
		t.Fatalf("ran %d rego tests, want at least 10: are the *_test.rego files embedded?", n)
	}
}
