package policy

import (
	"slices"
	"strconv"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// cache holds the decisions of one policy revision. It is bounded: when it
// reaches max entries it is emptied and refills, which keeps the code free of
// LRU bookkeeping on the hot path; the working set of (role, purpose, event
// type, path, class) combinations is small in practice.
type cache struct {
	mu  sync.RWMutex
	m   map[string]Decision
	max int
}

func newCache(max int) *cache {
	if max <= 0 {
		return nil
	}
	return &cache{m: make(map[string]Decision), max: max}
}

func (c *cache) get(key []byte) (Decision, bool) {
	c.mu.RLock()
	d, ok := c.m[string(key)] // no allocation: the compiler converts in place
	c.mu.RUnlock()
	return d, ok
}

func (c *cache) put(key string, d Decision) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = d
	c.mu.Unlock()
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// inputDeps says which parts of the input beyond the fixed key the compiled
// policy reads, and so must be part of the cache key.
type inputDeps struct {
	principalID, subject, stream, attributes bool
	// all: the policy reads input in a way that cannot be analysed
	// (input as a whole, a computed key); every part joins the key.
	all bool
	// nondeterministic: the policy calls a built-in whose answer changes
	// between calls (time, randomness, HTTP); nothing is cached.
	nondeterministic bool
}

// analyseInput walks the compiled modules for refs to input and calls of
// non-deterministic built-ins.
func analyseInput(modules map[string]*ast.Module) inputDeps {
	var d inputDeps
	str := func(t *ast.Term) (string, bool) {
		s, ok := t.Value.(ast.String)
		return string(s), ok
	}
	for _, m := range modules {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if !r.HasPrefix(ast.InputRootRef) {
				return false
			}
			if len(r) < 2 {
				d.all = true
				return false
			}
			top, ok := str(r[1])
			if !ok {
				d.all = true
				return false
			}
			switch top {
			case "action", "purpose":
				return false
			case "principal", "resource":
			default:
				// An input member the engine never sets: undefined, no effect.
				return false
			}
			if len(r) < 3 {
				d.all = true
				return false
			}
			sub, ok := str(r[2])
			if !ok {
				d.all = true
				return false
			}
			switch top + "." + sub {
			case "principal.id":
				d.principalID = true
			case "resource.subject":
				d.subject = true
			case "resource.stream":
				d.stream = true
			case "principal.attributes":
				d.attributes = true
			}
			return false
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			var op ast.Ref
			switch v := t.Value.(type) {
			case ast.Call:
				if len(v) > 0 {
					op, _ = v[0].Value.(ast.Ref)
				}
			}
			if op != nil {
				if b, ok := ast.BuiltinMap[op.String()]; ok && b.Nondeterministic {
					d.nondeterministic = true
				}
			}
			return false
		})
		ast.WalkExprs(m, func(x *ast.Expr) bool {
			if x.IsCall() {
				if b, ok := ast.BuiltinMap[x.Operator().String()]; ok && b.Nondeterministic {
					d.nondeterministic = true
				}
			}
			return false
		})
	}
	return d
}

// appendKey appends the cache key of (kind, in) to dst. Every part is
// length-prefixed so that no two inputs share a key.
func (d inputDeps) appendKey(dst []byte, kind Kind, in *Input) []byte {
	add := func(s string) {
		dst = strconv.AppendInt(dst, int64(len(s)), 10)
		dst = append(dst, ':')
		dst = append(dst, s...)
	}
	add(string(kind))
	if d.principalID || d.all {
		add(in.Principal.ID)
	}
	roles := in.Principal.Roles
	if !slices.IsSorted(roles) {
		roles = slices.Clone(roles)
		slices.Sort(roles)
	}
	dst = strconv.AppendInt(dst, int64(len(roles)), 10)
	dst = append(dst, '#')
	for _, r := range roles {
		add(r)
	}
	add(in.Purpose)
	add(string(in.Action))
	r := &in.Resource
	add(r.EventType)
	add(r.Path)
	add(r.Class)
	if d.subject || d.all {
		add(r.Subject)
	}
	if d.stream || d.all {
		add(r.Stream)
	}
	if d.attributes || d.all {
		keys := make([]string, 0, len(in.Principal.Attributes))
		for k := range in.Principal.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = strconv.AppendInt(dst, int64(len(keys)), 10)
		dst = append(dst, '#')
		for _, k := range keys {
			add(k)
			add(in.Principal.Attributes[k])
		}
	}
	return dst
}
