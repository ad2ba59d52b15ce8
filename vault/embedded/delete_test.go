package embedded

import (
	"context"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/vault"
)

// TestDeleteAfterErasure checks that Delete's blind deletes write nothing
// under an erased subject's prefix, before or after its purge, and still
// delete a live subject's values in the same call.
func TestDeleteAfterErasure(t *testing.T) {
	opts := testOptions()
	opts.PurgeDelay = -1
	s := newFixture(t, opts).open(t)
	ctx := context.Background()
	put := func(sub string) []vault.Token {
		t.Helper()
		toks, err := s.Put(ctx, []vault.Entry{
			{Subject: sub, Class: "email", Value: vault.NewPII([]byte(`"a@example.com"`))},
			{Subject: sub, Class: "name", Value: vault.NewPII([]byte(`"A B"`))},
		})
		if err != nil {
			t.Fatalf("Put(%q): %v", sub, err)
		}
		return toks
	}
	// keysUnder counts every version of every key under the subject's
	// prefix, delete markers included.
	keysUnder := func(sub string) int {
		t.Helper()
		n := 0
		err := s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: subjectPrefix(sub), AllVersions: true})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				n++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	gone, live := put("gone"), put("live")
	never := vault.FormatToken("gone", [vault.TokenIDSize]byte{1})
	if _, err := s.Erase(ctx, "gone", "e1"); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	for _, purged := range []bool{false, true} {
		if purged {
			if _, err := s.Purge(ctx); err != nil {
				t.Fatalf("Purge: %v", err)
			}
		}
		before := keysUnder("gone")
		if err := s.Delete(ctx, append([]vault.Token{never}, gone...)); err != nil {
			t.Fatalf("Delete (purged %v): %v", purged, err)
		}
		if got := keysUnder("gone"); got != before {
			t.Errorf("purged %v: Delete left %d key versions under the erased subject, want %d", purged, got, before)
		}
	}
	if err := s.Delete(ctx, append(gone[:1:1], live[0])); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	res, err := s.Resolve(ctx, live)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if res[0].State != vault.Unknown || res[1].State != vault.Found {
		t.Errorf("Resolve after Delete = %v, %v, want %v, %v", res[0].State, res[1].State, vault.Unknown, vault.Found)
	}
}
