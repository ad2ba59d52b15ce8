package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/piivault/piivault/internal/config"
	"github.com/piivault/piivault/vault/embedded"
	"github.com/piivault/piivault/vault/hashicorp"
)

// runKEKRotate makes a new key-encryption key version current and rewraps
// every stored data key under it.
func runKEKRotate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "kek rotate", "[--config FILE] [--data DIR] [--vault-backend B]",
		"Makes a new key-encryption key (KEK) version current and rewraps every stored\n"+
			"data key under it; old versions keep unwrapping until then.\n\n"+
			"  embedded   appends a key to the KEK file (kekFile) and rewraps the embedded\n"+
			"             vault; the sidecar must be stopped (the vault folder is locked).\n"+
			"  hashicorp  rotates the Transit key and rewraps every subject record; sidecars\n"+
			"             sharing the Vault keep serving meanwhile.")
	var sf serverFlags
	addServerFlags(fs, &sf, true)
	helpShowsOnly(fs, "config", "data", "kek-file", "vault-backend", "log-level")
	if err := noArgs(fs, args, "kek rotate"); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(e, fs, sf)
	if err != nil {
		return err
	}
	lg := newLogger(e.stderr, cfg)
	if cfg.VaultBackend == config.BackendEmbedded && !exists(filepath.Join(cfg.Data, vaultDir)) {
		return fmt.Errorf("kek rotate: no embedded vault in %s", cfg.Data)
	}
	store, desc, err := openVault(ctx, cfg, lg)
	if err != nil {
		return fmt.Errorf("kek rotate: %w (for the embedded vault, stop the sidecar first)", err)
	}
	defer store.Close()
	switch st := store.(type) {
	case *embedded.Store:
		n, err := st.Rotate(ctx)
		if err != nil {
			return fmt.Errorf("kek rotate: %w", err)
		}
		lg.Info("rotated the key-encryption key", slog.Int("rewrapped", n))
		fmt.Fprintf(e.stdout, "ok: new KEK version in %s; %d data keys rewrapped (%s)\n", cfg.KEKFile, n, desc)
	case *hashicorp.Store:
		rep, err := st.RotateKEK(ctx)
		if err != nil {
			return fmt.Errorf("kek rotate: %w", err)
		}
		fmt.Fprintf(e.stdout, "ok: new Transit key version; %d subject records, %d data keys rewrapped, %d skipped (changed meanwhile: run again) (%s)\n",
			rep.Subjects, rep.Rewrapped, rep.Skipped, desc)
	default:
		return fmt.Errorf("kek rotate: the %s backend cannot rotate", cfg.VaultBackend)
	}
	return nil
}
