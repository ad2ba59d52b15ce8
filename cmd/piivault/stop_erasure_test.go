package main

import (
	"context"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

// TestComplianceStopFinishesErasure (#16 item 19): a graceful stop right
// after an erasure, long before the embedded vault's background purge
// (5 s of quiet), purges and completes it before the stores close: the
// log says so, no canary is left in the stopped data folder, and the
// erasure reads completed at once after a restart.
func TestComplianceStopFinishesErasure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newCompSidecar(t, "sidecar")
	cust := newCustomer(t, "stop")
	s.start()
	if _, err := s.as("admin", "").PutSchema(ctx, "CustomerRegistered", customerSchema); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	if _, err := s.as("service", "").Append(ctx, "customer-"+cust.id, sdk.NoStream, cust.event(t)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	er, err := s.as("dpo", "").Erase(ctx, cust.id, sdk.ErasureRequest{Reason: "customer request"})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	off := len(s.out.Bytes())
	s.stop()
	if l := s.logLine(off, "erasures finished at shutdown"); l == nil || l["completed"] != float64(1) {
		t.Errorf("log line 'erasures finished at shutdown' = %v; want completed 1", l)
	}
	s.scanStopped(cust.canaries())
	// Completed before the stop, not by the next start's worker (its
	// first run is 10 s after the start).
	s.start()
	if got, err := s.as("dpo", "").GetErasure(ctx, er.ErasureID); err != nil || got.Status != sdk.ErasureCompleted {
		t.Errorf("erasure right after the restart = %+v, %v; want completed", got, err)
	}
	s.stop()
}
