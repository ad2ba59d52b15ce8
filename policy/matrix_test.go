package policy

import (
	"context"
	"testing"
)

// TestMatrixOfTheShippedPolicy checks the matrix against what the shipped
// policy's comments promise, cell by cell, and that each cell equals a
// direct Field decision (the matrix asks the engine, it assumes nothing).
func TestMatrixOfTheShippedPolicy(t *testing.T) {
	e := newEngine(t, Options{})
	ctx := context.Background()
	roles, classes, purposes := []string{"support", "analytics", "dpo", "nobody"}, []string{"email", "phone", "address"}, []string{"support", "analytics", ""}
	cells, err := Matrix(ctx, e, roles, classes, purposes)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(roles) * len(classes) * (len(purposes) + 1); len(cells) != want {
		t.Fatalf("len(cells) = %d, want %d", len(cells), want)
	}
	got := map[[4]string]Effect{}
	for _, c := range cells {
		got[[4]string{c.Role, c.Class, c.Purpose, string(c.Action)}] = c.Effect
		d, err := e.Field(ctx, Input{Principal: Principal{ID: "x", Roles: []string{c.Role}}, Action: c.Action, Purpose: c.Purpose, Resource: Resource{Path: "/p", Class: c.Class}})
		if err != nil || d.Effect != c.Effect {
			t.Errorf("cell %+v: Field = %v, %v", c, d.Effect, err)
		}
	}
	for _, tt := range []struct {
		role, class, purpose string
		act                  Action
		want                 Effect
	}{
		{"support", "email", "support", ActionRead, EffectReveal},
		{"support", "phone", "support", ActionRead, EffectMask},
		{"support", "address", "support", ActionRead, EffectDeny},
		{"support", "email", "analytics", ActionRead, EffectDeny},
		{"analytics", "email", "analytics", ActionRead, EffectTokenize},
		{"dpo", "address", "", ActionExport, EffectReveal},
		{"dpo", "email", "support", ActionRead, EffectDeny},
		{"nobody", "email", "support", ActionRead, EffectDeny},
	} {
		if g := got[[4]string{tt.role, tt.class, tt.purpose, string(tt.act)}]; g != tt.want {
			t.Errorf("matrix[%s %s %q %s] = %q, want %q", tt.role, tt.class, tt.purpose, tt.act, g, tt.want)
		}
	}
}
