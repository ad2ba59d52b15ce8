package embedded

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/badgerrecover"
	"github.com/piivault/piivault/vault"
)

// syncWAL remembers the folder's memtable logs while the folder is
// unchanged; a memtable that fills up starts a new log, which the next
// sync must list and fsync.
func TestSyncWALSeesNewMemtableLog(t *testing.T) {
	ctx := context.Background()
	o := testOptions() // 4 MiB memtables
	s := newFixture(t, o).open(t)
	put := func(n int) {
		t.Helper()
		big := strings.Repeat("x", 100<<10)
		for i := 0; i < n; i++ {
			if _, err := s.Put(ctx, []vault.Entry{{Subject: "cust-1", Class: "note", Value: vault.NewPII([]byte(big))}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	memFiles := func() []string {
		t.Helper()
		ents, err := os.ReadDir(s.dbPath)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".mem") {
				out = append(out, e.Name())
			}
		}
		return out
	}
	put(1)
	// Let the folder's last change fall out of the racy window, then list:
	// from here the list is remembered until the folder changes.
	time.Sleep(badgerrecover.RacyWindow + 100*time.Millisecond)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	before := memFiles()
	if got := s.memLogs.names; !slices.Equal(got, before) {
		t.Fatalf("remembered logs %v, folder has %v", got, before)
	}
	put(60) // 6 MB: past the 4 MiB memtable, a new log
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	after := memFiles()
	if slices.Equal(after, before) {
		t.Fatalf("no new memtable log after 6 MB of puts: %v", after)
	}
	for _, name := range after {
		if !slices.Contains(s.memLogs.names, name) {
			t.Errorf("sync after a new memtable log fsynced %v, the folder has %v", s.memLogs.names, after)
		}
	}
}
