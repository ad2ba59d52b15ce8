package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/piivault/piivault/policy"
)

func TestKnownRoles(t *testing.T) {
	ctx := context.Background()
	e, err := policy.New(ctx, policy.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	roles, ok, err := e.KnownRoles(ctx)
	want := []string{"admin", "analytics", "billing", "dpo", "service", "support"}
	if err != nil || !ok || !slices.Equal(roles, want) {
		t.Errorf("KnownRoles() = %v, %v, %v; want %v, true, nil", roles, ok, err, want)
	}

	// A policy that replaces the default and says nothing about roles: no
	// answer rather than a wrong one.
	dir := t.TempDir()
	rego := "package piivault.authz\n\nauthorize := {\"allow\": false, \"reason\": \"no\"}\n\nfield := {\"effect\": \"deny\", \"reason\": \"no\"}\n"
	if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(rego), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := policy.DefaultOptions()
	opts.PolicyDir, opts.ReplaceDefault = dir, true
	e2, err := policy.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if roles, ok, err := e2.KnownRoles(ctx); ok || err != nil || roles != nil {
		t.Errorf("KnownRoles() without the rule = %v, %v, %v; want nil, false, nil", roles, ok, err)
	}
}
