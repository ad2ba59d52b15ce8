package redaction

import "github.com/piivault/piivault/vault"

// PII is a personal value in the vault's wrapper, which never prints or
// logs it. A caller that receives a value to look up (the HTTP layer)
// wraps it at once with NewPII.
type PII = vault.PII

// NewPII wraps b; the caller must not use b afterwards.
func NewPII(b []byte) PII { return vault.NewPII(b) }

// Errors of the vault that the Service and the compliance workflow pass
// on; errors.Is matches them.
var (
	ErrSubjectErased = vault.ErrErased
	ErrVaultDown     = vault.ErrUnavailable
	ErrVaultClosed   = vault.ErrClosed
	ErrVaultInvalid  = vault.ErrInvalid
)
