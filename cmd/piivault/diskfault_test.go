package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/faultfs"
	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/sdk"
)

// TestDiskFaultAppend runs `piivault serve --dev` on faultfs and makes
// every fsync (then every write) of its data folder fail with EIO (ENOSPC):
// an append must then get 503 and not be acknowledged, a SIGTERM must end
// the process within its shutdown timeout (exit status non-zero), and
// after the disk recovers (and a power cut) the next start must find every
// append acknowledged before the fault, with a chain that verifies.
func TestDiskFaultAppend(t *testing.T) {
	testenv.SkipUnlessSlow(t)
	for _, fault := range []struct {
		name  string
		op    faultfs.Op
		errno syscall.Errno
	}{
		{"fsync-EIO", faultfs.OpFsync, syscall.EIO},
		{"write-ENOSPC", faultfs.OpWrite, syscall.ENOSPC},
	} {
		t.Run(fault.name, func(t *testing.T) {
			f, mnt := faultfs.ForTest(t)
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
			env := []string{"PIIVAULT_DEV_ROOT_TOKEN=" + root, "PIIVAULT_SHUTDOWN_TIMEOUT=5s"}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out := &syncBuffer{}
			s := start(t, out, env, "--dev", "--listen", "127.0.0.1:0", "--data", data)
			c, _ := sdk.New("http://"+s.addr, sdk.WithToken(root), sdk.WithRetry(sdk.RetryPolicy{Attempts: 1}))
			if _, err := c.PutSchema(ctx, "Registered", sdk.Schema{Subject: "/customerId", Fields: []sdk.SchemaField{{Path: "/email", Class: "email"}}}); err != nil {
				t.Fatal(err)
			}
			ev := func(i int) sdk.EventInput {
				d, _ := json.Marshal(map[string]string{"customerId": fmt.Sprintf("c%d", i), "email": fmt.Sprintf("e%d@example.com", i)})
				return sdk.EventInput{Type: "Registered", Data: d}
			}
			for i := 0; i < 20; i++ {
				if _, err := c.Append(ctx, fmt.Sprintf("s-%d", i), sdk.NoStream, ev(i)); err != nil {
					t.Fatalf("append before the fault: %v", err)
				}
			}
			f.Fault(t, fault.op, fault.errno, "data")
			// Writes may sit in memory until an fsync asks for them: the
			// first appends after the fault may still succeed only if
			// nothing of them needed the disk. Keep appending until one fails.
			var apiErr *sdk.APIError
			failed := false
			for i := 20; i < 200 && !failed; i++ {
				_, err := c.Append(ctx, fmt.Sprintf("s-%d", i), sdk.NoStream, ev(i))
				if err == nil {
					continue
				}
				failed = true
				if !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable {
					t.Errorf("append on a failing disk: %v, want 503 problem+json", err)
				}
			}
			if !failed {
				t.Fatal("200 appends on a failing disk all succeeded")
			}
			// Not ready while a store cannot write (#20).
			if res, err := http.Get("http://" + s.addr + "/readyz"); err != nil {
				t.Errorf("readyz on a failing disk: %v", err)
			} else {
				res.Body.Close()
				if res.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("readyz on a failing disk: %d, want 503", res.StatusCode)
				}
			}
			begin := time.Now()
			s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-s.done:
				t.Logf("stopped in %v: %v", time.Since(begin).Round(time.Millisecond), err)
				if err == nil {
					t.Error("a stop that could not flush exited 0")
				}
			case <-time.After(15 * time.Second):
				s.cmd.Process.Kill()
				<-s.done
				t.Errorf("SIGTERM on a failing disk: still running 15 s later (shutdown timeout 5 s)")
			}
			f.Fault(t, fault.op, 0, "")
			f.Cut(t)
			s2 := start(t, &syncBuffer{}, env, "--dev", "--listen", "127.0.0.1:0", "--data", data)
			c2, _ := sdk.New("http://"+s2.addr, sdk.WithToken(root))
			for i := 0; i < 20; i++ {
				evs, err := c2.ReadStreamPage(ctx, fmt.Sprintf("s-%d", i), 1, 10, sdk.Forward, "")
				if err != nil || len(evs) != 1 || field(t, evs[0], "email") != fmt.Sprintf("e%d@example.com", i) {
					t.Errorf("append %d, acknowledged before the fault: %v, %d events", i, err, len(evs))
				}
			}
			if v, err := c2.Verify(ctx); err != nil || !v.OK {
				t.Errorf("verify after recovery: %+v, %v", v, err)
			}
			s2.stop()
		})
	}
}
