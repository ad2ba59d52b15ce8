// Package policy decides, with OPA embedded, who may do what with personal
// data in piivault.
//
// # Model
//
// Every question is an Input: a Principal (ID, roles, attributes), an Action
// (append, read, subscribe, erase, export, audit, admin), a purpose, and a
// Resource (stream, event type, subject, field path, PII class). An Input
// never carries a personal-data value: the policy decides on identifiers and
// labels only.
//
// Two questions are asked:
//
//   - Engine.Authorize: may this request happen at all? Allow or deny, with a
//     reason. Queries data.piivault.authz.authorize, which must be an object
//     {"allow": bool, "reason": string}.
//   - Engine.Field: for one PII field of a read, reveal, mask, tokenize or
//     deny? Queries data.piivault.authz.field, which must be an object
//     {"effect": "reveal"|"mask"|"tokenize"|"deny", "reason": string}.
//
// Both are default deny: an undefined or malformed answer is a deny (and an
// error). A Principal with Root set (the dev root token) passes every check
// and sees every field revealed, without consulting OPA.
//
// # Policy sources
//
// The shipped default policy (default/piivault.rego, embedded) is
// purpose-based; read it, it is commented. Operators extend it by dropping
// Rego files into Options.PolicyDir, or an OPA bundle at Options.BundlePath,
// adding to its partial rules (request_allow, request_deny, field_grant,
// field_deny); or replace it with Options.ReplaceDefault. With Options.Watch,
// a change of those files is reloaded; an invalid policy is refused, logged
// with its compile error, and the previous one stays in force.
//
// # Cache
//
// Queries are prepared once per policy revision. Decisions are cached per
// revision, keyed by (kind, sorted roles, purpose, action, event type, path,
// class). The engine inspects the compiled policy: if it references
// input.principal.id, input.resource.subject, input.resource.stream or
// input.principal.attributes, that part joins the key (the shipped policy
// references none of them, so principals with the same roles share entries); if it references
// input in a way that cannot be analysed (input itself, a computed key), the
// whole input is the key. So a subject-dependent rule ("a principal may read
// its own record") stays correct, at the cost of per-subject entries; the
// shipped policy does not depend on the subject. If the policy calls a
// non-deterministic built-in (time.now_ns, http.send, rand.intn...), nothing
// is cached. A reload starts a fresh cache.
//
// # Decision log
//
// Options.DecisionLog receives a DecisionRecord for every decision:
// principal ID and roles, action, purpose, resource, decision, policy
// revision, whether it came from the cache. Never a value and never the
// principal's attributes. Reasons are written by the policy author: a rule
// must not copy a principal attribute into its reason (the shipped policy
// builds reasons from roles, actions, purposes and classes only).
//
// # Caveats
//
// Rego reports some mistakes only when a rule is evaluated, a conflict between
// two complete rules being the usual one. On load the engine evaluates both
// queries on a few probe inputs and refuses a policy that fails there, but a
// conflict that only some real input triggers is reported at request time,
// as an error and a deny.
package policy
