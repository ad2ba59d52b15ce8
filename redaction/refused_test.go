package redaction

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/embedded"
)

// TestRefusedStreamWritesNothing: an append with PII to a stream name the
// log refuses, or with an event type it refuses, writes nothing, to the
// log (not even the $instance record the first append with PII creates,
// nor a denial's audit record) or to the vault, with the in-memory and the
// real embedded vault.
func TestRefusedStreamWritesNothing(t *testing.T) {
	streams := []struct {
		name, stream string
		want         error
	}{
		{"not UTF-8", "a\xffb", eventlog.ErrInvalidStream},
		{"empty", "", eventlog.ErrInvalidStream},
		{"control character", "a\nb", eventlog.ErrInvalidStream},
		{"too long", strings.Repeat("s", eventlog.MaxNameLen+1), eventlog.ErrInvalidStream},
		{"system", "$instance", eventlog.ErrReservedStream},
	}
	for _, store := range []struct {
		name     string
		embedded bool
	}{{"memory vault", false}, {"embedded vault", true}} {
		t.Run(store.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := envConfig{opts: Options{SweepInterval: -1}}
			var counted *countingEmbedded
			if store.embedded {
				counted = &countingEmbedded{Store: openEmbedded(t, t.TempDir(), slog.New(slog.DiscardHandler))}
				cfg.store = counted
			}
			env := newEnv(t, cfg)
			mustPutSchema(t, env.svc, "CustomerRegistered", customerSchema)
			batch := []EventInput{ev("CustomerRegistered", `{"customerId":"c1","email":"a@example.com","name":"A"}`)}
			head, _ := env.log.Head(ctx)
			vaultWrites := func() int64 {
				if counted != nil {
					return counted.writes.Load()
				}
				env.mem.mu.Lock()
				defer env.mem.mu.Unlock()
				return int64(len(env.mem.vals)) // pending markers too
			}
			before := vaultWrites()
			for _, tt := range streams {
				for _, who := range []struct {
					name string
					a    Access
				}{{"service", pService}, {"denied", pSupport}} {
					_, err := env.svc.Append(ctx, who.a, tt.stream, Any, batch)
					if !errors.Is(err, tt.want) {
						t.Errorf("%s: Append(%q) as %s = %v, want %v", tt.name, tt.stream, who.name, err, tt.want)
					}
				}
			}
			// An event type the log refuses, next to an event with PII.
			for _, typ := range []string{"", "a\nb", "a\xffb", strings.Repeat("t", eventlog.MaxNameLen+1)} {
				bad := append([]EventInput{ev(typ, `{"customerId":"c1","note":"x"}`)}, batch...)
				if _, err := env.svc.Append(ctx, pService, "s1", Any, bad); !errors.Is(err, eventlog.ErrInvalid) {
					t.Errorf("Append with event type %q = %v, want eventlog.ErrInvalid", typ, err)
				}
			}
			// One event more than the log takes: refused before any vault
			// write, not after one per event.
			big := make([]EventInput, env.log.MaxBatchEvents()+1)
			for i := range big {
				big[i] = batch[0]
			}
			if _, err := env.svc.Append(ctx, pService, "s1", Any, big); !errors.Is(err, ErrBatchTooLarge) {
				t.Errorf("Append of %d events = %v, want ErrBatchTooLarge", len(big), err)
			}
			if h, _ := env.log.Head(ctx); h != head {
				t.Errorf("log head = %d after refused appends, want %d (unchanged)", h, head)
			}
			if _, err := env.log.StreamInfo(ctx, streamInstance); !errors.Is(err, eventlog.ErrStreamNotFound) {
				t.Errorf("StreamInfo(%s) = %v after refused appends, want ErrStreamNotFound", streamInstance, err)
			}
			if n := vaultWrites(); n != before {
				t.Errorf("vault writes = %d after refused appends, want %d (unchanged)", n, before)
			}
			if n := heldValues(t, env.store, "c1"); n != 0 {
				t.Errorf("vault holds %d values of c1 after refused appends, want 0", n)
			}
			// The same append to a good name works (and writes $instance).
			if _, err := env.svc.Append(ctx, pService, "s1", Any, batch); err != nil {
				t.Fatalf("Append(s1) = %v", err)
			}
			if n := heldValues(t, env.store, "c1"); n != 2 {
				t.Errorf("vault holds %d values of c1 after a good append, want 2", n)
			}
		})
	}
}

// countingEmbedded is the embedded vault, counting the calls that write.
type countingEmbedded struct {
	*embedded.Store
	writes atomic.Int64
}

func (c *countingEmbedded) Put(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	c.writes.Add(1)
	return c.Store.Put(ctx, entries)
}

func (c *countingEmbedded) PutUnsynced(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	c.writes.Add(1)
	return c.Store.PutUnsynced(ctx, entries)
}

func (c *countingEmbedded) Delete(ctx context.Context, tokens []vault.Token) error {
	c.writes.Add(1)
	return c.Store.Delete(ctx, tokens)
}

var _ vault.Store = (*countingEmbedded)(nil)
