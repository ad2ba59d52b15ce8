package embedded

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

// The committer's live-subject set (Store.live) must never let a Put
// through after an Erase returned. The interleaving that once did: Erase
// has begun (eraseEpoch raised) and waits for the committer's lock while
// the committer, first in line, commits a Put of the same subject before
// the tombstone and remembers the subject as live. The test holds the
// lock to line the two up in that order.
func TestPutAfterEraseThatWaitedForTheCommitter(t *testing.T) {
	ctx := context.Background()
	o := testOptions()
	o.PurgeDelay = -1
	s := newFixture(t, o).open(t)
	const sub = "waited"
	put(t, s, sub) // the subject is live

	s.creators.Lock()
	putDone := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, []vault.Entry{{Subject: sub, Class: "c", Value: vault.NewPII([]byte(`"before"`))}})
		putDone <- err
	}()
	waitBlockedOnMutex(t, "(*Store).tryCommit") // the committer waits for the lock, first
	epoch := s.eraseEpoch.Load()
	eraseDone := make(chan error, 1)
	go func() {
		_, err := s.Erase(ctx, sub, "e1")
		eraseDone <- err
	}()
	waitBlockedOnMutex(t, "(*Store).Erase") // Erase waits for the lock, second
	if s.eraseEpoch.Load() == epoch {
		t.Fatal("Erase waits for the committer's lock without having raised eraseEpoch")
	}
	s.creators.Unlock()

	if err := <-putDone; err != nil && !errors.Is(err, vault.ErrErased) {
		t.Fatalf("Put racing the Erase: %v", err)
	}
	if err := <-eraseDone; err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if _, err := s.Put(ctx, []vault.Entry{{Subject: sub, Class: "c", Value: vault.NewPII([]byte(`"after"`))}}); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("Put after Erase returned = %v, want ErrErased", err)
	}
}

// waitBlockedOnMutex waits until a goroutine with fn on its stack is
// blocked in sync.Mutex.Lock, as the goroutine dump says: a condition, not
// a pause that a loaded machine can outlast.
func waitBlockedOnMutex(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "[sync.Mutex.Lock") && strings.Contains(g, fn+"(") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine in %s blocked on a mutex within 30 s", fn)
		}
		runtime.Gosched()
	}
}
