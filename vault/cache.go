package vault

import (
	"sync"
	"time"
)

// DefaultDEKCacheTTL is how long an unwrapped DEK stays cached by default.
// It bounds how long an instance can still decrypt a subject erased through
// another instance sharing the same backend.
const DefaultDEKCacheTTL = 2 * time.Second

// DefaultDEKCacheSize is the default maximum number of cached DEKs.
const DefaultDEKCacheSize = 100_000

// DEKCache holds unwrapped DEKs by subject for a short TTL. It is safe for
// concurrent use. The zero value is not usable; call NewDEKCache.
type DEKCache struct {
	ttl  time.Duration
	max  int
	now  func() time.Time
	mu   sync.RWMutex
	m    map[string]cachedDEK
	gen  uint64 // bumped by every Drop and Clear
	stop bool   // caching disabled
}

type cachedDEK struct {
	k       *DEK
	expires time.Time
}

// NewDEKCache returns a cache. ttl 0 means DefaultDEKCacheTTL and a negative
// ttl disables caching; maxEntries <= 0 means DefaultDEKCacheSize. now may be
// nil (time.Now).
func NewDEKCache(ttl time.Duration, maxEntries int, now func() time.Time) *DEKCache {
	if ttl == 0 {
		ttl = DefaultDEKCacheTTL
	}
	if maxEntries <= 0 {
		maxEntries = DefaultDEKCacheSize
	}
	if now == nil {
		now = time.Now
	}
	return &DEKCache{ttl: ttl, max: maxEntries, now: now, m: make(map[string]cachedDEK), stop: ttl < 0}
}

// Get returns the cached DEK of subject if it has not expired.
func (c *DEKCache) Get(subject string) (*DEK, bool) {
	c.mu.RLock()
	e, ok := c.m[subject]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return nil, false
	}
	return e.k, true
}

// Generation returns a number to pass to Add. Read it before the read that
// loads the DEK begins (before the transaction or snapshot is taken, not
// just before the key is fetched), so that an Add racing with an erasure
// is dropped: a generation read later could postdate a Drop whose erasure
// the read's snapshot predates.
func (c *DEKCache) Generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// Add caches k for subject, unless a Drop or Clear happened since gen was
// read: the DEK might then belong to a subject that was just erased.
func (c *DEKCache) Add(subject string, k *DEK, gen uint64) {
	if c.stop {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.m[subject]; !ok && len(c.m) >= c.max {
		c.evictLocked(now)
	}
	c.m[subject] = cachedDEK{k: k, expires: now.Add(c.ttl)}
}

// evictLocked removes expired entries, or, if none expired, about a
// sixteenth of the entries (map order is random enough).
func (c *DEKCache) evictLocked(now time.Time) {
	before := len(c.m)
	for s, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, s)
		}
	}
	if len(c.m) < before {
		return
	}
	n := max(1, before/16)
	for s := range c.m {
		if n == 0 {
			break
		}
		delete(c.m, s)
		n--
	}
}

// Drop forgets subject's DEK. Erase calls it after destroying the DEK.
func (c *DEKCache) Drop(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, subject)
}

// Clear forgets every DEK.
func (c *DEKCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// Len returns the number of cached entries, expired ones included.
func (c *DEKCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
