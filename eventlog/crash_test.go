package eventlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/internal/testenv"
)

const (
	crashChildEnv  = "EVENTLOG_CRASH_CHILD_DIR" // set in the child: the log directory
	crashRoundsEnv = "EVENTLOG_CRASH_ROUNDS"    // more rounds than the default
)

// crashAck is one line the child prints after an append returned.
type crashAck struct {
	Pos      uint64          `json:"p"`
	Stream   string          `json:"s"`
	Version  uint64          `json:"v"`
	ID       uuid.UUID       `json:"id"`
	Type     string          `json:"t"`
	Data     json.RawMessage `json:"d"`
	Metadata json.RawMessage `json:"m,omitempty"`
}

// TestCrash kills a child process that appends in a loop with SIGKILL at
// random moments, then reopens the log and checks that every acknowledged
// event is there, byte for byte, with no gap and an intact chain.
func TestCrash(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	testenv.SkipUnlessSlow(t)
	rounds := 30
	if s := os.Getenv(crashRoundsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashRoundsEnv, s, err)
		}
		rounds = n
	}
	dir := t.TempDir()
	acked := map[uint64]crashAck{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	start := time.Now()
	for round := 0; round < rounds; round++ {
		n := crashRound(t, dir, time.Duration(20+rng.IntN(200))*time.Millisecond, acked)
		checkAfterCrash(t, dir, acked)
		t.Logf("round %d: %d acks (%d total)", round, n, len(acked))
	}
	if len(acked) == 0 {
		t.Fatal("the child acknowledged nothing in any round")
	}
	t.Logf("%d rounds, %d acknowledged events, %v", rounds, len(acked), time.Since(start).Round(time.Millisecond))
}

// crashRound runs the child for about d after its first ack, kills it and
// collects its acks. It returns how many acks the round produced.
func crashRound(t *testing.T, dir string, d time.Duration, acked map[uint64]crashAck) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil { // a torn last line is an ack we cannot check; drop it
				io.Copy(io.Discard, r)
				return
			}
			lines <- line
		}
	}()
	n := 0
	var deadline <-chan time.Time
	timeout := time.After(30 * time.Second)
	killed := false
	for !killed {
		select {
		case line, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("child exited before it was killed: %s", stderr.String())
			}
			n += addAck(t, line, acked)
			if deadline == nil {
				deadline = time.After(d)
			}
		case <-deadline:
			killed = true
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("child acknowledged nothing in 30 s: %s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		n += addAck(t, line, acked)
	}
	cmd.Wait()
	return n
}

func addAck(t *testing.T, line string, acked map[uint64]crashAck) int {
	t.Helper()
	if !strings.HasPrefix(line, "{") {
		return 0 // test framework output
	}
	var a crashAck
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		t.Fatalf("child printed %q: %v", line, err)
	}
	if prev, dup := acked[a.Pos]; dup {
		t.Fatalf("position %d acknowledged twice: %+v and %+v", a.Pos, prev, a)
	}
	acked[a.Pos] = a
	return 1
}

func checkAfterCrash(t *testing.T, dir string, acked map[uint64]crashAck) {
	t.Helper()
	ctx := context.Background()
	l, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer l.Close()
	head, _ := l.Head(ctx)
	for pos := uint64(1); pos <= head; {
		evs, err := l.ReadAll(ctx, pos, 1000, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			t.Fatalf("ReadAll(%d) empty below head %d", pos, head)
		}
		for _, e := range evs {
			if e.Position != pos {
				t.Fatalf("gap: got position %d, want %d", e.Position, pos)
			}
			if a, ok := acked[pos]; ok {
				if e.ID != a.ID || e.Stream != a.Stream || e.Version != a.Version || e.Type != a.Type ||
					!bytes.Equal(e.Data, a.Data) || !bytes.Equal(e.Metadata, a.Metadata) {
					t.Fatalf("position %d = %s@%d %s %q, acknowledged as %s@%d %s %q",
						pos, e.Stream, e.Version, e.ID, e.Data, a.Stream, a.Version, a.ID, a.Data)
				}
			}
			pos++
		}
	}
	for pos := range acked {
		if pos > head {
			t.Fatalf("acknowledged position %d lost: head after reopen is %d", pos, head)
		}
	}
	vr, err := l.Verify(ctx)
	if err != nil || !vr.OK || vr.HeadPosition != head {
		t.Fatalf("Verify after crash = %+v, %v (head %d)", vr, err, head)
	}
	if pos, hash, err := l.HeadHash(ctx); err != nil || pos != head || hash != vr.HeadHash {
		t.Fatalf("HeadHash after reopen = %d, %x, %v; Verify says %d, %x", pos, hash, err, head, vr.HeadHash)
	}
}

// crashChild appends from a few goroutines until it is killed, printing
// one JSON line per acknowledged event.
func crashChild(dir string) {
	l, err := Open(dir, DefaultOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	for g := 0; g < 4; g++ {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
			stream := fmt.Sprintf("crash-%d-%d", os.Getpid(), g)
			for i := 0; ; i++ {
				n := 1 + rng.IntN(3)
				evs := make([]EventData, n)
				for j := range evs {
					pad := strings.Repeat("x", rng.IntN(2000))
					if rng.IntN(20) == 0 {
						pad = strings.Repeat("y", 50_000+rng.IntN(50_000))
					}
					evs[j] = EventData{
						ID:   uuid.New(),
						Type: []string{"small", "big"}[len(pad)/10_000%2],
						Data: json.RawMessage(fmt.Sprintf(`{"g":%d,"i":%d,"j":%d,"pad":%q}`, g, i, j, pad)),
					}
					if j == 0 {
						evs[j].Metadata = json.RawMessage(`{"m":1}`)
					}
				}
				res, err := l.Append(context.Background(), stream, Any, evs)
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(3)
				}
				mu.Lock()
				for j, e := range evs {
					line, _ := json.Marshal(crashAck{
						Pos: res.FirstPosition + uint64(j), Stream: stream, Version: res.FirstVersion + uint64(j),
						ID: e.ID, Type: e.Type, Data: e.Data, Metadata: e.Metadata,
					})
					w.Write(line)
					w.WriteByte('\n')
				}
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	select {}
}
