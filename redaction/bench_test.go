package redaction

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/vault"
)

// benchEvent is about 1 KiB of JSON with 3 PII fields (email, phone, name)
// and ~900 bytes of ordinary order data, which the leak guard scans.
func benchEvent(i int) json.RawMessage {
	var items strings.Builder
	for j := 0; j < 9; j++ {
		if j > 0 {
			items.WriteByte(',')
		}
		fmt.Fprintf(&items, `{"sku":"SKU-%05d-%d","qty":%d,"price":"%d.99","warehouse":"north-%d","tags":["gift","fragile"]}`, i%100000, j, j+1, 10+j, j)
	}
	return json.RawMessage(fmt.Sprintf(`{"customerId":"cust-%d","email":"customer%d@example.com","phone":"+1 415 555 %04d","name":"Jane Q Customer","orderId":"ord-%d","status":"placed","items":[%s]}`,
		i, i, i%10000, i, items.String()))
}

const benchSchema = `{"subject":"/customerId","fields":[{"path":"/email","class":"email"},{"path":"/phone","class":"phone"},{"path":"/name","class":"name"}]}`

func benchEnv(b *testing.B) *testEnv {
	b.Helper()
	env := newEnv(b, envConfig{embedded: true, quiet: true, opts: Options{SweepInterval: -1}})
	mustPutSchema(b, env.svc, "OrderPlaced", benchSchema)
	if n := len(benchEvent(1)); n < 900 || n > 1200 {
		b.Fatalf("bench event is %d bytes", n)
	}
	return env
}

// BenchmarkAppendConcurrent64: 64 goroutines each append one event at a
// time to their own stream, durable (log and vault sync their writes).
func BenchmarkAppendConcurrent64(b *testing.B) {
	env := benchEnv(b)
	ctx := context.Background()
	var seq atomic.Int64
	b.SetParallelism((64 + 1) / 2)
	b.ResetTimer()
	m := startMeter()
	b.RunParallel(func(pb *testing.PB) {
		w := seq.Add(1)
		for pb.Next() {
			i := int(seq.Add(1))
			if _, err := env.svc.Append(ctx, pService, fmt.Sprintf("order-%d", w), Any,
				[]EventInput{{Type: "OrderPlaced", Data: benchEvent(i)}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	m.report(b, b.N)
}

// BenchmarkAppendBatch100: one appender, batches of 100 events (100
// subjects) per call. b.N counts events.
func BenchmarkAppendBatch100(b *testing.B) {
	benchBatches(b, 1)
}

// BenchmarkAppendBatch100x4: four concurrent appenders of batches of 100.
func BenchmarkAppendBatch100x4(b *testing.B) {
	benchBatches(b, 4)
}

// BenchmarkAppendBatch100OneSubject: one appender, batches of 100 events of
// one customer (the usual shape: a stream is one aggregate, one subject).
func BenchmarkAppendBatch100OneSubject(b *testing.B) {
	benchBatchesSubjects(b, 1, true)
}

func benchBatches(b *testing.B, par int) { benchBatchesSubjects(b, par, false) }

func benchBatchesSubjects(b *testing.B, par int, oneSubject bool) {
	env := benchEnv(b)
	ctx := context.Background()
	var seq atomic.Int64
	var stream atomic.Int64
	b.ResetTimer()
	m := startMeter()
	batches := (b.N + 99) / 100
	var left atomic.Int64
	left.Store(int64(batches))
	done := make(chan struct{}, par)
	for g := 0; g < par; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			st := fmt.Sprintf("batch-%d", stream.Add(1))
			for left.Add(-1) >= 0 {
				evs := make([]EventInput, 100)
				base := int(seq.Add(100))
				for j := range evs {
					n := base + j
					if oneSubject {
						n = base // same customer, same subject
					}
					evs[j] = EventInput{Type: "OrderPlaced", Data: benchEvent(n)}
				}
				if _, err := env.svc.Append(ctx, pService, st, Any, evs); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for g := 0; g < par; g++ {
		<-done
	}
	m.report(b, batches*100)
}

// BenchmarkReadRevealed reads pages of 1000 events through ReadAll with
// every field revealed (3 per event), one vault Resolve and one audit
// append per page. b.N counts events.
func BenchmarkReadRevealed(b *testing.B) {
	benchRead(b, pRoot, 1000)
}

// BenchmarkReadRevealedPage100 is the same with pages of 100.
func BenchmarkReadRevealedPage100(b *testing.B) {
	benchRead(b, pRoot, 100)
}

// BenchmarkReadSupport reads as role support through OPA: email and name
// revealed, phone masked.
func BenchmarkReadSupport(b *testing.B) {
	benchRead(b, pSupport, 1000)
}

const benchReadEvents = 20000

func benchRead(b *testing.B, a Access, page int) {
	env := benchEnv(b)
	ctx := context.Background()
	fillReadEvents(b, env)
	b.ResetTimer()
	m := startMeter()
	read := 0
	from := uint64(1)
	for read < b.N {
		evs, err := env.svc.ReadAll(ctx, a, from, min(page, b.N-read), Filter{Types: []string{"OrderPlaced"}})
		if err != nil {
			b.Fatal(err)
		}
		if len(evs) == 0 {
			from = 1
			continue
		}
		for _, f := range evs[0].PII {
			if f.State != StateRevealed && a.Principal.Root {
				b.Fatalf("state %s", f.State)
			}
		}
		read += len(evs)
		from = evs[len(evs)-1].Position + 1
	}
	m.report(b, read)
}

// meter measures a benchmark's wall and CPU time from its start.
type meter struct {
	cpu0  time.Duration
	start time.Time
}

func startMeter() meter { return meter{cpu0: cpuTime(), start: time.Now()} }

// report reports events per second of wall time and microseconds of CPU
// time per event.
func (m meter) report(b *testing.B, events int) {
	b.ReportMetric(float64(events)/time.Since(m.start).Seconds(), "ev/s")
	b.ReportMetric(float64(cpuTime()-m.cpu0)/float64(time.Microsecond)/float64(events), "cpu-µs/ev")
}

// cpuTime is the process's user+system CPU time: on a shared machine the
// CPU cost per event is steadier than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBaselineReadResolve is what the read benchmark's dependencies
// cost alone: the log's ReadAll of pages of 1000 and one vault Resolve of
// all their tokens per page, no policy, no audit, no JSON rewriting.
func BenchmarkBaselineReadResolve(b *testing.B) {
	env := benchEnv(b)
	ctx := context.Background()
	fillReadEvents(b, env)
	b.ResetTimer()
	m := startMeter()
	read := 0
	from := uint64(1)
	for read < b.N {
		evs, err := env.log.ReadAll(ctx, from, min(1000, b.N-read), eventlog.Filter{Types: []string{"OrderPlaced"}})
		if err != nil {
			b.Fatal(err)
		}
		if len(evs) == 0 {
			from = 1
			continue
		}
		var toks []vault.Token
		for _, e := range evs {
			refs, err := EventTokens(e)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range refs {
				toks = append(toks, r.Token)
			}
		}
		if _, err := env.store.Resolve(ctx, toks); err != nil {
			b.Fatal(err)
		}
		read += len(evs)
		from = evs[len(evs)-1].Position + 1
	}
	m.report(b, read)
}

// BenchmarkReadRevealedParallel: 4 concurrent readers, each reading pages
// of 1000 through ReadAll with every field revealed. b.N counts events.
func BenchmarkReadRevealedParallel(b *testing.B) {
	benchReadParallel(b, 4, 1000)
}

// benchReadParallel runs readers concurrent readers of pages of page events
// through ReadAll as root, each starting at its own share of the log and
// wrapping around. b.N counts events.
func benchReadParallel(b *testing.B, readers, page int) {
	env := benchEnv(b)
	ctx := context.Background()
	fillReadEvents(b, env)
	b.ResetTimer()
	m := startMeter()
	var read atomic.Int64
	done := make(chan struct{}, readers)
	for r := 0; r < readers; r++ {
		go func() {
			defer func() { done <- struct{}{} }()
			from := uint64(1 + r*benchReadEvents/readers)
			for read.Load() < int64(b.N) {
				evs, err := env.svc.ReadAll(ctx, pRoot, from, page, Filter{Types: []string{"OrderPlaced"}})
				if err != nil {
					b.Error(err)
					return
				}
				if len(evs) == 0 {
					from = 1
					continue
				}
				read.Add(int64(len(evs)))
				from = evs[len(evs)-1].Position + 1
			}
		}()
	}
	for r := 0; r < readers; r++ {
		<-done
	}
	m.report(b, int(read.Load()))
}

func fillReadEvents(b *testing.B, env *testEnv) {
	b.Helper()
	ctx := context.Background()
	for i := 0; i < benchReadEvents; i += 500 {
		evs := make([]EventInput, 500)
		for j := range evs {
			evs[j] = EventInput{Type: "OrderPlaced", Data: benchEvent((i + j) % 2000)}
		}
		if _, err := env.svc.Append(ctx, pService, fmt.Sprintf("r-%d", i/500), Any, evs); err != nil {
			b.Fatal(err)
		}
	}
}
