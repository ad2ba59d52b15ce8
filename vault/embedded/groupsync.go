package embedded

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
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

// syncWAL is the fsync groupSync runs: Badger's own Sync covers the current
// memtable's log; a memtable that filled up meanwhile is no longer current,
// and its log is synced here until Badger has flushed it to a table (which
// Badger syncs) and deleted it.
func (s *Store) syncWAL() error {
	if err := s.db.Sync(); err != nil {
		return err
	}
	d, err := os.Open(s.dbPath)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	var logs []string
	for _, name := range names {
		if strings.HasSuffix(name, ".mem") {
			logs = append(logs, name)
		}
	}
	if len(logs) <= 1 {
		return nil
	}
	for _, name := range logs {
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

// stats returns how many fsyncs ran and the time they took.
func (g *groupSync) stats() (uint64, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.count, g.busy
}
