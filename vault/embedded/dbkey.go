package embedded

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/piivault/piivault/internal/atomicfile"
	"github.com/piivault/piivault/vault"
)

// dbKeyFile holds Badger's encryption-at-rest key, wrapped by the
// KeyProvider, beside the database folder.
const dbKeyFile = "db.key"

// loadDBKey unwraps Badger's key, creating it for a new database.
func loadDBKey(ctx context.Context, dir, dbDir string, kp vault.KeyProvider) ([]byte, error) {
	path := filepath.Join(dir, dbKeyFile)
	wrapped, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if entries, _ := os.ReadDir(dbDir); len(entries) > 0 {
			return nil, fmt.Errorf("open embedded vault: %s holds a database but %s is missing; without it the database cannot be decrypted: %w", dbDir, path, vault.ErrInvalid)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("open embedded vault: generate db key: %w", err)
		}
		w, err := kp.Wrap(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("open embedded vault: wrap db key: %w", err)
		}
		if err := atomicfile.WriteFile(path, w); err != nil {
			return nil, fmt.Errorf("open embedded vault: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open embedded vault: %w", err)
	}
	key, err := kp.Unwrap(ctx, wrapped)
	if err != nil {
		return nil, fmt.Errorf("open embedded vault: unwrap %s (is this the key-encryption key the vault was created with?): %w", path, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("open embedded vault: %s unwraps to %d bytes, want 32: %w", path, len(key), vault.ErrTampered)
	}
	return key, nil
}

// rewrapDBKey moves db.key to the provider's current KEK version.
func rewrapDBKey(ctx context.Context, dir string, kp vault.KeyProvider) error {
	path := filepath.Join(dir, dbKeyFile)
	wrapped, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // encryption at rest off
	}
	if err != nil {
		return err
	}
	re, err := vault.Rewrap(ctx, kp, wrapped)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, re)
}
