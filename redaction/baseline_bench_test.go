package redaction

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/vault"
)

// The baselines measure the two durable stores alone, in the same process
// and moment as the redaction benchmarks, so their figures can be reported
// as ratios on a shared, noisy machine.

func BenchmarkBaselineLogAppend64(b *testing.B) {
	env := newEnv(b, envConfig{embedded: true, quiet: true})
	ctx := context.Background()
	b.SetParallelism(32)
	b.ResetTimer()
	m := startMeter()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := env.log.Append(ctx, "x", eventlog.Any, []eventlog.EventData{{Type: "T", Data: benchEvent(1)}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	m.report(b, b.N)
}

func BenchmarkBaselineVaultPut64(b *testing.B) {
	env := newEnv(b, envConfig{embedded: true, quiet: true})
	ctx := context.Background()
	b.SetParallelism(32)
	b.ResetTimer()
	m := startMeter()
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
	m.report(b, b.N)
}

type atomicInt struct{ v atomic.Int64 }

func (a *atomicInt) add() int64 { return a.v.Add(1) }

func BenchmarkBaselinePutThenAppend64(b *testing.B) {
	env := newEnv(b, envConfig{embedded: true, quiet: true})
	ctx := context.Background()
	b.SetParallelism(32)
	b.ResetTimer()
	m := startMeter()
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
	m.report(b, b.N)
}
