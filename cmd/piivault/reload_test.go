package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/config"
	"github.com/piivault/piivault/internal/httpapi"
	"github.com/piivault/piivault/internal/testenv"
)

// reloadHarness runs watchAuth in-process on a tokens file.
type reloadHarness struct {
	t    *testing.T
	auth atomic.Pointer[httpapi.Authenticator]
	sets atomic.Int32
	hup  chan os.Signal
	logs *testenv.Buffer
}

func newReloadHarness(t *testing.T, files authFiles) *reloadHarness {
	t.Helper()
	h := &reloadHarness{t: t, hup: make(chan os.Signal, 1), logs: &testenv.Buffer{}}
	fp := files.fingerprint()
	a, _, _, err := files.build()
	if err != nil {
		t.Fatal(err)
	}
	h.auth.Store(a)
	lg := slog.New(slog.NewJSONHandler(h.logs, nil))
	set := func(a *httpapi.Authenticator) { h.auth.Store(a); h.sets.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); watchAuth(ctx, lg, files, fp, set, h.hup, ready) }()
	<-ready
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// accepts reports whether the current authenticator takes token.
func (h *reloadHarness) accepts(token string) bool {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	_, err := h.auth.Load().Authenticate(r)
	return err == nil
}

// eventually waits up to 2 s for accepts(token) == want.
func (h *reloadHarness) eventually(token string, want bool, what string) {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for h.accepts(token) != want {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: token accepted = %v after 2 s, want %v\nlogs:\n%s", what, !want, want, h.logs.Bytes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tokenLine(tok, principal string) string {
	sum := sha256.Sum256([]byte(tok))
	return fmt.Sprintf("- hash: sha256:%s\n  principal: %s\n  roles: [support]\n", hex.EncodeToString(sum[:]), principal)
}

// writeAtomic writes a sibling and renames it over path, as token create does.
func writeAtomic(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestAuthReloadOnFileChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.yaml")
	writeAtomic(t, path, tokenLine("tok-a", "a"))
	h := newReloadHarness(t, authFiles{tokensFile: path, rootSHA256: httpapi.HashToken("root-tok")})
	if !h.accepts("tok-a") || !h.accepts("root-tok") || h.accepts("tok-b") {
		t.Fatal("initial authenticator wrong")
	}

	// An atomic rename adds a token.
	writeAtomic(t, path, tokenLine("tok-a", "a")+tokenLine("tok-b", "b"))
	h.eventually("tok-b", true, "after an atomic rename")

	// An in-place write removes one.
	if err := os.WriteFile(path, []byte(tokenLine("tok-b", "b")), 0o600); err != nil {
		t.Fatal(err)
	}
	h.eventually("tok-a", false, "after an in-place write removing it")

	// An invalid file keeps the previous tokens, and the warning shows
	// neither the tokens nor the digests.
	badDigest := strings.Repeat("ab", 32)
	n := h.sets.Load()
	writeAtomic(t, path, tokenLine("tok-b", "b")+"- hash: "+badDigest[:40]+"\n  principal: c\n- principal: ["+badDigest+"\n")
	deadline := time.Now().Add(2 * time.Second)
	for !bytes.Contains(h.logs.Bytes(), []byte("credentials not reloaded")) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning for an invalid tokens file:\n%s", h.logs.Bytes())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if h.sets.Load() != n || !h.accepts("tok-b") || !h.accepts("root-tok") {
		t.Error("an invalid tokens file changed the authenticator")
	}
	sum := sha256.Sum256([]byte("tok-b"))
	for _, s := range []string{"tok-b", hex.EncodeToString(sum[:]), badDigest[:16]} {
		if bytes.Contains(h.logs.Bytes(), []byte(s)) {
			t.Errorf("log holds %q:\n%s", s, h.logs.Bytes())
		}
	}

	// Removing the file removes every token but the root token.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	h.eventually("tok-b", false, "after removing the file")
	if !h.accepts("root-tok") {
		t.Error("root token lost on reload")
	}
}

// TestAuthReloadSecretSymlinkSwap updates the file the way the kubelet
// updates a mounted Secret: tokens.yaml -> ..data/tokens.yaml, and ..data
// is a symlink to a timestamped folder, replaced by a rename.
func TestAuthReloadSecretSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, body string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "tokens.yaml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01", tokenLine("tok-a", "a"))
	path := filepath.Join(dir, "tokens.yaml")
	if err := os.Symlink(filepath.Join("..data", "tokens.yaml"), path); err != nil {
		t.Fatal(err)
	}
	h := newReloadHarness(t, authFiles{tokensFile: path})
	if !h.accepts("tok-a") {
		t.Fatal("initial authenticator wrong")
	}
	version("..2026_02", tokenLine("tok-b", "b"))
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01")); err != nil {
		t.Fatal(err)
	}
	h.eventually("tok-b", true, "after a Secret symlink swap")
	h.eventually("tok-a", false, "after a Secret symlink swap")
}

func TestAuthReloadSIGHUPAndClientCerts(t *testing.T) {
	// The tokens file's folder does not exist: no watch, SIGHUP still works.
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "later", "tokens.yaml")
	certs := filepath.Join(dir, "b", "certs.yaml")
	if err := os.Mkdir(filepath.Dir(certs), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certs, []byte("- match: spiffe://x/a\n  principal: a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newReloadHarness(t, authFiles{tokensFile: path, certsFile: certs})
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	// No watch on a folder that did not exist: start-up said so, and a
	// file written there waits for SIGHUP (the log is the proof; looking
	// for no reload after a pause would pass whenever the watcher is slow).
	if !bytes.Contains(h.logs.Bytes(), []byte(`"cannot watch a credentials folder; reload with SIGHUP","dir":"`+filepath.Dir(path)+`"`)) {
		t.Fatalf("no warning that the tokens folder %s is not watched:\n%s", filepath.Dir(path), h.logs.Bytes())
	}
	writeAtomic(t, path, tokenLine("tok-a", "a"))
	if h.accepts("tok-a") {
		t.Fatal("a file in an unwatched folder was reloaded without SIGHUP")
	}
	h.hup <- syscall.SIGHUP
	h.eventually("tok-a", true, "after SIGHUP")

	// A broken client certificates file keeps everything as it was.
	n := h.sets.Load()
	if err := os.WriteFile(certs, []byte("- match: ''\n  principal: a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.hup <- syscall.SIGHUP
	deadline := time.Now().Add(2 * time.Second)
	for !bytes.Contains(h.logs.Bytes(), []byte("credentials not reloaded")) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning for an invalid certificates file:\n%s", h.logs.Bytes())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if h.sets.Load() != n || !h.accepts("tok-a") {
		t.Error("an invalid certificates file changed the authenticator")
	}
}

// TestTokenReloadEndToEnd runs the real binary: a token created with
// `piivault token create` while serve runs works within 2 s; an invalid
// tokens file keeps the old tokens; a removed token stops working; the dev
// root token works throughout; SIGHUP reloads and does not stop the
// process.
func TestTokenReloadEndToEnd(t *testing.T) {
	data := t.TempDir()
	out := &testenv.Buffer{}
	root := "root-" + randHex(t, 8)
	env := []string{"PIIVAULT_DEV_ROOT_TOKEN=" + root}
	s := start(t, out, env, "--dev", "--listen", "127.0.0.1:0", "--data", data)
	url := "http://" + s.addr
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// status of GET /v1/schemas with token: 200 (root) or 403 (the policy
	// denies admin to support and analytics) mean authenticated.
	status := func(tok string) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v1/schemas", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	authed := func(tok string) bool { return status(tok) != http.StatusUnauthorized }
	within := func(tok string, want bool, what string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for authed(tok) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: token authenticated = %v 2 s later, want %v\n%s", what, !want, want, out.Bytes())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	tokA := strings.TrimSpace(cli(t, env, "token", "create", "--data", data, "--principal", "alice", "--roles", "support"))
	within(tokA, true, "token created while serving")
	tokB := strings.TrimSpace(cli(t, env, "token", "create", "--data", data, "--principal", "bob", "--roles", "analytics"))
	within(tokB, true, "second token")

	// An invalid tokens file: old tokens keep working, a warning is logged.
	tokensFile := filepath.Join(data, "tokens.yaml")
	good, err := os.ReadFile(tokensFile)
	if err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, tokensFile, string(good)+"- hash: not-a-digest\n  principal: mallory\n")
	deadline := time.Now().Add(2 * time.Second)
	for !bytes.Contains(out.Bytes(), []byte("credentials not reloaded")) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning for an invalid tokens file:\n%s", out.Bytes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tok := range []string{tokA, tokB, root} {
		if !authed(tok) {
			t.Error("a token stopped working after an invalid tokens file")
		}
	}

	// Remove alice: her token stops working, bob's and root's do not.
	toks, err := config.LoadTokens(writeTemp(t, string(good)))
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for _, tk := range toks {
		if tk.Principal == "alice" {
			continue
		}
		fmt.Fprintf(&body, "- hash: sha256:%x\n  principal: %s\n  roles: [%s]\n", tk.Hash[:], tk.Principal, strings.Join(tk.Roles, ","))
	}
	writeAtomic(t, tokensFile, body.String())
	within(tokA, false, "removed token")
	if !authed(tokB) || !authed(root) {
		t.Error("a remaining token stopped working")
	}

	// SIGHUP reloads and the process keeps serving.
	before := bytes.Count(out.Bytes(), []byte(`"trigger":"SIGHUP"`))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for bytes.Count(out.Bytes(), []byte(`"trigger":"SIGHUP"`)) == before {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged after SIGHUP:\n%s", out.Bytes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !authed(tokB) || !authed(root) || authed(tokA) {
		t.Error("tokens wrong after SIGHUP")
	}

	// No token and no digest in the output.
	for _, tk := range toks {
		if bytes.Contains(out.Bytes(), []byte(hex.EncodeToString(tk.Hash[:]))) {
			t.Error("the server's output holds a token digest")
		}
	}
	for _, tok := range []string{tokA, tokB} {
		if bytes.Contains(out.Bytes(), []byte(tok)) {
			t.Error("the server's output holds a token")
		}
	}
	s.stop()
}

func writeTemp(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
