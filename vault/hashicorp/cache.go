package hashicorp

import (
	"sync"
	"time"
)

// recordCache holds subject records read from or written to Vault for a
// short TTL, so a warm Resolve asks Vault nothing and a Put can write with
// check-and-set without reading first. A stale entry is harmless for
// writes (the check-and-set fails and the writer reads again) and bounded
// by the TTL for reads, which is the documented cross-instance delay.
// Cached records are never modified.
type recordCache struct {
	ttl  time.Duration
	max  int
	now  func() time.Time
	mu   sync.RWMutex
	m    map[string]cachedRecord
	gen  uint64
	stop bool
}

type cachedRecord struct {
	rec     *record
	version int
	expires time.Time
}

func newRecordCache(ttl time.Duration, max int, now func() time.Time) *recordCache {
	return &recordCache{ttl: ttl, max: max, now: now, m: make(map[string]cachedRecord), stop: ttl < 0}
}

func (c *recordCache) get(subject string) (*record, int, bool) {
	c.mu.RLock()
	e, ok := c.m[subject]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return nil, 0, false
	}
	return e.rec, e.version, true
}

// generation is read before a record is loaded from Vault, so an add that
// raced with a drop (an erasure) is ignored.
func (c *recordCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *recordCache) add(subject string, r *record, version int, gen uint64) {
	if c.stop || r == nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		// A drop raced with this load or write: do not cache the record
		// (it may predate an erasure), and do not keep an older one either.
		// Kept, the older record would hide a write this instance just
		// acknowledged until the TTL ran out (its values read as
		// unavailable). Removing an entry never undoes a drop.
		delete(c.m, subject)
		return
	}
	if old, ok := c.m[subject]; ok && old.version > version && now.Before(old.expires) {
		return // a newer version is cached already
	}
	if _, ok := c.m[subject]; !ok && len(c.m) >= c.max {
		for s, e := range c.m {
			if !now.Before(e.expires) || len(c.m) >= c.max {
				delete(c.m, s)
			}
			if len(c.m) < c.max*15/16 {
				break
			}
		}
	}
	c.m[subject] = cachedRecord{rec: r, version: version, expires: now.Add(c.ttl)}
}

func (c *recordCache) drop(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, subject)
}

func (c *recordCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
