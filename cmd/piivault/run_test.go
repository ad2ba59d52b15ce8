package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/piivault/piivault/internal/config"
	"github.com/piivault/piivault/sdk"
)

func runArgs(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &o, &e)
	code = exitCode(err, &e)
	return o.String(), e.String(), code
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"no command", nil, exitUsage, "usage: piivault", "no command given"},
		{"help", []string{"--help"}, exitOK, "token create", ""},
		{"unknown", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"unknown token sub", []string{"token", "delete"}, exitUsage, "", `unknown token command "delete"`},
		{"serve help", []string{"serve", "--help"}, exitOK, "--dev", ""},
		{"token create help", []string{"token", "create", "--help"}, exitOK, "SHA-256", ""},
		{"verify help", []string{"verify", "--help"}, exitOK, "hash chain", ""},
		{"schema apply help", []string{"schema", "apply", "--help"}, exitOK, "eventType", ""},
		{"bad flag", []string{"serve", "--no-such-flag"}, exitUsage, "", "flag provided but not defined"},
		{"token without principal", []string{"token", "create"}, exitUsage, "", "--principal is required"},
		{"schema apply without file", []string{"schema", "apply"}, exitUsage, "", "-f FILE is required"},
		{"version", []string{"version"}, exitOK, "piivault " + version, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, e, code := runArgs(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("run(%q) exit = %d, want %d (stderr %q)", tt.args, code, tt.code, e)
			}
			if !strings.Contains(o, tt.inStdout) {
				t.Errorf("run(%q) stdout = %q, want it to contain %q", tt.args, o, tt.inStdout)
			}
			if !strings.Contains(e, tt.inStderr) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, e, tt.inStderr)
			}
			if tt.code != exitOK && strings.Count(e, "\n") != 1 {
				t.Errorf("run(%q) stderr = %q, want one line", tt.args, e)
			}
		})
	}
}

func TestServeNamesBadKey(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"env", map[string]string{config.EnvVaultBackend: "s3"}, nil, "vault.backend"},
		{"flag", nil, []string{"--listen", "nope"}, "listen"},
		{"file", nil, []string{"--config", "testdata/bad-config.yaml"}, `unknown key "vault.backnd"`},
		{"hashicorp without token", map[string]string{config.EnvVaultBackend: "hashicorp", config.EnvHashiCorpAddr: "http://127.0.0.1:1"}, nil, "vault.hashicorp.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--data", t.TempDir()}, tt.args...)
			_, e, code := runArgs(t, tt.env, args...)
			if code != exitFailure || !strings.Contains(e, tt.want) {
				t.Errorf("serve: exit %d, stderr %q; want 1 and %q", code, e, tt.want)
			}
		})
	}
}

func TestTokenCreate(t *testing.T) {
	data := t.TempDir()
	o, e, code := runArgs(t, nil, "token", "create", "--data", data, "--principal", "alice", "--roles", "support,billing", "--attr", "team=care")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, e)
	}
	tok := strings.TrimSpace(o)
	if !strings.HasPrefix(tok, config.TokenPrefix) || strings.Count(o, "\n") != 1 {
		t.Errorf("token create stdout = %q, want one token line", o)
	}
	raw, err := os.ReadFile(filepath.Join(data, "tokens.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(tok)) {
		t.Error("tokens file holds the plaintext token")
	}
	toks, err := config.LoadTokens(filepath.Join(data, "tokens.yaml"))
	if err != nil || len(toks) != 1 || !toks[0].Match(tok) || toks[0].Principal != "alice" || len(toks[0].Roles) != 2 || toks[0].Attributes["team"] != "care" {
		t.Errorf("tokens file = %+v, %v", toks, err)
	}
	if _, e, code := runArgs(t, nil, "token", "create", "--data", data, "--principal", "bad name", "--roles", "support"); code != exitFailure || !strings.Contains(e, "principal") {
		t.Errorf("token create with a bad principal: exit %d, %q", code, e)
	}
}

func TestParseSchemas(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // event types
		wantErr  string
	}{
		{"one", "eventType: A\nsubject: /id\nfields:\n  - {path: /email, class: email}\n", []string{"A"}, ""},
		{"list", "- eventType: A\n  subject: /id\n- eventType: B\n  subject: /id\n", []string{"A", "B"}, ""},
		{"schemas key", "schemas:\n  - eventType: A\n    subject: /id\n", []string{"A"}, ""},
		{"documents", "eventType: A\nsubject: /x\n---\neventType: B\nsubject: /y\n", []string{"A", "B"}, ""},
		{"json", `{"eventType":"A","subject":"/id","fields":[{"path":"/e","class":"email"}]}`, []string{"A"}, ""},
		{"no type", "subject: /id\n", nil, "eventType is required"},
		{"empty", "", nil, "no schema"},
		{"scalar", "hello\n", nil, "want a schema"},
		{"misspelt fields", "eventType: A\nsubject: /id\nfeilds:\n  - {path: /email, class: email}\n", nil, `line 3: unknown schema key "feilds"`},
		{"misspelt field key", "eventType: A\nsubject: /id\nfields:\n  - {path: /email, clas: email}\n", nil, `unknown field key "clas"`},
		{"misspelt in list", "- eventType: A\n  subjet: /id\n", nil, `unknown schema key "subjet"`},
		{"misspelt top key", "schemas:\n  - eventType: A\nextra: 1\n", nil, `unknown schema file key "extra"`},
		{"misspelt in schemas", "schemas:\n  - eventType: A\n    leakguard: off\n", nil, `unknown schema key "leakguard"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSchemas(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseSchemas err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, s := range got {
				types = append(types, s.EventType)
			}
			if strings.Join(types, ",") != strings.Join(tt.want, ",") {
				t.Errorf("parseSchemas types = %v, want %v", types, tt.want)
			}
		})
	}
}

func FuzzParseSchemas(f *testing.F) {
	f.Add("schemas:\n  - eventType: A\n    subject: /id\n    fields: [{path: /e, class: email}]\n")
	f.Add("- eventType: A\n---\neventType: B\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseSchemas(strings.NewReader(in))
		if err == nil && len(got) == 0 {
			t.Error("parseSchemas returned no schema and no error")
		}
	})
}

func TestSchemaApplyAndVerifyOnline(t *testing.T) {
	var puts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"title":"Unauthorized","status":401,"code":"unauthenticated"}`)
			return
		}
		switch {
		case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/v1/schemas/"):
			var s sdk.Schema
			_ = json.NewDecoder(r.Body).Decode(&s)
			puts = append(puts, strings.TrimPrefix(r.URL.Path, "/v1/schemas/")+":"+s.Subject)
			s.Version = 1
			_ = json.NewEncoder(w).Encode(s)
		case r.URL.Path == "/v1/log/verify":
			_, _ = io.WriteString(w, `{"ok":true,"headPosition":7,"headHash":"ab"}`)
		}
	}))
	defer srv.Close()
	f := filepath.Join(t.TempDir(), "s.yaml")
	_ = os.WriteFile(f, []byte("schemas:\n  - eventType: A\n    subject: /id\n  - eventType: B\n    subject: /cid\n"), 0o600)

	o, e, code := runArgs(t, map[string]string{envToken: "tok"}, "schema", "apply", "-f", f, "--addr", srv.URL)
	if code != 0 || strings.Join(puts, " ") != "A:/id B:/cid" || !strings.Contains(o, "applied B") {
		t.Errorf("schema apply: exit %d, stdout %q, stderr %q, puts %v", code, o, e, puts)
	}
	if _, e, code := runArgs(t, nil, "schema", "apply", "-f", f, "--addr", srv.URL, "--token", "bad"); code != exitFailure || !strings.Contains(e, "401") {
		t.Errorf("schema apply with a bad token: exit %d, %q", code, e)
	}
	if _, e, code := runArgs(t, map[string]string{envAddr: srv.URL}, "schema", "apply", "-f", f); code != exitUsage || !strings.Contains(e, envToken) {
		t.Errorf("schema apply without a token: exit %d, %q", code, e)
	}
	o, e, code = runArgs(t, map[string]string{envToken: "tok", envAddr: srv.URL}, "verify")
	if code != 0 || !strings.Contains(o, "head position 7") {
		t.Errorf("verify --addr: exit %d, stdout %q, stderr %q", code, o, e)
	}
}

func TestVerifyOfflineNoLog(t *testing.T) {
	_, e, code := runArgs(t, nil, "verify", "--data", t.TempDir())
	if code != exitFailure || !strings.Contains(e, "no event log") {
		t.Errorf("verify on an empty folder: exit %d, %q", code, e)
	}
}

func TestHealthcheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(404)
		}
	}))
	defer ok.Close()
	listen := strings.TrimPrefix(ok.URL, "http://")
	_, port, _ := strings.Cut(listen, ":")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"addr", nil, []string{"--addr", ok.URL}, exitOK},
		{"listen env", map[string]string{config.EnvListen: "0.0.0.0:" + port}, nil, exitOK},
		{"listen flag", nil, []string{"--listen", listen}, exitOK},
		{"down", nil, []string{"--addr", "http://127.0.0.1:1"}, exitFailure},
		{"bad listen", nil, []string{"--listen", "nope"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, e, code := runArgs(t, tt.env, append([]string{"healthcheck"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("healthcheck %v: exit %d, want %d (%s)", tt.args, code, tt.code, e)
			}
		})
	}
}
