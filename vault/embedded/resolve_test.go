package embedded

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/piivault/piivault/vault"
)

// TestResolveBatch resolves a big shuffled batch (split between goroutines,
// walking and seeking within subjects) of every state, with duplicates and
// subjects whose keys neighbour each other, and checks each result against
// the token resolved alone and against the stored value.
func TestResolveBatch(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			opts := testOptions()
			if !cached {
				opts.DEKCacheTTL = -1
			}
			f := newFixture(t, opts)
			s := f.open(t)
			ctx := context.Background()
			rnd := rand.New(rand.NewPCG(1, 2))
			values := map[vault.Token][]byte{}
			var batch []vault.Token
			// "s1", "s10", "s100" ...: one subject's prefix is not another's.
			for i := 0; i < 60; i++ {
				sub := fmt.Sprintf("s1%s", bytes.Repeat([]byte("0"), i%5)) + fmt.Sprint(i/5)
				n := 1 + rnd.IntN(40)
				entries := make([]vault.Entry, n)
				for j := range entries {
					entries[j] = vault.Entry{Subject: sub, Class: []string{"email", "phone", "name"}[j%3],
						Value: vault.NewPII(fmt.Appendf(nil, `"v-%d-%d"`, i, j))}
				}
				toks, err := s.Put(ctx, entries)
				if err != nil {
					t.Fatal(err)
				}
				for j, tok := range toks {
					values[tok] = entries[j].Value.Reveal()
				}
				switch i % 6 {
				case 1:
					if _, err := s.Erase(ctx, sub, "e"); err != nil {
						t.Fatal(err)
					}
				case 2:
					if _, err := s.Expire(ctx, toks[:(n+1)/2]); err != nil {
						t.Fatal(err)
					}
				case 3:
					if err := s.Delete(ctx, toks[n/2:]); err != nil {
						t.Fatal(err)
					}
				}
				// Every token of some subjects, a few of others.
				if i%2 == 0 {
					batch = append(batch, toks...)
				} else {
					for range 3 {
						batch = append(batch, toks[rnd.IntN(n)])
					}
				}
				never, _ := vault.NewToken(sub)
				batch = append(batch, never)
			}
			batch = append(batch, "garbage", "pv1.YQ.AAAAAAAAAAAAAAAAAAAAAA")
			batch = append(batch, batch[:50]...) // duplicates
			rnd.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
			if len(batch) < 2*parallelTokens {
				t.Fatalf("batch of %d tokens is too small to be split", len(batch))
			}
			got, err := s.Resolve(ctx, batch)
			if err != nil || len(got) != len(batch) {
				t.Fatalf("Resolve = %d results, %v; want %d", len(got), err, len(batch))
			}
			states := map[vault.State]int{}
			for i, tok := range batch {
				one, err := s.Resolve(ctx, []vault.Token{tok})
				if err != nil {
					t.Fatal(err)
				}
				w, g := one[0], got[i]
				if g.Token != tok || g.State != w.State || g.Subject != w.Subject || g.Class != w.Class ||
					!bytes.Equal(g.Value.Reveal(), w.Value.Reveal()) {
					t.Fatalf("Resolve(batch)[%d] = %v %q %q, alone %v %q %q", i, g.State, g.Subject, g.Class, w.State, w.Subject, w.Class)
				}
				if g.State == vault.Found && !bytes.Equal(g.Value.Reveal(), values[tok]) {
					t.Fatalf("Resolve(batch)[%d] value differs from the stored one", i)
				}
				states[g.State]++
			}
			for _, st := range []vault.State{vault.Found, vault.Erased, vault.Unknown, vault.Expired} {
				if states[st] == 0 {
					t.Fatalf("batch has no token in state %v: %v", st, states)
				}
			}
		})
	}
}
