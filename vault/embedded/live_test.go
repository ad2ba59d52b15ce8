package embedded

import (
	"context"
	"errors"
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
	time.Sleep(100 * time.Millisecond) // the committer now waits for the lock, first
	epoch := s.eraseEpoch.Load()
	eraseDone := make(chan error, 1)
	go func() {
		_, err := s.Erase(ctx, sub, "e1")
		eraseDone <- err
	}()
	for s.eraseEpoch.Load() == epoch {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // Erase now waits for the lock, second
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
