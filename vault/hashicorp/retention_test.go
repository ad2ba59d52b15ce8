package hashicorp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/hashicorp/hashicorptest"
	"github.com/piivault/piivault/vault/vaulttest"
)

func TestExpire(t *testing.T) {
	c := hashicorptest.Client(t)
	s := open(t, c, Options{Prefix: "piivault-test-" + hashicorptest.Random()})
	sub := vaulttest.Subject("ret")
	entries := []vault.Entry{
		{Subject: sub, Class: "email", Value: vaulttest.Value("a")},
		{Subject: sub, Class: "phone", Value: vaulttest.Value("b")},
		{Subject: sub, Class: "email", Value: vaulttest.Value("c")},
	}
	toks, err := s.Put(ctxT(t), entries)
	if err != nil {
		t.Fatal(err)
	}
	never, _ := vault.NewToken(vaulttest.Subject("nobody"))
	n, err := s.Expire(ctxT(t), []vault.Token{toks[0], toks[1], never})
	if err != nil || n != 2 {
		t.Fatalf("Expire = %d, %v; want 2, nil", n, err)
	}
	if n, err := s.Expire(ctxT(t), toks[:2]); err != nil || n != 0 {
		t.Fatalf("Expire again = %d, %v; want 0 (idempotent)", n, err)
	}
	res, err := s.Resolve(ctxT(t), toks)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []vault.State{vault.Expired, vault.Expired, vault.Found} {
		if res[i].State != want || (want == vault.Expired && (!res[i].Value.IsZero() || res[i].Class != entries[i].Class)) {
			t.Fatalf("Resolve[%d] = state %v class %q, want %v with class and no value", i, res[i].State, res[i].Class, want)
		}
	}
	info, err := s.Describe(ctxT(t), sub)
	if err != nil || len(info.Tokens) != 1 {
		t.Fatalf("Describe after Expire = %+v, %v; want 1 token", info, err)
	}
	// The sealed values are gone from every version of the record.
	meta, err := c.Logical().ReadWithContext(ctxT(t), s.kv.subjectMeta(sub))
	if err != nil || meta == nil {
		t.Fatal(err)
	}
	current := fmt.Sprint(meta.Data["current_version"])
	for v, m := range meta.Data["versions"].(map[string]interface{}) {
		if d, _ := m.(map[string]interface{})["destroyed"].(bool); v != current && !d {
			t.Fatalf("version %s still holds the expired values", v)
		}
	}
	// A later Put keeps the expiry notes; Erase turns everything Erased.
	if _, err := s.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: vaulttest.Value("d")}}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Resolve(ctxT(t), toks[:1]); r[0].State != vault.Expired {
		t.Fatalf("after Put, expired token = %v, want Expired", r[0].State)
	}
	if _, err := s.Erase(ctxT(t), sub, "e"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Resolve(ctxT(t), toks); r[0].State != vault.Erased || r[2].State != vault.Erased {
		t.Fatalf("after Erase = %v, %v; want Erased", r[0].State, r[2].State)
	}
	if n, err := s.Expire(ctxT(t), toks); err != nil || n != 0 {
		t.Fatalf("Expire of an erased subject = %d, %v; want 0, nil", n, err)
	}
	if _, err := s.Expire(ctxT(t), []vault.Token{"garbage"}); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("Expire(malformed) error = %v, want ErrInvalid", err)
	}
}

func digest(t *testing.T) []byte {
	t.Helper()
	d := make([]byte, BlindDigestSize)
	if _, err := rand.Read(d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBlindIndex(t *testing.T) {
	c := hashicorptest.Client(t)
	prefix := "piivault-test-" + hashicorptest.Random()
	s := open(t, c, Options{Prefix: prefix})
	other := open(t, hashicorptest.NewClient(t, c.Address(), c.Token()), Options{Prefix: prefix})
	a, b, z := vaulttest.Subject("bi-a"), vaulttest.Subject("bi-b"), vaulttest.Subject("bi-z")
	mail, phone := digest(t), digest(t)
	// a has values, b has none yet: both can be indexed.
	if _, err := s.Put(ctxT(t), []vault.Entry{{Subject: a, Class: "email", Value: vaulttest.Value("a")}}); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		sub, class string
		d          []byte
	}{{a, "email", mail}, {b, "email", mail}, {z, "phone", phone}, {a, "email", mail}} {
		if err := s.PutBlindIndex(ctxT(t), x.sub, x.class, x.d); err != nil {
			t.Fatalf("PutBlindIndex(%s): %v", x.sub, err)
		}
	}
	want := []string{a, b}
	sort.Strings(want)
	got, err := other.LookupBlindIndex(ctxT(t), "email", mail)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("LookupBlindIndex(email) = %v, %v; want %v", got, err, want)
	}
	if got, err := other.LookupBlindIndex(ctxT(t), "phone", mail); err != nil || len(got) != 0 {
		t.Fatalf("LookupBlindIndex(other class) = %v, %v; want none", got, err)
	}
	// b can still get values after being indexed.
	toks, err := s.Put(ctxT(t), []vault.Entry{{Subject: b, Class: "email", Value: vaulttest.Value("b")}})
	if err != nil {
		t.Fatalf("Put after PutBlindIndex: %v", err)
	}
	if r, err := s.Resolve(ctxT(t), toks); err != nil || r[0].State != vault.Found {
		t.Fatalf("Resolve = %+v, %v", r, err)
	}
	// Erase removes the subject's entries from Vault, index keys included.
	if _, err := s.Erase(ctxT(t), a, "e-a"); err != nil {
		t.Fatal(err)
	}
	if got, err := other.LookupBlindIndex(ctxT(t), "email", mail); err != nil || !reflect.DeepEqual(got, []string{b}) {
		t.Fatalf("LookupBlindIndex after Erase(a) = %v, %v; want [%s]", got, err, b)
	}
	if sec, err := c.Logical().ReadWithContext(ctxT(t), s.kv.blindMeta(blindKey("email", mail), a)); err != nil || sec != nil {
		t.Fatalf("blind entry of the erased subject still in Vault: %v, %v", sec, err)
	}
	if e, _ := rawRecord(t, c, s.kv.subjectData(a))["erased"].(map[string]interface{}); e == nil || e["bi"] != nil {
		t.Fatalf("tombstone = %v, want one that lists no blind keys", e)
	}
	if err := s.PutBlindIndex(ctxT(t), a, "email", mail); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("PutBlindIndex(erased) error = %v, want ErrErased", err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 31)} {
		if err := s.PutBlindIndex(ctxT(t), b, "email", bad); !errors.Is(err, vault.ErrInvalid) {
			t.Fatalf("PutBlindIndex(%d-byte digest) error = %v, want ErrInvalid", len(bad), err)
		}
		if _, err := s.LookupBlindIndex(ctxT(t), "email", bad); !errors.Is(err, vault.ErrInvalid) {
			t.Fatalf("LookupBlindIndex(%d-byte digest) error = %v, want ErrInvalid", len(bad), err)
		}
	}
}
