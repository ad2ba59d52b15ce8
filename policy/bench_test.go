package policy

import (
	"context"
	"testing"
)

// benchInput is a typical field question: one principal, one field.
var benchInput = Input{
	Principal: Principal{ID: "agent-7", Roles: []string{"support"}},
	Action:    ActionRead, Purpose: "support",
	Resource: Resource{Stream: "customer-42", EventType: "CustomerRegistered", Subject: "cust-42", Path: "/email", Class: "email"},
}

func benchEngine(b *testing.B, cacheSize int, hook func(DecisionRecord)) *Engine {
	b.Helper()
	opts := DefaultOptions()
	opts.Watch, opts.CacheSize, opts.DecisionLog = false, cacheSize, hook
	return newEngine(b, opts)
}

func benchDecide(b *testing.B, e *Engine, kind Kind) {
	ctx := context.Background()
	ask := e.Field
	if kind == KindRequest {
		ask = e.Authorize
	}
	if _, err := ask(ctx, benchInput); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ask(ctx, benchInput); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFieldCached(b *testing.B) { benchDecide(b, benchEngine(b, 1<<16, nil), KindField) }

func BenchmarkAuthorizeCached(b *testing.B) { benchDecide(b, benchEngine(b, 1<<16, nil), KindRequest) }

func BenchmarkFieldCachedDecisionLog(b *testing.B) {
	n := 0
	benchDecide(b, benchEngine(b, 1<<16, func(DecisionRecord) { n++ }), KindField)
}

func BenchmarkFieldUncached(b *testing.B) { benchDecide(b, benchEngine(b, 0, nil), KindField) }

func BenchmarkAuthorizeUncached(b *testing.B) { benchDecide(b, benchEngine(b, 0, nil), KindRequest) }

func BenchmarkFieldCachedParallel(b *testing.B) {
	e := benchEngine(b, 1<<16, nil)
	ctx := context.Background()
	if _, err := e.Field(ctx, benchInput); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.Field(ctx, benchInput); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
