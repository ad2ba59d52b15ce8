package embedded

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/piivault/piivault/internal/badgerrecover"
)

// groupSync makes commits durable in groups. Badger runs with SyncWrites
// off, so a commit lands in the memtable's log (an mmapped file) without an
// fsync; a writer then calls wait, which returns once an fsync that started
// after the call has finished. Whoever finds no fsync running starts one for
// everybody waiting; the others wait for it. Commits and fsyncs thus
// overlap, and one fsync covers every commit made before it started.
//
// A failed fsync is sticky: after it nothing written since the last good
// fsync can be trusted to be on disk, so every later wait fails too.
type groupSync struct {
	fn       func() error
	mu       sync.Mutex
	cond     *sync.Cond
	started  uint64
	finished uint64
	running  bool
	err      error
	count    uint64        // fsyncs run
	busy     time.Duration // time spent in them
}

func newGroupSync(fn func() error) *groupSync {
	g := &groupSync{fn: fn}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// wait returns when everything committed before the call is durable.
func (g *groupSync) wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	target := g.started + 1 // a running fsync may have started before our commit
	for g.finished < target && g.err == nil {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		t0 := time.Now()
		err := g.fn()
		d := time.Since(t0)
		g.mu.Lock()
		g.count++
		g.busy += d
		g.running = false
		g.finished = n
		if err != nil {
			g.err = err
		}
		g.cond.Broadcast()
	}
	return g.err
}

// syncWAL is the fsync groupSync runs: it fsyncs every memtable log in the
// database folder. Every record lives in the memtable and its log, none in
// the value log (the value threshold is above the largest record, see
// Open), so these logs are all there is to sync. Badger's own Sync would
// also msync the empty value log, which on ext4 still costs a device flush
// and about a third of the group's sync time; and it covers only the
// current memtable, while one that filled up meanwhile keeps its log until
// Badger has flushed it to a table (which Badger syncs) and deleted it.
//
// An fsync of the file is an msync of Badger's mapping of it: a store
// through a shared mapping dirties the page in the page cache (the kernel
// write-protects clean pages to catch the first store), and fsync writes
// back every dirty page of the file.
func (s *Store) syncWAL() error {
	names, fresh, err := s.memLogs.list(s.dbPath)
	if err != nil {
		return err
	}
	if fresh {
		// The folder changed: fsync it, so that the names of files Badger
		// created without an fsync of the folder (tables flushed from a
		// memtable, the value log) are durable before the memtable log
		// that gave way to them can go.
		if err := badgerrecover.SyncDir(s.dbPath); err != nil {
			return err
		}
	}
	for _, name := range names {
		f, err := os.Open(filepath.Join(s.dbPath, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // flushed and deleted meanwhile
		}
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// memLogList remembers the memtable logs of the database folder, so that
// syncWAL, which runs once per event-log group, lists a folder of
// possibly thousands of tables only when it changed. Only syncWAL uses
// it, and groupSync runs one syncWAL at a time.
type memLogList struct {
	names []string
	clock badgerrecover.FolderClock
}

// list returns the names of the *.mem files in dir: the remembered ones
// while dir has not changed since the last listing, else a fresh listing.
func (m *memLogList) list(dir string) ([]string, bool, error) {
	mtime, changed, err := m.clock.Changed(dir)
	if err != nil {
		return nil, false, err
	}
	if m.names != nil && !changed {
		return m.names, false, nil
	}
	listedAt := time.Now()
	d, err := os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	all, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, false, err
	}
	names := make([]string, 0, 2)
	for _, name := range all {
		if strings.HasSuffix(name, ".mem") {
			names = append(names, name)
		}
	}
	m.names = names
	m.clock.Mark(mtime, listedAt)
	return names, true, nil
}

// failed returns the sticky fsync error, nil while fsyncs succeed.
func (g *groupSync) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// stats returns how many fsyncs ran and the time they took.
func (g *groupSync) stats() (uint64, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.count, g.busy
}
