package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/faultfs"
	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/sdk"
)

// pcAck is an append the sidecar acknowledged.
type pcAck struct {
	subject, email string
}

// TestPowerCutSidecar runs `piivault serve --dev` on faultfs and, round
// after round, appends PII events and erases subjects through the SDK,
// kills the process with SIGKILL, cuts the power (whatever was not fsynced
// is gone), and starts it again on the same folder. Then every
// acknowledged append must be there with its value, no event may lack its
// values, no value may be revealed for a subject whose erasure was
// acknowledged, the hash chain must verify, and both stores must have
// opened without repair.
func TestPowerCutSidecar(t *testing.T) {
	testenv.SkipUnlessSlow(t)
	rounds := faultfs.Rounds(t, 10)
	f, mnt := faultfs.ForTest(t) // before binary: its server child builds nothing
	binary(t)
	data := filepath.Join(mnt, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if d, err := os.Open(mnt); err == nil {
		d.Sync()
		d.Close()
	}
	root := "root-" + randHex(t, 8)
	env := []string{"PIIVAULT_DEV_ROOT_TOKEN=" + root}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+time.Duration(rounds)*30*time.Second)
	defer cancel()
	acked := map[string]pcAck{}     // stream -> its one event
	erased := map[string]bool{}     // subjects whose erasure was acknowledged
	eraseTried := map[string]bool{} // subjects an erasure was asked for
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for round := 0; round < rounds; round++ {
		out := &testenv.Buffer{}
		s := start(t, out, env, "--dev", "--listen", "127.0.0.1:0", "--data", data)
		c, err := sdk.New("http://"+s.addr, sdk.WithToken(root), sdk.WithRetry(sdk.RetryPolicy{Attempts: 1}))
		if err != nil {
			t.Fatal(err)
		}
		if round > 0 {
			checkPowerCut(ctx, t, round, c, acked, erased, eraseTried)
		}
		if _, err := c.PutSchema(ctx, "Registered", sdk.Schema{Subject: "/customerId", Fields: []sdk.SchemaField{{Path: "/email", Class: "email"}}}); err != nil {
			t.Fatalf("round %d: PutSchema: %v", round, err)
		}
		var mu sync.Mutex
		loadCtx, stopLoad := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; loadCtx.Err() == nil; i++ {
					subj := fmt.Sprintf("c-%d-%d-%d", round, w, i)
					email := fmt.Sprintf("e-%d-%d-%d@example.com", round, w, i)
					stream := "s-" + subj
					d, _ := json.Marshal(map[string]string{"customerId": subj, "email": email})
					if _, err := c.Append(loadCtx, stream, sdk.NoStream, sdk.EventInput{Type: "Registered", Data: d}); err != nil {
						return // killed
					}
					mu.Lock()
					acked[stream] = pcAck{subj, email}
					mu.Unlock()
					if i%4 == 1 {
						mu.Lock()
						eraseTried[subj] = true
						mu.Unlock()
						if _, err := c.Erase(loadCtx, subj, sdk.ErasureRequest{Reason: "test"}); err != nil {
							return
						}
						mu.Lock()
						erased[subj] = true
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		if err := s.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-s.done
		stopLoad()
		wg.Wait()
		f.Cut(t)
		t.Logf("round %d: %d appends acknowledged in all, %d erasures", round, len(acked), len(erased))
	}
	s := start(t, &testenv.Buffer{}, env, "--dev", "--listen", "127.0.0.1:0", "--data", data)
	c, _ := sdk.New("http://"+s.addr, sdk.WithToken(root))
	checkPowerCut(ctx, t, rounds, c, acked, erased, eraseTried)
	s.stop()
}

func checkPowerCut(ctx context.Context, t *testing.T, round int, c *sdk.Client, acked map[string]pcAck, erased, eraseTried map[string]bool) {
	t.Helper()
	bad := 0
	for stream, a := range acked {
		evs, err := c.ReadStreamPage(ctx, stream, 1, 10, sdk.Forward, "")
		if err != nil || len(evs) != 1 {
			t.Errorf("round %d: acknowledged append to %s: %d events, %v", round, stream, len(evs), err)
			bad++
		} else {
			st := states(evs[0])["/email"]
			got := field(t, evs[0], "email")
			switch {
			case erased[a.subject]:
				if st != sdk.StateErased || got == a.email {
					t.Errorf("round %d: %s: erasure acknowledged, but email state %q value revealed %v", round, stream, st, got == a.email)
					bad++
				}
			case st == sdk.StateErased && eraseTried[a.subject]:
			case st != sdk.StateRevealed || got != a.email:
				t.Errorf("round %d: %s: acknowledged value lost: state %q", round, stream, st)
				bad++
			}
		}
		if bad > 10 {
			t.FailNow()
		}
	}
	for ev, err := range c.ReadAll(ctx, sdk.ReadOptions{}) {
		if err != nil {
			t.Fatalf("round %d: ReadAll: %v", round, err)
		}
		for path, st := range states(ev) {
			if st == sdk.StateUnavailable {
				t.Errorf("round %d: event %d (%s) lacks its value at %s", round, ev.Position, ev.Stream, path)
			}
		}
	}
	v, err := c.Verify(ctx)
	if err != nil || !v.OK {
		t.Fatalf("round %d: verify after power cut: %+v, %v", round, v, err)
	}
	if t.Failed() {
		t.FailNow()
	}
}
