package embedded

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/faultfs"
	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/keys"
)

const (
	powerCutChildEnv = "PIIVAULT_EMBEDDED_POWERCUT_DIR"
)

// TestPowerCutVaultChild is the child of TestPowerCutVault: it writes, half
// with Put and half as the sidecar does (PutUnsynced, then the group sync's
// Sync), and erases, until it is killed, printing each acknowledged
// operation on stdout.
func TestPowerCutVaultChild(t *testing.T) {
	dir := os.Getenv(powerCutChildEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestPowerCutVault")
	}
	kp, err := keys.OpenLocal(filepath.Join(dir, "kek"), true)
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.PurgeDelay = 5 * time.Millisecond
	s, err := Open(filepath.Join(dir, "vault"), kp, opts)
	if err != nil {
		fmt.Println("error open:", err)
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
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				sub := fmt.Sprintf("pc-%d-%d-%d", os.Getpid(), w, i)
				val := fmt.Sprintf(`"value-%d-%d"`, w, i)
				entries := []vault.Entry{{Subject: sub, Class: "c", Value: vault.NewPII([]byte(val))}}
				var toks []vault.Token
				var err error
				if i%2 == 0 {
					toks, err = s.Put(ctx, entries)
				} else if toks, err = s.PutUnsynced(ctx, entries); err == nil {
					err = s.Sync()
				}
				if err != nil {
					emit("error " + err.Error())
					return
				}
				emit("put " + string(toks[0]) + " " + val)
				if i%5 == 0 {
					if _, err := s.Erase(ctx, sub, "e"); err != nil {
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

// TestPowerCutVault is TestKill9 on faultfs with the power cut after the
// kill: whatever was not fsynced is gone. Every acknowledged Put must
// resolve to its value, every acknowledged erasure must hold, and the
// store must open without repair, round after round on the same folder.
func TestPowerCutVault(t *testing.T) {
	if os.Getenv(powerCutChildEnv) != "" {
		return
	}
	testenv.SkipUnlessSlow(t)
	rounds := faultfs.Rounds(t, 10)
	f, mnt := faultfs.ForTest(t)
	dir := filepath.Join(mnt, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	syncFolderT(t, mnt)
	puts := map[vault.Token]string{}
	erased := map[vault.Token]bool{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPowerCutVaultChild$", "-test.v")
		cmd.Env = append(os.Environ(), powerCutChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		n := 0
		want := 50 + rng.IntN(500)
		sc := bufio.NewScanner(stdout)
		deadline := time.Now().Add(20 * time.Second)
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			switch {
			case len(fl) == 3 && fl[0] == "put":
				puts[vault.Token(fl[1])] = fl[2]
				n++
			case len(fl) == 2 && fl[0] == "erased":
				erased[vault.Token(fl[1])] = true
			case len(fl) > 0 && (fl[0] == "error" || fl[0] == "error:"):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: child: %s", round, sc.Text())
			}
			if n >= want || time.Now().After(deadline) {
				break
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if n == 0 {
			t.Fatalf("round %d: child acknowledged nothing", round)
		}
		f.Cut(t)
		kp, err := keys.OpenLocal(filepath.Join(dir, "kek"), false)
		if err != nil {
			t.Fatalf("round %d: key file after power cut: %v", round, err)
		}
		s, err := Open(filepath.Join(dir, "vault"), kp, testOptions())
		if err != nil {
			t.Fatalf("round %d: reopen after power cut: %v", round, err)
		}
		toks := make([]vault.Token, 0, len(puts))
		for tok := range puts {
			toks = append(toks, tok)
		}
		res, err := s.Resolve(context.Background(), toks)
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		for _, r := range res {
			switch {
			case erased[r.Token]:
				if r.State != vault.Erased {
					bad++
					t.Errorf("round %d: acknowledged erasure of %s lost: %v", round, r.Token, r.State)
				}
			case r.State == vault.Erased:
				erased[r.Token] = true // erased after the last line read: fine, and must stay so
			case r.State != vault.Found || string(r.Value.Reveal()) != puts[r.Token]:
				bad++
				t.Errorf("round %d: acknowledged Put %s lost: %v", round, r.Token, r.State)
			}
			if bad > 10 {
				break
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			t.FailNow()
		}
		t.Logf("round %d: %d puts acknowledged (%d in all, %d erased), all there after the power cut", round, n, len(puts), len(erased))
	}
}

func syncFolderT(t *testing.T, dir string) {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}
