// Package keys holds key-encryption-key (KEK) providers for the vault: a
// local key file (Local) and HashiCorp Vault Transit (Transit). Both
// implement vault.KeyProvider.
package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/piivault/piivault/vault"
)

// LocalKeySize is the size of one KEK version in a local key file.
const LocalKeySize = 32

var (
	// ErrKeyFileMissing is returned by OpenLocal when the key file does not
	// exist and create is false.
	ErrKeyFileMissing = errors.New("keys: key file missing")
	// ErrKeyFileSize is returned by OpenLocal when the key file's size is not
	// a positive multiple of LocalKeySize.
	ErrKeyFileSize = errors.New("keys: key file has the wrong size")
)

// localAAD separates KEK wrapping from any other use of the key.
const localAAD = "piivault/kek/local/v1"

// Local is a KEK provider backed by a key file. The file holds one or more
// raw 256-bit keys, concatenated; the last is the current version (versions
// count from 1). Rotate appends a key. A wrapped DEK is
//
//	version (4 bytes, big endian) | nonce (12) | AES-256-GCM(dek) with tag (16)
//
// so every version in the file still unwraps. Local is safe for concurrent
// use.
type Local struct {
	path string
	mu   sync.RWMutex
	keys []cipher.AEAD // keys[v-1] is version v
}

var _ vault.KeyProvider = (*Local)(nil)

// OpenLocal opens the key file at path. If it does not exist and create is
// true, a file with one fresh key is written with mode 0600; if it does not
// exist and create is false, the error wraps ErrKeyFileMissing. A file
// whose size is not a positive multiple of 32 bytes fails with
// ErrKeyFileSize. Errors name the path, never key bytes.
func OpenLocal(path string, create bool) (*Local, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		b = make([]byte, LocalKeySize)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("open key file: generate: %w", err)
		}
		if err := writeKeyFile(path, b, true); err != nil {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open key file %s: %w (create it by starting with --dev, or point PIIVAULT_KEK_FILE at the existing key)", path, ErrKeyFileMissing)
	case err != nil:
		return nil, fmt.Errorf("open key file %s: %w", path, err)
	}
	defer clear(b)
	if len(b) == 0 || len(b)%LocalKeySize != 0 {
		return nil, fmt.Errorf("open key file %s: %d bytes, want a positive multiple of %d (one raw 256-bit key per version): %w",
			path, len(b), LocalKeySize, ErrKeyFileSize)
	}
	l := &Local{path: path}
	for off := 0; off < len(b); off += LocalKeySize {
		a, err := newKEK(b[off : off+LocalKeySize])
		if err != nil {
			return nil, fmt.Errorf("open key file %s: %w", path, err)
		}
		l.keys = append(l.keys, a)
	}
	return l, nil
}

func newKEK(raw []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// writeKeyFile writes b to path atomically with mode 0600: a temporary file
// in the same folder, fsync, rename, fsync of the folder. With exclusive it
// fails if path appeared meanwhile (two processes generating at once).
func writeKeyFile(path string, b []byte, exclusive bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	f, err := os.CreateTemp(dir, ".kek-*")
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if exclusive {
		// Link fails if path exists, unlike Rename.
		if err := os.Link(tmp, path); err != nil {
			return fmt.Errorf("write key file %s: %w", path, err)
		}
	} else if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Version returns the current KEK version (1 for a fresh file).
func (l *Local) Version() uint32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return uint32(len(l.keys))
}

// Wrap encrypts dek under the current KEK version.
func (l *Local) Wrap(ctx context.Context, dek []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.RLock()
	v := uint32(len(l.keys))
	a := l.keys[v-1]
	l.mu.RUnlock()
	out := make([]byte, 4+a.NonceSize(), 4+a.NonceSize()+len(dek)+a.Overhead())
	binary.BigEndian.PutUint32(out, v)
	if _, err := rand.Read(out[4 : 4+a.NonceSize()]); err != nil {
		return nil, fmt.Errorf("wrap dek: %w", err)
	}
	return a.Seal(out, out[4:4+a.NonceSize()], dek, aad(v)), nil
}

// Unwrap decrypts a wrapped DEK under the version that wrapped it. It fails
// with vault.ErrTampered for bytes that do not authenticate or name a
// version the file does not hold.
func (l *Local) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(wrapped) < 4+12+16 {
		return nil, fmt.Errorf("unwrap dek: malformed: %w", vault.ErrTampered)
	}
	v := binary.BigEndian.Uint32(wrapped)
	l.mu.RLock()
	n := uint32(len(l.keys))
	var a cipher.AEAD
	if v >= 1 && v <= n {
		a = l.keys[v-1]
	}
	l.mu.RUnlock()
	if a == nil {
		return nil, fmt.Errorf("unwrap dek: KEK version %d not in key file (holds 1..%d): %w", v, n, vault.ErrTampered)
	}
	dek, err := a.Open(nil, wrapped[4:4+a.NonceSize()], wrapped[4+a.NonceSize():], aad(v))
	if err != nil {
		return nil, fmt.Errorf("unwrap dek: %w", vault.ErrTampered)
	}
	return dek, nil
}

// Rotate appends a fresh key to the file and makes it current. The file is
// rewritten atomically before the new version is used, so a crash leaves
// either the old or the new file, and no DEK is ever wrapped by a key that
// is not on disk.
func (l *Local) Rotate(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, err := os.ReadFile(l.path)
	if err != nil {
		return fmt.Errorf("rotate kek: %w", err)
	}
	defer clear(old)
	if len(old) != len(l.keys)*LocalKeySize {
		return fmt.Errorf("rotate kek: key file %s changed under us (%d bytes, want %d): %w", l.path, len(old), len(l.keys)*LocalKeySize, ErrKeyFileSize)
	}
	fresh := make([]byte, LocalKeySize)
	defer clear(fresh)
	if _, err := rand.Read(fresh); err != nil {
		return fmt.Errorf("rotate kek: %w", err)
	}
	a, err := newKEK(fresh)
	if err != nil {
		return fmt.Errorf("rotate kek: %w", err)
	}
	all := append(append([]byte(nil), old...), fresh...)
	defer clear(all)
	if err := writeKeyFile(l.path, all, false); err != nil {
		return fmt.Errorf("rotate kek: %w", err)
	}
	l.keys = append(l.keys, a)
	return nil
}

// WrappedVersion returns the KEK version that wrapped a DEK, so a store can
// skip DEKs already under the current version.
func (l *Local) WrappedVersion(wrapped []byte) (uint32, bool) {
	if len(wrapped) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(wrapped), true
}

func aad(v uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(localAAD), v)
}
