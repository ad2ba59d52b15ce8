package eventlog

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
)

const (
	sustainedEnv = "EVENTLOG_SUSTAINED" // duration of TestSustainedLoad, e.g. 60s
	mem1MEnv     = "EVENTLOG_MEM1M"     // set to run TestResidentMemory1M
	maxRSS       = 512 << 20
	maxWriteAmp  = 10.0
)

// procIO returns the bytes this process caused to be written to storage
// (write_bytes minus cancelled_write_bytes of /proc/self/io). Pages written
// through Badger's memory maps count when they are dirtied.
func procIO(t testing.TB) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	defer f.Close()
	var w, c int64
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(s.Text(), ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "write_bytes":
			w = n
		case "cancelled_write_bytes":
			c = n
		}
	}
	return w - c
}

// memStatus returns VmHWM (peak resident), VmRSS, RssAnon and RssFile in bytes.
type memStatus struct{ peak, rss, anon, file int64 }

func (m memStatus) String() string {
	mib := func(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
	return fmt.Sprintf("peak %s, now %s (anon %s, file %s)", mib(m.peak), mib(m.rss), mib(m.anon), mib(m.file))
}

// resetPeak resets VmHWM, so a test measures its own peak and not that of
// the tests before it in the same process.
func resetPeak() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func readMem(t testing.TB) memStatus {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	var m memStatus
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		switch k {
		case "VmHWM":
			m.peak = n << 10
		case "VmRSS":
			m.rss = n << 10
		case "RssAnon":
			m.anon = n << 10
		case "RssFile":
			m.file = n << 10
		}
	}
	return m
}

// TestSustainedLoad runs 64 concurrent appenders of 1 KiB events for a
// while (3 s by default, EVENTLOG_SUSTAINED=60s for the full measurement)
// and checks disk write amplification (bytes written to storage / event
// bytes, at most 10) and resident memory (under 512 MiB).
func TestSustainedLoad(t *testing.T) {
	d := 3 * time.Second
	if s := os.Getenv(sustainedEnv); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("%s=%q: %v", sustainedEnv, s, err)
		}
	} else {
		testenv.SkipUnlessSlow(t)
	}
	ctx := context.Background()
	runtime.GC()
	resetPeak()
	l, err := Open(t.TempDir(), benchOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	before := procIO(t)
	var events atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("load-%d", w)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := l.Append(ctx, stream, Any, []EventData{{Type: "load", Data: event1KiB}}); err != nil {
					t.Error(err)
					return
				}
				events.Add(1)
			}
		}()
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(min(5*time.Second, time.Until(end)))
		if testing.Verbose() {
			t.Logf("%d events, %.2f amplification so far, %v", events.Load(),
				float64(procIO(t)-before)/float64(events.Load()*int64(len(event1KiB))), readMem(t))
		}
	}
	close(stop)
	wg.Wait()
	if path := os.Getenv("EVENTLOG_HEAPPROFILE"); path != "" { // where the anonymous memory goes
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	written := procIO(t) - before
	payload := events.Load() * int64(len(event1KiB))
	amp := float64(written) / float64(payload)
	mem := readMem(t)
	t.Logf("%v: %d events (%.0f ev/s), %.1f MiB of event data, %.1f MiB written to storage: write amplification %.2f; memory %v",
		d, events.Load(), float64(events.Load())/d.Seconds(), float64(payload)/(1<<20), float64(written)/(1<<20), amp, mem)
	if events.Load() == 0 {
		t.Fatal("no events appended")
	}
	if amp > maxWriteAmp {
		t.Errorf("write amplification %.2f > %.0f", amp, maxWriteAmp)
	}
	if mem.peak > maxRSS && !raceEnabled {
		t.Errorf("peak resident memory %v > 512 MiB", mem)
	}
}

// TestResidentMemory1M appends 1,000,000 1 KiB events (8 appenders,
// batches of 100) and checks that resident memory stays under 512 MiB
// during and after. It takes about a minute: set EVENTLOG_MEM1M=1.
func TestResidentMemory1M(t *testing.T) {
	if os.Getenv(mem1MEnv) == "" {
		t.Skipf("set %s=1 to append 1,000,000 events and check resident memory", mem1MEnv)
	}
	const total, workers, batch = 1_000_000, 8, 100
	ctx := context.Background()
	runtime.GC()
	resetPeak()
	l, err := Open(t.TempDir(), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	evs := make([]EventData, batch)
	for i := range evs {
		evs[i] = EventData{Type: "mem", Data: event1KiB}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	var peakAnon, peakFile atomic.Int64
	done := make(chan struct{})
	go func() { // sample the breakdown; VmHWM gives the true peak
		for {
			m := readMem(t)
			if m.anon > peakAnon.Load() {
				peakAnon.Store(m.anon)
			}
			if m.file > peakFile.Load() {
				peakFile.Store(m.file)
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(batch) <= total {
				if _, err := l.Append(ctx, fmt.Sprintf("mem-%d", w), Any, evs); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	elapsed := time.Since(start)
	during := readMem(t)
	runtime.GC()
	time.Sleep(2 * time.Second) // let compactions settle
	after := readMem(t)
	head, _ := l.Head(ctx)
	t.Logf("%d events in %v (%.0f ev/s); during: %v, sampled peaks anon %d MiB, file %d MiB; after: %v",
		head, elapsed.Round(time.Millisecond), float64(head)/elapsed.Seconds(), during, peakAnon.Load()>>20, peakFile.Load()>>20, after)
	if head != total {
		t.Errorf("head = %d, want %d", head, total)
	}
	if raceEnabled {
		t.Log("race detector on: memory limits not enforced")
		return
	}
	if during.peak > maxRSS {
		t.Errorf("peak resident memory %v > 512 MiB", during)
	}
	if after.rss > maxRSS {
		t.Errorf("resident memory after %v > 512 MiB", after)
	}
}
