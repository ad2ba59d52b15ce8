package vault

import (
	"context"
	"errors"
	"fmt"
)

// KeyProvider holds the key-encryption key (KEK) that wraps data keys. The
// KEK itself never leaves the provider. Implementations: vault/keys.Local (a
// key file) and vault/keys.Transit (HashiCorp Vault Transit).
//
// Errors: Unwrap fails with an error wrapping ErrTampered when the wrapped
// bytes do not authenticate (altered, or wrapped by a KEK the provider does
// not hold), and with one wrapping ErrUnavailable when the provider cannot
// answer (network, sealed Vault). Callers treat any other error as
// unavailable.
type KeyProvider interface {
	// Wrap encrypts a DEK under the current KEK version.
	Wrap(ctx context.Context, dek []byte) ([]byte, error)
	// Unwrap decrypts a wrapped DEK, under whichever KEK version wrapped it.
	Unwrap(ctx context.Context, wrapped []byte) ([]byte, error)
	// Rotate makes a new KEK version current. Old versions still unwrap, so
	// rotation stays online; stores then rewrap their DEKs (see Rewrap).
	Rotate(ctx context.Context) error
}

// Rewrapper is implemented by key providers that can move a wrapped DEK to
// the current KEK version without handing the DEK out (Transit's rewrap).
type Rewrapper interface {
	Rewrap(ctx context.Context, wrapped []byte) ([]byte, error)
}

// Rewrap returns wrapped re-encrypted under kp's current KEK version, using
// kp's own Rewrap when it has one and Unwrap then Wrap otherwise.
func Rewrap(ctx context.Context, kp KeyProvider, wrapped []byte) ([]byte, error) {
	if rw, ok := kp.(Rewrapper); ok {
		return rw.Rewrap(ctx, wrapped)
	}
	dek, err := kp.Unwrap(ctx, wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	return kp.Wrap(ctx, dek)
}

// WrapDEK wraps k with kp, mapping provider failures to ErrUnavailable.
func WrapDEK(ctx context.Context, kp KeyProvider, k *DEK) ([]byte, error) {
	w, err := kp.Wrap(ctx, k.Bytes())
	if err != nil {
		return nil, fmt.Errorf("wrap dek: %w", providerErr(err))
	}
	return w, nil
}

// UnwrapDEK unwraps a stored DEK with kp. It fails with ErrTampered when the
// wrapped bytes do not authenticate and with ErrUnavailable otherwise.
func UnwrapDEK(ctx context.Context, kp KeyProvider, wrapped []byte) (*DEK, error) {
	raw, err := kp.Unwrap(ctx, wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap dek: %w", providerErr(err))
	}
	defer clear(raw)
	k, err := ParseDEK(raw)
	if err != nil {
		return nil, fmt.Errorf("unwrap dek: %w", err)
	}
	return k, nil
}

// providerErr keeps ErrTampered and ErrUnavailable and context errors, and
// marks everything else as ErrUnavailable.
func providerErr(err error) error {
	if errors.Is(err, ErrTampered) || errors.Is(err, ErrUnavailable) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
