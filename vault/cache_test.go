package vault

import (
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestDEKCacheTTL(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c := NewDEKCache(0, 0, clk.now)
	k, _ := NewDEK()
	c.Add("s", k, c.Generation())
	if got, ok := c.Get("s"); !ok || got != k {
		t.Fatal("Get after Add missed")
	}
	clk.add(DefaultDEKCacheTTL - time.Millisecond)
	if _, ok := c.Get("s"); !ok {
		t.Fatal("Get before TTL missed")
	}
	clk.add(time.Millisecond)
	if _, ok := c.Get("s"); ok {
		t.Fatal("Get at TTL hit; want expired")
	}
}

func TestDEKCacheDropRace(t *testing.T) {
	c := NewDEKCache(time.Minute, 0, nil)
	k, _ := NewDEK()
	gen := c.Generation() // a reader starts loading the DEK
	c.Drop("s")           // the subject is erased meanwhile
	c.Add("s", k, gen)    // the reader's Add must not resurrect it
	if _, ok := c.Get("s"); ok {
		t.Fatal("Add with a generation older than a Drop cached the DEK")
	}
	c.Add("s", k, c.Generation())
	c.Drop("s")
	if _, ok := c.Get("s"); ok {
		t.Fatal("Get after Drop hit")
	}
}

func TestDEKCacheBounded(t *testing.T) {
	c := NewDEKCache(time.Minute, 64, nil)
	k, _ := NewDEK()
	for i := 0; i < 1000; i++ {
		c.Add(string(rune('a'+i%26))+time.Duration(i).String(), k, c.Generation())
	}
	if n := c.Len(); n > 64 {
		t.Fatalf("Len = %d, want at most 64", n)
	}
}

func TestDEKCacheDisabled(t *testing.T) {
	c := NewDEKCache(-1, 0, nil)
	k, _ := NewDEK()
	c.Add("s", k, c.Generation())
	if _, ok := c.Get("s"); ok {
		t.Fatal("disabled cache hit")
	}
}
