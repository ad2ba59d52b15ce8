package keys

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/piivault/piivault/vault"
)

func TestOpenLocalCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kek")
	l, err := OpenLocal(path, true)
	if err != nil {
		t.Fatalf("OpenLocal(create): %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != LocalKeySize {
		t.Fatalf("key file mode %v size %d, want 0600 and %d", st.Mode().Perm(), st.Size(), LocalKeySize)
	}
	ctx := context.Background()
	dek := bytes.Repeat([]byte{7}, 32)
	w, err := l.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w, dek) {
		t.Fatal("wrapped DEK holds the DEK")
	}
	// Reopen without create: same key.
	l2, err := OpenLocal(path, false)
	if err != nil {
		t.Fatalf("OpenLocal(existing): %v", err)
	}
	got, err := l2.Unwrap(ctx, w)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap after reopen = %x, %v", got, err)
	}
	// A second create must not overwrite the key.
	if _, err := OpenLocal(path, true); err != nil {
		t.Fatal(err)
	}
	if got, err := l2.Unwrap(ctx, w); err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap after second create = %x, %v", got, err)
	}
}

func TestOpenLocalErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte // nil: no file
		want    error
	}{
		{"missing", nil, ErrKeyFileMissing},
		{"empty", []byte{}, ErrKeyFileSize},
		{"short", make([]byte, 31), ErrKeyFileSize},
		{"long", make([]byte, 33), ErrKeyFileSize},
		{"hex text", []byte(strings.Repeat("ab", 32) + "\n"), ErrKeyFileSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if tc.content != nil {
				if err := os.WriteFile(path, tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := OpenLocal(path, false)
			if !errors.Is(err, tc.want) {
				t.Fatalf("OpenLocal(%s) error = %v, want %v", tc.name, err, tc.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the path", err)
			}
		})
	}
}

func TestLocalUnwrapTampered(t *testing.T) {
	ctx := context.Background()
	l, _ := OpenLocal(filepath.Join(t.TempDir(), "kek"), true)
	other, _ := OpenLocal(filepath.Join(t.TempDir(), "kek"), true)
	w, _ := l.Wrap(ctx, make([]byte, 32))
	flipped := append([]byte(nil), w...)
	flipped[len(flipped)-1] ^= 1
	badVersion := append([]byte{0, 0, 0, 9}, w[4:]...)
	for name, in := range map[string][]byte{"flipped": flipped, "version": badVersion, "short": w[:10]} {
		if _, err := l.Unwrap(ctx, in); !errors.Is(err, vault.ErrTampered) {
			t.Fatalf("Unwrap(%s) error = %v, want ErrTampered", name, err)
		}
	}
	if _, err := other.Unwrap(ctx, w); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("Unwrap with another key file error = %v, want ErrTampered", err)
	}
}

func TestLocalRotate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kek")
	l, _ := OpenLocal(path, true)
	dek := bytes.Repeat([]byte{1}, 32)
	w1, _ := l.Wrap(ctx, dek)
	if err := l.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if l.Version() != 2 {
		t.Fatalf("Version after Rotate = %d, want 2", l.Version())
	}
	w2, _ := l.Wrap(ctx, dek)
	if v, _ := l.WrappedVersion(w2); v != 2 {
		t.Fatalf("new wrap version = %d, want 2", v)
	}
	re, err := vault.Rewrap(ctx, l, w1)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := l.WrappedVersion(re); v != 2 {
		t.Fatalf("rewrapped version = %d, want 2", v)
	}
	l2, err := OpenLocal(path, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string][]byte{"v1": w1, "v2": w2, "rewrapped": re} {
		if got, err := l2.Unwrap(ctx, w); err != nil || !bytes.Equal(got, dek) {
			t.Fatalf("Unwrap(%s) after reopen = %x, %v", name, got, err)
		}
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 || st.Size() != 2*LocalKeySize {
		t.Fatalf("rotated key file mode %v size %d", st.Mode().Perm(), st.Size())
	}
}
