package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/hashicorp/vault/api"

	"github.com/piivault/piivault/internal/config"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/embedded"
	"github.com/piivault/piivault/vault/hashicorp"
	"github.com/piivault/piivault/vault/keys"
)

// openVault opens the configured vault backend and describes it in words.
func openVault(ctx context.Context, cfg config.Config, lg *slog.Logger) (vault.Store, string, error) {
	switch cfg.VaultBackend {
	case config.BackendHashiCorp:
		return openHashiCorp(ctx, cfg, lg)
	default:
		return openEmbedded(cfg, lg)
	}
}

func openEmbedded(cfg config.Config, lg *slog.Logger) (vault.Store, string, error) {
	dir := filepath.Join(cfg.Data, vaultDir)
	// A key-encryption key is generated only for a vault that holds
	// nothing yet: a missing key for an existing vault is a misconfiguration
	// (wrong path, lost volume), and a fresh key would only hide it.
	create := cfg.Dev || !exists(dir)
	generated := !exists(cfg.KEKFile) && create
	kp, err := keys.OpenLocal(cfg.KEKFile, create)
	if err != nil {
		return nil, "", fmt.Errorf("open key-encryption key %s (%s): %w", cfg.KEKFile, config.EnvKEKFile, err)
	}
	if generated {
		lg.Warn("generated a new key-encryption key; back it up apart from the data folder", slog.String("kek_file", cfg.KEKFile))
	}
	eo := embedded.DefaultOptions()
	eo.Logger = lg.With("component", "vault")
	st, err := embedded.Open(dir, kp, eo)
	if err != nil {
		return nil, "", fmt.Errorf("open embedded vault in %s: %w", dir, err)
	}
	how := "existing"
	if generated {
		how = "generated now"
	}
	return st, fmt.Sprintf("embedded, values encrypted per subject under the key in %s (%s)", cfg.KEKFile, how), nil
}

func openHashiCorp(ctx context.Context, cfg config.Config, lg *slog.Logger) (vault.Store, string, error) {
	h := cfg.HashiCorp
	vc := hashicorp.ClientConfig(0) // api.DefaultConfig with a pool sized for the store
	if vc.Error != nil {
		return nil, "", fmt.Errorf("configure HashiCorp Vault client: %w", vc.Error)
	}
	vc.Address = h.Addr
	client, err := api.NewClient(vc)
	if err != nil {
		return nil, "", fmt.Errorf("HashiCorp Vault client for %s: %w", h.Addr, err)
	}
	// The store logs in itself (AppRole, Kubernetes) and renews its token.
	if h.Auth == config.AuthToken {
		client.SetToken(h.Token)
	}
	ho := hashicorp.DefaultOptions()
	ho.KVMount, ho.TransitMount, ho.TransitKey = h.KVMount, h.TransitMount, h.TransitKey
	ho.Auth = hashicorp.AuthMethod(h.Auth)
	ho.RoleID, ho.SecretID, ho.K8sRole = h.RoleID, h.SecretID, h.K8sRole
	ho.Logger = lg.With("component", "vault")
	tr, err := keys.NewTransit(client, h.TransitMount, h.TransitKey)
	if err != nil {
		return nil, "", fmt.Errorf("HashiCorp Vault Transit key %s/%s: %w", h.TransitMount, h.TransitKey, err)
	}
	ho.KeyProvider = tr
	st, err := hashicorp.New(ctx, client, ho)
	if err != nil {
		return nil, "", fmt.Errorf("open HashiCorp Vault at %s (kv %s, transit %s/%s): %w", h.Addr, h.KVMount, h.TransitMount, h.TransitKey, err)
	}
	// Create the Transit key on first start; an operator may instead have
	// created it and denied this call, which is fine.
	if err := tr.EnsureKey(ctx); err != nil {
		lg.Warn("could not create the Transit key (it must exist already)", slog.String("transit_key", h.TransitMount+"/"+h.TransitKey), slog.String(keyErr, err.Error()))
	}
	return st, fmt.Sprintf("HashiCorp Vault at %s (auth %s, KV %s, Transit key %s/%s)", h.Addr, h.Auth, h.KVMount, h.TransitMount, h.TransitKey), nil
}
