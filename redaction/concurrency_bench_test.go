package redaction

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/piivault/piivault/eventlog"
)

// BenchmarkReadRevealedPage100x16: 16 concurrent readers, each reading
// pages of 100 with every field revealed, the shape of the load tool's
// read-100 without HTTP. Each page writes its own audit record, so this
// shows whether concurrent pages share the log's group commit. b.N counts
// events.
func BenchmarkReadRevealedPage100x16(b *testing.B) {
	env := benchEnv(b)
	ctx := context.Background()
	fillReadEvents(b, env)
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	var read atomic.Int64
	const readers = 16
	done := make(chan struct{}, readers)
	for r := 0; r < readers; r++ {
		go func() {
			defer func() { done <- struct{}{} }()
			from := uint64(1 + r*benchReadEvents/readers)
			for read.Load() < int64(b.N) {
				evs, err := env.svc.ReadAll(ctx, pRoot, from, 100, eventlog.Filter{Types: []string{"OrderPlaced"}})
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
	b.ReportMetric(float64(read.Load())/time.Since(start).Seconds(), "ev/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(read.Load()), "cpu-µs/ev")
}

// BenchmarkAppendBatch100x64: 64 concurrent appenders of batches of 100
// (100 subjects each), the 64 appenders with batched requests.
func BenchmarkAppendBatch100x64(b *testing.B) {
	benchBatches(b, 64)
}
