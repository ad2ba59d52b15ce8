package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/piivault/piivault/policy"
)

// TokenEntry is one configured bearer token: the hex SHA-256 digest of the
// token (never the token) and the principal it stands for.
type TokenEntry struct {
	SHA256     string            `json:"hash" yaml:"hash"`
	Principal  string            `json:"principal" yaml:"principal"`
	Roles      []string          `json:"roles,omitempty" yaml:"roles,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty" yaml:"attributes,omitempty"`
}

// CertEntry maps a verified client certificate to a principal. Match is a
// URI SAN (for example a SPIFFE ID "spiffe://example.org/ns/app/sa/orders")
// or a subject common name.
type CertEntry struct {
	Match      string            `json:"match" yaml:"match"`
	Principal  string            `json:"principal" yaml:"principal"`
	Roles      []string          `json:"roles,omitempty" yaml:"roles,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty" yaml:"attributes,omitempty"`
}

// HashToken returns the hex SHA-256 digest of a token, the form the
// configuration stores.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

type tokenPrincipal struct {
	digest [sha256.Size]byte
	p      policy.Principal
}

// Authenticator maps a request's credential to a policy.Principal. It is
// immutable after construction and safe for concurrent use.
type Authenticator struct {
	tokens []tokenPrincipal
	certs  map[string]policy.Principal
}

// AuthConfig is what NewAuthenticator needs.
type AuthConfig struct {
	// Tokens are the configured bearer tokens, by digest.
	Tokens []TokenEntry
	// RootTokenSHA256 is the hex digest of the dev root token; empty means
	// no root token. Its principal is policy.Principal{ID: "root", Root: true}.
	RootTokenSHA256 string
	// Certs map client certificates to principals (mTLS).
	Certs []CertEntry
}

// NewAuthenticator validates the configuration: every digest must be 64
// hex characters (a "sha256:" prefix is accepted) and every principal named.
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	a := &Authenticator{certs: make(map[string]policy.Principal)}
	for i, t := range cfg.Tokens {
		d, err := parseDigest(t.SHA256)
		if err != nil {
			return nil, fmt.Errorf("tokens[%d].hash: %w", i, err)
		}
		if t.Principal == "" {
			return nil, fmt.Errorf("tokens[%d].principal: empty", i)
		}
		a.tokens = append(a.tokens, tokenPrincipal{digest: d, p: policy.Principal{
			ID: t.Principal, Roles: slices.Clone(t.Roles), Attributes: maps.Clone(t.Attributes),
		}})
	}
	if cfg.RootTokenSHA256 != "" {
		d, err := parseDigest(cfg.RootTokenSHA256)
		if err != nil {
			return nil, fmt.Errorf("root token hash: %w", err)
		}
		a.tokens = append(a.tokens, tokenPrincipal{digest: d, p: policy.Principal{ID: "root", Root: true}})
	}
	for i, c := range cfg.Certs {
		if c.Match == "" || c.Principal == "" {
			return nil, fmt.Errorf("certs[%d]: match and principal are required", i)
		}
		a.certs[c.Match] = policy.Principal{ID: c.Principal, Roles: slices.Clone(c.Roles), Attributes: maps.Clone(c.Attributes)}
	}
	return a, nil
}

func parseDigest(s string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	s = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "sha256:")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return d, fmt.Errorf("want 64 hex characters of a SHA-256 digest")
	}
	copy(d[:], b)
	return d, nil
}

// Authenticate returns the principal of r. A bearer token wins over a
// client certificate; a request that presents a token that matches nothing
// fails even when it also has a good certificate.
func (a *Authenticator) Authenticate(r *http.Request) (policy.Principal, error) {
	if a == nil {
		return policy.Principal{}, ErrUnauthenticated
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return policy.Principal{}, ErrUnauthenticated
		}
		return a.byToken(strings.TrimSpace(tok))
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		return a.byCert(r.TLS.PeerCertificates[0])
	}
	return policy.Principal{}, ErrUnauthenticated
}

// byToken compares the token's digest with every configured digest, all of
// them, in constant time, so neither the match nor its index shows in the
// timing.
func (a *Authenticator) byToken(tok string) (policy.Principal, error) {
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return policy.Principal{}, ErrUnauthenticated
	}
	return a.tokens[found].p, nil
}

// byCert maps the leaf certificate's URI SANs first (SPIFFE IDs), then its
// CN. The certificate was verified by the TLS stack; only the mapping is
// done here.
func (a *Authenticator) byCert(c *x509.Certificate) (policy.Principal, error) {
	for _, u := range c.URIs {
		if p, ok := a.certs[u.String()]; ok {
			return p, nil
		}
	}
	if cn := c.Subject.CommonName; cn != "" {
		if p, ok := a.certs[cn]; ok {
			return p, nil
		}
	}
	return policy.Principal{}, ErrUnauthenticated
}
