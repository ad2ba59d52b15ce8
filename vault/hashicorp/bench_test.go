package hashicorp

import (
	"context"
	"encoding/base64"
	"sort"
	"sync"
	"testing"
	"time"

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

// measure runs op from concurrent callers and reports ops/s, values/s and
// p99 latency.
func measure(b *testing.B, valuesPerOp int, op func(ctx context.Context) error) {
	b.Helper()
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
	c := hashicorptest.Client(b)
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
			measure(b, bc.values, func(ctx context.Context) error {
				// New subjects every time: the DEK is made and wrapped too.
				_, err := s.Put(ctx, benchEntries(bc.subjects, bc.values))
				return err
			})
		})
	}
}

func BenchmarkResolve(b *testing.B) {
	c := hashicorptest.Client(b)
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
			measure(b, bc.values, func(ctx context.Context) error {
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
	c := hashicorptest.Client(b)
	path := "transit/encrypt/" + testTransitKey
	plaintext := base64.StdEncoding.EncodeToString([]byte(`"bench-value-0123456789abcdef01234567"`))
	b.Run("encrypt", func(b *testing.B) {
		measure(b, 1, func(ctx context.Context) error {
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
		measure(b, 1, func(ctx context.Context) error {
			_, err := c.Logical().WriteWithContext(ctx, "transit/decrypt/"+testTransitKey, map[string]interface{}{"ciphertext": ct})
			return err
		})
	})
}
