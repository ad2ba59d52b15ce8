package hashicorp

import (
	"context"
	"encoding/base64"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/hashicorp/hashicorptest"
	"github.com/piivault/piivault/vault/vaulttest"
)

// Benchmarks run against the dev Vault named by VAULT_ADDR/VAULT_TOKEN:
//
//	go test -run '^$' -bench . -count 5 ./vault/hashicorp/
//
// Each reports, besides ns/op, ops/s, values/s (values stored or resolved
// per second) and p99-ms (99th percentile latency of one op). All run 8
// concurrent callers. BenchmarkTransitPerValue is the baseline: one Transit
// encrypt (or decrypt) call per value, which is what an application would
// otherwise do; compare its values/s with the store's.

const benchParallelism = 4 // × GOMAXPROCS callers

// benchClient returns a client for the shared Vault and its request count.
func benchClient(b *testing.B) (*api.Client, *atomic.Int64) {
	c := hashicorptest.Client(b)
	return hashicorptest.CountingClient(b, c.Address(), c.Token())
}

// measure runs op from concurrent callers and reports ops/s, values/s,
// p99 latency and, when reqs is set, HTTP requests to Vault per value
// (noise-free, unlike the timings on a shared machine).
func measure(b *testing.B, valuesPerOp int, reqs *atomic.Int64, op func(ctx context.Context) error) {
	b.Helper()
	var req0 int64
	if reqs != nil {
		req0 = reqs.Load()
	}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if reqs != nil {
		b.ReportMetric(float64(reqs.Load()-req0)/float64(b.N*valuesPerOp), "req/value")
	}
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p99 := lat[min(len(lat)-1, len(lat)*99/100)]
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(b.N*valuesPerOp)/elapsed.Seconds(), "values/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

func benchEntries(subjects, values int) []vault.Entry {
	subs := make([]string, subjects)
	for i := range subs {
		subs[i] = vaulttest.Subject("bench")
	}
	es := make([]vault.Entry, values)
	for i := range es {
		es[i] = vault.Entry{Subject: subs[i%subjects], Class: "email", Value: vaulttest.Value("bench-value")}
	}
	return es
}

func BenchmarkPut(b *testing.B) {
	c, reqs := benchClient(b)
	s := open(b, c, Options{Prefix: "piivault-bench-" + hashicorptest.Random()})
	for _, bc := range []struct {
		name             string
		subjects, values int
	}{
		{"values=3/subjects=1", 1, 3},
		{"values=100/subjects=1", 1, 100},
		{"values=100/subjects=10", 10, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			measure(b, bc.values, reqs, func(ctx context.Context) error {
				// New subjects every time: the DEK is made and wrapped too.
				_, err := s.Put(ctx, benchEntries(bc.subjects, bc.values))
				return err
			})
		})
	}
	// Existing subjects (an event for a known customer), cache warm: 32
	// subjects taken in turn by the concurrent callers, so each comes back
	// well within the cache TTL.
	b.Run("values=3/subjects=1/existing", func(b *testing.B) {
		subs := make([]string, 32)
		for i := range subs {
			subs[i] = vaulttest.Subject("bench-existing")
			if _, err := s.Put(context.Background(), []vault.Entry{{Subject: subs[i], Class: "email", Value: vaulttest.Value("v")}}); err != nil {
				b.Fatal(err)
			}
		}
		var next atomic.Int64
		measure(b, 3, reqs, func(ctx context.Context) error {
			sub := subs[next.Add(1)%int64(len(subs))]
			es := make([]vault.Entry, 3)
			for i := range es {
				es[i] = vault.Entry{Subject: sub, Class: "email", Value: vaulttest.Value("bench-value")}
			}
			_, err := s.Put(ctx, es)
			return err
		})
	})
}

func BenchmarkResolve(b *testing.B) {
	c, reqs := benchClient(b)
	prefix := "piivault-bench-" + hashicorptest.Random()
	for _, bc := range []struct {
		name             string
		subjects, values int
		ttl              time.Duration
	}{
		{"tokens=100/subjects=1/warm", 1, 100, 0},
		{"tokens=100/subjects=10/warm", 10, 100, 0},
		{"tokens=100/subjects=1/cold", 1, 100, -1},
		{"tokens=100/subjects=10/cold", 10, 100, -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := open(b, c, Options{Prefix: prefix, CacheTTL: bc.ttl})
			// 16 batches to choose from, so warm runs hit many subjects.
			var batches [][]vault.Token
			for i := 0; i < 16; i++ {
				toks, err := s.Put(context.Background(), benchEntries(bc.subjects, bc.values))
				if err != nil {
					b.Fatal(err)
				}
				batches = append(batches, toks)
			}
			var mu sync.Mutex
			n := 0
			measure(b, bc.values, reqs, func(ctx context.Context) error {
				mu.Lock()
				toks := batches[n%len(batches)]
				n++
				mu.Unlock()
				res, err := s.Resolve(ctx, toks)
				if err == nil && res[0].State != vault.Found {
					b.Fatalf("state %v", res[0].State)
				}
				return err
			})
		})
	}
}

// BenchmarkTransitPerValue is the baseline: one Transit call per value.
func BenchmarkTransitPerValue(b *testing.B) {
	c, reqs := benchClient(b)
	path := "transit/encrypt/" + testTransitKey
	plaintext := base64.StdEncoding.EncodeToString([]byte(`"bench-value-0123456789abcdef01234567"`))
	b.Run("encrypt", func(b *testing.B) {
		measure(b, 1, reqs, func(ctx context.Context) error {
			_, err := c.Logical().WriteWithContext(ctx, path, map[string]interface{}{"plaintext": plaintext})
			return err
		})
	})
	sec, err := c.Logical().Write(path, map[string]interface{}{"plaintext": plaintext})
	if err != nil {
		b.Fatal(err)
	}
	ct := sec.Data["ciphertext"]
	b.Run("decrypt", func(b *testing.B) {
		measure(b, 1, reqs, func(ctx context.Context) error {
			_, err := c.Logical().WriteWithContext(ctx, "transit/decrypt/"+testTransitKey, map[string]interface{}{"ciphertext": ct})
			return err
		})
	})
}
