package badgerrecover

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// TestEmptyMemtableAfterKill reproduces the state a kill -9 leaves between
// the creation and the truncation of a memtable file, shows that Badger
// refuses to open it, and that after RemoveEmptyMemtables it opens with
// every committed key intact.
func TestEmptyMemtableAfterKill(t *testing.T) {
	dir := t.TempDir()
	opts := badger.DefaultOptions(dir).WithLogger(nil)
	db, err := badger.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The next memtable file, created but not yet truncated.
	empty := "000099.mem"
	if err := os.WriteFile(filepath.Join(dir, empty), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := badger.Open(opts); err == nil {
		db.Close()
		t.Fatal("badger.Open succeeded with an empty memtable file; the workaround may no longer be needed")
	}

	removed, err := RemoveEmptyMemtables(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{empty}) {
		t.Fatalf("RemoveEmptyMemtables = %q, want [%q]", removed, empty)
	}
	db, err = badger.Open(opts)
	if err != nil {
		t.Fatalf("Open after RemoveEmptyMemtables: %v", err)
	}
	defer db.Close()
	err = db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("k"))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if string(v) != "v" {
			t.Errorf("Get(k) = %q, want %q", v, "v")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRemoveEmptyMemtablesKeepsOthers(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"000001.mem": []byte("x"), "000002.mem": nil, "000001.vlog": nil, "000002.vlog": []byte("x"), "MANIFEST": nil}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveEmptyMemtables(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{"000001.vlog", "000002.mem"}) {
		t.Fatalf("removed %q, want only the empty .mem and .vlog files", removed)
	}
	for _, keep := range []string{"000001.mem", "000002.vlog", "MANIFEST"} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
	if r, err := RemoveEmptyMemtables(filepath.Join(dir, "missing")); err != nil || r != nil {
		t.Errorf("missing folder: %q, %v", r, err)
	}
}

// FolderClock reports a change before the first Mark, none while the
// folder stays as marked (outside the racy window), and one once a file
// is created.
func TestFolderClock(t *testing.T) {
	dir := t.TempDir()
	var c FolderClock
	mtime, changed, err := c.Changed(dir)
	if err != nil || !changed {
		t.Fatalf("Changed before any Mark = %v, %v; want true", changed, err)
	}
	// Mark as if acted on well after the mtime: no longer racy.
	c.Mark(mtime, mtime.Add(2*RacyWindow))
	if _, changed, _ := c.Changed(dir); changed {
		t.Error("Changed after Mark = true, want false")
	}
	// Within the racy window the mtime is not trusted.
	c.Mark(mtime, mtime.Add(RacyWindow/2))
	if _, changed, _ := c.Changed(dir); !changed {
		t.Error("Changed within the racy window = false, want true")
	}
	c.Mark(mtime, mtime.Add(2*RacyWindow))
	if err := os.WriteFile(filepath.Join(dir, "new.vlog"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A coarse clock may give the new file's folder the same mtime; the
	// test forces a visible change.
	if err := os.Chtimes(dir, time.Now(), mtime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, changed, _ := c.Changed(dir); !changed {
		t.Error("Changed after a file was created = false, want true")
	}
}
