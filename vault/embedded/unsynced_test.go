package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/piivault/piivault/vault"
)

// PutUnsynced stores like Put (readable at once, erasure refused alike);
// Sync then makes it durable, and fails once the store is closed.
func TestPutUnsyncedThenSync(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, testOptions())
	s := f.open(t)
	toks, err := s.PutUnsynced(ctx, []vault.Entry{{Subject: "u1", Class: "email", Value: vault.NewPII([]byte(`"a@example.com"`))}})
	if err != nil || len(toks) != 1 {
		t.Fatalf("PutUnsynced = %v, %v", toks, err)
	}
	res, err := s.Resolve(ctx, toks)
	if err != nil || res[0].State != vault.Found || string(res[0].Value.Reveal()) != `"a@example.com"` {
		t.Fatalf("Resolve after PutUnsynced = %+v, %v", res, err)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync = %v", err)
	}
	if _, err := s.Erase(ctx, "u1", "e1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUnsynced(ctx, []vault.Entry{{Subject: "u1", Class: "email", Value: vault.NewPII([]byte(`"b"`))}}); !errors.Is(err, vault.ErrErased) {
		t.Errorf("PutUnsynced for an erased subject = %v, want ErrErased", err)
	}
	// Reopened, the synced value is there.
	toks2, err := s.PutUnsynced(ctx, []vault.Entry{{Subject: "u2", Class: "email", Value: vault.NewPII([]byte(`"c"`))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Sync(); !errors.Is(err, vault.ErrClosed) {
		t.Errorf("Sync after Close = %v, want ErrClosed", err)
	}
	s = f.open(t)
	if res, err := s.Resolve(ctx, toks2); err != nil || res[0].State != vault.Found {
		t.Errorf("Resolve after reopen = %+v, %v", res, err)
	}
}
