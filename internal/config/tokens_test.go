package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestAppendAndLoadTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tokens.yaml")
	tok1, err := AppendToken(path, "alice", []string{"support"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := AppendToken(path, "dpo@example", []string{"dpo", "support"}, map[string]string{"team": "privacy"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok1, TokenPrefix) || tok1 == tok2 || len(tok1) < 40 {
		t.Errorf("tokens %q %q: want distinct long prefixed tokens", tok1, tok2)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), tok1) || strings.Contains(string(raw), tok2) {
		t.Error("tokens file holds a plaintext token")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("tokens file mode = %v, want 0600", st.Mode().Perm())
	}
	toks, err := LoadTokens(path)
	if err != nil || len(toks) != 2 {
		t.Fatalf("LoadTokens = %v, %v", toks, err)
	}
	if !toks[0].Match(tok1) || toks[0].Match(tok2) || toks[0].Principal != "alice" {
		t.Errorf("token 1 = %+v", toks[0])
	}
	if !toks[1].Match(tok2) || toks[1].Attributes["team"] != "privacy" || len(toks[1].Roles) != 2 {
		t.Errorf("token 2 = %+v", toks[1])
	}
}

func TestLoadTokens(t *testing.T) {
	sum := sha256.Sum256([]byte("hello"))
	good := hex.EncodeToString(sum[:])
	tests := []struct {
		name, body, wantErr string
		n                   int
	}{
		{"yaml", "- hash: " + good + "\n  principal: svc\n  roles: [writer]\n", "", 1},
		{"json with prefix", `[{"hash":"sha256:` + strings.ToUpper(good) + `","principal":"svc","roles":["a"]}]`, "", 1},
		{"empty", "", "", 0},
		{"short hash", "- hash: abc\n  principal: svc\n", "entry 1: hash", 0},
		{"bad principal", "- hash: " + good + "\n  principal: 'a b'\n", "principal", 0},
		{"bad role", "- hash: " + good + "\n  principal: a\n  roles: ['']\n", "role", 0},
		{"not a list", "hash: x\n", "tokens file", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "t.yaml", tt.body)
			toks, err := LoadTokens(p)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("LoadTokens err = %v, want ErrInvalid containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(toks) != tt.n {
				t.Fatalf("LoadTokens = %d tokens, %v; want %d", len(toks), err, tt.n)
			}
			if tt.n == 1 && !toks[0].Match("hello") {
				t.Error("token does not match its plaintext")
			}
		})
	}
	if toks, err := LoadTokens(filepath.Join(t.TempDir(), "none")); err != nil || toks != nil {
		t.Errorf("LoadTokens(missing) = %v, %v; want nil, nil", toks, err)
	}
}

func TestLoadClientCerts(t *testing.T) {
	tests := []struct{ name, body, wantErr string }{
		{"ok", "- match: spiffe://example.org/ns/shop/sa/orders\n  principal: orders\n  roles: [service]\n", ""},
		{"no match", "- principal: orders\n", "match is required"},
		{"bad principal", "- match: cn\n  principal: ''\n", "principal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadClientCerts(writeFile(t, "c.yaml", tt.body))
			if tt.wantErr == "" {
				if err != nil || len(got) != 1 || got[0].Roles[0] != "service" {
					t.Errorf("LoadClientCerts = %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadClientCerts err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestLoadTokensErrorQuotesNoValue: a decoding error goes to the log of a
// reload, so it must not quote what the file holds (digests, or a token
// pasted by mistake).
func TestLoadTokensErrorQuotesNoValue(t *testing.T) {
	secret := "pvt_SECRETabcdefghijkl"
	for name, body := range map[string]string{
		"scalar instead of list": secret + "\n",
		"list of scalars":        "- " + secret + "\n",
		"map instead of entry":   "- hash: [" + secret + "]\n  principal: a\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadTokens(writeFile(t, "t.yaml", body))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("LoadTokens err = %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), secret[:7]) {
				t.Errorf("error quotes the file's content: %v", err)
			}
		})
	}
	_, err := LoadClientCerts(writeFile(t, "c.yaml", secret+"\n"))
	if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), secret[:7]) {
		t.Errorf("LoadClientCerts err = %v, want ErrInvalid quoting nothing", err)
	}
}

// TestAppendTokenConcurrent runs token creation from many goroutines at
// once, as operators scripting `piivault token create` might: every
// printed token must be in the file afterwards.
func TestAppendTokenConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	const n = 16
	toks := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs[i] = AppendToken(path, fmt.Sprintf("p%d", i), []string{"support"}, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("AppendToken %d: %v", i, err)
		}
	}
	loaded, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != n {
		t.Fatalf("tokens file holds %d entries, want %d", len(loaded), n)
	}
	for i, tok := range toks {
		found := false
		for _, l := range loaded {
			found = found || l.Match(tok)
		}
		if !found {
			t.Errorf("token %d (principal p%d) missing from the file", i, i)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
