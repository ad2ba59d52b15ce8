package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// The entry points every policy must define.
const (
	authorizeQuery = "data.piivault.authz.authorize"
	fieldQuery     = "data.piivault.authz.field"
	// knownRolesQuery is optional: the set of role names the policy gives
	// any right to. Tools use it to refuse a misspelt role.
	knownRolesQuery = "data.piivault.authz.known_roles"
)

// slog attribute keys.
const (
	logKeyRevision = "policy_revision"
	logKeyError    = "error"
	logKeySource   = "source"
)

// Engine answers policy questions. It is safe for concurrent use.
type Engine struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	hook   func(DecisionRecord)
	cur    atomic.Pointer[state]
	mu     sync.Mutex // serialises Reload
	closed atomic.Bool

	stop    context.CancelFunc
	watchWG sync.WaitGroup
}

// state is one compiled policy revision with its own cache: a reload swaps
// the whole state, so an evaluation that straddles a reload stores its answer
// in the old, discarded cache, never in the new one.
type state struct {
	revision  string
	authorize rego.PreparedEvalQuery
	field     rego.PreparedEvalQuery
	// knownRoles is prepared only when the policy defines it.
	knownRoles *rego.PreparedEvalQuery
	deps       inputDeps
	cache      *cache
}

// New loads and compiles the policy (shipped default, folder, bundle) and,
// with opts.Watch, starts watching the sources. An invalid policy is an
// error wrapping ErrInvalidPolicy: the engine does not start without one.
func New(ctx context.Context, opts Options) (*Engine, error) {
	e := &Engine{opts: opts, log: opts.Logger, now: opts.Now, hook: opts.DecisionLog}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.opts.Debounce <= 0 {
		e.opts.Debounce = DefaultOptions().Debounce
	}
	st, err := e.compile(ctx)
	if err != nil {
		return nil, err
	}
	e.cur.Store(st)
	e.log.Info("policy loaded", slog.String(logKeyRevision, st.revision))
	if opts.Watch && (opts.PolicyDir != "" || opts.BundlePath != "") {
		wctx, cancel := context.WithCancel(context.Background())
		e.stop = cancel
		if err := e.watch(wctx); err != nil {
			cancel()
			return nil, fmt.Errorf("watch policy: %w", err)
		}
	}
	return e, nil
}

// Revision identifies the policy in force: a short hash of its sources.
func (e *Engine) Revision() string { return e.cur.Load().revision }

// Reload recompiles the policy from its sources. On failure the previous
// policy stays in force, the reason is logged, and the error (wrapping
// ErrInvalidPolicy) returned. On success the decision cache starts empty.
func (e *Engine) Reload(ctx context.Context) error {
	if e.closed.Load() {
		return ErrClosed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.compile(ctx)
	old := e.cur.Load()
	if err != nil {
		e.log.Warn("policy reload refused, keeping the previous policy",
			slog.String(logKeyRevision, old.revision), slog.String(logKeyError, err.Error()))
		return err
	}
	e.cur.Store(st)
	e.log.Info("policy reloaded", slog.String(logKeyRevision, st.revision), slog.String("previous", old.revision))
	return nil
}

// Close stops the watcher. Decisions after Close return ErrClosed.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	if e.stop != nil {
		e.stop()
	}
	e.watchWG.Wait()
	return nil
}

// Authorize answers whether the request in may happen. A denial is a
// Decision with Allow false and a nil error; an error means the policy could
// not answer, and the Decision is then a deny too.
func (e *Engine) Authorize(ctx context.Context, in Input) (Decision, error) {
	return e.decide(ctx, KindRequest, in)
}

// Field answers what happens to one PII field (in.Resource.Path and Class
// set) delivered by a read, a subscription or an export: reveal, mask,
// tokenize or deny. It does not replace Authorize: callers authorize the
// request first. Errors return a deny Decision.
func (e *Engine) Field(ctx context.Context, in Input) (Decision, error) {
	return e.decide(ctx, KindField, in)
}

func denyDecision(kind Kind, reason string) Decision {
	d := Decision{Reason: reason}
	if kind == KindField {
		d.Effect = EffectDeny
	}
	return d
}

func (e *Engine) decide(ctx context.Context, kind Kind, in Input) (Decision, error) {
	if e.closed.Load() {
		return denyDecision(kind, "policy engine closed"), ErrClosed
	}
	st := e.cur.Load()
	if !in.Action.Valid() {
		err := fmt.Errorf("%w: unknown action %q", ErrInvalidInput, in.Action)
		d := denyDecision(kind, "unknown action")
		e.record(st, kind, in, d, false, 0, err)
		return d, err
	}
	if in.Principal.Root {
		d := Decision{Allow: true, Reason: "root token"}
		if kind == KindField {
			d.Effect = EffectReveal
		}
		e.record(st, kind, in, d, false, 0, nil)
		return d, nil
	}
	if in.Principal.ID == "" {
		err := fmt.Errorf("%w: principal has no id", ErrInvalidInput)
		d := denyDecision(kind, "principal has no id")
		e.record(st, kind, in, d, false, 0, err)
		return d, err
	}

	var kbuf [256]byte
	var key []byte
	if st.cache != nil {
		key = st.deps.appendKey(kbuf[:0], kind, &in)
		if d, ok := st.cache.get(key); ok {
			e.record(st, kind, in, d, true, 0, nil)
			return d, nil
		}
	}

	start := time.Now()
	d, err := st.eval(ctx, kind, &in)
	took := time.Since(start)
	if err == nil && st.cache != nil {
		st.cache.put(string(key), d)
	}
	e.record(st, kind, in, d, false, took, err)
	return d, err
}

func (e *Engine) record(st *state, kind Kind, in Input, d Decision, cached bool, took time.Duration, err error) {
	if e.hook == nil {
		return
	}
	r := DecisionRecord{
		Time:      e.now(),
		Kind:      kind,
		Principal: in.Principal.ID,
		Roles:     in.Principal.Roles,
		Root:      in.Principal.Root,
		Action:    in.Action,
		Purpose:   in.Purpose,
		Resource:  in.Resource,
		Decision:  d,
		Cached:    cached,
		Revision:  st.revision,
		Duration:  took,
	}
	if err != nil {
		r.Error = err.Error()
	}
	e.hook(r)
}

func (st *state) eval(ctx context.Context, kind Kind, in *Input) (Decision, error) {
	q := st.authorize
	if kind == KindField {
		q = st.field
	}
	rs, err := q.Eval(ctx, rego.EvalParsedInput(inputValue(in)))
	if err != nil {
		return denyDecision(kind, "policy evaluation failed"), fmt.Errorf("evaluate policy: %w", err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return denyDecision(kind, "policy undefined"), fmt.Errorf("%w: undefined result", ErrBadDecision)
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return denyDecision(kind, "policy malformed"), fmt.Errorf("%w: result is not an object", ErrBadDecision)
	}
	reason, _ := obj["reason"].(string)
	if kind == KindRequest {
		allow, ok := obj["allow"].(bool)
		if !ok {
			return denyDecision(kind, "policy malformed"), fmt.Errorf("%w: allow is not a boolean", ErrBadDecision)
		}
		return Decision{Allow: allow, Reason: reason}, nil
	}
	s, _ := obj["effect"].(string)
	eff := Effect(s)
	if !eff.Valid() {
		return denyDecision(kind, "policy malformed"), fmt.Errorf("%w: effect %q is not reveal, mask, tokenize or deny", ErrBadDecision, s)
	}
	return Decision{Allow: eff != EffectDeny, Effect: eff, Reason: reason}, nil
}

// inputValue builds the OPA input directly as an AST value, skipping a JSON
// round trip.
func inputValue(in *Input) ast.Value {
	roles := make([]*ast.Term, len(in.Principal.Roles))
	for i, r := range in.Principal.Roles {
		roles[i] = ast.StringTerm(r)
	}
	attrs := make([][2]*ast.Term, 0, len(in.Principal.Attributes))
	for k, v := range in.Principal.Attributes {
		attrs = append(attrs, ast.Item(ast.StringTerm(k), ast.StringTerm(v)))
	}
	r := &in.Resource
	return ast.NewObject(
		ast.Item(ast.StringTerm("principal"), ast.ObjectTerm(
			ast.Item(ast.StringTerm("id"), ast.StringTerm(in.Principal.ID)),
			ast.Item(ast.StringTerm("roles"), ast.ArrayTerm(roles...)),
			ast.Item(ast.StringTerm("attributes"), ast.ObjectTerm(attrs...)),
		)),
		ast.Item(ast.StringTerm("action"), ast.StringTerm(string(in.Action))),
		ast.Item(ast.StringTerm("purpose"), ast.StringTerm(in.Purpose)),
		ast.Item(ast.StringTerm("resource"), ast.ObjectTerm(
			ast.Item(ast.StringTerm("stream"), ast.StringTerm(r.Stream)),
			ast.Item(ast.StringTerm("event_type"), ast.StringTerm(r.EventType)),
			ast.Item(ast.StringTerm("subject"), ast.StringTerm(r.Subject)),
			ast.Item(ast.StringTerm("path"), ast.StringTerm(r.Path)),
			ast.Item(ast.StringTerm("class"), ast.StringTerm(r.Class)),
		)),
	)
}

// errNoEntryPoint is wrapped in ErrInvalidPolicy when a policy lacks one of
// the queried rules.
var errNoEntryPoint = errors.New("missing entry point")

// KnownRoles returns the role names the policy gives any right to, sorted,
// from the policy's optional rule data.piivault.authz.known_roles (the
// shipped policy defines it). ok is false when the policy does not define
// it: then nothing can be said about a role name.
func (e *Engine) KnownRoles(ctx context.Context) (roles []string, ok bool, err error) {
	st := e.cur.Load()
	if st.knownRoles == nil {
		return nil, false, nil
	}
	rs, err := st.knownRoles.Eval(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("evaluate %s: %w", knownRolesQuery, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, false, nil
	}
	set, isSet := rs[0].Expressions[0].Value.([]any)
	if !isSet {
		return nil, false, fmt.Errorf("evaluate %s: %w: want a set of strings", knownRolesQuery, ErrBadDecision)
	}
	for _, v := range set {
		r, isStr := v.(string)
		if !isStr {
			return nil, false, fmt.Errorf("evaluate %s: %w: want a set of strings", knownRolesQuery, ErrBadDecision)
		}
		roles = append(roles, r)
	}
	slices.Sort(roles)
	return roles, true, nil
}
