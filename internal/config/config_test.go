package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "c.yaml", "listen: 127.0.0.1:1111\ndata: /file\nlog:\n  level: warn\nvault:\n  hashicorp:\n    kvMount: kv-file\n")
	tests := []struct {
		name       string
		src        Sources
		listen     string
		data       string
		level      string
		listenFrom string
	}{
		{"defaults", Sources{}, DefaultListen, DefaultData, "info", "default"},
		{"file", Sources{ConfigFile: file}, "127.0.0.1:1111", "/file", "warn", "file " + file},
		{"file from env", Sources{Getenv: env(map[string]string{EnvConfig: file})}, "127.0.0.1:1111", "/file", "warn", "file " + file},
		{"env beats file", Sources{ConfigFile: file, Getenv: env(map[string]string{EnvListen: "127.0.0.1:2222", EnvLogLevel: "debug"})}, "127.0.0.1:2222", "/file", "debug", "env " + EnvListen},
		{"flag beats env", Sources{ConfigFile: file, Getenv: env(map[string]string{EnvListen: "127.0.0.1:2222"}), Flags: map[string]string{"listen": "127.0.0.1:3333", "data": "/flag"}}, "127.0.0.1:3333", "/flag", "warn", "flag --listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if c.Listen != tt.listen || c.Data != tt.data || c.LogLevel != tt.level {
				t.Errorf("Load = listen %q data %q level %q, want %q %q %q", c.Listen, c.Data, c.LogLevel, tt.listen, tt.data, tt.level)
			}
			if c.Origin["listen"] != tt.listenFrom {
				t.Errorf("Origin[listen] = %q, want %q", c.Origin["listen"], tt.listenFrom)
			}
			if want := filepath.Join(c.Data, "kek.key"); c.KEKFile != want {
				t.Errorf("KEKFile = %q, want %q", c.KEKFile, want)
			}
		})
	}
}

func TestHashiCorpFromEnv(t *testing.T) {
	c, err := Load(Sources{Getenv: env(map[string]string{
		EnvVaultBackend: "hashicorp", EnvHashiCorpAddr: "http://127.0.0.1:8201", EnvHashiCorpToken: "root",
		EnvHashiCorpTransitKey: "k2",
	})})
	if err != nil {
		t.Fatal(err)
	}
	h := c.HashiCorp
	if h.Addr != "http://127.0.0.1:8201" || h.Token != "root" || h.Auth != AuthToken || h.KVMount != "secret" || h.TransitMount != "transit" || h.TransitKey != "k2" {
		t.Errorf("HashiCorp = %+v", h)
	}
}

func TestValidationNamesTheKey(t *testing.T) {
	tests := []struct {
		name string
		src  Sources
		want []string // substrings of the error
	}{
		{"bad backend from env", Sources{Getenv: env(map[string]string{EnvVaultBackend: "vualt"})}, []string{"vault.backend", `"vualt"`, "env PIIVAULT_VAULT_BACKEND", "embedded or hashicorp"}},
		{"bad listen flag", Sources{Flags: map[string]string{"listen": "8200"}}, []string{"listen", "flag --listen", "host:port"}},
		{"bad port", Sources{Flags: map[string]string{"listen": "127.0.0.1:99999"}}, []string{"listen", "port"}},
		{"bad level", Sources{Getenv: env(map[string]string{EnvLogLevel: "loud"})}, []string{"log.level"}},
		{"hashicorp without addr", Sources{Flags: map[string]string{"vault-backend": "hashicorp"}}, []string{"vault.hashicorp.addr", "required"}},
		{"hashicorp token is secret", Sources{Getenv: env(map[string]string{EnvVaultBackend: "hashicorp", EnvHashiCorpAddr: "http://v:8200", EnvHashiCorpAuth: "approle", EnvHashiCorpRoleID: "r"})}, []string{"vault.hashicorp.secretId"}},
		{"hashicorp bad auth", Sources{Getenv: env(map[string]string{EnvVaultBackend: "hashicorp", EnvHashiCorpAddr: "http://v:8200", EnvHashiCorpAuth: "ldap"})}, []string{"vault.hashicorp.auth", "ldap"}},
		{"dev with hashicorp", Sources{Dev: true, Flags: map[string]string{"vault-backend": "hashicorp"}}, []string{"vault.backend", "--dev"}},
		{"missing policy dir", Sources{Flags: map[string]string{"policy-dir": "/no/such/dir"}}, []string{"policy.dir"}},
		{"bad shutdown", Sources{Getenv: env(map[string]string{EnvShutdown: "soon"})}, []string{"shutdownTimeout"}},
		{"replace default alone", Sources{Getenv: env(map[string]string{EnvPolicyOnly: "true"})}, []string{"policy.replaceDefault", "needs policy.dir"}},
		{"replace default not bool", Sources{Flags: map[string]string{"policy-replace-default": "yes please"}}, []string{"policy.replaceDefault", "true or false"}},
		{"missing bundle", Sources{Getenv: env(map[string]string{EnvPolicyBundle: "/no/bundle.tar.gz"})}, []string{"policy.bundle"}},
		{"bad deadline", Sources{Getenv: env(map[string]string{EnvErasureDeadline: "a month"})}, []string{"erasure.deadline"}},
		{"bad retention", Sources{Getenv: env(map[string]string{EnvRetention: "ip_address"})}, []string{"retention", "class=period"}},
		{"short blind key", Sources{Getenv: env(map[string]string{EnvBlindIndexKey: "/dev/null"})}, []string{"blindIndex.keyFile", "32 bytes"}},
		{"cert without key", Sources{Flags: map[string]string{"tls-cert-file": "/etc/hosts"}}, []string{"tls.keyFile", "required"}},
		{"client CA without cert", Sources{Getenv: env(map[string]string{EnvTLSClientCAFile: "/etc/hosts"})}, []string{"tls.clientCAFile", "needs tls.certFile"}},
		{"missing cert file", Sources{Flags: map[string]string{"tls-cert-file": "/no/cert.pem", "tls-key-file": "/etc/hosts"}}, []string{"tls.certFile", "readable file"}},
		{"certs file without CA", Sources{Flags: map[string]string{"tls-cert-file": "/etc/hosts", "tls-key-file": "/etc/hosts", "client-certs-file": "/etc/hosts"}}, []string{"tls.clientCertsFile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.src)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load err = %v, want ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	_, err := Load(Sources{Getenv: env(map[string]string{EnvVaultBackend: "hashicorp", EnvHashiCorpAddr: "ftp://v", EnvHashiCorpToken: "s3cr3t-canary"})})
	if err == nil || strings.Contains(err.Error(), "s3cr3t-canary") {
		t.Errorf("Load err = %v, want an error without the token", err)
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"unknown key", "listen: 127.0.0.1:1\nvault:\n  backnd: embedded\n", `unknown key "vault.backnd"`},
		{"list value", "listen: [a, b]\n", `key "listen": want a single value`},
		{"not a mapping", "- a\n- b\n", "want a mapping"},
		{"bad yaml", "listen: : :\n\t", "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Sources{ConfigFile: writeFile(t, "c.yaml", tt.body)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestFileJSONAndEmpty(t *testing.T) {
	c, err := Load(Sources{ConfigFile: writeFile(t, "c.json", `{"listen":"127.0.0.1:4444","shutdownTimeout":"5s","vault":{"backend":"embedded"}}`)})
	if err != nil || c.Listen != "127.0.0.1:4444" || c.ShutdownTimeout != 5*time.Second {
		t.Errorf("Load(json) = %+v, %v", c, err)
	}
	if _, err := Load(Sources{ConfigFile: writeFile(t, "e.yaml", "")}); err != nil {
		t.Errorf("Load(empty file) = %v, want nil", err)
	}
	if _, err := Load(Sources{ConfigFile: "/no/such/file.yaml"}); err == nil {
		t.Error("Load(missing file) = nil, want error")
	}
}

func TestEverySettingHasEnvAndKey(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Settings {
		if s.Key == "" || !strings.HasPrefix(s.Env, "PIIVAULT_") || s.Help == "" {
			t.Errorf("setting %+v: want key, PIIVAULT_ env and help", s)
		}
		if seen[s.Env] || seen[s.Key] {
			t.Errorf("setting %q duplicated", s.Key)
		}
		seen[s.Env], seen[s.Key] = true, true
		if s.field == nil && s.Key != "shutdownTimeout" && s.Key != "policy.replaceDefault" && s.Key != "erasure.deadline" && s.Key != "retention" && !strings.HasPrefix(s.Key, "subscriptions.") {
			t.Errorf("setting %q has no field", s.Key)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:1\nvault:\n  backend: embedded\n"))
	f.Add([]byte(`{"log":{"level":"warn"}}`))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parseFile(raw)
		if err != nil {
			return
		}
		for k := range m {
			if _, ok := lookup(k); !ok {
				t.Errorf("parseFile returned unknown key %q", k)
			}
		}
	})
}

func TestRetentionAndDeadline(t *testing.T) {
	c, err := Load(Sources{Getenv: env(map[string]string{EnvErasureDeadline: "14d", EnvRetention: "ip_address=90d, Visited/=24h ,Visited/email=1h"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.ErasureDeadline != 14*24*time.Hour {
		t.Errorf("ErasureDeadline = %v", c.ErasureDeadline)
	}
	want := []RetentionRule{{Class: "ip_address", Period: 90 * 24 * time.Hour}, {EventType: "Visited", Period: 24 * time.Hour}, {EventType: "Visited", Class: "email", Period: time.Hour}}
	if fmt.Sprint(c.Retention) != fmt.Sprint(want) {
		t.Errorf("Retention = %v, want %v", c.Retention, want)
	}
	if d := Default(); d.ErasureDeadline != 30*24*time.Hour || d.Retention != nil {
		t.Errorf("defaults: deadline %v, retention %v", d.ErasureDeadline, d.Retention)
	}
	for _, bad := range []string{"=1h", "x=0s", "x=-1h", "x=soon"} {
		if _, err := ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) = nil error", bad)
		}
	}
}

// TestSubscriptionLimits is #15 item 9's setting: subscriptions.max and
// subscriptions.perPrincipal come from the file, the environment or a flag,
// default to 1024 and 64, and must be positive.
func TestSubscriptionLimits(t *testing.T) {
	c, err := Load(Sources{})
	if err != nil || c.Subscriptions != (Subscriptions{Max: 1024, PerPrincipal: 64}) {
		t.Fatalf("default = %+v, %v", c.Subscriptions, err)
	}
	c, err = Load(Sources{ConfigFile: writeFile(t, "s.yaml", "subscriptions:\n  max: 200\n  perPrincipal: 8\n")})
	if err != nil || c.Subscriptions != (Subscriptions{Max: 200, PerPrincipal: 8}) {
		t.Fatalf("file = %+v, %v", c.Subscriptions, err)
	}
	env := map[string]string{EnvSubscriptionsPerPrincipal: "3"}
	c, err = Load(Sources{Getenv: func(k string) string { return env[k] }, Flags: map[string]string{"subscriptions-max": "9"}})
	if err != nil || c.Subscriptions != (Subscriptions{Max: 9, PerPrincipal: 3}) || c.Origin["subscriptions.perPrincipal"] != "env "+EnvSubscriptionsPerPrincipal {
		t.Fatalf("env and flag = %+v, %v", c.Subscriptions, err)
	}
	for _, bad := range []string{"0", "-1", "x", "1.5"} {
		if _, err := Load(Sources{Flags: map[string]string{"subscriptions-per-principal": bad}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("perPrincipal %q = %v, want ErrInvalid", bad, err)
		}
	}
}
