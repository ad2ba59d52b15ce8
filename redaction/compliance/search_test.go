package compliance

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/piivault/piivault/vault"
)

// An acknowledged append is found by FindSubjects at once, without a run
// of the background indexer (#16 item 20: it took up to 10 s).
func TestFindSubjectsSeesAnAppendAtOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{BlindIndexKey: []byte(strings.Repeat("k", 32))})
	e.putSchema("CustomerRegistered", customerSchema)
	for i, c := range []struct{ stream, subject, email string }{
		{"customer-a", "ca", "fresh.one@example.com"},
		{"customer-b", "cb", "fresh.two@example.com"},
	} {
		e.appendCustomer(c.stream, c.subject, c.email, "+44 20 7946 0033", "Fresh Customer")
		subs, err := e.comp.FindSubjects(ctx, pDPO, ClassEmail, vault.NewPII([]byte(c.email)))
		if err != nil || len(subs) != 1 || subs[0] != c.subject {
			t.Fatalf("append %d: FindSubjects right after the append = %v, %v; want [%s]", i, subs, err, c.subject)
		}
	}
}

// Without a key the lookup says so, not that the vault backend lacks it.
func TestFindSubjectsWithoutKeySaysWhy(t *testing.T) {
	e := newEnv(t, Options{})
	_, err := e.comp.FindSubjects(context.Background(), pDPO, ClassEmail, vault.NewPII([]byte("a@example.com")))
	if !errors.Is(err, ErrBlindIndexOff) || errors.Is(err, ErrNotSupported) {
		t.Fatalf("FindSubjects without a key = %v; want ErrNotSupported, not ErrNotSupported", err)
	}
	if !strings.Contains(err.Error(), "blindIndex.keyFile") {
		t.Errorf("error %q does not name blindIndex.keyFile", err)
	}
}
