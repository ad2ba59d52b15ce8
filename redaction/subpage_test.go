package redaction

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestSubscriptionHoldsABoundedPage is #15 item 9's memory bound: a
// subscriber that has read one event holds at most subscriptionPageBytes of
// events ahead of it (a whole 256-event page before), and still reads every
// event in order.
func TestSubscriptionHoldsABoundedPage(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	pad := strings.Repeat("x", 8<<10)
	const n = 100 // 100 events of 8 KiB: 800 KiB, above the bound
	var batch []EventInput
	for i := 0; i < n; i++ {
		batch = append(batch, ev("Blob", fmt.Sprintf(`{"i":%d,"pad":%q}`, i, pad)))
	}
	if _, err := svc.Append(ctx, pService, "blobs", Any, batch); err != nil {
		t.Fatal(err)
	}
	sub, err := svc.Subscribe(ctx, pRoot, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := 0; i < n; i++ {
		e, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"i":%d,`, i); !strings.HasPrefix(string(e.Data), want) {
			t.Fatalf("event %d = %.20s", i, e.Data)
		}
		held := 0
		for _, b := range sub.buf {
			held += len(b.Data) + len(b.Metadata)
		}
		if held > subscriptionPageBytes {
			t.Fatalf("after %d events the subscription holds %d bytes ahead (%d events), want at most %d", i+1, held, len(sub.buf), subscriptionPageBytes)
		}
	}
}
