package hashicorp

import (
	"testing"
	"time"
)

// A write whose cache add lost a race with a drop (of any subject: the
// generation is shared) must not leave the record read before the write in
// the cache: a Resolve would then miss the values just written, for a TTL,
// on the sidecar that acknowledged them.
func TestRecordCacheNeverKeepsARecordOlderThanAWrite(t *testing.T) {
	now := time.Unix(1700000000, 0)
	c := newRecordCache(time.Minute, 100, func() time.Time { return now })
	old := &record{Values: map[string]sealed{"a": {}}}
	c.add("cust-1", old, 1, c.generation()) // read before the write
	gen := c.generation()                   // the write's load
	c.drop("marker-subject")                // a Delete elsewhere, meanwhile
	c.add("cust-1", &record{Values: map[string]sealed{"a": {}, "b": {}}}, 2, gen)
	if r, v, ok := c.get("cust-1"); ok {
		t.Errorf("get(cust-1) = version %d with %d values after a newer write, want no entry (read from Vault)", v, len(r.Values))
	}
	// Without a race the write's record is cached.
	c.add("cust-1", &record{Values: map[string]sealed{"a": {}, "b": {}}}, 2, c.generation())
	if _, v, ok := c.get("cust-1"); !ok || v != 2 {
		t.Errorf("get(cust-1) = version %d, %v; want 2, true", v, ok)
	}
}
