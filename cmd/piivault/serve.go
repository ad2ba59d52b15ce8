package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/internal/config"
	"github.com/piivault/piivault/internal/console"
	"github.com/piivault/piivault/internal/httpapi"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/redaction/compliance"
	"github.com/piivault/piivault/vault/metered"
)

// Layout of the data folder.
const (
	logDir   = "log"   // the event log (Badger)
	vaultDir = "vault" // the embedded vault (Badger)
)

// slog attribute keys of this command.
const (
	keyAddr    = "addr"
	keyData    = "data"
	keyBackend = "vault_backend"
	keyErr     = "err"
	keyTook    = "took"
	keyTokens  = "tokens"
)

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "[--dev] [--config FILE] [flags]",
		"Runs the sidecar. Settings come from the config file, then PIIVAULT_*\n"+
			"environment variables, then flags (each overrides the one before).\n\n"+
			"--dev starts a local playground: embedded vault, a generated key-encryption\n"+
			"key in the data folder, the shipped policy, and a root token from\n"+
			config.EnvDevRootToken+" (else generated and printed once).")
	var sf serverFlags
	fs.BoolVar(&sf.dev, "dev", false, "development mode (see above); never for production data")
	addServerFlags(fs, &sf, true)
	if err := noArgs(fs, args, "serve"); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(e, fs, sf)
	if err != nil {
		return err
	}
	return serve(ctx, e, cfg)
}

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	o := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

// closer closes what serve opened, in reverse order, once.
type closer struct {
	fns []func() error
}

func (c *closer) add(f func() error) { c.fns = append(c.fns, f) }
func (c *closer) close() error {
	var errs []error
	for i := len(c.fns) - 1; i >= 0; i-- {
		errs = append(errs, c.fns[i]())
	}
	c.fns = nil
	return errors.Join(errs...)
}

func serve(ctx context.Context, e *env, cfg config.Config) (err error) {
	lg := newLogger(e.stderr, cfg)
	start := time.Now()
	if p := e.getenv(envCPUProfile); p != "" {
		stop, err := cpuProfile(p)
		if err != nil {
			return err
		}
		defer stop()
	}
	var cl closer
	defer func() {
		if cerr := cl.close(); cerr != nil && err == nil {
			err = fmt.Errorf("close stores: %w", cerr)
		}
		// A signal during start-up is a normal stop, not a failure.
		if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
			lg.Info("stopped during start-up")
			err = nil
		}
	}()

	if !cfg.Dev && cfg.DevRootToken != "" {
		lg.Warn("ignoring " + config.EnvDevRootToken + ": a root token exists only with --dev")
	}
	// The address first: a busy port must fail before anything is created
	// (a new data folder, a generated key). Serve closes ln at shutdown; a
	// second Close on the error paths is harmless.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()

	fresh := !exists(filepath.Join(cfg.Data, logDir))
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("create data folder %s: %w", cfg.Data, err)
	}

	// SIGHUP reloads the credentials; until the reloader runs it is held.
	hup, stopHUP := notifyHUP()
	defer stopHUP()

	// Authentication first: a bad tokens file should fail before any store
	// is opened. The fingerprint is taken first, so that a change made
	// during start-up is caught once the reloader runs.
	authPrint := newAuthFiles(cfg, "").fingerprint()
	auth, credFiles, rootToken, rootGenerated, ntok, err := authenticator(cfg)
	if err != nil {
		return err
	}

	if ntok == 0 && !cfg.Dev && cfg.TLS.ClientCertsFile == "" {
		lg.Warn("no bearer tokens configured: every /v1 call will answer 401; add one with `piivault token create`", slog.String("tokens_file", cfg.TokensFile))
	}

	elog, err := eventlog.Open(filepath.Join(cfg.Data, logDir), eventlogOptions(lg))
	if err != nil {
		return fmt.Errorf("open event log in %s: %w", cfg.Data, err)
	}
	cl.add(elog.Close)

	store, vaultDesc, err := openVault(ctx, cfg, lg)
	if err != nil {
		return err
	}
	cl.add(store.Close)
	vaultWrites, _ := store.(interface{ WriteErr() error }) // the embedded vault's; nil for others
	// The embedded vault's local key file's version; nil for other backends.
	var kekVersion func() uint32
	if kv, ok := store.(interface{ KEKVersion() (uint32, bool) }); ok {
		if _, ok := kv.KEKVersion(); ok {
			kekVersion = func() uint32 { v, _ := kv.KEKVersion(); return v }
		}
	}
	// One registry for the HTTP, vault and policy metrics, served on /metrics.
	// Every user of the vault (redaction, compliance) gets the same metered
	// store, so all their vault calls show.
	reg := prometheus.NewRegistry()
	store = metered.New(store, reg)

	popts := policy.DefaultOptions()
	popts.PolicyDir = cfg.PolicyDir
	popts.BundlePath = cfg.PolicyBundle
	popts.ReplaceDefault = cfg.PolicyReplaceDefault
	popts.Watch = cfg.PolicyDir != "" || cfg.PolicyBundle != ""
	popts.Logger = lg.With("component", "policy")
	popts.DecisionLog = httpapi.PolicyDecisionMetrics(reg, nil)
	pol, err := policy.New(ctx, popts)
	if err != nil {
		return fmt.Errorf("load policy: %w", err)
	}
	cl.add(pol.Close)

	ropts := redaction.DefaultOptions()
	ropts.Logger = lg.With("component", "redaction")
	svc, err := redaction.New(elog, store, pol, ropts)
	if err != nil {
		return fmt.Errorf("start redaction service: %w", err)
	}
	cl.add(svc.Close)
	comp, err := openCompliance(cfg, lg, svc)
	if err != nil {
		return err
	}
	cl.add(comp.Close) // closed before svc
	if err := reg.Register(comp.Collector()); err != nil {
		return fmt.Errorf("register compliance metrics: %w", err)
	}
	// Before a single read: an erasure recorded in the log must hold even
	// if the vault was restored from an older backup.
	t0 := time.Now()
	n, err := comp.Reapply(ctx)
	if err != nil {
		return fmt.Errorf("re-apply recorded erasures to the vault: %w", err)
	}
	lg.Info("re-applied recorded erasures to the vault", slog.Int("erasures", n), slog.String(keyTook, time.Since(t0).Round(time.Microsecond).String()))

	hopts := httpapi.DefaultOptions()
	hopts.KEKVersion = kekVersion
	hopts.Logger = lg.With("component", "http")
	hopts.Auth = auth
	hopts.Registry = reg
	hopts.Compliance = comp
	hopts.MaxSubscriptions = cfg.Subscriptions.Max
	hopts.MaxSubscriptionsPerPrincipal = cfg.Subscriptions.PerPrincipal
	if cfg.UI == "true" {
		if hopts.UI, err = console.New(console.Options{Version: version, VaultBackend: cfg.VaultBackend}); err != nil {
			return fmt.Errorf("build console: %w", err)
		}
	}
	// Not ready once a shutdown began (the stores are about to close), nor
	// while a store cannot write: the log's last group, or the embedded
	// vault's last commit or (until a restart) its fsync, failed (#20).
	var stopping atomic.Bool
	hopts.Ready = func() error {
		if stopping.Load() {
			return errShuttingDown
		}
		if vaultWrites != nil {
			if err := vaultWrites.WriteErr(); err != nil {
				return err
			}
		}
		return elog.WriteErr()
	}
	api := httpapi.New(svc, pol, hopts)
	stopReload := startAuthReload(lg.With("component", "auth"), credFiles, authPrint, api.SetAuth, hup)
	defer stopReload()

	tlsCfg, err := tlsConfig(cfg.TLS)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}

	// Subscriptions live for hours: at shutdown they are ended first, so
	// that Shutdown only waits for ordinary requests in flight.
	streams, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	srv := api.HTTPServer(addr)
	srv.Handler = endOnShutdown(streams, api)
	srv.TLSConfig = tlsCfg

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	lg.Info("piivault serving", slog.String(keyAddr, addr), slog.String("policy_revision", pol.Revision()), slog.String(keyData, cfg.Data),
		slog.String(keyBackend, cfg.VaultBackend), slog.Int(keyTokens, ntok), slog.String(keyTook, time.Since(start).Round(time.Millisecond).String()))
	if cfg.Dev {
		devBanner(e.stdout, cfg, scheme+"://"+addr, vaultDesc, fresh, rootToken, rootGenerated)
	} else {
		fmt.Fprintf(e.stdout, "piivault listening on %s://%s (data %s, vault %s, %d tokens)\n", scheme, addr, cfg.Data, vaultDesc, ntok)
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	lg.Info("shutting down: no new connections; finishing requests in flight", slog.String("timeout", cfg.ShutdownTimeout.String()))
	stopping.Store(true)
	endStreams()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		lg.Warn("shutdown timed out; closing remaining connections", slog.String(keyErr, err.Error()))
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		lg.Warn("HTTP server ended with an error", slog.String(keyErr, err.Error()))
	}
	// An erasure acknowledged just before the stop is purged and receipted
	// now, within the budget, not at the next start; what the budget cuts
	// short stays in $erasures and the next start finishes it.
	if err := comp.Shutdown(sctx); err != nil {
		lg.Warn("erasures not finished at shutdown", slog.String(keyErr, err.Error()))
	}
	// The stores' close shares the shutdown budget: Badger retries a failed
	// memtable flush for ever (a lost or full disk), and a stop must not.
	pending := cl
	cl = closer{} // the deferred close must not wait on them again
	closed := make(chan error, 1)
	go func() { closed <- pending.close() }()
	select {
	case err := <-closed:
		if err != nil {
			return fmt.Errorf("close stores: %w", err)
		}
	case <-sctx.Done():
		return fmt.Errorf("close stores: not flushed within the shutdown timeout (%s); what they acknowledged is in their logs and the next start recovers it: %w", cfg.ShutdownTimeout, sctx.Err())
	}
	lg.Info("stopped: stores flushed and closed")
	return nil
}

var errShuttingDown = errors.New("shutting down")

// endOnShutdown derives the context of SSE requests from streams, so that
// cancelling streams ends every subscription while other requests finish.
func endOnShutdown(streams context.Context, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/subscribe" {
			ctx, cancel := context.WithCancel(r.Context())
			stop := context.AfterFunc(streams, cancel)
			defer stop()
			defer cancel()
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
	})
}

// envCPUProfile names a file for a CPU profile of the whole serve run, for
// performance work (cmd/piivault-bench sets it).
const envCPUProfile = "PIIVAULT_CPUPROFILE"

func cpuProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// tlsConfig builds the listener's TLS configuration, nil without TLS.
// Client certificates are verified when given, not required, so bearer
// tokens keep working beside mTLS.
func tlsConfig(t config.TLS) (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: tls.certFile/tls.keyFile: %w", config.ErrInvalid, err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls.clientCAFile: %w", config.ErrInvalid, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: tls.clientCAFile %s: no PEM certificate in it", config.ErrInvalid, t.ClientCAFile)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return c, nil
}

// openCompliance starts the erasure workflow, retention and blind index
// (issue 6): receipts are signed with a key kept in the data folder.
func openCompliance(cfg config.Config, lg *slog.Logger, svc *redaction.Service) (*compliance.Service, error) {
	key, err := compliance.LoadOrCreateSigningKey(filepath.Join(cfg.Data, compliance.SigningKeyFile))
	if err != nil {
		return nil, fmt.Errorf("receipt signing key in %s: %w", cfg.Data, err)
	}
	o := compliance.DefaultOptions()
	o.Logger = lg.With("component", "compliance")
	o.SigningKey = key
	o.Deadline = cfg.ErasureDeadline
	for _, r := range cfg.Retention {
		o.Retention = append(o.Retention, compliance.RetentionRule{EventType: r.EventType, Class: r.Class, Period: r.Period})
	}
	if cfg.BlindIndexKeyFile != "" {
		if o.BlindIndexKey, err = os.ReadFile(cfg.BlindIndexKeyFile); err != nil {
			return nil, fmt.Errorf("%w: blindIndex.keyFile: %w", config.ErrInvalid, err)
		}
	}
	comp, err := compliance.New(svc, o)
	if err != nil {
		return nil, fmt.Errorf("start the erasure workflow: %w", err)
	}
	return comp, nil
}

func eventlogOptions(lg *slog.Logger) eventlog.Options {
	o := eventlog.DefaultOptions()
	o.Logger = lg.With("component", "eventlog")
	return o
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// authenticator builds the authenticator from the tokens file, the client
// certificates file and, in dev mode, the root token. files rebuilds it on
// a reload, with the same root token.
func authenticator(cfg config.Config) (auth *httpapi.Authenticator, files authFiles, root string, generated bool, n int, err error) {
	if cfg.Dev {
		root = cfg.DevRootToken
		if root == "" {
			if root, err = config.NewToken(); err != nil {
				return nil, files, "", false, 0, err
			}
			generated = true
		}
	}
	rootSHA := ""
	if root != "" {
		rootSHA = httpapi.HashToken(root)
	}
	files = newAuthFiles(cfg, rootSHA)
	auth, n, _, err = files.build()
	if err != nil {
		return nil, files, "", false, 0, err
	}
	return auth, files, root, generated, n, nil
}

// devBanner says in plain words what --dev did and how to call it.
func devBanner(w io.Writer, cfg config.Config, url, vaultDesc string, fresh bool, root string, generated bool) {
	state := "existing"
	if fresh {
		state = "new"
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("piivault dev server: a local playground, not for production data.")
	p("")
	p("  data folder   %s (%s): event log in %s/, embedded vault in %s/", cfg.Data, state, logDir, vaultDir)
	p("  vault         %s", vaultDesc)
	p("  policy        %s", policyDesc(cfg))
	p("  tokens file   %s (SHA-256 digests; add one with: piivault token create --data %s --principal NAME --roles support)", cfg.TokensFile, cfg.Data)
	p("  listening on  %s", url)
	p("")
	if generated {
		p("Root token (shown only now; it passes every policy check, like Vault's dev root token):")
		p("")
		p("  export PIIVAULT_TOKEN=%s", root)
		p("")
		p("Set %s to choose it yourself next time.", config.EnvDevRootToken)
	} else {
		// The operator chose this token: it is a secret of theirs, and
		// this banner may end up in a container's log. Say where it is.
		p("Root token: the value you gave in %s (not echoed; it passes every policy check).", config.EnvDevRootToken)
		p("In another terminal, where that variable is not set:")
		p("")
		p("  export PIIVAULT_TOKEN=<the value of %s>", config.EnvDevRootToken)
	}
	p("")
	p("Try it (stream customer-7, subject cust-7; the README's quickstart uses others):")
	p("")
	p("  # 1. declare which fields of an event type are personal data")
	p(`  curl -s -X PUT %s/v1/schemas/CustomerRegistered -H "Authorization: Bearer $PIIVAULT_TOKEN" -H 'Content-Type: application/json' \`, url)
	p(`    -d '{"subject":"/customerId","fields":[{"path":"/email","class":"email"},{"path":"/name","class":"name"}]}'`)
	p("  # 2. append an event: the email and name go to the vault, the log keeps tokens")
	p(`  curl -s -X POST %s/v1/streams/customer-7/events -H "Authorization: Bearer $PIIVAULT_TOKEN" -H 'Content-Type: application/json' \`, url)
	p(`    -d '{"expectedVersion":0,"events":[{"type":"CustomerRegistered","data":{"customerId":"cust-7","email":"grace@example.com","name":"Grace"}}]}'`)
	p("  # 3. read it back (add -H 'X-Purpose: support' with a support token)")
	p(`  curl -s %s/v1/streams/customer-7/events -H "Authorization: Bearer $PIIVAULT_TOKEN"`, url)
	p("  # 4. forget the customer, then read again: \"[deleted under GDPR]\"")
	p(`  curl -s -X POST %s/v1/subjects/cust-7/erasure -H "Authorization: Bearer $PIIVAULT_TOKEN" \`, url)
	p(`    -H 'Content-Type: application/json' -d '{"reason":"customer request"}'`)
	p("")
	p("Stop with Ctrl-C (a second Ctrl-C forces the exit).")
}

func policyDesc(cfg config.Config) string {
	d := "shipped default (roles service, support, billing, analytics, dpo, admin; everything else denied)"
	if cfg.PolicyReplaceDefault {
		d = "your own (shipped default dropped)"
	}
	if cfg.PolicyDir != "" {
		d += " + the .rego files in " + cfg.PolicyDir
	}
	if cfg.PolicyBundle != "" {
		d += " + the bundle " + cfg.PolicyBundle
	}
	if cfg.PolicyDir != "" || cfg.PolicyBundle != "" {
		d += " (reloaded on change)"
	}
	return d
}
