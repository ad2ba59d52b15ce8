package hashicorp

import (
	"context"
	"fmt"

	"github.com/piivault/piivault/vault"
)

// Capabilities returns expiry and the blind index. Put is durable when it
// returns (there is no unsynced put) and Erase destroys the record's
// versions itself (there is no purge queue).
func (s *Store) Capabilities() vault.Capabilities {
	return vault.CapExpire | vault.CapBlindIndex
}

// PutUnsynced answers vault.ErrNotSupported: every Put is durable.
func (s *Store) PutUnsynced(context.Context, []vault.Entry) ([]vault.Token, error) {
	return nil, fmt.Errorf("put unsynced: %w", vault.ErrNotSupported)
}

// Sync answers vault.ErrNotSupported: every Put is durable.
func (s *Store) Sync() error { return fmt.Errorf("sync: %w", vault.ErrNotSupported) }

// AwaitsPurge answers vault.ErrNotSupported: nothing waits for a purge.
func (s *Store) AwaitsPurge(context.Context, string) (bool, error) {
	return false, fmt.Errorf("awaits purge: %w", vault.ErrNotSupported)
}
