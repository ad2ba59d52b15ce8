package redaction

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A caller that gives up (an HTTP client that disconnects) while its events
// wait in the log's queue must not cost the events their values: the log
// may still commit them, so Append waits for the log's answer and deletes
// values only for events that were refused.
func TestAppendCancelledWhileQueuedKeepsValues(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{embedded: true})
	mustPutSchema(t, env.svc, "CustomerRegistered", customerSchema)
	gate, queued := make(chan struct{}), make(chan struct{}, 1)
	env.flaky.setGate(gate, queued)

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := env.svc.Append(cctx, pService, "customer-7", NoStream, []EventInput{{
			Type: "CustomerRegistered",
			Data: json.RawMessage(`{"customerId":"cust-7","email":"late.canary@example.com"}`),
		}})
		done <- err
	}()
	<-queued
	cancel()
	var err error
	returned := false
	select {
	case err = <-done: // Append gave up with the caller: the bug
		returned = true
	case <-time.After(200 * time.Millisecond):
	}
	close(gate)
	if !returned {
		err = <-done
	}
	env.flaky.bg.Wait()
	env.flaky.setGate(nil, nil)

	evs, rerr := env.svc.ReadStream(ctx, pRoot, "customer-7", 1, 10, Forward)
	if rerr != nil {
		t.Fatalf("ReadStream = %v", rerr)
	}
	if len(evs) != 1 {
		t.Fatalf("the log holds %d events of customer-7 (Append returned %v), want the one committed", len(evs), err)
	}
	if err != nil {
		t.Errorf("Append = %v for events the log committed", err)
	}
	if !strings.Contains(string(evs[0].Data), "late.canary@example.com") {
		t.Errorf("committed event lost its value: %s (pii %+v)", evs[0].Data, evs[0].PII)
	}
}
