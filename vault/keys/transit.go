package keys

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/piivault/piivault/vault"
)

// Transit is a KEK provider backed by HashiCorp Vault's Transit secrets
// engine. The KEK is a Transit key (type aes256-gcm96) and never leaves
// Vault: DEKs are sent to transit/encrypt and transit/decrypt, and a wrapped
// DEK is Transit's own ciphertext string ("vault:v<N>:<base64>") as bytes,
// so it names the KEK version that wrapped it.
//
// The Batch methods wrap, unwrap or rewrap many DEKs in one request
// (batch_input); backends that handle several subjects at once use them.
// Rotate makes a new key version current; older versions still decrypt
// until someone raises the key's min_decryption_version, so rotation stays
// online, and Rewrap moves a wrapped DEK to the newest version inside Vault
// without the DEK leaving it.
//
// Errors wrap vault.ErrUnavailable when Vault cannot answer (network,
// sealed, 5xx, permission denied) and vault.ErrTampered when Vault refuses a
// wrapped DEK as not authentic (400 on decrypt). Transit is safe for
// concurrent use; it uses the client's current token on every call, so
// token renewal or re-login done elsewhere on the client applies.
type Transit struct {
	client *api.Client
	mount  string
	key    string
}

var (
	_ vault.KeyProvider      = (*Transit)(nil)
	_ vault.BatchKeyProvider = (*Transit)(nil)
)

// NewTransit returns a provider that uses the Transit key named key on the
// Transit engine mounted at mount (for example "transit"). It does not talk
// to Vault; Transit creates the key on first use (aes256-gcm96), or call
// EnsureKey to create it up front.
func NewTransit(client *api.Client, mount, key string) (*Transit, error) {
	if client == nil {
		return nil, fmt.Errorf("new transit: nil client: %w", vault.ErrInvalid)
	}
	mount = strings.Trim(mount, "/")
	if mount == "" || key == "" || strings.ContainsAny(key, "/?#") {
		return nil, fmt.Errorf("new transit: mount %q and key %q must be non-empty path segments: %w", mount, key, vault.ErrInvalid)
	}
	return &Transit{client: client, mount: mount, key: key}, nil
}

// Mount returns the Transit mount path.
func (t *Transit) Mount() string { return t.mount }

// Key returns the Transit key name.
func (t *Transit) Key() string { return t.key }

// EnsureKey creates the Transit key (aes256-gcm96) if it does not exist.
// Creating an existing key is a no-op in Transit.
func (t *Transit) EnsureKey(ctx context.Context) error {
	_, err := t.client.Logical().WriteWithContext(ctx, t.mount+"/keys/"+t.key, map[string]interface{}{"type": "aes256-gcm96"})
	if err != nil {
		return fmt.Errorf("ensure transit key: %w", classify(err, false))
	}
	return nil
}

// Wrap encrypts dek under the current key version with transit/encrypt.
func (t *Transit) Wrap(ctx context.Context, dek []byte) ([]byte, error) {
	out, err := t.WrapBatch(ctx, [][]byte{dek})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Unwrap decrypts a wrapped DEK with transit/decrypt.
func (t *Transit) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	out, err := t.UnwrapBatch(ctx, [][]byte{wrapped})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Rewrap re-encrypts a wrapped DEK under the newest key version with
// transit/rewrap; the DEK never leaves Vault.
func (t *Transit) Rewrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	out, err := t.RewrapBatch(ctx, [][]byte{wrapped})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Rotate makes a new key version current (transit/keys/<key>/rotate).
func (t *Transit) Rotate(ctx context.Context) error {
	if _, err := t.client.Logical().WriteWithContext(ctx, t.mount+"/keys/"+t.key+"/rotate", nil); err != nil {
		return fmt.Errorf("rotate transit key: %w", classify(err, false))
	}
	return nil
}

// LatestVersion returns the current version of the Transit key.
func (t *Transit) LatestVersion(ctx context.Context) (int, error) {
	s, err := t.client.Logical().ReadWithContext(ctx, t.mount+"/keys/"+t.key)
	if err != nil {
		return 0, fmt.Errorf("read transit key: %w", classify(err, false))
	}
	if s == nil || s.Data == nil {
		return 0, fmt.Errorf("read transit key: not found: %w", vault.ErrUnavailable)
	}
	v, err := jsonInt(s.Data["latest_version"])
	if err != nil {
		return 0, fmt.Errorf("read transit key: latest_version: %w", vault.ErrUnavailable)
	}
	return v, nil
}

// WrappedVersion returns the key version named in a wrapped DEK
// ("vault:v<N>:..."), or ErrTampered if it is not a Transit ciphertext.
func WrappedVersion(wrapped []byte) (int, error) {
	s := string(wrapped)
	if !strings.HasPrefix(s, "vault:v") {
		return 0, fmt.Errorf("transit ciphertext: bad prefix: %w", vault.ErrTampered)
	}
	s = s[len("vault:v"):]
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return 0, fmt.Errorf("transit ciphertext: no version: %w", vault.ErrTampered)
	}
	v, err := strconv.Atoi(s[:i])
	if err != nil || v < 1 {
		return 0, fmt.Errorf("transit ciphertext: bad version: %w", vault.ErrTampered)
	}
	return v, nil
}

// WrapBatch wraps every DEK in one transit/encrypt request.
func (t *Transit) WrapBatch(ctx context.Context, deks [][]byte) ([][]byte, error) {
	in := make([]map[string]interface{}, len(deks))
	for i, d := range deks {
		in[i] = map[string]interface{}{"plaintext": base64.StdEncoding.EncodeToString(d)}
	}
	res, err := t.batch(ctx, "encrypt", in, false)
	if err != nil {
		return nil, fmt.Errorf("transit wrap: %w", err)
	}
	out := make([][]byte, len(res))
	for i, r := range res {
		c, _ := r["ciphertext"].(string)
		if c == "" {
			return nil, fmt.Errorf("transit wrap: empty ciphertext in answer: %w", vault.ErrUnavailable)
		}
		out[i] = []byte(c)
	}
	return out, nil
}

// UnwrapBatch unwraps every wrapped DEK in one transit/decrypt request. If
// any of them is refused, the error wraps ErrTampered and no DEK is
// returned.
func (t *Transit) UnwrapBatch(ctx context.Context, wrapped [][]byte) ([][]byte, error) {
	in := make([]map[string]interface{}, len(wrapped))
	for i, w := range wrapped {
		if _, err := WrappedVersion(w); err != nil {
			return nil, fmt.Errorf("transit unwrap: %w", err)
		}
		in[i] = map[string]interface{}{"ciphertext": string(w)}
	}
	res, err := t.batch(ctx, "decrypt", in, true)
	if err != nil {
		return nil, fmt.Errorf("transit unwrap: %w", err)
	}
	out := make([][]byte, len(res))
	for i, r := range res {
		p, _ := r["plaintext"].(string)
		b, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(b) == 0 {
			for _, o := range out[:i] {
				clear(o)
			}
			return nil, fmt.Errorf("transit unwrap: bad plaintext in answer: %w", vault.ErrTampered)
		}
		out[i] = b
	}
	return out, nil
}

// RewrapBatch rewraps every wrapped DEK under the newest key version in one
// transit/rewrap request.
func (t *Transit) RewrapBatch(ctx context.Context, wrapped [][]byte) ([][]byte, error) {
	in := make([]map[string]interface{}, len(wrapped))
	for i, w := range wrapped {
		if _, err := WrappedVersion(w); err != nil {
			return nil, fmt.Errorf("transit rewrap: %w", err)
		}
		in[i] = map[string]interface{}{"ciphertext": string(w)}
	}
	res, err := t.batch(ctx, "rewrap", in, true)
	if err != nil {
		return nil, fmt.Errorf("transit rewrap: %w", err)
	}
	out := make([][]byte, len(res))
	for i, r := range res {
		c, _ := r["ciphertext"].(string)
		if c == "" {
			return nil, fmt.Errorf("transit rewrap: empty ciphertext in answer: %w", vault.ErrUnavailable)
		}
		out[i] = []byte(c)
	}
	return out, nil
}

// batch sends one batch_input request to transit/<op>/<key> and returns the
// batch_results in order. decrypting says whether a 400 means the input was
// refused as not authentic (decrypt, rewrap) rather than a bad request.
func (t *Transit) batch(ctx context.Context, op string, in []map[string]interface{}, decrypting bool) ([]map[string]interface{}, error) {
	if len(in) == 0 {
		return nil, nil
	}
	s, err := t.client.Logical().WriteWithContext(ctx, t.mount+"/"+op+"/"+t.key, map[string]interface{}{"batch_input": in})
	if err != nil {
		return nil, classify(err, decrypting)
	}
	if s == nil || s.Data == nil {
		return nil, fmt.Errorf("empty answer: %w", vault.ErrUnavailable)
	}
	raw, _ := s.Data["batch_results"].([]interface{})
	if len(raw) != len(in) {
		return nil, fmt.Errorf("%d batch results for %d inputs: %w", len(raw), len(in), vault.ErrUnavailable)
	}
	out := make([]map[string]interface{}, len(raw))
	for i, r := range raw {
		m, _ := r.(map[string]interface{})
		if m == nil {
			return nil, fmt.Errorf("batch result %d malformed: %w", i, vault.ErrUnavailable)
		}
		if e, _ := m["error"].(string); e != "" {
			// Vault's message describes the cipher failure, never the plaintext.
			if decrypting {
				return nil, fmt.Errorf("batch item %d refused (%s): %w", i, e, vault.ErrTampered)
			}
			return nil, fmt.Errorf("batch item %d failed (%s): %w", i, e, vault.ErrUnavailable)
		}
		out[i] = m
	}
	return out, nil
}

// classify maps an error of the Vault client to ErrTampered (a 400 on
// decrypt: Vault refused the ciphertext) or ErrUnavailable (everything
// else: network errors, sealed or standby Vault, 5xx, 403). The message
// keeps Vault's own error text but not the request URL.
func classify(err error, decrypting bool) error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		msg := strings.Join(re.Errors, "; ")
		if re.StatusCode == http.StatusBadRequest && decrypting {
			return fmt.Errorf("vault refused the ciphertext (%s): %w", msg, vault.ErrTampered)
		}
		return fmt.Errorf("vault answered %d (%s): %w", re.StatusCode, msg, vault.ErrUnavailable)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", vault.ErrUnavailable, context.Canceled)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", vault.ErrUnavailable, context.DeadlineExceeded)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%w: %s: %w", vault.ErrUnavailable, ue.Op, ue.Err)
	}
	return fmt.Errorf("%w: %w", vault.ErrUnavailable, err)
}

func jsonInt(v interface{}) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case float64:
		return int(n), nil
	case interface{ Int64() (int64, error) }:
		i, err := n.Int64()
		return int(i), err
	}
	return 0, fmt.Errorf("not a number: %T", v)
}
