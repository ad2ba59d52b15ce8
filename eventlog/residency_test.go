package eventlog

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestResidencyAdviceKeepsData pages Badger's files out continuously while
// appending and reading, and checks that every event reads back intact.
func TestResidencyAdviceKeepsData(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("mapping advice is Linux-only")
	}
	ctx := context.Background()
	opts := DefaultOptions()
	opts.MaxMappedResident = 1 // always above: page out whenever allowed
	opts.ValueLogFileSize = 1 << 20
	opts.AdviseInterval = 5 * time.Millisecond
	l, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := map[uint64][]byte{}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; l.pageOuts.Load() < 2 || i < 40; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no page-out after %d appends", i)
		}
		evs := make([]EventData, 50)
		for j := range evs {
			evs[j] = EventData{Type: "t", Data: []byte(fmt.Sprintf(`{"i":%d,"j":%d,"pad":%q}`, i, j, bytes.Repeat([]byte{'a' + byte(j%26)}, 2000)))}
		}
		res, err := l.Append(ctx, "s", Any, evs)
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range evs {
			want[res.FirstPosition+uint64(j)] = e.Data
		}
		time.Sleep(time.Millisecond)
	}
	for from := uint64(1); from <= uint64(len(want)); {
		evs, err := l.ReadAll(ctx, from, 500, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if !bytes.Equal(e.Data, want[e.Position]) {
				t.Fatalf("position %d reads %.40q, want %.40q", e.Position, e.Data, want[e.Position])
			}
		}
		from += uint64(len(evs))
	}
	if vr, err := l.Verify(ctx); err != nil || !vr.OK {
		t.Fatalf("Verify = %+v, %v", vr, err)
	}
	t.Logf("%d events, %d page-outs", len(want), l.pageOuts.Load())
}
