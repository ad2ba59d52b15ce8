package redaction

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkReadStream100 reads pages of 100 events of one stream of one
// customer through ReadStream, the shape of the HTTP load tool's read-100:
// as root (every field revealed) and as support (email and name revealed,
// phone masked). 50 streams of 100 events are read in turn. b.N counts
// events.
func BenchmarkReadStream100(b *testing.B) {
	for _, bc := range []struct {
		name string
		a    Access
	}{{"root", pRoot}, {"support", pSupport}} {
		b.Run(bc.name, func(b *testing.B) {
			env := benchEnv(b)
			ctx := context.Background()
			const streams = 50
			for s := 0; s < streams; s++ {
				evs := make([]EventInput, 100)
				for j := range evs {
					evs[j] = EventInput{Type: "OrderPlaced", Data: benchEvent(s)} // one customer per stream
				}
				if _, err := env.svc.Append(ctx, pService, fmt.Sprintf("cust-%d", s), Any, evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			m := startMeter()
			read := 0
			for i := 0; read < b.N; i++ {
				evs, err := env.svc.ReadStream(ctx, bc.a, fmt.Sprintf("cust-%d", i%streams), 1, 100, Forward)
				if err != nil {
					b.Fatal(err)
				}
				if len(evs) != 100 || evs[0].PII[0].State != StateRevealed {
					b.Fatalf("read %d events, first field %s", len(evs), evs[0].PII[0].State)
				}
				read += len(evs)
			}
			m.report(b, read)
		})
	}
}
