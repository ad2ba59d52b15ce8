package eventlog

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/faultfs"
	"github.com/piivault/piivault/internal/testenv"
)

// TestPowerCutLog is TestCrash on faultfs: the child appends, is killed
// with SIGKILL, and then the power is cut, so every write that was not
// fsynced (file data, mapped pages, created or renamed names whose folder
// was not fsynced) is gone. Every acknowledged event must still be there,
// with no gap and an intact chain, and the log must open without repair.
func TestPowerCutLog(t *testing.T) {
	testenv.SkipUnlessSlow(t)
	f, mnt := faultfs.ForTest(t)
	dir := filepath.Join(mnt, "log")
	rounds := faultfs.Rounds(t, 10)
	acked := map[uint64]crashAck{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	start := time.Now()
	for round := 0; round < rounds; round++ {
		n := crashRound(t, dir, time.Duration(20+rng.IntN(200))*time.Millisecond, acked)
		f.Cut(t)
		checkAfterCrash(t, dir, acked)
		t.Logf("round %d: %d acks (%d total)", round, n, len(acked))
	}
	if len(acked) == 0 {
		t.Fatal("the child acknowledged nothing in any round")
	}
	t.Logf("%d rounds, %d acknowledged events, %v", rounds, len(acked), time.Since(start).Round(time.Millisecond))
}
