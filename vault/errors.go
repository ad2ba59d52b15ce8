package vault

import "errors"

var (
	// ErrErased is returned when PII is written for a subject that was
	// erased: a subject ID is never reused by accident.
	ErrErased = errors.New("vault: subject erased")
	// ErrUnavailable is returned when the backend (disk, HashiCorp Vault,
	// key provider) cannot answer. No value is returned with it.
	ErrUnavailable = errors.New("vault: unavailable")
	// ErrTampered is returned when a ciphertext fails authentication, for
	// example one moved from another token.
	ErrTampered = errors.New("vault: ciphertext failed authentication")
	// ErrInvalid is returned for bad input: empty subject, empty class,
	// malformed token.
	ErrInvalid = errors.New("vault: invalid input")
	// ErrNotSupported is returned by a method of a capability the backend
	// does not have (see Capabilities); nothing was done.
	ErrNotSupported = errors.New("vault: not supported by this backend")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("vault: closed")
)
