package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

// benchOptions are the production defaults with encryption at rest on; only
// the background purge is off, so that benchmarks exclude it.
func benchOptions() Options {
	o := DefaultOptions()
	o.PurgeDelay = -1
	return o
}

func threeValues(sub string, i int64) []vault.Entry {
	return []vault.Entry{
		{Subject: sub, Class: "email", Value: vault.NewPII(fmt.Appendf(nil, `"user%d@example.com"`, i))},
		{Subject: sub, Class: "name", Value: vault.NewPII(fmt.Appendf(nil, `"Firstname%d Lastname"`, i))},
		{Subject: sub, Class: "address", Value: vault.NewPII(fmt.Appendf(nil, `{"street":"Main Street %d","city":"Ghent","zip":"9000"}`, i))},
	}
}

// cpuTime returns the process's user+system CPU time. Benchmarks report CPU
// per operation beside throughput, because on a shared machine throughput
// says as much about the neighbours as about the code.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPut measures durable Puts of 3 values for a new subject each,
// from 64 concurrent callers. Metric: subjects/s.
func BenchmarkPut(b *testing.B) {
	f := newFixture(b, benchOptions())
	s := f.open(b)
	ctx := context.Background()
	var seq atomic.Int64
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			if _, err := s.Put(ctx, threeValues(fmt.Sprintf("bench-%d", i), i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "subjects/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/subject")
	st := s.Stats()
	if st.GroupCommits > 0 {
		b.ReportMetric(float64(st.CommittedPuts)/float64(st.GroupCommits), "puts/commit")
		b.ReportMetric(float64(st.CommitTime.Microseconds())/float64(st.GroupCommits), "us/commit")
	}
	if st.Syncs > 0 {
		b.ReportMetric(float64(st.CommittedPuts)/float64(st.Syncs), "puts/fsync")
		b.ReportMetric(float64(st.SyncTime.Microseconds())/float64(st.Syncs), "us/fsync")
	}
}

// populate stores n subjects with 3 values each, concurrently, and returns
// their tokens.
func populate(tb testing.TB, s *Store, n int, prefix string) []vault.Token {
	tb.Helper()
	ctx := context.Background()
	toks := make([]vault.Token, 3*n)
	var wg sync.WaitGroup
	var next atomic.Int64
	const perPut = 50 // subjects per Put call, to set up fast
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(perPut)) - perPut
				if start >= n {
					return
				}
				end := min(start+perPut, n)
				var entries []vault.Entry
				for i := start; i < end; i++ {
					entries = append(entries, threeValues(fmt.Sprintf("%s-%d", prefix, i), int64(i))...)
				}
				got, err := s.Put(ctx, entries)
				if err != nil {
					tb.Error(err)
					return
				}
				copy(toks[3*start:], got)
			}
		}()
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
	return toks
}

// BenchmarkResolve measures Resolve of batches of 100 random tokens out of
// 1,000 subjects, with warm caches. Metric: tokens/s.
func BenchmarkResolve(b *testing.B) {
	f := newFixture(b, benchOptions())
	// The DEK cache TTL would expire mid-run; "warm" means every DEK cached.
	f.opts.DEKCacheTTL = time.Hour
	s := f.open(b)
	ctx := context.Background()
	toks := populate(b, s, 1000, "resolve")
	batches := make([][]vault.Token, 64)
	for i := range batches {
		batches[i] = make([]vault.Token, 100)
		for j := range batches[i] {
			batches[i][j] = toks[rand.IntN(len(toks))]
		}
	}
	if _, err := s.Resolve(ctx, toks); err != nil { // warm up
		b.Fatal(err)
	}
	check := func(res []vault.Resolved, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if res[0].State != vault.Found {
			b.Fatalf("state %v", res[0].State)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		cpu0 := cpuTime()
		for b.Loop() {
			check(s.Resolve(ctx, batches[i%len(batches)]))
			i++
		}
		b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "tokens/s")
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*100), "cpu-ns/token")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var seq atomic.Int64
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := seq.Add(1)
				res, err := s.Resolve(ctx, batches[int(i)%len(batches)])
				if err != nil || res[0].State != vault.Found {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "tokens/s")
		b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*100), "cpu-ns/token")
	})
}

// BenchmarkResolvePage measures Resolve in the shapes of a read page of
// events of 3 values each, warm caches. Metric: events/s.
//
// spread: pages of 1,000 events, each of another of 2,000 subjects that
// hold 30 values (10 events) each, as ReadAll over many customers' streams.
// stream: pages of 100 events of one of 20 subjects that hold 300 values
// (100 events) each, as a read of one customer's stream.
func BenchmarkResolvePage(b *testing.B) {
	f := newFixture(b, benchOptions())
	f.opts.DEKCacheTTL = time.Hour
	s := f.open(b)
	ctx := context.Background()
	// pagesOf groups events (of 3 tokens each) into pages.
	pagesOf := func(events [][]vault.Token, page int) [][]vault.Token {
		var pages [][]vault.Token
		for p := 0; p+page <= len(events); p += page {
			var toks []vault.Token
			for _, e := range events[p : p+page] {
				toks = append(toks, e...)
			}
			pages = append(pages, toks)
		}
		return pages
	}
	var spread, stream [][]vault.Token
	for r := 0; r < 10; r++ {
		toks := populate(b, s, 2000, "spread")
		for i := 0; i < 2000; i++ {
			spread = append(spread, toks[3*i:3*i+3])
		}
	}
	byStream := make([][][]vault.Token, 20)
	for r := 0; r < 100; r++ {
		toks := populate(b, s, 20, "stream")
		for i := range byStream {
			byStream[i] = append(byStream[i], toks[3*i:3*i+3])
		}
	}
	for _, evs := range byStream {
		stream = append(stream, evs...)
	}
	for _, bc := range []struct {
		name  string
		pages [][]vault.Token
	}{
		{"spread", pagesOf(spread, 1000)},
		{"stream", pagesOf(stream, 100)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			events := 0
			for i := 0; b.Loop(); i++ {
				p := bc.pages[i%len(bc.pages)]
				res, err := s.Resolve(ctx, p)
				if err != nil || res[0].State != vault.Found {
					b.Fatalf("Resolve = %v, %v", res[0].State, err)
				}
				events += len(p) / 3
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(events), "cpu-ns/event")
		})
	}
}

// BenchmarkErase measures Erase of a subject holding 100 values, purge
// excluded, beside 1,000 other subjects and (with PIIVAULT_BENCH_100K=1)
// 100,000. Metrics: p50 and p99 latency in ms. Use a fixed -benchtime
// (e.g. 300x) so that every run has enough samples for a p99.
func BenchmarkErase(b *testing.B) {
	sizes := []int{1000}
	if os.Getenv("PIIVAULT_BENCH_100K") != "" {
		sizes = append(sizes, 100_000)
	}
	for _, others := range sizes {
		b.Run(fmt.Sprintf("others=%d", others), func(b *testing.B) {
			f := newFixture(b, benchOptions())
			s := f.open(b)
			ctx := context.Background()
			populate(b, s, others, "other")
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				sub := fmt.Sprintf("erase-%d", i)
				entries := make([]vault.Entry, 100)
				for j := range entries {
					entries[j] = vault.Entry{Subject: sub, Class: "email", Value: vault.NewPII(fmt.Appendf(nil, `"v%d-%d@example.com"`, i, j))}
				}
				if _, err := s.Put(ctx, entries); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				res, err := s.Erase(ctx, sub, "e")
				lat = append(lat, time.Since(t0))
				if err != nil || res.ValuesDeleted != 100 {
					b.Fatalf("Erase = %+v, %v", res, err)
				}
			}
			b.StopTimer()
			if os.Getenv("PIIVAULT_BENCH_DEBUG") != "" {
				for i, d := range lat {
					if d > 30*time.Millisecond {
						b.Logf("erase %d took %v", i, d)
					}
				}
			}
			reportLatency(b, lat)
		})
	}
}

// BenchmarkFsyncBaseline measures a 4 KiB write plus fsync on the file
// system under the test's temp folder: the floor under every durable
// write, reported beside Erase's and Put's latencies on a shared machine.
func BenchmarkFsyncBaseline(b *testing.B) {
	f, err := os.Create(b.TempDir() + "/fsync")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if _, err := f.WriteAt(buf, int64(i%1024)*4096); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, lat)
}

// reportLatency sorts lat and reports its median and 99th percentile in
// milliseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkPutBatch100 measures one caller's PutUnsynced of the entries of
// a redaction append of 100 events: 100 subjects of 3 values each plus one
// marker entry. new: every subject is new (a DEK created per subject);
// cached: the 100 subjects' DEKs are cached. Metrics: µs per Put, CPU µs
// per Put.
func BenchmarkPutBatch100(b *testing.B) {
	for _, fresh := range []bool{true, false} {
		name := "cached"
		if fresh {
			name = "new"
		}
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, benchOptions())
			f.opts.DEKCacheTTL = time.Hour
			s := f.open(b)
			ctx := context.Background()
			batch := func(i int) []vault.Entry {
				entries := make([]vault.Entry, 0, 301)
				for j := 0; j < 100; j++ {
					n := int64(100*i + j)
					if !fresh {
						n = int64(j)
					}
					entries = append(entries, threeValues(fmt.Sprintf("batch-%d", n), n)...)
				}
				return append(entries, vault.Entry{Subject: "pending-0", Class: "system", Value: vault.NewPII([]byte(`{"s":["x"]}`))})
			}
			if !fresh {
				if _, err := s.PutUnsynced(ctx, batch(0)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				entries := batch(i)
				b.StartTimer()
				if _, err := s.PutUnsynced(ctx, entries); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "us/put")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/put")
			if st := s.Stats(); st.GroupCommits > 0 {
				b.ReportMetric(float64(st.CommitTime.Microseconds())/float64(st.GroupCommits), "us/commit")
			}
		})
	}
}
