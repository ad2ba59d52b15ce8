package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/piivault/piivault/sdk"
)

// A command-line mistake is one line on stderr and exit 2, with no usage
// dump; --help still prints the usage and exits 0.
func TestCommandLineMistakesAreOneLine(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"unknown flag", []string{"erasure", "list", "--bogus"}, exitUsage, "piivault: erasure list: flag provided but not defined: -bogus"},
		{"unknown serve flag", []string{"serve", "--nope"}, exitUsage, "piivault: serve: flag provided but not defined: -nope"},
		{"bad status", []string{"erasure", "list", "--status", "bogus"}, exitUsage, `--status "bogus": want requested`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runArgs(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("run(%q) exit = %d, want %d", tt.args, code, tt.code)
			}
			if out != "" {
				t.Errorf("run(%q) stdout = %q, want nothing (no usage dump on a mistake)", tt.args, out)
			}
			if n := strings.Count(errOut, "\n"); n != 1 {
				t.Errorf("run(%q) stderr has %d lines, want 1: %q", tt.args, n, errOut)
			}
			if !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, errOut, tt.inStderr)
			}
			if strings.Count(errOut, "piivault") != 1 {
				t.Errorf("run(%q) stderr = %q, want the prefix once", tt.args, errOut)
			}
		})
	}
}

// An SDK error keeps its status and code but the CLI says "piivault:" once.
func TestExitCodeSaysThePrefixOnce(t *testing.T) {
	var buf bytes.Buffer
	err := fmt.Errorf("erase: %w", &sdk.APIError{Status: 409, Code: "legal_hold", Detail: "subject is under legal hold"})
	if code := exitCode(err, &buf); code != exitFailure {
		t.Errorf("exitCode = %d, want %d", code, exitFailure)
	}
	if got, want := buf.String(), "piivault: erase: 409 legal_hold: subject is under legal hold\n"; got != want {
		t.Errorf("exitCode printed %q, want %q", got, want)
	}
}

// --help of a command shows defaults, and kek rotate lists only its own
// flags, not every server flag.
func TestHelpShowsDefaultsAndOwnFlags(t *testing.T) {
	out, _, code := runArgs(t, nil, "serve", "--help")
	if code != exitOK {
		t.Fatalf("serve --help exit = %d", code)
	}
	for _, want := range []string{"default 127.0.0.1:8200", "default ./piivault-data", "default 30d", "default 30s"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
	out, _, code = runArgs(t, nil, "kek", "rotate", "--help")
	if code != exitOK {
		t.Fatalf("kek rotate --help exit = %d", code)
	}
	for _, flag := range []string{"-data", "-kek-file", "-vault-backend"} {
		if !strings.Contains(out, flag) {
			t.Errorf("kek rotate --help lacks %s", flag)
		}
	}
	for _, flag := range []string{"-listen", "-tls-cert-file", "-retention"} {
		if strings.Contains(out, flag) {
			t.Errorf("kek rotate --help lists the server flag %s", flag)
		}
	}
	out, _, _ = runArgs(t, nil, "--help")
	if !strings.Contains(out, "3 serve forced to stop") {
		t.Errorf("piivault --help does not document exit code 3:\n%s", out)
	}
}

// serve on a busy port fails before it creates the data folder or a key.
func TestServeOnBusyPortCreatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := filepath.Join(t.TempDir(), "new-data")
	_, errOut, code := runArgs(t, map[string]string{"PIIVAULT_DEV_ROOT_TOKEN": "dev-root"},
		"serve", "--dev", "--listen", ln.Addr().String(), "--data", data)
	if code != exitFailure || !strings.Contains(errOut, "listen on") {
		t.Errorf("serve on a busy port: exit %d, %q; want 1 and the listen error", code, errOut)
	}
	if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve on a busy port created %s (stat: %v)", data, err)
	}
}

// token create refuses no roles and roles the policy does not know, unless
// --force; known roles pass.
func TestTokenCreateChecksRoles(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"no roles", nil, exitUsage, "--roles is required"},
		{"misspelt role", []string{"--roles", "supprt"}, exitFailure, `role "supprt" is not known to the policy`},
		{"one unknown of two", []string{"--roles", "support,auditor"}, exitFailure, `role "auditor"`},
		{"known roles", []string{"--roles", "support,billing"}, exitOK, "added to"},
		{"forced", []string{"--roles", "supprt", "--force"}, exitOK, "added to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"token", "create", "--data", data, "--principal", "p-" + strings.ReplaceAll(tt.name, " ", "-")}, tt.args...)
			out, errOut, code := runArgs(t, nil, args...)
			if code != tt.code || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("token create %q: exit %d, stderr %q; want %d and %q", tt.args, code, errOut, tt.code, tt.inStderr)
			}
			if (code == exitOK) != (strings.TrimSpace(out) != "") {
				t.Errorf("token create %q printed %q with exit %d", tt.args, out, code)
			}
		})
	}
}

// token create --wait returns once the sidecar accepts the token (any
// answer but 401), and fails after its bound when it never does.
func TestTokenCreateWait(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		if calls.Add(1) < 4 {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"status":401,"code":"unauthenticated"}`)
			return
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"status":403,"code":"denied"}`)
	}))
	defer srv.Close()
	out, errOut, code := runArgs(t, nil, "token", "create", "--data", t.TempDir(), "--principal", "p", "--roles", "support", "--wait", "--addr", srv.URL)
	if code != exitOK || strings.TrimSpace(out) == "" {
		t.Fatalf("token create --wait: exit %d, %q %q", code, out, errOut)
	}
	if n := calls.Load(); n < 4 {
		t.Errorf("token create --wait returned after %d calls, want it to wait for the 4th", n)
	}
}
