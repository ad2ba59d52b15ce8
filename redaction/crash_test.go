package redaction

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/vault"
)

const crashEnv = "PIIVAULT_REDACTION_CRASH_DIR"

// TestAppendCrashChild is the child of TestAppendKill9: it appends events
// with PII (embedded vault, values put unsynced and synced by the log's
// writer before its group commit) until it is killed, printing each
// acknowledged append.
func TestAppendCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestAppendKill9")
	}
	ctx := context.Background()
	lg := slog.New(slog.DiscardHandler)
	st := openEmbedded(t, dir, lg)
	l, err := eventlog.Open(dir+"/log", eventlog.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	po := policy.DefaultOptions()
	po.Watch = false
	pol, err := policy.New(ctx, po)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newService(ctx, l, st, pol, Options{SweepInterval: -1, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	emit := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(out, line)
		out.Flush()
	}
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("crash-%d-%d", os.Getpid(), w)
			for i := 0; ; i++ {
				data := fmt.Sprintf(`{"customerId":"%s-%d","email":"c%d@example.com","name":"N %d"}`, stream, i, i, i)
				res, err := svc.Append(ctx, pService, stream, Any, []EventInput{ev("CustomerRegistered", data)})
				if err != nil {
					emit("error " + err.Error())
					return
				}
				emit(fmt.Sprintf("appended %s %d", stream, res.FirstVersion))
			}
		}()
	}
	wg.Wait()
}

// TestAppendKill9 kills an appending process with SIGKILL and checks that
// every acknowledged append survived and that no event in the log (also
// those not yet acknowledged) refers to a value the vault lacks. (A kill
// leaves the page cache alone, so this tests the order of the two
// commits, not fsync.)
func TestAppendKill9(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		return
	}
	testenv.SkipUnlessSlow(t)
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAppendCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]uint64{} // stream -> highest acknowledged version
		n := 0
		sc := bufio.NewScanner(stdout)
		deadline := time.Now().Add(30 * time.Second)
		for sc.Scan() {
			var stream string
			var v uint64
			switch f := strings.Fields(sc.Text()); {
			case len(f) == 3 && f[0] == "appended":
				if _, err := fmt.Sscan(f[1]+" "+f[2], &stream, &v); err == nil && v > acked[stream] {
					acked[stream] = v
				}
				n++
			case len(f) > 0 && f[0] == "error":
				t.Fatalf("child: %s", sc.Text())
			}
			if n >= 1500 || time.Now().After(deadline) {
				break
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if n < 50 {
			t.Fatalf("round %d: child acknowledged only %d appends", round, n)
		}
		checkAfterCrash(t, dir, round, acked)
	}
}

func checkAfterCrash(t *testing.T, dir string, round int, acked map[string]uint64) {
	t.Helper()
	ctx := context.Background()
	l, err := eventlog.Open(dir+"/log", eventlog.DefaultOptions())
	if err != nil {
		t.Fatalf("round %d: reopen log: %v", round, err)
	}
	defer l.Close()
	st := openEmbedded(t, dir, slog.New(slog.DiscardHandler))
	defer st.Close()
	for stream, v := range acked {
		info, err := l.StreamInfo(ctx, stream)
		if err != nil || info.Version < v {
			t.Errorf("round %d: %s at version %d after the crash (%v), %d acknowledged", round, stream, info.Version, err, v)
		}
	}
	var toks []vault.Token
	events := 0
	for from := uint64(1); ; {
		evs, err := l.ReadAll(ctx, from, 1000, eventlog.Filter{Types: []string{"CustomerRegistered"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			from = e.Position + 1
			trs, err := EventTokens(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range trs {
				toks = append(toks, tr.Token)
			}
			events++
		}
	}
	res, err := st.Resolve(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, r := range res {
		if r.State != vault.Found {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("round %d: %d of %d values of the log's %d events missing from the vault", round, missing, len(toks), events)
	}
	t.Logf("round %d: %d events, %d values, all in the vault", round, events, len(toks))
}
