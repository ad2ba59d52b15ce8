package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
)

var (
	allRoles    = []string{"support", "billing", "analytics", "service", "dpo", "admin", "nobody"}
	allPurposes = []string{"support", "billing", "analytics", "", "marketing"}
	allClasses  = []string{"name", "email", "phone", "address", "date_of_birth", "national_id", "ip_address", "free_text", "detected"}
	allActions  = []Action{ActionAppend, ActionRead, ActionSubscribe, ActionErase, ActionExport, ActionAudit, ActionAdmin}
)

// newEngine starts an engine for a test and closes it at the end.
func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	e, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// writeFile writes a policy file for a test.
func writeFile(t testing.TB, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantFieldEffect is the shipped policy's field matrix, written out as the
// product requirement states it, independently of the Rego.
func wantFieldEffect(role string, action Action, purpose, class string) Effect {
	if action == ActionExport {
		if role == "dpo" {
			return EffectReveal
		}
		return EffectDeny
	}
	if action != ActionRead && action != ActionSubscribe {
		return EffectDeny
	}
	switch {
	case role == "support" && purpose == "support":
		switch class {
		case "name", "email":
			return EffectReveal
		case "phone":
			return EffectMask
		}
	case role == "billing" && purpose == "billing" && class == "address":
		return EffectReveal
	case role == "analytics" && purpose == "analytics":
		return EffectTokenize
	case role == "service":
		return EffectTokenize
	}
	return EffectDeny
}

// wantAllow is the shipped policy's request matrix.
func wantAllow(role string, action Action, purpose string) bool {
	switch role {
	case "service":
		return action == ActionAppend || action == ActionRead || action == ActionSubscribe
	case "support", "billing", "analytics":
		return (action == ActionRead || action == ActionSubscribe) && purpose == role
	case "dpo":
		return action == ActionErase || action == ActionExport || action == ActionAudit
	case "admin":
		return action == ActionAdmin
	}
	return false
}

func TestFieldMatrix(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, DefaultOptions())
	for _, role := range allRoles {
		for _, action := range []Action{ActionRead, ActionSubscribe, ActionExport, ActionAppend} {
			for _, purpose := range allPurposes {
				for _, class := range allClasses {
					name := fmt.Sprintf("%s/%s/%s/%s", role, action, purpose, class)
					t.Run(name, func(t *testing.T) {
						in := Input{
							Principal: Principal{ID: "p-" + role, Roles: []string{role}},
							Action:    action, Purpose: purpose,
							Resource: Resource{Stream: "order-1", EventType: "OrderPlaced", Subject: "cust-42", Path: "/" + class, Class: class},
						}
						want := wantFieldEffect(role, action, purpose, class)
						for pass := range 2 { // uncached, then cached
							d, err := e.Field(ctx, in)
							if err != nil {
								t.Fatalf("Field(%s) pass %d: %v", name, pass, err)
							}
							if d.Effect != want || d.Allow != (want != EffectDeny) || d.Reason == "" {
								t.Fatalf("Field(%s) pass %d = %+v, want effect %q", name, pass, d, want)
							}
						}
					})
				}
			}
		}
	}
}

func TestAuthorizeMatrix(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, DefaultOptions())
	for _, role := range allRoles {
		for _, action := range allActions {
			for _, purpose := range allPurposes {
				name := fmt.Sprintf("%s/%s/%s", role, action, purpose)
				t.Run(name, func(t *testing.T) {
					in := Input{Principal: Principal{ID: "p-" + role, Roles: []string{role}}, Action: action, Purpose: purpose,
						Resource: Resource{Stream: "order-1", Subject: "cust-42"}}
					want := wantAllow(role, action, purpose)
					for pass := range 2 {
						d, err := e.Authorize(ctx, in)
						if err != nil {
							t.Fatalf("Authorize(%s): %v", name, err)
						}
						if d.Allow != want || d.Effect != "" || d.Reason == "" {
							t.Fatalf("Authorize(%s) pass %d = %+v, want allow %v", name, pass, d, want)
						}
					}
				})
			}
		}
	}
}

func TestMultipleRolesMostRevealingWins(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, DefaultOptions())
	tests := []struct {
		roles   []string
		purpose string
		class   string
		want    Effect
	}{
		{[]string{"service", "support"}, "support", "email", EffectReveal},
		{[]string{"support", "service"}, "support", "address", EffectTokenize},
		{[]string{"analytics", "support"}, "support", "phone", EffectMask},
		{[]string{"billing", "support"}, "billing", "address", EffectReveal},
		{[]string{"billing", "support"}, "billing", "email", EffectDeny},
	}
	for _, tt := range tests {
		in := Input{Principal: Principal{ID: "p", Roles: tt.roles}, Action: ActionRead, Purpose: tt.purpose, Resource: Resource{Class: tt.class}}
		d, err := e.Field(ctx, in)
		if err != nil || d.Effect != tt.want {
			t.Errorf("Field(%v, %q, %q) = %+v, %v; want %q", tt.roles, tt.purpose, tt.class, d, err, tt.want)
		}
	}
}

func TestRootPassesEverything(t *testing.T) {
	ctx := context.Background()
	var recs []DecisionRecord
	opts := DefaultOptions()
	opts.DecisionLog = func(r DecisionRecord) { recs = append(recs, r) }
	e := newEngine(t, opts)
	root := Principal{ID: "root", Root: true}
	for _, a := range allActions {
		d, err := e.Authorize(ctx, Input{Principal: root, Action: a})
		if err != nil || !d.Allow {
			t.Errorf("Authorize(root, %s) = %+v, %v; want allow", a, d, err)
		}
		for _, c := range allClasses {
			d, err := e.Field(ctx, Input{Principal: root, Action: a, Resource: Resource{Class: c}})
			if err != nil || d.Effect != EffectReveal || !d.Allow {
				t.Errorf("Field(root, %s, %s) = %+v, %v; want reveal", a, c, d, err)
			}
		}
	}
	if len(recs) != len(allActions)*(1+len(allClasses)) {
		t.Fatalf("got %d decision records, want %d", len(recs), len(allActions)*(1+len(allClasses)))
	}
	for _, r := range recs {
		if !r.Root || r.Principal != "root" {
			t.Fatalf("record %+v: want Root and principal root", r)
		}
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, DefaultOptions())
	tests := []struct {
		name string
		in   Input
	}{
		{"unknown action", Input{Principal: Principal{ID: "p", Roles: []string{"service"}}, Action: "delete"}},
		{"empty action", Input{Principal: Principal{ID: "p", Roles: []string{"service"}}}},
		{"no principal id", Input{Principal: Principal{Roles: []string{"service"}}, Action: ActionAppend}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.Authorize(ctx, tt.in)
			if !errors.Is(err, ErrInvalidInput) || d.Allow {
				t.Errorf("Authorize = %+v, %v; want deny and ErrInvalidInput", d, err)
			}
			d, err = e.Field(ctx, tt.in)
			if !errors.Is(err, ErrInvalidInput) || d.Allow || d.Effect != EffectDeny {
				t.Errorf("Field = %+v, %v; want deny and ErrInvalidInput", d, err)
			}
		})
	}
}

func TestMalformedPolicyDecisionIsDeny(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.rego"), `package piivault.authz
authorize := {"allow": "yes"} if input.action == "append"
authorize := {"allow": true, "reason": "ok"} if input.action == "admin"
field := {"effect": "show", "reason": "?"} if input.resource.class == "email"
field := {"effect": "reveal", "reason": "ok"} if input.resource.class == "name"
`)
	opts := DefaultOptions()
	opts.PolicyDir, opts.ReplaceDefault = dir, true
	e := newEngine(t, opts)
	p := Principal{ID: "p", Roles: []string{"x"}}
	tests := []struct {
		name  string
		field bool
		in    Input
		err   error
	}{
		{"allow not bool", false, Input{Principal: p, Action: ActionAppend}, ErrBadDecision},
		{"authorize undefined", false, Input{Principal: p, Action: ActionRead}, ErrBadDecision},
		{"authorize fine", false, Input{Principal: p, Action: ActionAdmin}, nil},
		{"unknown effect", true, Input{Principal: p, Action: ActionRead, Resource: Resource{Class: "email"}}, ErrBadDecision},
		{"field undefined", true, Input{Principal: p, Action: ActionRead, Resource: Resource{Class: "phone"}}, ErrBadDecision},
		{"field fine", true, Input{Principal: p, Action: ActionRead, Resource: Resource{Class: "name"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // errors must not be cached as answers
				var d Decision
				var err error
				if tt.field {
					d, err = e.Field(ctx, tt.in)
				} else {
					d, err = e.Authorize(ctx, tt.in)
				}
				if !errors.Is(err, tt.err) && !(tt.err == nil && err == nil) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if tt.err != nil && (d.Allow || (tt.field && d.Effect != EffectDeny)) {
					t.Fatalf("decision %+v on error, want deny", d)
				}
				if tt.err == nil && !d.Allow {
					t.Fatalf("decision %+v, want allow", d)
				}
			}
		})
	}
}

// extension lets billing also see names for purpose billing.
const extension = `package piivault.authz
field_grant contains {"effect": "reveal", "reason": "billing sees names"} if {
	input.action in read_actions
	"billing" in roles
	input.purpose == "billing"
	input.resource.class == "name"
}
`

var billingName = Input{Principal: Principal{ID: "b", Roles: []string{"billing"}}, Action: ActionRead, Purpose: "billing", Resource: Resource{Class: "name"}}

func TestReloadInvalidPolicyKeepsOld(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "extra.rego"), extension)
	var logs bytes.Buffer
	opts := DefaultOptions()
	opts.PolicyDir, opts.Watch = dir, false
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	e := newEngine(t, opts)
	check := func(want Effect) {
		t.Helper()
		d, err := e.Field(ctx, billingName)
		if err != nil || d.Effect != want {
			t.Fatalf("Field(billing, name) = %+v, %v; want %q", d, err, want)
		}
	}
	check(EffectReveal)
	rev := e.Revision()

	for name, src := range map[string]string{
		"syntax error":         "package piivault.authz\nfield_grant contains {",
		"compile error":        "package piivault.authz\nfield_grant contains x if { y == 1 }",
		"conflicting defaults": "package piivault.authz\nfield := {\"effect\": \"reveal\", \"reason\": \"x\"}",
	} {
		t.Run(name, func(t *testing.T) {
			writeFile(t, filepath.Join(dir, "extra.rego"), src)
			err := e.Reload(ctx)
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Reload = %v, want ErrInvalidPolicy", err)
			}
			if e.Revision() != rev {
				t.Fatalf("revision changed to %s after a refused reload", e.Revision())
			}
			check(EffectReveal)
		})
	}
	if !strings.Contains(logs.String(), "policy reload refused") {
		t.Errorf("log %q does not say the reload was refused", logs.String())
	}

	// A valid change replaces the policy and starts a fresh cache.
	if err := os.Remove(filepath.Join(dir, "extra.rego")); err != nil {
		t.Fatal(err)
	}
	if n := e.cur.Load().cache.len(); n == 0 {
		t.Fatalf("cache empty before reload, test is not testing anything")
	}
	if err := e.Reload(ctx); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if n := e.cur.Load().cache.len(); n != 0 {
		t.Fatalf("cache has %d entries after reload, want 0", n)
	}
	check(EffectDeny)
	if e.Revision() == rev {
		t.Fatalf("revision unchanged after a real reload")
	}
}

func TestNewRefusesInvalidPolicy(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		replace bool
	}{
		{"syntax", map[string]string{"a.rego": "package x\nallow if {"}, false},
		{"no entry points", map[string]string{"a.rego": "package piivault.authz\nfoo := 1"}, true},
		{"nothing at all", nil, true},
		{"bad data", map[string]string{"data.json": "{"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, s := range tt.files {
				writeFile(t, filepath.Join(dir, n), s)
			}
			opts := DefaultOptions()
			opts.PolicyDir, opts.ReplaceDefault, opts.Watch = dir, tt.replace, false
			e, err := New(context.Background(), opts)
			if !errors.Is(err, ErrInvalidPolicy) {
				if e != nil {
					e.Close()
				}
				t.Fatalf("New = %v, want ErrInvalidPolicy", err)
			}
		})
	}
}

func TestFolderSkipsTestsAndDotFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "extra.rego"), extension)
	writeFile(t, filepath.Join(dir, "extra_test.rego"), "package piivault.authz_test\ntest_x if { undefined_thing }")
	writeFile(t, filepath.Join(dir, ".swap.rego"), "garbage {")
	writeFile(t, filepath.Join(dir, "README.md"), "not policy")
	opts := DefaultOptions()
	opts.PolicyDir, opts.Watch = dir, false
	e := newEngine(t, opts)
	if d, err := e.Field(context.Background(), billingName); err != nil || d.Effect != EffectReveal {
		t.Fatalf("Field(billing, name) = %+v, %v; want reveal", d, err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatchHotReload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logs := &testenv.Buffer{}
	opts := DefaultOptions()
	opts.PolicyDir, opts.Debounce = dir, 20*time.Millisecond
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	e := newEngine(t, opts)
	effect := func() Effect {
		d, _ := e.Field(ctx, billingName)
		return d.Effect
	}
	if got := effect(); got != EffectDeny {
		t.Fatalf("before: %q, want deny", got)
	}

	// A new file in a new sub-folder is picked up.
	writeFile(t, filepath.Join(dir, "teams", "billing.rego"), extension)
	waitFor(t, "the extension to load", func() bool { return effect() == EffectReveal })

	// An invalid edit is refused; the old policy stays.
	rev := e.Revision()
	writeFile(t, filepath.Join(dir, "teams", "billing.rego"), "package piivault.authz\nfield_grant contains {")
	waitFor(t, "the refusal to be logged", func() bool { return strings.Contains(logs.String(), "policy reload refused") })
	if got := effect(); got != EffectReveal || e.Revision() != rev {
		t.Fatalf("after invalid edit: %q rev %s, want reveal rev %s", got, e.Revision(), rev)
	}

	// Removing it goes back to the shipped policy.
	if err := os.RemoveAll(filepath.Join(dir, "teams")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removal to load", func() bool { return effect() == EffectDeny })
}
