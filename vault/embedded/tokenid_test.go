package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

// Token IDs start with their creation time in milliseconds and end in 80
// random bits, so a subject's values are keyed in creation order.
func TestTokenIDsAreTimeOrdered(t *testing.T) {
	t0 := time.UnixMilli(1_764_000_000_000)
	a, err := newTokenIDs(3, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newTokenIDs(1, t0.Add(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	const n = vault.TokenIDSize
	for i := 0; i < 3; i++ {
		id := a[i*n : (i+1)*n]
		if ms := binary.BigEndian.Uint64(append([]byte{0, 0}, id[:6]...)); ms != uint64(t0.UnixMilli()) {
			t.Errorf("ID %d starts with %d ms, want %d", i, ms, t0.UnixMilli())
		}
		if bytes.Compare(id, b) >= 0 {
			t.Errorf("ID %d of %v sorts after the ID of a millisecond later", i, t0)
		}
	}
	if bytes.Equal(a[6:n], a[n+6:2*n]) || bytes.Equal(a[n+6:2*n], a[2*n+6:]) {
		t.Error("two IDs of the same millisecond share their random part")
	}
}

// Through the store: tokens of later Puts sort after earlier ones, and
// every token still resolves.
func TestPutTokensSortByCreation(t *testing.T) {
	ctx := context.Background()
	var now atomic.Int64 // the store's clock, in ms
	now.Store(1_764_000_000_000)
	o := testOptions()
	o.Now = func() time.Time { return time.UnixMilli(now.Load()) }
	s := newFixture(t, o).open(t)
	var toks []vault.Token
	for i := 0; i < 3; i++ {
		got, err := s.Put(ctx, []vault.Entry{{Subject: "cust-1", Class: "email", Value: vault.NewPII([]byte("v@example.com"))}})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, got...)
		now.Add(1)
	}
	for i := 1; i < len(toks); i++ {
		_, prev, err1 := vault.SplitToken(toks[i-1])
		_, cur, err2 := vault.SplitToken(toks[i])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if bytes.Compare(prev[:], cur[:]) >= 0 {
			t.Errorf("token %d sorts before token %d, created a millisecond earlier", i, i-1)
		}
	}
	res, err := s.Resolve(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.State != vault.Found || string(r.Value.Reveal()) != "v@example.com" {
			t.Errorf("token %d resolves to state %v", i, r.State)
		}
	}
}
