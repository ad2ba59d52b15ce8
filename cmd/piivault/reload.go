package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/piivault/piivault/internal/config"
	"github.com/piivault/piivault/internal/httpapi"
)

// Credentials reload: a running serve re-reads the tokens file (and the
// client certificates file) on SIGHUP and when either changes on disk, and
// swaps the authenticator atomically. An invalid file keeps the previous
// authenticator. The dev root token is part of every authenticator built.

// reloadDebounce lets a burst of file events (an editor's write, a
// Kubernetes Secret's symlink swap) settle before the files are read.
const reloadDebounce = 150 * time.Millisecond

// authFiles builds authenticators from the credential files named in the
// configuration and the dev root token's digest (empty outside --dev).
type authFiles struct {
	tokensFile string
	certsFile  string // empty: no client certificates file
	rootSHA256 string
}

func newAuthFiles(cfg config.Config, rootSHA256 string) authFiles {
	return authFiles{tokensFile: cfg.TokensFile, certsFile: cfg.TLS.ClientCertsFile, rootSHA256: rootSHA256}
}

// fingerprint is a digest of the files' bytes (a missing file counts as
// empty), so that events which change nothing cause no reload.
func (f authFiles) fingerprint() [sha256.Size]byte {
	h := sha256.New()
	for _, p := range []string{f.tokensFile, f.certsFile} {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(h, "error %v\n", err)
			continue
		}
		fmt.Fprintf(h, "%d\n", len(b))
		h.Write(b)
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

// build reads and validates the files and returns a new authenticator and
// the number of bearer tokens and certificate mappings in it (the root
// token not counted). Errors name the file, never a token or a digest.
func (f authFiles) build() (auth *httpapi.Authenticator, ntok, ncert int, err error) {
	toks, err := config.LoadTokens(f.tokensFile)
	if err != nil {
		return nil, 0, 0, err
	}
	ac := httpapi.AuthConfig{RootTokenSHA256: f.rootSHA256}
	for _, t := range toks {
		ac.Tokens = append(ac.Tokens, httpapi.TokenEntry{
			SHA256: fmt.Sprintf("%x", t.Hash[:]), Principal: t.Principal, Roles: t.Roles, Attributes: t.Attributes,
		})
	}
	if f.certsFile != "" {
		certs, err := config.LoadClientCerts(f.certsFile)
		if err != nil {
			return nil, 0, 0, err
		}
		for _, c := range certs {
			ac.Certs = append(ac.Certs, httpapi.CertEntry{Match: c.Match, Principal: c.Principal, Roles: c.Roles, Attributes: c.Attributes})
		}
	}
	auth, err = httpapi.NewAuthenticator(ac)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: tokens file %s: %w", config.ErrInvalid, f.tokensFile, err)
	}
	return auth, len(toks), len(ac.Certs), nil
}

// authReloader re-reads the credential files on a trigger and hands a new
// authenticator to set.
type authReloader struct {
	files authFiles
	set   func(*httpapi.Authenticator)
	lg    *slog.Logger
	last  [sha256.Size]byte // fingerprint of the files last read, valid or not
}

// reload reads the files; force reloads even when their bytes did not
// change (SIGHUP). It reports whether a new authenticator was set.
func (r *authReloader) reload(why string, force bool) bool {
	fp := r.files.fingerprint()
	if !force && bytes.Equal(fp[:], r.last[:]) {
		return false
	}
	r.last = fp
	auth, ntok, ncert, err := r.files.build()
	if err != nil {
		// The error names the file and the entry; config scrubs values.
		r.lg.Warn("credentials not reloaded: the new file is invalid; the previous tokens stay in force",
			slog.String("trigger", why), slog.String(keyErr, err.Error()))
		return false
	}
	r.set(auth)
	attrs := []any{slog.String("trigger", why), slog.Int(keyTokens, ntok), slog.String("tokens_file", r.files.tokensFile)}
	if r.files.certsFile != "" {
		attrs = append(attrs, slog.Int("client_certs", ncert))
	}
	r.lg.Info("credentials reloaded", attrs...)
	return true
}

// watchAuth reloads the credentials on SIGHUP (hup) and when the folder of
// a credential file changes, until ctx ends. It watches folders, not files,
// so that an atomic rename (token create) and a Kubernetes Secret update
// (a swap of the ..data symlink) are both seen. Without a file watcher
// (the folder does not exist, or the system refuses) SIGHUP still works.
// loaded is the fingerprint taken before the authenticator in force was
// built: a change made since is caught once the watches are in place, and
// ready is closed then.
func watchAuth(ctx context.Context, lg *slog.Logger, files authFiles, loaded [sha256.Size]byte, set func(*httpapi.Authenticator), hup <-chan os.Signal, ready chan<- struct{}) {
	r := &authReloader{files: files, set: set, lg: lg, last: loaded}
	var events <-chan fsnotify.Event
	var errs <-chan error
	w, err := fsnotify.NewWatcher()
	if err != nil {
		lg.Warn("cannot watch the credential files; reload them with SIGHUP", slog.String(keyErr, err.Error()))
	} else {
		defer w.Close()
		events, errs = w.Events, w.Errors
		seen := map[string]bool{}
		for _, p := range []string{files.tokensFile, files.certsFile} {
			if p == "" {
				continue
			}
			dir := filepath.Dir(p)
			if seen[dir] {
				continue
			}
			seen[dir] = true
			if err := w.Add(dir); err != nil {
				lg.Warn("cannot watch a credentials folder; reload with SIGHUP", slog.String("dir", dir), slog.String(keyErr, err.Error()))
			}
		}
	}
	r.reload("change during start-up", false)
	if ready != nil {
		close(ready)
	}
	// The timer debounces file events; it is stopped until one arrives.
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			// Catch a file change that is still settling too.
			debounce.Stop()
			r.reload("SIGHUP", true)
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			// Any change in the folder: the fingerprint decides whether
			// a credential file really changed.
			debounce.Reset(reloadDebounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			lg.Warn("credentials file watcher", slog.String(keyErr, err.Error()))
		case <-debounce.C:
			r.reload("file change", false)
		}
	}
}

// notifyHUP registers SIGHUP early in serve, so that one sent during
// start-up does not end the process (its default action); stop undoes it.
func notifyHUP() (hup <-chan os.Signal, stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}

// startAuthReload runs watchAuth in a goroutine once its watches are in
// place; the returned function stops it and waits for it.
func startAuthReload(lg *slog.Logger, files authFiles, loaded [sha256.Size]byte, set func(*httpapi.Authenticator), hup <-chan os.Signal) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		watchAuth(ctx, lg, files, loaded, set, hup, ready)
	}()
	<-ready
	return func() {
		cancel()
		<-done
	}
}
