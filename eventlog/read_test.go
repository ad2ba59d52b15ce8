package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/eventlog/internal/keys"
)

// TestReadSpansInterleaved appends one stream in runs of several lengths
// (1 to 120 events) interleaved with other streams and types, then checks
// that ReadStream, forward and backward, and type-filtered ReadAll return
// exactly the events (every field, byte for byte) of the plain position
// scan, for many from/limit pairs, before and after a reopen (which moves
// the keys from memtables into tables).
func TestReadSpansInterleaved(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	runs := []int{1, 2, 3, 1, 7, 120, 1, 1, 40, 2, 99, 5}
	types := []string{"x", "y"}
	for i, n := range runs {
		evs := make([]EventData, n)
		for j := range evs {
			evs[j] = EventData{Type: types[(i+j/3)%2], Data: json.RawMessage(fmt.Sprintf(`{"run":%d,"i":%d}`, i, j))}
			if j%4 == 1 {
				evs[j].Metadata = json.RawMessage(`{"m":true}`)
			}
		}
		mustAppend(t, l, "a", Any, evs...)
		// Other streams between runs of a, one or two appends.
		mustAppend(t, l, "b", Any, ev("z", `{}`))
		if i%3 == 0 {
			mustAppend(t, l, "c", Any, ev("x", `{"c":1}`), ev("z", `{"c":2}`))
		}
	}
	check := func(t *testing.T, l *Log) {
		t.Helper()
		all, err := l.ReadAll(ctx, 0, 1<<20, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		byStream := map[string][]Event{}
		for _, e := range all {
			byStream[e.Stream] = append(byStream[e.Stream], e)
		}
		for _, s := range []string{"a", "b", "c"} {
			want := byStream[s]
			n := len(want)
			for _, from := range []int{0, 1, 2, 3, 4, 7, 8, 14, 15, 100, n - 1, n, n + 1} {
				for _, limit := range []int{1, 2, 3, 10, 100, 1000} {
					if from < 0 {
						continue
					}
					got, err := l.ReadStream(ctx, s, uint64(from), limit, Forward)
					if err != nil {
						t.Fatal(err)
					}
					lo := min(max(from, 1)-1, n)
					if w := want[lo:min(lo+limit, n)]; !eventsEqual(got, w) {
						t.Fatalf("ReadStream(%s, %d, %d, Forward) = %v, want %v", s, from, limit, positionsOf(got), positionsOf(w))
					}
					got, err = l.ReadStream(ctx, s, uint64(from), limit, Backward)
					if err != nil {
						t.Fatal(err)
					}
					hi := n
					if from != 0 {
						hi = min(from, n)
					}
					w := slices.Clone(want[max(hi-limit, 0):hi])
					slices.Reverse(w)
					if !eventsEqual(got, w) {
						t.Fatalf("ReadStream(%s, %d, %d, Backward) = %v, want %v", s, from, limit, positionsOf(got), positionsOf(w))
					}
				}
			}
		}
		for _, ts := range [][]string{{"x"}, {"y"}, {"z"}, {"x", "y"}, {"x", "z"}} {
			var want []Event
			for _, e := range all {
				if slices.Contains(ts, e.Type) {
					want = append(want, e)
				}
			}
			for _, from := range []uint64{0, 1, 2, 5, 50, 200, uint64(len(all))} {
				for _, limit := range []int{1, 3, 64, 1000} {
					i := slices.IndexFunc(want, func(e Event) bool { return e.Position >= max(from, 1) })
					if i < 0 {
						i = len(want)
					}
					w := want[i:min(i+limit, len(want))]
					got, err := l.ReadAll(ctx, from, limit, Filter{Types: ts})
					if err != nil {
						t.Fatal(err)
					}
					if !eventsEqual(got, w) {
						t.Fatalf("ReadAll(%d, %d, %v) = %v, want %v", from, limit, ts, positionsOf(got), positionsOf(w))
					}
				}
			}
		}
	}
	t.Run("memtable", func(t *testing.T) { check(t, l) })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(dir, DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	t.Run("reopened", func(t *testing.T) { check(t, l) })
}

func positionsOf(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

// eventsEqual compares events field by field, data and metadata as bytes
// (nil and empty metadata differ).
func eventsEqual(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestReadMissingEvent deletes one event record under the log (no API can)
// and checks that every read whose span covers it reports ErrCorrupt
// rather than skipping it.
func TestReadMissingEvent(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t)
	mustAppend(t, l, "a", Any, ev("x", `1`), ev("x", `2`), ev("x", `3`)) // positions 1-3
	mustAppend(t, l, "b", Any, ev("y", `4`))
	mustAppend(t, l, "a", Any, ev("x", `5`), ev("x", `6`))
	for _, pos := range []uint64{1, 2, 3, 5, 6} {
		t.Run(fmt.Sprint(pos), func(t *testing.T) {
			l, _ := openTest(t)
			mustAppend(t, l, "a", Any, ev("x", `1`), ev("x", `2`), ev("x", `3`))
			mustAppend(t, l, "b", Any, ev("y", `4`))
			mustAppend(t, l, "a", Any, ev("x", `5`), ev("x", `6`))
			if err := l.db.Update(func(txn *badger.Txn) error { return txn.Delete(keys.Event(pos)) }); err != nil {
				t.Fatal(err)
			}
			reads := map[string]func() ([]Event, error){
				"forward":  func() ([]Event, error) { return l.ReadStream(ctx, "a", 0, 10, Forward) },
				"backward": func() ([]Event, error) { return l.ReadStream(ctx, "a", 0, 10, Backward) },
				"type x":   func() ([]Event, error) { return l.ReadAll(ctx, 0, 10, Filter{Types: []string{"x"}}) },
			}
			for name, read := range reads {
				if evs, err := read(); !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s read without position %d = %v, %v; want ErrCorrupt", name, pos, positionsOf(evs), err)
				}
			}
		})
	}
	// The intact log reads whole.
	if evs, err := l.ReadStream(ctx, "a", 0, 10, Forward); err != nil || fmt.Sprint(positionsOf(evs)) != "[1 2 3 5 6]" {
		t.Errorf("ReadStream(a) = %v, %v; want [1 2 3 5 6]", positionsOf(evs), err)
	}
}
