package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/sdk"
)

// TestGracefulShutdown appends from many clients while SIGTERM arrives:
// the process must exit 0, and every append it acknowledged must be there
// after a restart.
func TestGracefulShutdown(t *testing.T) {
	data := t.TempDir()
	out := &testenv.Buffer{}
	env := []string{"PIIVAULT_DEV_ROOT_TOKEN=root-" + randHex(t, 8)}
	root := env[0][len("PIIVAULT_DEV_ROOT_TOKEN="):]
	s := start(t, out, env, "--dev", "--listen", "127.0.0.1:0", "--data", data)
	c, err := sdk.New("http://"+s.addr, sdk.WithToken(root), sdk.WithRetry(sdk.RetryPolicy{Attempts: 1}))
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	started := make(chan struct{}, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				id := uuid.NewString()
				_, err := c.Append(ctx, fmt.Sprintf("s-%d", i), sdk.Any, sdk.EventInput{ID: id, Type: "Tick", Data: json.RawMessage(`{"n":1}`)})
				if err != nil {
					return // the server is going away
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
				if n == 3 {
					started <- struct{}{}
				}
			}
		}()
	}
	for range 16 {
		<-started
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, out.Bytes())
		}
	case <-time.After(45 * time.Second):
		t.Fatal("no exit within 45 s of SIGTERM")
	}
	wg.Wait()

	s2 := start(t, out, env, "--dev", "--listen", "127.0.0.1:0", "--data", data)
	c2, _ := sdk.New("http://"+s2.addr, sdk.WithToken(root))
	seen := map[string]bool{}
	for ev, err := range c2.ReadAll(ctx, sdk.ReadOptions{PageSize: 1000}) {
		if err != nil {
			t.Fatal(err)
		}
		seen[ev.ID] = true
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 16 {
		t.Fatalf("only %d appends acknowledged before SIGTERM", len(acked))
	}
	lost := 0
	for id := range acked {
		if !seen[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged appends missing after a graceful restart", lost, len(acked))
	}

	// A second SIGTERM forces the exit even while the first one waits.
	_ = s2.cmd.Process.Signal(syscall.SIGTERM)
	_ = s2.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s2.done:
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of two SIGTERMs")
	}
}
