package policy

import (
	"context"
	"path/filepath"
	"testing"
)

func TestInputDependencies(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want inputDeps
	}{
		{"shipped only", "", inputDeps{}},
		{"subject", `package piivault.authz
request_allow contains "self" if input.principal.attributes.subject == input.resource.subject`, inputDeps{subject: true, attributes: true}},
		{"stream via import", `package piivault.authz
import input.resource as res
request_deny contains "system stream" if startswith(res.stream, "$")`, inputDeps{stream: true}},
		{"whole resource", `package piivault.authz
request_deny contains "odd" if { some k, v in input.resource; v == "odd"; k != "" }`, inputDeps{all: true}},
		{"whole input", `package piivault.authz
f(x) := x.action
request_deny contains "odd" if f(input) == "odd"`, inputDeps{all: true}},
		{"computed key", `package piivault.authz
k := "subject"
request_deny contains "odd" if input.resource[k] == "odd"`, inputDeps{all: true}},
		{"subject inside a data lookup", `package piivault.authz
vip := {"c1": true}
request_deny contains "vip" if vip[input.resource.subject]`, inputDeps{subject: true}},
		{"function argument", `package piivault.authz
own(p, r) if p.attributes.subject == r.subject
request_allow contains "own" if own(input.principal, input.resource)`, inputDeps{all: true}},
		{"principal id", `package piivault.authz
request_allow contains "allowlisted" if input.principal.id in {"ops-1"}`, inputDeps{principalID: true}},
		{"clock", `package piivault.authz
request_deny contains "night" if time.clock([time.now_ns(), "UTC"])[0] < 6`, inputDeps{nondeterministic: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Watch = false
			if tt.src != "" {
				opts.PolicyDir = t.TempDir()
				writeFile(t, filepath.Join(opts.PolicyDir, "x.rego"), tt.src)
			}
			e := newEngine(t, opts)
			st := e.cur.Load()
			if st.deps != tt.want {
				t.Fatalf("deps = %+v, want %+v", st.deps, tt.want)
			}
			if (st.cache == nil) != tt.want.nondeterministic {
				t.Fatalf("cache present = %v with nondeterministic = %v", st.cache != nil, tt.want.nondeterministic)
			}
		})
	}
}

// TestSubjectDependentDecisionsNotConfused: a rule that compares the subject
// with a principal attribute must not have its answer for one subject served
// from the cache for another.
func TestSubjectDependentDecisionsNotConfused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "self.rego"), `package piivault.authz
# A customer may export their own record.
request_allow contains "own record" if {
	input.action == "export"
	"customer" in roles
	input.principal.attributes.subject == input.resource.subject
}
field_grant contains {"effect": "reveal", "reason": "own record"} if {
	input.action == "export"
	"customer" in roles
	input.principal.attributes.subject == input.resource.subject
}
`)
	opts := DefaultOptions()
	opts.PolicyDir, opts.Watch = dir, false
	e := newEngine(t, opts)
	p := Principal{ID: "cust-1", Roles: []string{"customer"}, Attributes: map[string]string{"subject": "cust-1"}}
	for pass := range 3 {
		for _, tt := range []struct {
			subject string
			allow   bool
		}{{"cust-1", true}, {"cust-2", false}} {
			in := Input{Principal: p, Action: ActionExport, Resource: Resource{Subject: tt.subject, Path: "/email", Class: "email"}}
			d, err := e.Authorize(ctx, in)
			if err != nil || d.Allow != tt.allow {
				t.Fatalf("pass %d Authorize(export %s) = %+v, %v; want allow %v", pass, tt.subject, d, err, tt.allow)
			}
			d, err = e.Field(ctx, in)
			if err != nil || d.Allow != tt.allow {
				t.Fatalf("pass %d Field(export %s) = %+v, %v; want allow %v", pass, tt.subject, d, err, tt.allow)
			}
		}
	}
}

func TestCacheBounded(t *testing.T) {
	opts := DefaultOptions()
	opts.Watch, opts.CacheSize = false, 8
	e := newEngine(t, opts)
	for i := range 100 {
		in := billingName
		in.Resource.Path = "/p" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if _, err := e.Field(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if n := e.cur.Load().cache.len(); n > 8 {
			t.Fatalf("cache has %d entries, bound is 8", n)
		}
	}
}

func TestNoCache(t *testing.T) {
	opts := DefaultOptions()
	opts.Watch, opts.CacheSize = false, 0
	var cached int
	opts.DecisionLog = func(r DecisionRecord) {
		if r.Cached {
			cached++
		}
	}
	e := newEngine(t, opts)
	for range 3 {
		if d, err := e.Field(context.Background(), billingName); err != nil || d.Effect != EffectDeny {
			t.Fatalf("Field = %+v, %v", d, err)
		}
	}
	if cached != 0 {
		t.Fatalf("%d cached decisions with CacheSize 0", cached)
	}
}

func TestCacheKeyRoleOrderIrrelevant(t *testing.T) {
	var d inputDeps
	a := Input{Principal: Principal{ID: "p", Roles: []string{"b", "a"}}, Action: ActionRead}
	b := Input{Principal: Principal{ID: "p", Roles: []string{"a", "b"}}, Action: ActionRead}
	if ka, kb := string(d.appendKey(nil, KindField, &a)), string(d.appendKey(nil, KindField, &b)); ka != kb {
		t.Fatalf("keys differ by role order: %q vs %q", ka, kb)
	}
	if a.Principal.Roles[0] != "b" {
		t.Fatalf("appendKey sorted the caller's roles in place")
	}
}

// FuzzCacheKey checks that the cache key is injective over the parts it
// covers: two inputs that differ in a keyed part never share a key.
func FuzzCacheKey(f *testing.F) {
	f.Add("p", "support", "support", "read", "E", "/a", "email", "s1", "st", "k", "v",
		"p", "support", "support", "read", "E", "/a", "email", "s2", "st", "k", "v", uint8(0))
	f.Add("p1", "support", "", "read", "", "", "", "", "", "", "",
		"p2", "support", "", "read", "", "", "", "", "", "", "", uint8(16))
	f.Add("p", "a,b", "", "read", "", "", "", "", "", "", "",
		"p", "a", "b", "read", "", "", "", "", "", "", "", uint8(7))
	f.Add("1:x", "", "", "", "", "", "", "", "", "", "",
		"1", "x", "", "", "", "", "", "", "", "", "", uint8(3))
	f.Fuzz(func(t *testing.T, id1, role1, purpose1, action1, et1, path1, class1, subj1, stream1, ak1, av1,
		id2, role2, purpose2, action2, et2, path2, class2, subj2, stream2, ak2, av2 string, flags uint8) {
		mk := func(id, role, purpose, action, et, path, class, subj, stream, ak, av string) Input {
			var roles []string
			if role != "" {
				roles = []string{role, role + "2"}
			}
			return Input{Principal: Principal{ID: id, Roles: roles, Attributes: map[string]string{ak: av}},
				Action: Action(action), Purpose: purpose,
				Resource: Resource{Stream: stream, EventType: et, Subject: subj, Path: path, Class: class}}
		}
		a := mk(id1, role1, purpose1, action1, et1, path1, class1, subj1, stream1, ak1, av1)
		b := mk(id2, role2, purpose2, action2, et2, path2, class2, subj2, stream2, ak2, av2)
		d := inputDeps{subject: flags&1 != 0, stream: flags&2 != 0, attributes: flags&4 != 0, all: flags&8 != 0, principalID: flags&16 != 0}
		same := (!(d.principalID || d.all) || a.Principal.ID == b.Principal.ID) && role1 == role2 && a.Purpose == b.Purpose && a.Action == b.Action &&
			a.Resource.EventType == b.Resource.EventType && a.Resource.Path == b.Resource.Path && a.Resource.Class == b.Resource.Class &&
			(!(d.subject || d.all) || a.Resource.Subject == b.Resource.Subject) &&
			(!(d.stream || d.all) || a.Resource.Stream == b.Resource.Stream) &&
			(!(d.attributes || d.all) || (ak1 == ak2 && av1 == av2))
		ka, kb := string(d.appendKey(nil, KindField, &a)), string(d.appendKey(nil, KindField, &b))
		if same != (ka == kb) {
			t.Fatalf("inputs same-in-keyed-parts=%v but keys equal=%v:\n%q\n%q", same, ka == kb, ka, kb)
		}
		if kr := string(d.appendKey(nil, KindRequest, &a)); kr == ka {
			t.Fatalf("request and field keys collide: %q", kr)
		}
	})
}
