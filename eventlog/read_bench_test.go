package eventlog

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// event300 is a 300-byte JSON event body: above the value threshold, so
// it lives in the value log like a real event, and cheap to set up.
var event300 = json.RawMessage(`{"pad":"` + strings.Repeat("x", 300-10) + `"}`)

// reopened appends with fill to a new log, closes it (Badger flushes its
// memtables to level-0 tables) and opens it again, so reads go through the
// LSM tree's levels as in a long-running sidecar, not only memtables.
// Memtables of 2 MiB (batches of at most 100 fit) give such a tree several tables from a small fill.
func reopened(b *testing.B, fill func(l *Log)) *Log {
	b.Helper()
	dir := b.TempDir()
	o := benchOptions(b)
	o.MemTableSize, o.MaxBatchEvents = 2<<20, 100
	l, err := Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	fill(l)
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	if l, err = Open(dir, benchOptions(b)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	b.Logf("%d Badger tables", len(l.db.Tables()))
	return l
}

// BenchmarkReadStream reads one stream in pages of 100, forward and
// backward, while the stream's events are interleaved with another
// stream's:
//
//   - runs100: both streams appended in alternating batches of 100, so the
//     stream index holds runs of 100 consecutive positions;
//   - runsShort: 64 concurrent appenders of one event each, half per
//     stream, so group commits leave runs of a few positions.
//
// One op is one event read; ev/s is reported too. Compare medians, e.g.
//
//	go test ./eventlog -run '^$' -bench ReadStream -count 5
func BenchmarkReadStream(b *testing.B) {
	ctx := context.Background()
	const page = 100
	read := func(b *testing.B, l *Log, n uint64, dir Direction) {
		b.ResetTimer()
		got, from := 0, uint64(1)
		if dir == Backward {
			from = n
		}
		for got < b.N {
			evs, err := l.ReadStream(ctx, "a", from, page, dir)
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) == 0 {
				b.Fatalf("ReadStream(a, %d) read nothing", from)
			}
			got += len(evs)
			switch {
			case dir == Forward && from+page > n:
				from = 1
			case dir == Forward:
				from += page
			case from <= page:
				from = n
			default:
				from -= page
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "ev/s")
	}
	b.Run("runs100", func(b *testing.B) {
		const n = 50_000 // events of stream a (and as many of b)
		evs := make([]EventData, 100)
		for i := range evs {
			evs[i] = EventData{Type: "bench", Data: event300}
		}
		l := reopened(b, func(l *Log) {
			for i := 0; i < n; i += len(evs) {
				for _, s := range []string{"a", "b"} {
					if _, err := l.Append(ctx, s, Any, evs); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run("forward", func(b *testing.B) { read(b, l, n, Forward) })
		b.Run("backward", func(b *testing.B) { read(b, l, n, Backward) })
	})
	b.Run("runsShort", func(b *testing.B) {
		const n, workers = 20_000, 64
		evs := []EventData{{Type: "bench", Data: event300}}
		l := reopened(b, func(l *Log) {
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				s := []string{"a", "b"}[w%2]
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < n/(workers/2); i++ {
						if _, err := l.Append(ctx, s, Any, evs); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
		all, err := l.ReadStream(ctx, "a", 0, n, Forward)
		if err != nil {
			b.Fatal(err)
		}
		runs := 0
		for i, e := range all {
			if i == 0 || e.Position != all[i-1].Position+1 {
				runs++
			}
		}
		b.Logf("stream a: %d events in %d runs of consecutive positions", len(all), runs)
		b.Run("forward", func(b *testing.B) { read(b, l, n, Forward) })
		b.Run("backward", func(b *testing.B) { read(b, l, n, Backward) })
	})
}

// BenchmarkReadAllType reads ReadAll with a one-type filter in pages of
// 100, over a log whose two types alternate in runs of 100 (the type
// index holds runs like the stream index). One op is one event read.
//
//	go test ./eventlog -run '^$' -bench ReadAllType -count 5
func BenchmarkReadAllType(b *testing.B) {
	ctx := context.Background()
	const n, page = 50_000, 100 // events of type x (and as many of y)
	l := reopened(b, func(l *Log) {
		xs, ys := make([]EventData, 100), make([]EventData, 100)
		for i := range xs {
			xs[i] = EventData{Type: "x", Data: event300}
			ys[i] = EventData{Type: "y", Data: event300}
		}
		for i := 0; i < n; i += 100 {
			if _, err := l.Append(ctx, "a", Any, xs); err != nil {
				b.Fatal(err)
			}
			if _, err := l.Append(ctx, "b", Any, ys); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ResetTimer()
	got, from := 0, uint64(1)
	for got < b.N {
		evs, err := l.ReadAll(ctx, from, page, Filter{Types: []string{"x"}})
		if err != nil {
			b.Fatal(err)
		}
		got += len(evs)
		if len(evs) < page {
			from = 1
		} else {
			from = evs[len(evs)-1].Position + 1
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "ev/s")
}
