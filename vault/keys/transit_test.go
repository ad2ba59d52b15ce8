package keys_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/hashicorp/hashicorptest"
	"github.com/piivault/piivault/vault/keys"
)

func transitT(t *testing.T) *keys.Transit {
	t.Helper()
	c := hashicorptest.Client(t)
	tr, err := keys.NewTransit(c, "transit", "piivault-test-"+hashicorptest.Random())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.EnsureKey(ctxT(t)); err != nil {
		t.Fatalf("EnsureKey: %v", err)
	}
	return tr
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func dek(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, vault.DEKSize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTransitWrapUnwrap(t *testing.T) {
	tr := transitT(t)
	k := dek(t)
	w, err := tr.Wrap(ctxT(t), k)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if !strings.HasPrefix(string(w), "vault:v1:") {
		t.Fatalf("Wrap = %q, want a Transit ciphertext of version 1", w)
	}
	if bytes.Contains(w, k) || bytes.Contains(w, []byte(base64.StdEncoding.EncodeToString(k))) {
		t.Fatal("the wrapped DEK holds the DEK")
	}
	got, err := tr.Unwrap(ctxT(t), w)
	if err != nil || !bytes.Equal(got, k) {
		t.Fatalf("Unwrap(Wrap(k)) = %x, %v; want k", got, err)
	}
	// The provider satisfies the vault core's helpers.
	d, err := vault.NewDEK()
	if err != nil {
		t.Fatal(err)
	}
	wd, err := vault.WrapDEK(ctxT(t), tr, d)
	if err != nil {
		t.Fatalf("WrapDEK: %v", err)
	}
	d2, err := vault.UnwrapDEK(ctxT(t), tr, wd)
	if err != nil || !bytes.Equal(d2.Bytes(), d.Bytes()) {
		t.Fatalf("UnwrapDEK = %v", err)
	}
}

func TestTransitBatch(t *testing.T) {
	tr := transitT(t)
	var ks [][]byte
	for i := 0; i < 50; i++ {
		ks = append(ks, dek(t))
	}
	ws, err := tr.WrapBatch(ctxT(t), ks)
	if err != nil || len(ws) != len(ks) {
		t.Fatalf("WrapBatch = %d, %v; want %d", len(ws), err, len(ks))
	}
	got, err := tr.UnwrapBatch(ctxT(t), ws)
	if err != nil {
		t.Fatalf("UnwrapBatch: %v", err)
	}
	for i := range ks {
		if !bytes.Equal(got[i], ks[i]) {
			t.Fatalf("UnwrapBatch[%d] differs: order or content lost", i)
		}
	}
	if out, err := tr.WrapBatch(ctxT(t), nil); err != nil || len(out) != 0 {
		t.Fatalf("WrapBatch(nil) = %v, %v", out, err)
	}
}

func TestTransitRotateRewrap(t *testing.T) {
	tr := transitT(t)
	k := dek(t)
	w1, err := tr.Wrap(ctxT(t), k)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Rotate(ctxT(t)); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if v, err := tr.LatestVersion(ctxT(t)); err != nil || v != 2 {
		t.Fatalf("LatestVersion after Rotate = %d, %v; want 2", v, err)
	}
	w2, err := tr.Wrap(ctxT(t), k)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := keys.WrappedVersion(w2); v != 2 {
		t.Fatalf("Wrap after Rotate uses version %d, want 2", v)
	}
	// The old version still unwraps: rotation is online.
	if got, err := tr.Unwrap(ctxT(t), w1); err != nil || !bytes.Equal(got, k) {
		t.Fatalf("Unwrap(old version) = %v", err)
	}
	r, err := vault.Rewrap(ctxT(t), tr, w1) // uses Transit's own rewrap
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if v, _ := keys.WrappedVersion(r); v != 2 {
		t.Fatalf("Rewrap gave version %d, want 2", v)
	}
	if got, err := tr.Unwrap(ctxT(t), r); err != nil || !bytes.Equal(got, k) {
		t.Fatalf("Unwrap(rewrapped) = %v", err)
	}
	rs, err := tr.RewrapBatch(ctxT(t), [][]byte{w1, w2})
	if err != nil || len(rs) != 2 {
		t.Fatalf("RewrapBatch = %v", err)
	}
}

func TestTransitTampered(t *testing.T) {
	tr := transitT(t)
	w, err := tr.Wrap(ctxT(t), dek(t))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.TrimPrefix(string(w), "vault:v1:"))
	raw, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	flipped := []byte("vault:v1:" + base64.StdEncoding.EncodeToString(raw))

	other := transitT(t) // another KEK
	tests := []struct {
		name    string
		tr      *keys.Transit
		wrapped []byte
	}{
		{"bit flipped", tr, flipped},
		{"not a transit ciphertext", tr, []byte("garbage")},
		{"unknown version", tr, []byte("vault:v9:" + string(body))},
		{"wrapped by another key", other, w},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.tr.Unwrap(ctxT(t), tc.wrapped)
			if !errors.Is(err, vault.ErrTampered) || got != nil {
				t.Fatalf("Unwrap(%s) = %x, %v; want ErrTampered", tc.name, got, err)
			}
		})
	}
	// One bad item fails the whole batch, with no DEK returned.
	if got, err := tr.UnwrapBatch(ctxT(t), [][]byte{w, flipped}); !errors.Is(err, vault.ErrTampered) || got != nil {
		t.Fatalf("UnwrapBatch(good, bad) = %d, %v; want ErrTampered", len(got), err)
	}
}

func TestTransitUnavailable(t *testing.T) {
	c := hashicorptest.NewClient(t, "http://127.0.0.1:1", "x")
	tr, err := keys.NewTransit(c, "transit", "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Wrap(ctxT(t), dek(t)); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Wrap with no Vault error = %v, want ErrUnavailable", err)
	}
	if _, err := tr.Unwrap(ctxT(t), []byte("vault:v1:AAAA")); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Unwrap with no Vault error = %v, want ErrUnavailable", err)
	}
	if err := tr.Rotate(ctxT(t)); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Rotate with no Vault error = %v, want ErrUnavailable", err)
	}
}

func TestNewTransitInvalid(t *testing.T) {
	c := hashicorptest.NewClient(t, "http://127.0.0.1:1", "x")
	for _, tc := range []struct{ mount, key string }{{"", "k"}, {"transit", ""}, {"transit", "a/b"}} {
		if _, err := keys.NewTransit(c, tc.mount, tc.key); !errors.Is(err, vault.ErrInvalid) {
			t.Fatalf("NewTransit(%q, %q) error = %v, want ErrInvalid", tc.mount, tc.key, err)
		}
	}
	if _, err := keys.NewTransit(nil, "transit", "k"); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("NewTransit(nil client) error = %v, want ErrInvalid", err)
	}
}
