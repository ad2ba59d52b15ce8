// Command devvault runs a real HashiCorp Vault dev server (the same steps as
// `vault server -dev`) for piivault's integration tests and benchmarks.
//
// It builds a vault.Core on in-memory storage with the kv, transit and
// approle backends, initialises and unseals it with a single Shamir share,
// creates a root token with the ID given by -root-token, mounts kv-v2 at
// secret/ and transit at transit/, and serves Vault's own HTTP handler on the
// loopback address given by -addr.
//
// Usage:
//
//	devvault -addr 127.0.0.1:8200 -root-token root [-addr-file F] [-data DIR]
//
// Without -data, storage is in memory and stopping the process loses
// everything, which is what most tests want. With -data, storage is Vault's
// file backend in DIR and the unseal key is kept in DIR/devvault-unseal.key
// (mode 0600): a restarted server with the same -data unseals itself and keeps
// its tokens, mounts, keys and secrets, so tests can stop Vault mid-test and
// bring it back.
//
// When -addr uses port 0 the kernel picks a free port; the chosen address is
// printed on stdout as "VAULT_ADDR=http://127.0.0.1:PORT" and, with
// -addr-file, written to that file once the server is ready.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	kv "github.com/hashicorp/vault-plugin-secrets-kv"
	"github.com/hashicorp/vault/builtin/credential/approle"
	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/helper/namespace"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/internalshared/configutil"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/physical"
	"github.com/hashicorp/vault/sdk/physical/file"
	"github.com/hashicorp/vault/sdk/physical/inmem"
	"github.com/hashicorp/vault/vault"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8200", "loopback address to listen on (port 0 picks a free port)")
	rootToken := flag.String("root-token", "root", "ID of the root token to create")
	addrFile := flag.String("addr-file", "", "write the server address (http://host:port) to this file once ready")
	logLevel := flag.String("log-level", "warn", "Vault log level (trace, debug, info, warn, error)")
	dataDir := flag.String("data", "", "keep storage in this folder (file backend) instead of memory; restarts unseal themselves")
	flag.Parse()

	if err := run(*addr, *rootToken, *addrFile, *logLevel, *dataDir); err != nil {
		fmt.Fprintf(os.Stderr, "devvault: %v\n", err)
		os.Exit(1)
	}
}

func run(addr, rootToken, addrFile, logLevel, dataDir string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad -addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("refusing to listen on non-loopback address %q: this is an unsealed dev server", addr)
	}
	if rootToken == "" {
		return errors.New("-root-token must not be empty")
	}

	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "devvault",
		Level:  hclog.LevelFromString(logLevel),
		Output: os.Stderr,
	})

	var phys physical.Backend
	if dataDir == "" {
		phys, err = inmem.NewInmem(nil, logger.Named("storage"))
	} else {
		if err = os.MkdirAll(dataDir, 0o700); err == nil {
			phys, err = file.NewFileBackend(map[string]string{"path": filepath.Join(dataDir, "storage")}, logger.Named("storage"))
		}
	}
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}

	secrets := map[string]logical.Factory{
		"kv":      kv.Factory,
		"transit": transit.Factory,
	}
	creds := map[string]logical.Factory{
		"approle": approle.Factory,
	}
	core, err := vault.NewCore(&vault.CoreConfig{
		Physical:           phys,
		LogicalBackends:    secrets,
		CredentialBackends: creds,
		BuiltinRegistry:    newRegistry(secrets, creds),
		Logger:             logger.Named("core"),
		DisableMlock:       true,
		DevToken:           rootToken,
		EnableRaw:          false,
	})
	if err != nil {
		return fmt.Errorf("new core: %w", err)
	}
	defer core.Shutdown()

	if err := setup(core, rootToken, dataDir); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	url := "http://" + ln.Addr().String()

	srv := &http.Server{
		Handler: vaulthttp.Handler.Handler(&vault.HandlerProperties{
			Core:           core,
			ListenerConfig: &configutil.Listener{Type: "tcp", Address: ln.Addr().String(), TLSDisable: true},
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	if addrFile != "" {
		tmp := addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(url+"\n"), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, addrFile); err != nil {
			return err
		}
	}
	fmt.Printf("VAULT_ADDR=%s\n", url)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		logger.Info("shutting down", "signal", s.String())
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return nil
}

// setup initialises and unseals the core, replaces the generated root token
// with one of the chosen ID, and mounts kv-v2 at secret/ and transit at
// transit/ (what `vault server -dev` does, plus transit).
func setup(core *vault.Core, rootToken, dataDir string) error {
	ctx := namespace.ContextWithNamespace(context.Background(), namespace.RootNamespace)

	initialized, err := core.Initialized(ctx)
	if err != nil {
		return fmt.Errorf("check initialized: %w", err)
	}
	keyFile := filepath.Join(dataDir, "devvault-unseal.key")
	if initialized {
		// A restart on kept storage: unseal with the saved key; tokens and
		// mounts are already there.
		if dataDir == "" {
			return errors.New("in-memory storage already initialised")
		}
		key, err := os.ReadFile(keyFile)
		if err != nil {
			return fmt.Errorf("read unseal key: %w", err)
		}
		if err := unseal(core, key); err != nil {
			return err
		}
		return waitActive(core)
	}

	init, err := core.Initialize(ctx, &vault.InitParams{
		BarrierConfig: &vault.SealConfig{SecretShares: 1, SecretThreshold: 1, Name: "shamir"},
	})
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	key := make([]byte, len(init.SecretShares[0]))
	copy(key, init.SecretShares[0])
	if dataDir != "" {
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			return fmt.Errorf("save unseal key: %w", err)
		}
	}
	if err := unseal(core, key); err != nil {
		return err
	}
	if err := waitActive(core); err != nil {
		return err
	}

	do := func(what string, req *logical.Request) (*logical.Response, error) {
		resp, err := core.HandleRequest(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if resp != nil && resp.IsError() {
			return nil, fmt.Errorf("%s: %w", what, resp.Error())
		}
		return resp, nil
	}

	resp, err := do("create root token", &logical.Request{
		ID:          "dev-gen-root",
		Operation:   logical.UpdateOperation,
		ClientToken: init.RootToken,
		Path:        "auth/token/create",
		Data: map[string]interface{}{
			"id":                rootToken,
			"policies":          []string{"root"},
			"no_parent":         true,
			"no_default_policy": true,
		},
	})
	if err != nil {
		return err
	}
	if resp == nil || resp.Auth == nil {
		return errors.New("create root token: empty response")
	}
	if _, err := do("revoke initial root token", &logical.Request{
		ID:          "dev-revoke-init-root",
		Operation:   logical.UpdateOperation,
		ClientToken: init.RootToken,
		Path:        "auth/token/revoke-self",
	}); err != nil {
		return err
	}

	mounts := []struct{ path, typ, version string }{
		{"secret", "kv", "2"},
		{"transit", "transit", ""},
	}
	for _, m := range mounts {
		data := map[string]interface{}{"type": m.typ, "path": m.path + "/"}
		if m.version != "" {
			data["options"] = map[string]string{"version": m.version}
		}
		if _, err := do("mount "+m.path, &logical.Request{
			Operation:   logical.UpdateOperation,
			ClientToken: rootToken,
			Path:        "sys/mounts/" + m.path,
			Data:        data,
		}); err != nil {
			return err
		}
	}
	return nil
}

func unseal(core *vault.Core, key []byte) error {
	unsealed, err := core.Unseal(key)
	if err != nil {
		return fmt.Errorf("unseal: %w", err)
	}
	if !unsealed {
		return errors.New("core still sealed after unseal")
	}
	return nil
}

// waitActive waits until the core is active (it has no HA backend, so this is
// quick).
func waitActive(core *vault.Core) error {
	for i := 0; ; i++ {
		isLeader, _, _, err := core.Leader()
		if errors.Is(err, vault.ErrHANotEnabled) || (err == nil && isLeader) {
			return nil
		}
		if i > 50 {
			return fmt.Errorf("core not active after 5s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// registry is a minimal plugin-catalog registry holding only the backends
// this server is built with (kv, transit, approle), so the catalog never
// looks for external plugin binaries.
type registry struct {
	logical, creds map[string]logical.Factory
}

func newRegistry(l, c map[string]logical.Factory) *registry {
	return &registry{logical: l, creds: c}
}

func (r *registry) factories(t consts.PluginType) map[string]logical.Factory {
	switch t {
	case consts.PluginTypeSecrets:
		return r.logical
	case consts.PluginTypeCredential:
		return r.creds
	}
	return nil
}

func (r *registry) Contains(name string, t consts.PluginType) bool {
	_, ok := r.factories(t)[name]
	return ok
}

func (r *registry) Get(name string, t consts.PluginType) (func() (interface{}, error), bool) {
	f, ok := r.factories(t)[name]
	if !ok {
		return nil, false
	}
	return func() (interface{}, error) { return f, nil }, true
}

func (r *registry) Keys(t consts.PluginType) []string {
	var out []string
	for k := range r.factories(t) {
		out = append(out, k)
	}
	return out
}

func (r *registry) DeprecationStatus(name string, t consts.PluginType) (consts.DeprecationStatus, bool) {
	if r.Contains(name, t) {
		return consts.Supported, true
	}
	return consts.Unknown, false
}

func (r *registry) IsBuiltinEntPlugin(string, consts.PluginType) bool { return false }
