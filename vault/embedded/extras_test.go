package embedded

import (
	"context"
	"errors"
	"slices"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/vaulttest"
)

func TestExpire(t *testing.T) {
	f := newFixture(t, testOptions())
	s := f.open(t)
	ctx := context.Background()
	sub, gone := vaulttest.Subject("exp"), vaulttest.Subject("gone")
	entries := []vault.Entry{
		{Subject: sub, Class: "email", Value: vaulttest.Value("a")},
		{Subject: sub, Class: "phone", Value: vaulttest.Value("b")},
		{Subject: sub, Class: "email", Value: vaulttest.Value("c")},
		{Subject: gone, Class: "email", Value: vaulttest.Value("d")},
	}
	toks, err := s.Put(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(ctx, gone, "e"); err != nil {
		t.Fatal(err)
	}
	never, _ := vault.NewToken(sub)
	n, err := s.Expire(ctx, []vault.Token{toks[0], toks[1], toks[3], never, "garbage"})
	if err != nil || n != 2 {
		t.Fatalf("Expire = %d, %v; want 2, nil", n, err)
	}
	if n, err := s.Expire(ctx, toks[:2]); err != nil || n != 0 {
		t.Fatalf("second Expire = %d, %v; want 0, nil", n, err)
	}
	res, err := s.Resolve(ctx, append(toks, never))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		state vault.State
		class string
	}{{vault.Expired, "email"}, {vault.Expired, "phone"}, {vault.Found, "email"}, {vault.Erased, ""}, {vault.Unknown, ""}}
	for i, w := range want {
		if res[i].State != w.state || res[i].Class != w.class || (w.state != vault.Found && !res[i].Value.IsZero()) {
			t.Fatalf("Resolve[%d] = %v %q, want %v %q", i, res[i].State, res[i].Class, w.state, w.class)
		}
	}
	info, err := s.Describe(ctx, sub)
	if err != nil || len(info.Tokens) != 1 || info.Tokens[0].Token != toks[2] {
		t.Fatalf("Describe after Expire = %+v, %v; want only the live token", info, err)
	}
	// Erase takes the expiry records with the subject.
	if _, err := s.Erase(ctx, sub, "e2"); err != nil {
		t.Fatal(err)
	}
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: subjectPrefix(sub)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if k, _ := parseKey(it.Item().Key()); k.kind != kindMarker {
				t.Errorf("after Erase, key of kind %q remains", k.kind)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, _ = s.Resolve(ctx, toks[:3])
	for _, r := range res {
		if r.State != vault.Erased {
			t.Fatalf("after Erase, expired token resolves to %v, want Erased", r.State)
		}
	}
}

func TestBlindIndex(t *testing.T) {
	f := newFixture(t, testOptions())
	f.opts.PurgeDelay = -1
	s := f.open(t)
	ctx := context.Background()
	a, b, c := "subject-a", "subject-b", "subject-c"
	digest := []byte("0123456789abcdef0123456789abcdef")
	other := []byte("fedcba9876543210fedcba9876543210")
	for _, in := range []struct {
		sub    string
		digest []byte
	}{{b, digest}, {a, digest}, {a, digest}, {c, other}} {
		if err := s.PutBlindIndex(ctx, in.sub, "email", in.digest); err != nil {
			t.Fatalf("PutBlindIndex(%s): %v", in.sub, err)
		}
	}
	lookup := func(class string, d []byte) []string {
		t.Helper()
		got, err := s.LookupBlindIndex(ctx, class, d)
		if err != nil {
			t.Fatalf("LookupBlindIndex: %v", err)
		}
		return got
	}
	if got := lookup("email", digest); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("Lookup = %q, want [%s %s]", got, a, b)
	}
	if got := lookup("phone", digest); len(got) != 0 {
		t.Fatalf("Lookup(other class) = %q, want none", got)
	}
	if got := lookup("email", digest[:31]); len(got) != 0 {
		t.Fatalf("Lookup(digest prefix) = %q, want none", got)
	}
	if _, err := s.Erase(ctx, a, "e"); err != nil {
		t.Fatal(err)
	}
	if got := lookup("email", digest); !slices.Equal(got, []string{b}) {
		t.Fatalf("Lookup after Erase(a) = %q, want [%s]", got, b)
	}
	if err := s.PutBlindIndex(ctx, a, "email", digest); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("PutBlindIndex(erased) error = %v, want ErrErased", err)
	}
	if err := s.PutBlindIndex(ctx, b, "email", nil); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("PutBlindIndex(empty digest) error = %v, want ErrInvalid", err)
	}
	if _, err := s.LookupBlindIndex(ctx, "", digest); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("LookupBlindIndex(empty class) error = %v, want ErrInvalid", err)
	}
	if _, err := s.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	// After the purge nothing of a's entry is left, in any form.
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.IteratorOptions{Prefix: blindSubjectPrefix("email", digest, a), AllVersions: true}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			t.Errorf("after purge, lookup key %x remains", it.Item().Key())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := lookup("email", digest); !slices.Equal(got, []string{b}) {
		t.Fatalf("Lookup after purge = %q, want [%s]", got, b)
	}
}

func TestEraseBigSubject(t *testing.T) {
	f := newFixture(t, testOptions())
	s := f.open(t)
	ctx := context.Background()
	sub := vaulttest.Subject("big")
	const n = destroyBatch + 904 // more than one destroy transaction
	var toks []vault.Token
	for len(toks) < n {
		var entries []vault.Entry
		for i := 0; i < 1000 && len(toks)+len(entries) < n; i++ {
			entries = append(entries, vault.Entry{Subject: sub, Class: "c", Value: vaulttest.Value("v")})
		}
		got, err := s.Put(ctx, entries)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, got...)
	}
	res, err := s.Erase(ctx, sub, "big")
	if err != nil || res.ValuesDeleted != n || !res.DEKDestroyed {
		t.Fatalf("Erase = %+v, %v; want %d values and the DEK", res, err, n)
	}
	out, err := s.Resolve(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out {
		if r.State != vault.Erased {
			t.Fatalf("after Erase, %v", r.State)
		}
	}
	if info, err := s.Describe(ctx, sub); err != nil || len(info.Tokens) != 0 {
		t.Fatalf("Describe = %d tokens, %v", len(info.Tokens), err)
	}
}
