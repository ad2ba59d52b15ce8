package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/keys"
)

const crashEnv = "PIIVAULT_EMBEDDED_CRASH_DIR"

// TestCrashChild is the child of TestKill9: it writes and erases until it
// is killed, printing each acknowledged operation on stdout.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestKill9")
	}
	kp, err := keys.OpenLocal(filepath.Join(dir, "kek"), true)
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.PurgeDelay = 5 * time.Millisecond // purges too may be cut short
	s, err := Open(filepath.Join(dir, "vault"), kp, opts)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	emit := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(out, line)
		out.Flush()
	}
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				sub := fmt.Sprintf("crash-%d-%d-%d", os.Getpid(), w, i)
				val := fmt.Sprintf(`"value-%d-%d"`, w, i)
				toks, err := s.Put(context.Background(), []vault.Entry{{Subject: sub, Class: "c", Value: vault.NewPII([]byte(val))}})
				if err != nil {
					emit("error " + err.Error())
					return
				}
				emit("put " + string(toks[0]) + " " + val)
				if i%5 == 0 {
					if _, err := s.Erase(context.Background(), sub, "e"); err != nil {
						emit("error " + err.Error())
						return
					}
					emit("erased " + string(toks[0]))
				}
			}
		}()
	}
	wg.Wait()
}

// TestKill9 kills a writing process with SIGKILL and checks that every
// acknowledged Put and Erase survived. (A process kill leaves the page cache
// alone, so this tests replay and ordering, not fsync; power loss cannot be
// tested here.)
func TestKill9(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		return
	}
	testenv.SkipUnlessSlow(t)
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		puts := map[vault.Token]string{}
		erased := map[vault.Token]bool{}
		sc := bufio.NewScanner(stdout)
		deadline := time.Now().Add(20 * time.Second)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "put":
				puts[vault.Token(f[1])] = f[2]
			case len(f) == 2 && f[0] == "erased":
				erased[vault.Token(f[1])] = true
			case len(f) > 0 && f[0] == "error":
				t.Fatalf("child: %s", sc.Text())
			}
			if len(puts) >= 1000 || time.Now().After(deadline) {
				break
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if len(puts) < 50 {
			t.Fatalf("round %d: child acknowledged only %d puts", round, len(puts))
		}
		kp, err := keys.OpenLocal(filepath.Join(dir, "kek"), false)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(filepath.Join(dir, "vault"), kp, testOptions())
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		toks := make([]vault.Token, 0, len(puts))
		for tok := range puts {
			toks = append(toks, tok)
		}
		res, err := s.Resolve(context.Background(), toks)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			switch {
			case erased[r.Token]:
				if r.State != vault.Erased {
					t.Errorf("round %d: acknowledged erasure of %s lost: %v", round, r.Token, r.State)
				}
			case r.State == vault.Erased:
				// Erased after the last line the parent read: fine.
			case r.State != vault.Found || string(r.Value.Reveal()) != puts[r.Token]:
				t.Errorf("round %d: acknowledged Put %s lost: %v", round, r.Token, r.State)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: %d puts and %d erasures acknowledged before SIGKILL, all there", round, len(puts), len(erased))
	}
}
