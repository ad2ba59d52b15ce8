package redaction

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/vault"
)

func TestZZTiming(t *testing.T) {
	env := newEnv(t, envConfig{embedded: true})
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		var entries []vault.Entry
		var evs []eventlog.EventData
		for i := 0; i < 100; i++ {
			for k := 0; k < 3; k++ {
				entries = append(entries, vault.Entry{Subject: fmt.Sprintf("c%d-%d", round, i), Class: "email", Value: vault.NewPII([]byte(`"x@example.com"`))})
			}
			evs = append(evs, eventlog.EventData{Type: "T", Data: benchEvent(i)})
		}
		t0 := time.Now()
		if _, err := env.store.Put(ctx, entries); err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		if _, err := env.log.Append(ctx, "s", eventlog.Any, evs); err != nil {
			t.Fatal(err)
		}
		t2 := time.Now()
		if _, err := env.log.AppendSystem(ctx, "$x", eventlog.Any, evs[:1]); err != nil {
			t.Fatal(err)
		}
		t3 := time.Now()
		toks := make([]vault.Token, 0)
		_ = toks
		t.Logf("put %v append %v one-system-append %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2))
	}
}

func BenchmarkZZRawLog64(b *testing.B) {
	env := newEnv(b, envConfig{embedded: true})
	ctx := context.Background()
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := env.log.Append(ctx, "x", eventlog.Any, []eventlog.EventData{{Type: "T", Data: benchEvent(1)}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ev/s")
}

func BenchmarkZZRawPut64(b *testing.B) {
	env := newEnv(b, envConfig{embedded: true})
	ctx := context.Background()
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	var n atomicInt
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.add()
			e := []vault.Entry{}
			for k := 0; k < 3; k++ {
				e = append(e, vault.Entry{Subject: fmt.Sprintf("c%d", i), Class: "email", Value: vault.NewPII([]byte(`"x@example.com"`))})
			}
			if _, err := env.store.Put(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ev/s")
}

type atomicInt struct{ v atomic.Int64 }

func (a *atomicInt) add() int64 { return a.v.Add(1) }

func BenchmarkZZRawBoth64(b *testing.B) {
	env := newEnv(b, envConfig{embedded: true})
	ctx := context.Background()
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	var n atomicInt
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.add()
			e := []vault.Entry{}
			for k := 0; k < 3; k++ {
				e = append(e, vault.Entry{Subject: fmt.Sprintf("c%d", i), Class: "email", Value: vault.NewPII([]byte(`"x@example.com"`))})
			}
			if _, err := env.store.Put(ctx, e); err != nil {
				b.Error(err)
				return
			}
			if _, err := env.log.Append(ctx, "x", eventlog.Any, []eventlog.EventData{{Type: "T", Data: benchEvent(1)}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ev/s")
}

