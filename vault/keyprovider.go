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

// BatchKeyProvider is the one optional capability of a key provider: it
// wraps, unwraps and rewraps many DEKs in one round trip, and rewraps
// without handing the DEK out (keys.Transit, where each call is a request
// to HashiCorp Vault). Callers do not look for it themselves: WrapAll,
// UnwrapAll, RewrapAll and Rewrap use it when kp has it and one call per
// DEK otherwise. The batch methods return one result per input, in order.
type BatchKeyProvider interface {
	KeyProvider
	WrapBatch(ctx context.Context, deks [][]byte) ([][]byte, error)
	UnwrapBatch(ctx context.Context, wrapped [][]byte) ([][]byte, error)
	RewrapBatch(ctx context.Context, wrapped [][]byte) ([][]byte, error)
}

// WrapAll wraps every DEK with kp, in one batch when kp is a
// BatchKeyProvider. Errors are kp's, unmapped.
func WrapAll(ctx context.Context, kp KeyProvider, deks [][]byte) ([][]byte, error) {
	if b, ok := kp.(BatchKeyProvider); ok {
		return b.WrapBatch(ctx, deks)
	}
	out := make([][]byte, len(deks))
	for i, d := range deks {
		w, err := kp.Wrap(ctx, d)
		if err != nil {
			return nil, err
		}
		out[i] = w
	}
	return out, nil
}

// UnwrapAll unwraps every wrapped DEK with kp, in one batch when kp is a
// BatchKeyProvider. The caller clears the returned keys. Errors are kp's,
// unmapped; on error no key is returned.
func UnwrapAll(ctx context.Context, kp KeyProvider, wrapped [][]byte) ([][]byte, error) {
	if b, ok := kp.(BatchKeyProvider); ok {
		return b.UnwrapBatch(ctx, wrapped)
	}
	out := make([][]byte, len(wrapped))
	for i, w := range wrapped {
		raw, err := kp.Unwrap(ctx, w)
		if err != nil {
			for _, r := range out[:i] {
				clear(r)
			}
			return nil, err
		}
		out[i] = raw
	}
	return out, nil
}

// RewrapAll re-encrypts every wrapped DEK under kp's current KEK version:
// in one batch, without the DEKs leaving the provider, when kp is a
// BatchKeyProvider; with Unwrap then Wrap per DEK otherwise.
func RewrapAll(ctx context.Context, kp KeyProvider, wrapped [][]byte) ([][]byte, error) {
	if b, ok := kp.(BatchKeyProvider); ok {
		return b.RewrapBatch(ctx, wrapped)
	}
	out := make([][]byte, len(wrapped))
	for i, w := range wrapped {
		dek, err := kp.Unwrap(ctx, w)
		if err != nil {
			return nil, err
		}
		out[i], err = kp.Wrap(ctx, dek)
		clear(dek)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Rewrap is RewrapAll for one wrapped DEK.
func Rewrap(ctx context.Context, kp KeyProvider, wrapped []byte) ([]byte, error) {
	out, err := RewrapAll(ctx, kp, [][]byte{wrapped})
	if err != nil {
		return nil, err
	}
	return out[0], nil
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
