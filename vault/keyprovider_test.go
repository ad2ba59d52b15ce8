package vault_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/keys"
)

// batchLocal is keys.Local with the batch capability, counting the batch
// calls (each would be one round trip to a remote provider).
type batchLocal struct {
	*keys.Local
	batches int
}

func (b *batchLocal) WrapBatch(ctx context.Context, deks [][]byte) ([][]byte, error) {
	b.batches++
	return vault.WrapAll(ctx, b.Local, deks)
}

func (b *batchLocal) UnwrapBatch(ctx context.Context, wrapped [][]byte) ([][]byte, error) {
	b.batches++
	return vault.UnwrapAll(ctx, b.Local, wrapped)
}

func (b *batchLocal) RewrapBatch(ctx context.Context, wrapped [][]byte) ([][]byte, error) {
	b.batches++
	return vault.RewrapAll(ctx, b.Local, wrapped)
}

// TestKeyProviderBatches: WrapAll, UnwrapAll, RewrapAll and Rewrap give the
// same keys with or without the batch capability, and with it make one
// provider call each.
func TestKeyProviderBatches(t *testing.T) {
	ctx := context.Background()
	local, err := keys.OpenLocal(filepath.Join(t.TempDir(), "kek"), true)
	if err != nil {
		t.Fatal(err)
	}
	deks := make([][]byte, 3)
	for i := range deks {
		k, err := vault.NewDEK()
		if err != nil {
			t.Fatal(err)
		}
		deks[i] = bytes.Clone(k.Bytes())
	}
	batch := &batchLocal{Local: local}
	for _, kp := range []vault.KeyProvider{local, batch} {
		wrapped, err := vault.WrapAll(ctx, kp, deks)
		if err != nil || len(wrapped) != len(deks) {
			t.Fatalf("WrapAll = %d, %v", len(wrapped), err)
		}
		if err := kp.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		rewrapped, err := vault.RewrapAll(ctx, kp, wrapped)
		if err != nil || len(rewrapped) != len(deks) {
			t.Fatalf("RewrapAll = %d, %v", len(rewrapped), err)
		}
		one, err := vault.Rewrap(ctx, kp, wrapped[0])
		if err != nil {
			t.Fatalf("Rewrap: %v", err)
		}
		for _, ws := range [][][]byte{wrapped, rewrapped, {one}} {
			raws, err := vault.UnwrapAll(ctx, kp, ws)
			if err != nil {
				t.Fatalf("UnwrapAll: %v", err)
			}
			for i, raw := range raws {
				if !bytes.Equal(raw, deks[i]) {
					t.Fatalf("UnwrapAll gave key %d wrong", i)
				}
			}
		}
		if _, err := vault.UnwrapAll(ctx, kp, [][]byte{[]byte("not wrapped")}); err == nil {
			t.Fatal("UnwrapAll of garbage succeeded")
		}
	}
	// WrapAll, RewrapAll, Rewrap, three UnwrapAll, the garbage UnwrapAll.
	if batch.batches != 7 {
		t.Errorf("batch provider got %d batch calls, want 7", batch.batches)
	}
}
