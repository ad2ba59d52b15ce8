package policy

import (
	"context"
	"path/filepath"
	"testing"

	"pgregory.net/rapid"
)

// TestPropertyCachedEqualsUncached: over random inputs (shipped roles and
// unknown ones, several roles at once, purposes, classes, actions, subjects),
// a caching engine answers exactly like an engine without a cache, every
// answer is well-formed, and root always reveals. The extension policy is
// subject-dependent so the cache key's subject handling is exercised.
func TestPropertyCachedEqualsUncached(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "self.rego"), `package piivault.authz
field_grant contains {"effect": "reveal", "reason": "own record"} if {
	input.action in read_actions
	"customer" in roles
	input.principal.attributes.subject == input.resource.subject
}
request_allow contains "own record" if {
	input.action in read_actions
	"customer" in roles
	input.principal.attributes.subject == input.resource.subject
}
`)
	base := DefaultOptions()
	base.PolicyDir, base.Watch = dir, false
	cached := newEngine(t, base)
	base.CacheSize = 0
	uncached := newEngine(t, base)

	roleGen := rapid.SampledFrom(append(append([]string{}, allRoles...), "customer", "intern"))
	subjGen := rapid.SampledFrom([]string{"c1", "c2", ""})
	rapid.Check(t, func(t *rapid.T) {
		in := Input{
			Principal: Principal{
				ID:         rapid.SampledFrom([]string{"p1", "p2"}).Draw(t, "id"),
				Roles:      rapid.SliceOfN(roleGen, 0, 3).Draw(t, "roles"),
				Attributes: map[string]string{"subject": subjGen.Draw(t, "attrSubject")},
				Root:       rapid.Float64Range(0, 1).Draw(t, "rootDraw") < 0.05,
			},
			Action:  rapid.SampledFrom(allActions).Draw(t, "action"),
			Purpose: rapid.SampledFrom(allPurposes).Draw(t, "purpose"),
			Resource: Resource{
				Stream:    "s",
				EventType: rapid.SampledFrom([]string{"A", "B"}).Draw(t, "type"),
				Subject:   subjGen.Draw(t, "subject"),
				Path:      rapid.SampledFrom([]string{"/a", "/b"}).Draw(t, "path"),
				Class:     rapid.SampledFrom(append(append([]string{}, allClasses...), "")).Draw(t, "class"),
			},
		}
		for _, kind := range []Kind{KindRequest, KindField} {
			ask := func(e *Engine) (Decision, error) {
				if kind == KindField {
					return e.Field(ctx, in)
				}
				return e.Authorize(ctx, in)
			}
			got, err := ask(cached)
			if err != nil {
				t.Fatalf("%s cached: %v", kind, err)
			}
			want, err := ask(uncached)
			if err != nil {
				t.Fatalf("%s uncached: %v", kind, err)
			}
			if got != want {
				t.Fatalf("%s: cached %+v, uncached %+v", kind, got, want)
			}
			if got.Reason == "" {
				t.Fatalf("%s: empty reason", kind)
			}
			if kind == KindField && (!got.Effect.Valid() || got.Allow != (got.Effect != EffectDeny)) {
				t.Fatalf("field decision %+v is not well-formed", got)
			}
			if in.Principal.Root && !(got.Allow && (kind == KindRequest || got.Effect == EffectReveal)) {
				t.Fatalf("root got %+v", got)
			}
		}
	})
}
