package eventlog

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const stallEnv = "EVENTLOG_STALL1M" // set to run TestAppendLatencyAfterFill1M

// badgerEvents is a slog.Handler that keeps Badger's messages about write
// stalls and memtable flushes, with the time they were logged.
type badgerEvents struct {
	mu    sync.Mutex
	start time.Time
	lines []string
}

func (h *badgerEvents) Enabled(context.Context, slog.Level) bool { return true }
func (h *badgerEvents) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *badgerEvents) WithGroup(string) slog.Handler            { return h }
func (h *badgerEvents) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn && !strings.Contains(r.Message, "stall") && !strings.Contains(r.Message, "Flushing memtable") {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, fmt.Sprintf("%8.3fs %s %s", time.Since(h.start).Seconds(), r.Level, r.Message))
	return nil
}

func (h *badgerEvents) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.lines
	h.lines = nil
	return out
}

// TestAppendLatencyAfterFill1M fills the log with 1,000,000 1 KiB events
// (4 appenders, batches of 100, a stream per batch, each event tagged with
// one of its batch's 10 subjects: the redaction service's shape), then
// measures single-event appends one after another for
// EVENTLOG_STALL_PROBE (default 30s): the latency an erasure's append sees
// right after a bulk load. It logs p50/p99/max, the slow appends with
// their time, Badger's stall and flush messages, and the number of
// level-0 tables over time, and fails if Badger stalled writes (its "L0
// was stalled" message, logged past 1 s) or p99 reaches 50 ms. It takes
// about a minute: set EVENTLOG_STALL1M=1.
func TestAppendLatencyAfterFill1M(t *testing.T) {
	if os.Getenv(stallEnv) == "" {
		t.Skipf("set %s=1 to fill the log with 1,000,000 events and measure appends after", stallEnv)
	}
	probe := 30 * time.Second
	if s := os.Getenv("EVENTLOG_STALL_PROBE"); s != "" {
		var err error
		if probe, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	const total, workers, batch = 1_000_000, 4, 100
	ctx := context.Background()
	events := &badgerEvents{start: time.Now()}
	opts := DefaultOptions()
	opts.Logger = slog.New(events)
	opts.BadgerLogLevel = slog.LevelDebug
	l, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			l.Close()
		}
	}()

	l0 := func() int {
		n := 0
		for _, ti := range l.db.Tables() {
			if ti.Level == 0 {
				n++
			}
		}
		return n
	}
	// The redaction service's shape: a stream per batch, events tagged
	// with one of the batch's 10 subjects in turn.
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := make([]EventData, batch)
			for {
				b := next.Add(batch)
				if b > total {
					return
				}
				for i := range evs {
					evs[i] = EventData{Type: "fill", Data: event1KiB, Tags: []string{fmt.Sprintf("subject-%d-%d", b, i%10)}}
				}
				if _, err := l.Append(ctx, fmt.Sprintf("fill-%d", b), Any, evs); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	fill := time.Since(start)
	fillLines := events.take()
	stalls := 0
	for _, s := range fillLines {
		if strings.Contains(s, "stall") {
			stalls++
		}
	}
	t.Logf("fill: %d events in %v (%.0f ev/s); %d Badger messages, %d about stalls; L0 tables at the end: %d",
		total, fill.Round(time.Millisecond), total/fill.Seconds(), len(fillLines), stalls, l0())

	// Probe: one single-event append after another.
	type sample struct {
		at, took time.Duration
	}
	var samples []sample
	var l0s []string
	pstart := time.Now()
	lastL0 := time.Time{}
	one := []EventData{{Type: "probe", Data: event1KiB}}
	for time.Since(pstart) < probe {
		t0 := time.Now()
		if _, err := l.Append(ctx, "probe", Any, one); err != nil {
			t.Fatal(err)
		}
		took := time.Since(t0)
		samples = append(samples, sample{t0.Sub(pstart), took})
		if time.Since(lastL0) >= time.Second {
			l0s = append(l0s, fmt.Sprintf("%.0fs:%d", time.Since(pstart).Seconds(), l0()))
			lastL0 = time.Now()
		}
	}
	d := make([]time.Duration, len(samples))
	for i, s := range samples {
		d[i] = s.took
	}
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	t.Logf("after the fill: %d single appends in %v: p50 %v, p99 %v, p99.9 %v, max %v",
		len(d), probe, q(0.50).Round(time.Microsecond), q(0.99).Round(time.Microsecond), q(0.999).Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond))
	slow := 0
	for _, s := range samples {
		if s.took > 50*time.Millisecond {
			slow++
			if slow <= 20 {
				t.Logf("  slow append at +%.3fs (%.3fs after start): %v", s.at.Seconds(), (s.at + pstart.Sub(events.start)).Seconds(), s.took.Round(time.Millisecond))
			}
		}
	}
	t.Logf("appends over 50ms: %d; L0 tables per second: %s", slow, strings.Join(l0s, " "))
	closed = true
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range events.take() {
		t.Logf("  badger %s", s)
		if strings.Contains(s, "L0 was stalled") {
			t.Errorf("Badger stalled writes: %s", s)
		}
	}
	if p99 := q(0.99); p99 >= 50*time.Millisecond {
		t.Errorf("append p99 after the fill = %v, want < 50ms", p99)
	}
}
