package config

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/piivault/piivault/internal/atomicfile"
)

// Token is one accepted bearer token, held as its SHA-256 digest only.
type Token struct {
	Hash       [32]byte
	Principal  string
	Roles      []string
	Attributes map[string]string
}

// tokenEntry is the file form of a Token.
type tokenEntry struct {
	Hash       string            `yaml:"hash" json:"hash"`
	Principal  string            `yaml:"principal" json:"principal"`
	Roles      []string          `yaml:"roles" json:"roles"`
	Attributes map[string]string `yaml:"attributes,omitempty" json:"attributes,omitempty"`
}

// TokenPrefix starts every token that NewToken generates, so a leaked one is
// easy to recognise in a secret scanner.
const TokenPrefix = "pvt_"

// yamlQuoted is a value that a YAML decoding error quotes (yaml.v3 quotes
// the first characters of a scalar it cannot decode, in backquotes).
var yamlQuoted = regexp.MustCompile("`[^`]*`")

// scrubYAML returns the message of a YAML decoding error without the values
// it quotes: in a tokens file they may be digests, or a token pasted by
// mistake, and the message goes to logs.
func scrubYAML(err error) string { return yamlQuoted.ReplaceAllString(err.Error(), "`...`") }

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,127}$`)

// NewToken returns a fresh random bearer token (256 bits).
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken returns the SHA-256 digest of a bearer token.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// Match reports in constant time whether token's digest is t's.
func (t Token) Match(token string) bool {
	h := HashToken(token)
	return subtle.ConstantTimeCompare(h[:], t.Hash[:]) == 1
}

// LoadTokens reads a tokens file. A missing file holds no tokens.
func LoadTokens(path string) ([]Token, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tokens file: %w", err)
	}
	var entries []tokenEntry
	if err := yaml.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("%w: tokens file %s: %s", ErrInvalid, path, scrubYAML(err))
	}
	out := make([]Token, 0, len(entries))
	for i, e := range entries {
		t, err := e.token()
		if err != nil {
			return nil, fmt.Errorf("%w: tokens file %s: entry %d: %w", ErrInvalid, path, i+1, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func (e tokenEntry) token() (Token, error) {
	var t Token
	h := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(e.Hash)), "sha256:")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return t, errors.New("hash must be 64 hex digits of a SHA-256 digest")
	}
	copy(t.Hash[:], b)
	if !namePattern.MatchString(e.Principal) {
		return t, fmt.Errorf("principal %q: must be 1-128 of A-Z a-z 0-9 . _ @ : / -", e.Principal)
	}
	for _, r := range e.Roles {
		if !namePattern.MatchString(r) {
			return t, fmt.Errorf("role %q: must be 1-128 of A-Z a-z 0-9 . _ @ : / -", r)
		}
	}
	t.Principal, t.Roles, t.Attributes = e.Principal, e.Roles, e.Attributes
	return t, nil
}

// AppendToken generates a token for principal with roles, adds its digest to
// the tokens file (creating it with mode 0600) and returns the token, which
// is not stored anywhere.
func AppendToken(path, principal string, roles []string, attrs map[string]string) (string, error) {
	e := tokenEntry{Principal: principal, Roles: roles, Attributes: attrs}
	e.Hash = strings.Repeat("0", 64)
	if _, err := e.token(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create tokens folder: %w", err)
	}
	// Read, add and write under one lock, so that concurrent runs each keep
	// the other's entry.
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	existing, err := LoadTokens(path)
	if err != nil {
		return "", err
	}
	tok, err := NewToken()
	if err != nil {
		return "", err
	}
	h := HashToken(tok)
	e.Hash = "sha256:" + hex.EncodeToString(h[:])
	entries := make([]tokenEntry, 0, len(existing)+1)
	for _, t := range existing {
		entries = append(entries, tokenEntry{Hash: "sha256:" + hex.EncodeToString(t.Hash[:]), Principal: t.Principal, Roles: t.Roles, Attributes: t.Attributes})
	}
	entries = append(entries, e)
	raw, err := yaml.Marshal(entries)
	if err != nil {
		return "", fmt.Errorf("encode tokens file: %w", err)
	}
	if err := atomicfile.WriteFile(path, append([]byte("# piivault bearer tokens: SHA-256 digests only (piivault token create)\n"), raw...)); err != nil {
		return "", fmt.Errorf("write tokens file: %w", err)
	}
	return tok, nil
}

// ClientCert maps a verified client certificate to a principal: Match is a
// URI SAN (a SPIFFE ID such as spiffe://example.org/ns/shop/sa/orders) or
// the subject's common name.
type ClientCert struct {
	Match      string            `yaml:"match" json:"match"`
	Principal  string            `yaml:"principal" json:"principal"`
	Roles      []string          `yaml:"roles" json:"roles"`
	Attributes map[string]string `yaml:"attributes,omitempty" json:"attributes,omitempty"`
}

// LoadClientCerts reads a client certificates file: a YAML or JSON list of
// ClientCert.
func LoadClientCerts(path string) ([]ClientCert, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read client certificates file: %w", err)
	}
	var out []ClientCert
	if err := yaml.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%w: client certificates file %s: %s", ErrInvalid, path, scrubYAML(err))
	}
	for i, c := range out {
		if c.Match == "" {
			return nil, fmt.Errorf("%w: client certificates file %s: entry %d: match is required", ErrInvalid, path, i+1)
		}
		if !namePattern.MatchString(c.Principal) {
			return nil, fmt.Errorf("%w: client certificates file %s: entry %d: principal %q: must be 1-128 of A-Z a-z 0-9 . _ @ : / -", ErrInvalid, path, i+1, c.Principal)
		}
	}
	return out, nil
}
