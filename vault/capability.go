package vault

import (
	"context"
	"fmt"
	"strings"
)

// Capabilities is the set of optional features a backend has. Every Store
// has every method; a method of a capability the backend does not list in
// Capabilities answers an error wrapping ErrNotSupported and does nothing.
// The set is fixed once the store is open.
type Capabilities uint8

const (
	// CapUnsyncedPut: PutUnsynced may return before the values are durable,
	// and Sync makes every value put before it durable (one sync for many
	// puts).
	CapUnsyncedPut Capabilities = 1 << iota
	// CapExpire: Expire destroys single values and leaves an expiry
	// tombstone, so Resolve answers Expired for them.
	CapExpire
	// CapBlindIndex: PutBlindIndex and LookupBlindIndex keep keyed digests
	// of normalised values by subject; they go with the subject on Erase and
	// are physically gone after Purge.
	CapBlindIndex
	// CapPurgeQueue: erased subjects wait in a queue for Purge, and
	// AwaitsPurge tells whether a subject still does.
	CapPurgeQueue
	// CapBackgroundPurge: the backend purges queued subjects by itself, at a
	// moment of its choosing; callers that need "purged" wait for
	// AwaitsPurge to turn false instead of calling Purge. It comes with
	// CapPurgeQueue.
	CapBackgroundPurge
)

// capNames are the names of the capabilities, in bit order.
var capNames = [...]string{"unsynced-put", "expire", "blind-index", "purge-queue", "background-purge"}

// Has reports whether every capability of want is in c.
func (c Capabilities) Has(want Capabilities) bool { return c&want == want }

// String lists the capabilities by name, separated by "+", or "none".
func (c Capabilities) String() string {
	var names []string
	for i, n := range capNames {
		if c&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

// AllCapabilities lists every capability, one bit each, for code that goes
// through them all (the conformance suite, the metrics wrapper's tests).
func AllCapabilities() []Capabilities {
	out := make([]Capabilities, len(capNames))
	for i := range out {
		out[i] = 1 << i
	}
	return out
}

// Unsupported answers ErrNotSupported for every capability method. A Store
// embeds it to take the methods of the capabilities it lacks; its own
// methods then override the ones it has.
type Unsupported struct{}

// Capabilities answers none.
func (Unsupported) Capabilities() Capabilities { return 0 }

// PutUnsynced answers ErrNotSupported.
func (Unsupported) PutUnsynced(context.Context, []Entry) ([]Token, error) {
	return nil, fmt.Errorf("put unsynced: %w", ErrNotSupported)
}

// Sync answers ErrNotSupported.
func (Unsupported) Sync() error { return fmt.Errorf("sync: %w", ErrNotSupported) }

// Expire answers ErrNotSupported.
func (Unsupported) Expire(context.Context, []Token) (int, error) {
	return 0, fmt.Errorf("expire: %w", ErrNotSupported)
}

// PutBlindIndex answers ErrNotSupported.
func (Unsupported) PutBlindIndex(context.Context, string, string, []byte) error {
	return fmt.Errorf("put blind index: %w", ErrNotSupported)
}

// LookupBlindIndex answers ErrNotSupported.
func (Unsupported) LookupBlindIndex(context.Context, string, []byte) ([]string, error) {
	return nil, fmt.Errorf("lookup blind index: %w", ErrNotSupported)
}

// AwaitsPurge answers ErrNotSupported.
func (Unsupported) AwaitsPurge(context.Context, string) (bool, error) {
	return false, fmt.Errorf("awaits purge: %w", ErrNotSupported)
}
