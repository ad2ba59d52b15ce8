package metered_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/embedded"
	"github.com/piivault/piivault/vault/keys"
	"github.com/piivault/piivault/vault/metered"
	"github.com/piivault/piivault/vault/vaulttest"
)

func openEmbedded(t *testing.T, purgeDelay int) *embedded.Store {
	t.Helper()
	dir := t.TempDir()
	kp, err := keys.OpenLocal(filepath.Join(dir, "kek"), true)
	if err != nil {
		t.Fatal(err)
	}
	o := embedded.DefaultOptions()
	o.MemTableSize, o.BlockCacheSize, o.IndexCacheSize, o.ValueLogFileSize = 4<<20, 8<<20, 4<<20, 2<<20
	if purgeDelay < 0 {
		o.PurgeDelay = -1
	}
	s, err := embedded.Open(filepath.Join(dir, "vault"), kp, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance: the wrapper is a vault.Store like the one it wraps;
// every capability reaches the embedded vault under it.
func TestConformance(t *testing.T) {
	vaulttest.RunCapabilities(t, vaulttest.Harness{Open: func(t *testing.T) vault.Store {
		return metered.New(openEmbedded(t, -1), prometheus.NewRegistry())
	}})
}

// TestEveryCallCounted calls every method of vault.Store through the
// wrapper and finds each in piivault_vault_operations_total, with no
// subject, token or value in any label.
func TestEveryCallCounted(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	emb := openEmbedded(t, -1)
	s := metered.New(emb, reg)
	if s.Capabilities() != emb.Capabilities() {
		t.Fatalf("Capabilities = %v, want the inner store's %v", s.Capabilities(), emb.Capabilities())
	}
	const sub = "subject-canary-7f3a"
	value := vault.NewPII([]byte(`"value-canary-9c1e@example.com"`))
	toks, err := s.PutUnsynced(ctx, []vault.Entry{{Subject: sub, Class: "email", Value: value}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	more, err := s.Put(ctx, []vault.Entry{{Subject: sub, Class: "email", Value: value}, {Subject: sub, Class: "phone", Value: value}})
	if err != nil {
		t.Fatal(err)
	}
	digest := make([]byte, 32)
	steps := []error{
		second(s.Resolve(ctx, toks)),
		s.Delete(ctx, more[:1]),
		second(s.Expire(ctx, more[1:])),
		s.PutBlindIndex(ctx, sub, "email", digest),
		second(s.LookupBlindIndex(ctx, "email", digest)),
		second(s.Export(ctx, sub)),
		second(s.Describe(ctx, sub)),
		second(s.Erase(ctx, sub, "erasure-1")),
		second(s.AwaitsPurge(ctx, sub)),
		second(s.Purge(ctx)),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := s.Put(ctx, []vault.Entry{{Subject: sub, Class: "email", Value: value}}); err == nil {
		t.Fatal("Put for an erased subject succeeded")
	}

	got := ops(t, reg)
	want := map[string]float64{
		"put/ok": 2, "put/erased": 1, "sync/ok": 1, "resolve/ok": 1, "delete/ok": 1, "expire/ok": 1,
		"put_blind_index/ok": 1, "lookup_blind_index/ok": 1, "export/ok": 1, "describe/ok": 1,
		"erase/ok": 1, "awaits_purge/ok": 1, "purge/ok": 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("piivault_vault_operations_total{op/outcome=%s} = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series = %v, want exactly %v", got, want)
	}
}

// noExpire is a store without the expiry capability.
type noExpire struct{ vault.Store }

func (n noExpire) Capabilities() vault.Capabilities {
	return n.Store.Capabilities() &^ vault.CapExpire
}

func (noExpire) Expire(ctx context.Context, toks []vault.Token) (int, error) {
	return vault.Unsupported{}.Expire(ctx, toks)
}

// TestNotSupportedCounted: a capability the backend lacks is counted with
// outcome not_supported, not as an error of the vault.
func TestNotSupportedCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := metered.New(noExpire{openEmbedded(t, -1)}, reg)
	if s.Capabilities().Has(vault.CapExpire) {
		t.Fatal("Capabilities has CapExpire")
	}
	if _, err := s.Expire(context.Background(), nil); !errors.Is(err, vault.ErrNotSupported) {
		t.Fatalf("Expire = %v, want ErrNotSupported", err)
	}
	if got := ops(t, reg); got["expire/not_supported"] != 1 || len(got) != 1 {
		t.Fatalf("series = %v, want expire/not_supported 1", got)
	}
}

// ops returns piivault_vault_operations_total by "op/outcome", and fails t
// if any label of any series holds a subject, token or value.
func ops(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "canary") || strings.Contains(l.GetValue(), "pv1.") {
					t.Errorf("%s has label %s=%q: a subject, token or value", mf.GetName(), l.GetName(), l.GetValue())
				}
				labels = append(labels, l.GetValue())
			}
			if mf.GetName() == "piivault_vault_operations_total" {
				got[strings.Join(labels, "/")] = m.GetCounter().GetValue()
			}
		}
	}
	return got
}

func second[T any](_ T, err error) error { return err }
