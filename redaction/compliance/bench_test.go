package compliance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/redaction"
)

// benchErasures is the number of recorded erasures of the re-apply
// benchmark (PIIVAULT_BENCH_ERASURES overrides it).
func benchErasures() int {
	if n, err := strconv.Atoi(os.Getenv("PIIVAULT_BENCH_ERASURES")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// recordErasures appends n ErasureRequested events (subjects that had values
// or not does not matter to the vault's Erase).
func recordErasures(b testing.TB, l *eventlog.Log, n int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	for i := 0; i < n; {
		var batch []eventlog.EventData
		for ; i < n && len(batch) < 1000; i++ {
			body, _ := json.Marshal(erasureRequested{ErasureID: fmt.Sprintf("e-%d", i), Subject: fmt.Sprintf("subject-%d", i),
				RequestID: fmt.Sprintf("rq-%d", i), Principal: "dpo-1", RequestedAt: now})
			batch = append(batch, eventlog.EventData{Type: EventErasureRequested, Data: body})
		}
		if _, err := l.AppendSystem(ctx, StreamErasures, eventlog.Any, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReapply measures the start-up re-application of every erasure
// recorded in $erasures (issue 6: 100,000 in under 10 s).
//
//   - restore: the vault is an (empty) older backup, so every erasure is
//     written again (tombstone, purge marker);
//   - start: the vault already holds every tombstone (a normal restart).
func BenchmarkReapply(b *testing.B) {
	n := benchErasures()
	ctx := context.Background()
	workers, _ := strconv.Atoi(os.Getenv("PIIVAULT_BENCH_WORKERS"))
	e := newEnv(b, Options{ReapplyWorkers: workers})
	recordErasures(b, e.log, n)
	vaultDir := filepath.Join(e.dir, "vault")
	b.Run(fmt.Sprintf("restore/n=%d", n), func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			e.close()
			if err := os.RemoveAll(vaultDir); err != nil {
				b.Fatal(err)
			}
			e.open()
			b.StartTimer()
			got, err := e.comp.Reapply(ctx)
			if err != nil || got != n {
				b.Fatalf("Reapply = %d, %v; want %d", got, err, n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/reapply")
		logs := strings.Split(strings.TrimSpace(e.out.String()), "\n")
		for i := len(logs) - 1; i >= 0; i-- {
			if strings.Contains(logs[i], "erasures re-applied") {
				b.Log(logs[i])
				break
			}
		}
	})
	b.Run(fmt.Sprintf("start/n=%d", n), func(b *testing.B) {
		for b.Loop() {
			got, err := e.comp.Reapply(ctx)
			if err != nil || got != n {
				b.Fatalf("Reapply = %d, %v; want %d", got, err, n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/reapply")
	})
}

// BenchmarkExport1000 measures the export of a subject referred to by
// 1,000 events (issue 6: under 200 ms).
func BenchmarkExport1000(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	for i := 0; i < 10; i++ {
		var batch []redaction.EventInput
		for j := 0; j < 100; j++ {
			data, _ := json.Marshal(map[string]string{"customerId": "big", "email": fmt.Sprintf("big%d@example.com", i*100+j),
				"phone": "+1 415 555 0100", "name": "Big Subject"})
			batch = append(batch, redaction.EventInput{Type: "CustomerRegistered", Data: data})
		}
		if _, err := e.svc.Append(ctx, pService, "customer-big", redaction.Any, batch); err != nil {
			b.Fatal(err)
		}
	}
	x, err := e.svc.Export(ctx, pDPO, "big")
	if err != nil || len(x.Events) != 1000 || len(x.Values) != 3000 {
		b.Fatalf("Export = %d events, %d values, %v", len(x.Events), len(x.Values), err)
	}
	for b.Loop() {
		if _, err := e.svc.Export(ctx, pDPO, "big"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/export")
}

// BenchmarkRequest measures Request (policy, hold check, ErasureRequested,
// vault erasure, SubjectErased, audit) on the embedded vault, with a log of
// PIIVAULT_BENCH_LOG_EVENTS events (default 10,000), and reports p50 and
// p99. The purge and receipt happen later, off the request.
func BenchmarkRequest(b *testing.B) {
	ctx := context.Background()
	events := 10_000
	if n, err := strconv.Atoi(os.Getenv("PIIVAULT_BENCH_LOG_EVENTS")); err == nil && n > 0 {
		events = n
	}
	e := newEnv(b, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	for i := 0; i < events; i += 100 {
		var batch []redaction.EventInput
		for j := i; j < min(i+100, events); j++ {
			data, _ := json.Marshal(map[string]string{"customerId": fmt.Sprintf("s-%d", j), "email": fmt.Sprintf("u%d@example.com", j), "name": "N"})
			batch = append(batch, redaction.EventInput{Type: "CustomerRegistered", Data: data})
		}
		if _, err := e.svc.Append(ctx, pService, fmt.Sprintf("customer-%d", i), redaction.Any, batch); err != nil {
			b.Fatal(err)
		}
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := e.comp.Request(ctx, pDPO, fmt.Sprintf("s-%d", i%events), redaction.ErasureRequest{RequestID: fmt.Sprintf("bench-%d", i)}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
