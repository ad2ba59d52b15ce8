package httpapi

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/embedded"
	"github.com/piivault/piivault/vault/keys"
)

// The redaction service finds a vault's PutUnsynced and Sync by type
// assertion; a wrapper that hid them sent every HTTP append through a
// durable Put (its own vault fsync) instead of one vault sync per log group.
func TestInstrumentVaultKeepsUnsyncedPut(t *testing.T) {
	dir := t.TempDir()
	kp, err := keys.OpenLocal(filepath.Join(dir, "kek"), true)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := embedded.Open(filepath.Join(dir, "vault"), kp, embedded.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })

	reg := prometheus.NewRegistry()
	w := InstrumentVault(emb, reg)
	us, ok := w.(unsyncedPutter)
	if !ok {
		t.Fatal("InstrumentVault(embedded store) has no PutUnsynced and Sync")
	}
	ctx := context.Background()
	toks, err := us.PutUnsynced(ctx, []vault.Entry{{Subject: "s1", Class: "email", Value: vault.NewPII([]byte("a@example.com"))}})
	if err != nil {
		t.Fatalf("PutUnsynced: %v", err)
	}
	if err := us.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if len(toks) != 1 {
		t.Fatalf("PutUnsynced returned %d tokens, want 1", len(toks))
	}
	if got := putsOK(t, reg); got != 1 {
		t.Errorf("piivault_vault_operations_total{op=put,outcome=ok} = %v, want 1", got)
	}

	// A store without them is not given them by the wrapper.
	if _, ok := InstrumentVault(struct{ vault.Store }{emb}, prometheus.NewRegistry()).(unsyncedPutter); ok {
		t.Error("InstrumentVault(store without PutUnsynced) has PutUnsynced")
	}
}

// putsOK is piivault_vault_operations_total{op="put",outcome="ok"} in reg.
func putsOK(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "piivault_vault_operations_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["op"] == "put" && labels["outcome"] == "ok" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
