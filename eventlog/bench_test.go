package eventlog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Benchmarks come in pairs: the log, and raw Badger opened with the same
// options (badgerOptions: SyncWrites, same memtables, value threshold...)
// doing the same work with one key per event. Run them together, e.g.
//
//	go test ./eventlog -run '^$' -bench . -count 5
//
// Each reports ev/s. The machine is shared: compare medians in one run.

// event1KiB is a 1 KiB JSON event body.
var event1KiB = json.RawMessage(`{"pad":"` + strings.Repeat("x", 1024-10) + `"}`)

// benchOptions are DefaultOptions, with EVENTLOG_BENCH_VALUE_THRESHOLD and
// EVENTLOG_BENCH_MEMTABLE (bytes) to compare tunings.
func benchOptions(b testing.TB) Options {
	o := DefaultOptions()
	if s := os.Getenv("EVENTLOG_BENCH_VALUE_THRESHOLD"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		o.ValueThreshold = n
	}
	if os.Getenv("EVENTLOG_BENCH_NOADVISE") != "" {
		o.AdviseInterval = -1
	}
	if s := os.Getenv("EVENTLOG_BENCH_VLOG"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		o.ValueLogFileSize = n
	}
	if s := os.Getenv("EVENTLOG_BENCH_MEMTABLE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		o.MemTableSize = n
	}
	return o
}

func benchLog(b *testing.B) *Log {
	b.Helper()
	l, err := Open(b.TempDir(), benchOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func benchRaw(b *testing.B) *badger.DB {
	b.Helper()
	db, err := badger.Open(badgerOptions(b.TempDir(), benchOptions(b).withDefaults(), testLogger(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func rawKey(n uint64) []byte {
	k := make([]byte, 9)
	k[0] = 1
	binary.BigEndian.PutUint64(k[1:], n)
	return k
}

// concurrently runs op b.N times from workers goroutines and reports ev/s,
// where one op appends perOp events.
func concurrently(b *testing.B, workers, perOp int, op func(i int) error) {
	b.Helper()
	ops := (b.N + perOp - 1) / perOp
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(ops) {
					return
				}
				if err := op(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(ops*perOp)/b.Elapsed().Seconds(), "ev/s")
}

func benchAppend(b *testing.B, workers, batch int) {
	b.Run("log", func(b *testing.B) {
		l := benchLog(b)
		ctx := context.Background()
		evs := make([]EventData, batch)
		for i := range evs {
			evs[i] = EventData{Type: "bench", Data: event1KiB}
		}
		streams := make([]string, workers)
		for i := range streams {
			streams[i] = "bench-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		}
		g0, e0 := l.groups.Load(), l.grouped.Load()
		concurrently(b, workers, batch, func(i int) error {
			_, err := l.Append(ctx, streams[i%workers], Any, evs)
			return err
		})
		if g := l.groups.Load() - g0; g > 0 {
			b.ReportMetric(float64(l.grouped.Load()-e0)/float64(g), "ev/group")
		}
	})
	b.Run("raw", func(b *testing.B) {
		db := benchRaw(b)
		var seq atomic.Uint64
		concurrently(b, workers, batch, func(int) error {
			return db.Update(func(txn *badger.Txn) error {
				for j := 0; j < batch; j++ {
					if err := txn.Set(rawKey(seq.Add(1)), event1KiB); err != nil {
						return err
					}
				}
				return nil
			})
		})
	})
}

// BenchmarkAppend64 is 64 concurrent appenders of one 1 KiB event each.
func BenchmarkAppend64(b *testing.B) { benchAppend(b, 64, 1) }

// BenchmarkAppendSingle is one appender of one event: one fsync per append.
func BenchmarkAppendSingle(b *testing.B) { benchAppend(b, 1, 1) }

// BenchmarkAppendBatch100 is one appender of batches of 100 events.
func BenchmarkAppendBatch100(b *testing.B) { benchAppend(b, 1, 100) }

// BenchmarkFsync is the disk's raw rate of 1 KiB write + fdatasync, the
// bound of BenchmarkAppendSingle.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1024)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := fdatasync(f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsync/s")
}

// BenchmarkReadAll reads all streams forward, 1000 events per call, over a
// log of 50,000 1 KiB events.
func BenchmarkReadAll(b *testing.B) {
	const n, page = 50_000, 1000
	ctx := context.Background()
	b.Run("log", func(b *testing.B) {
		l := benchLog(b)
		evs := make([]EventData, 1000)
		for i := range evs {
			evs[i] = EventData{Type: "bench", Data: event1KiB}
		}
		for i := 0; i < n; i += len(evs) {
			if _, err := l.Append(ctx, "s"+string(rune('a'+i%7)), Any, evs); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		read, from := 0, uint64(1)
		for read < b.N {
			got, err := l.ReadAll(ctx, from, page, Filter{})
			if err != nil {
				b.Fatal(err)
			}
			read += len(got)
			from += uint64(len(got))
			if from > n {
				from = 1
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "ev/s")
	})
	b.Run("raw", func(b *testing.B) {
		db := benchRaw(b)
		for i := 0; i < n; i += 1000 {
			err := db.Update(func(txn *badger.Txn) error {
				for j := 0; j < 1000; j++ {
					if err := txn.Set(rawKey(uint64(i+j+1)), event1KiB); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		read, from := 0, uint64(1)
		for read < b.N {
			err := db.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{1}})
				defer it.Close()
				got := make([][]byte, 0, page)
				for it.Seek(rawKey(from)); it.Valid() && len(got) < page; it.Next() {
					v, err := it.Item().ValueCopy(nil)
					if err != nil {
						return err
					}
					got = append(got, v)
				}
				read += len(got)
				from += uint64(len(got))
				if from > n {
					from = 1
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "ev/s")
	})
}

// BenchmarkVsRaw runs each workload on the log and on raw Badger
// alternately, in short rounds, so both see the same disk weather on this
// shared machine, and reports log-time/raw-time for the same number of
// events (the target is at most 1.3).
func BenchmarkVsRaw(b *testing.B) {
	ctx := context.Background()
	const rounds = 20
	interleave := func(b *testing.B, logRun, rawRun func(n int)) {
		per := max(b.N/rounds, 1)
		var tl, tr time.Duration
		b.ResetTimer()
		for r := 0; r < rounds; r++ {
			t0 := time.Now()
			logRun(per)
			t1 := time.Now()
			rawRun(per)
			tl, tr = tl+t1.Sub(t0), tr+time.Since(t1)
		}
		b.StopTimer()
		n := float64(per * rounds)
		b.ReportMetric(n/tl.Seconds(), "log-ev/s")
		b.ReportMetric(n/tr.Seconds(), "raw-ev/s")
		b.ReportMetric(tl.Seconds()/tr.Seconds(), "log/raw")
	}
	parallel := func(workers, n int, op func(i int) error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
					if err := op(int(i)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	appendCase := func(workers, batch int) func(b *testing.B) {
		return func(b *testing.B) {
			l, db := benchLog(b), benchRaw(b)
			evs := make([]EventData, batch)
			for i := range evs {
				evs[i] = EventData{Type: "bench", Data: event1KiB}
			}
			var seq atomic.Uint64
			interleave(b, func(n int) {
				parallel(workers, (n+batch-1)/batch, func(i int) error {
					_, err := l.Append(ctx, "s"+strconv.Itoa(i%workers), Any, evs)
					return err
				})
			}, func(n int) {
				parallel(workers, (n+batch-1)/batch, func(int) error {
					return db.Update(func(txn *badger.Txn) error {
						for j := 0; j < batch; j++ {
							if err := txn.Set(rawKey(seq.Add(1)), event1KiB); err != nil {
								return err
							}
						}
						return nil
					})
				})
			})
		}
	}
	b.Run("append64", appendCase(64, 1))
	b.Run("single", appendCase(1, 1))
	b.Run("batch100", appendCase(1, 100))
	b.Run("readall", func(b *testing.B) {
		const n, page = 50_000, 1000
		l, db := benchLog(b), benchRaw(b)
		evs := make([]EventData, page)
		for i := range evs {
			evs[i] = EventData{Type: "bench", Data: event1KiB}
		}
		for i := 0; i < n; i += page {
			if _, err := l.Append(ctx, "s", Any, evs); err != nil {
				b.Fatal(err)
			}
			err := db.Update(func(txn *badger.Txn) error {
				for j := 0; j < page; j++ {
					if err := txn.Set(rawKey(uint64(i+j+1)), event1KiB); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		logFrom, rawFrom := uint64(1), uint64(1)
		interleave(b, func(want int) {
			for read := 0; read < want; {
				got, err := l.ReadAll(ctx, logFrom, min(page, want-read), Filter{})
				if err != nil {
					b.Fatal(err)
				}
				read += len(got)
				if logFrom += uint64(len(got)); logFrom > n {
					logFrom = 1
				}
			}
		}, func(want int) {
			for read := 0; read < want; {
				err := db.View(func(txn *badger.Txn) error {
					it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{1}})
					defer it.Close()
					got := make([][]byte, 0, page)
					for it.Seek(rawKey(rawFrom)); it.Valid() && len(got) < min(page, want-read); it.Next() {
						v, err := it.Item().ValueCopy(nil)
						if err != nil {
							return err
						}
						got = append(got, v)
					}
					read += len(got)
					if rawFrom += uint64(len(got)); rawFrom > n {
						rawFrom = 1
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// auditBody is the size of a read-100 page's audit event: two records of
// one subject with 100 versions each, about 1.1 KB.
var auditBody = json.RawMessage(`{"pad":"` + strings.Repeat("x", 1100-10) + `"}`)

// BenchmarkAuditAppend16 is the log's side of the load tool's read-100:
// 16 readers, each spending work (a page's CPU) and then appending one
// audit event of 1.1 KB to $audit and waiting for it. EVENTLOG_BENCH_WORK
// sets the work per page (default 1ms of spinning; 0 measures the log
// alone), EVENTLOG_BENCH_FILL appends that many 1 KiB events in batches of
// 100 from 8 appenders first, like append-100 before read-100. Besides
// ev/s it reports the writer's cycle: events per group, ms per group, ms
// of it in Badger's commit (write + sync of value log and WAL) and in
// linger. Measured with WORK=0 and FILL=200000: 0.43-0.50 ms per commit,
// 16 events per group, about 30,000 audit events/s, i.e. far more than
// read-100's 300-400 pages/s: the log's group commit did not bound
// read-100 (see pageOut in residency_linux.go for what did).
func BenchmarkAuditAppend16(b *testing.B) {
	work := time.Millisecond
	if s := os.Getenv("EVENTLOG_BENCH_WORK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		work = d
	}
	l := benchLog(b)
	ctx := context.Background()
	if s := os.Getenv("EVENTLOG_BENCH_FILL"); s != "" {
		// The load tool's append-100 before read-100: batches of 100
		// from 8 appenders, so Badger flushes and compacts during the run.
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		batch := make([]EventData, 100)
		for i := range batch {
			batch[i] = EventData{Type: "bench", Data: event1KiB}
		}
		var wg sync.WaitGroup
		var next atomic.Int64
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= int64(n/100); i = next.Add(1) {
					if _, err := l.Append(ctx, "fill-"+strconv.FormatInt(i, 10), Any, batch); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	evs := []EventData{{Type: "PIIAccessed", Data: auditBody}}
	g0, e0, c0, n0 := l.groups.Load(), l.grouped.Load(), l.commitNanos.Load(), l.lingerNanos.Load()
	concurrently(b, 16, 1, func(int) error {
		for t := time.Now(); time.Since(t) < work; {
		}
		_, err := l.AppendSystem(ctx, "$audit", Any, evs)
		return err
	})
	g := float64(l.groups.Load() - g0)
	if g == 0 {
		return
	}
	b.ReportMetric(float64(l.grouped.Load()-e0)/g, "ev/group")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/g, "ms/group")
	b.ReportMetric(float64(l.commitNanos.Load()-c0)/1e6/g, "commit-ms/group")
	b.ReportMetric(float64(l.lingerNanos.Load()-n0)/1e6/g, "linger-ms/group")
}
