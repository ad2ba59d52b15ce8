package main

import (
	"context"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

// TestComplianceRetentionRunsByItself (#16 item 18): with --retention
// phone=2s and no call of POST /v1/admin/retention/run, the phone expires
// within the period plus the job's fitted interval (half the shortest rule,
// at least 1 s); with the hourly job it never did.
func TestComplianceRetentionRunsByItself(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const period = 2 * time.Second
	s := newCompSidecar(t, "sidecar", "PIIVAULT_RETENTION=phone="+period.String())
	s.start()
	defer s.stop()
	cust := newCustomer(t, "bgretention")
	if _, err := s.as("admin", "").PutSchema(ctx, "CustomerRegistered", customerSchema); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	stream := "customer-" + cust.id
	if _, err := s.as("service", "").Append(ctx, stream, sdk.NoStream, cust.event(t)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	appended := time.Now()
	support := s.as("support", "support")
	for {
		evs, err := readStream(t, support, stream)
		if err != nil || len(evs) != 1 {
			t.Fatalf("read: %d events, %v", len(evs), err)
		}
		st := states(evs[0])
		if st["/phone"] == sdk.StateExpired {
			if st["/email"] == sdk.StateExpired {
				t.Errorf("/email expired too; only the phone rule exists")
			}
			t.Logf("phone expired %s after the append (period %s)", time.Since(appended).Round(time.Millisecond), period)
			return
		}
		if time.Since(appended) > period+5*time.Second { // period + interval (1 s) + slack for a loaded machine
			t.Fatalf("/phone = %s %s after the append with a %s rule; want expired by the background job", st["/phone"], time.Since(appended).Round(time.Millisecond), period)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
