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

// TestPageOutKeepsValueLogCached reads a log back after the residency loop
// has paged its files out, and counts the major faults (reads from the
// disk) of that read. The value log, which holds the events, must come
// back from the page cache: MADV_PAGEOUT on it dropped the pages from the
// cache, and then every read of an older event waited for the disk while
// holding one of the process's Ps (a fault is not a syscall, so the Go
// scheduler does not hand the P over), which capped the load tool's
// read-100 at 28,000-40,000 ev/s with one core idle.
func TestPageOutKeepsValueLogCached(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("mapping advice is Linux-only")
	}
	ctx := context.Background()
	opts := DefaultOptions()
	opts.MaxMappedResident = 1 << 20
	opts.ValueLogFileSize = 2 << 20
	opts.AdviseInterval = 5 * time.Millisecond
	l, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const batches, perBatch = 80, 100 // 16 MB of 2 KB events
	evs := make([]EventData, perBatch)
	for i := range evs {
		evs[i] = EventData{Type: "t", Data: []byte(fmt.Sprintf(`{"pad":%q}`, bytes.Repeat([]byte{'a' + byte(i%26)}, 2000)))}
	}
	for i := 0; i < batches; i++ {
		if _, err := l.Append(ctx, fmt.Sprintf("s-%d", i), Any, evs); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func() {
		t.Helper()
		n := 0
		for from := uint64(1); ; {
			got, err := l.ReadAll(ctx, from, 1000, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				break
			}
			n += len(got)
			from = got[len(got)-1].Position + 1
		}
		if n != batches*perBatch {
			t.Fatalf("read %d events, want %d", n, batches*perBatch)
		}
	}
	readAll()
	// Wait for a page-out after the read (at most one a second).
	p0 := l.pageOuts.Load()
	for deadline := time.Now().Add(10 * time.Second); l.pageOuts.Load() == p0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no page-out within 10 s")
		}
	}
	major0, minor0 := pageFaults(t)
	readAll()
	major1, minor1 := pageFaults(t)
	major := major1 - major0
	pages := int64(batches * perBatch * 2048 / 4096)
	t.Logf("re-read of %d value-log pages after a page-out: %d major faults, %d minor", pages, major, minor1-minor0)
	if major > pages/20 {
		t.Errorf("re-read after a page-out: %d major faults for %d pages of events, want under %d: the value log left the page cache", major, pages, pages/20)
	}
}
