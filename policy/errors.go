package policy

import "errors"

// Sentinel errors. Callers test them with errors.Is; the engine wraps them
// with context ("load policy: %w") but never with a PII value.
var (
	// ErrInvalidPolicy means the Rego sources (folder, bundle or shipped
	// default) failed to parse or compile, or do not define the entry points
	// the engine queries. On Reload the previous policy stays in force.
	ErrInvalidPolicy = errors.New("invalid policy")

	// ErrInvalidInput means an Input the engine refuses to evaluate: an
	// unknown Action or a missing principal ID.
	ErrInvalidInput = errors.New("invalid policy input")

	// ErrBadDecision means the policy evaluated, but its result was
	// undefined or not of the documented shape. The returned Decision is a
	// deny.
	ErrBadDecision = errors.New("policy returned a malformed decision")

	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("policy engine closed")
)
