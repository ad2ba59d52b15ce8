package eventlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog/internal/keys"
)

func tagged(typ, data string, tags ...string) EventData {
	e := ev(typ, data)
	e.Tags = tags
	return e
}

func tagPositions(t *testing.T, l *Log, tag string, from uint64, limit int) []uint64 {
	t.Helper()
	evs, err := l.ReadTag(context.Background(), tag, from, limit)
	if err != nil {
		t.Fatalf("ReadTag(%q, %d, %d): %v", tag, from, limit, err)
	}
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Position)
	}
	return out
}

func TestReadTag(t *testing.T) {
	l, dir := openTest(t)
	mustAppend(t, l, "s1", Any, tagged("a", `{}`, "x"), tagged("a", `{}`, "x", "y"), tagged("b", `{}`, "y", "y")) // 1-3
	mustAppend(t, l, "s2", Any, ev("a", `{}`), tagged("a", `{}`, "x"))                                            // 4-5
	mustAppend(t, l, "s1", Any, tagged("c", `{}`, "z"))                                                           // 6

	tests := []struct {
		tag   string
		from  uint64
		limit int
		want  []uint64
	}{
		{"x", 0, 0, []uint64{1, 2, 5}},
		{"x", 2, 0, []uint64{2, 5}},
		{"x", 3, 0, []uint64{5}},
		{"x", 0, 2, []uint64{1, 2}},
		{"y", 0, 0, []uint64{2, 3}},
		{"y", 3, 1, []uint64{3}},
		{"z", 0, 0, []uint64{6}},
		{"none", 0, 0, nil},
		{"x", 6, 0, nil},
	}
	check := func(l *Log) {
		for _, tt := range tests {
			if got := tagPositions(t, l, tt.tag, tt.from, tt.limit); !slices.Equal(got, tt.want) {
				t.Errorf("ReadTag(%q, %d, %d) = %v, want %v", tt.tag, tt.from, tt.limit, got, tt.want)
			}
		}
	}
	check(l)
	evs, err := l.ReadTag(context.Background(), "y", 0, 0)
	if err != nil || len(evs) != 2 || evs[1].Stream != "s1" || evs[1].Version != 3 || evs[1].Type != "b" {
		t.Errorf("ReadTag(y) = %+v, %v; want s1 versions 2 and 3", evs, err)
	}
	l.Close()
	l2, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	check(l2)
}

func TestTagRejected(t *testing.T) {
	l, _ := openTest(t)
	for _, tag := range []string{"", "a\x00b", strings.Repeat("t", MaxTagLen+1), "\xff"} {
		_, err := l.Append(context.Background(), "s", Any, []EventData{tagged("a", `{}`, tag)})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Append with tag %q = %v, want ErrInvalid", tag, err)
		}
		if _, err := l.ReadTag(context.Background(), tag, 0, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("ReadTag(%q) = %v, want ErrInvalid", tag, err)
		}
	}
	if h, _ := l.Head(context.Background()); h != 0 {
		t.Errorf("Head after refused appends = %d, want 0", h)
	}
}

// A tag may be longer than a stream name or an event type: redaction's
// "subject:<id>" tags hold subject IDs of up to 256 bytes.
func TestTagMaxLen(t *testing.T) {
	l, _ := openTest(t)
	for i, tag := range []string{strings.Repeat("t", MaxNameLen+1), strings.Repeat("t", MaxTagLen)} {
		if _, err := l.Append(context.Background(), "s", Any, []EventData{tagged("a", `{}`, tag)}); err != nil {
			t.Fatalf("Append with a tag of %d bytes: %v", len(tag), err)
		}
		if got, want := tagPositions(t, l, tag, 0, 0), []uint64{uint64(i + 1)}; !slices.Equal(got, want) {
			t.Errorf("ReadTag(tag of %d bytes) = %v, want %v", len(tag), got, want)
		}
	}
}

// A retry with the same IDs appends nothing, so it indexes nothing either.
func TestTagIdempotentRetry(t *testing.T) {
	l, _ := openTest(t)
	id := uuid.New()
	e := evID(id, "a", `{}`)
	e.Tags = []string{"x"}
	mustAppend(t, l, "s", Any, e)
	mustAppend(t, l, "s", Any, e)
	if got := tagPositions(t, l, "x", 0, 0); !slices.Equal(got, []uint64{1}) {
		t.Errorf("ReadTag after a retry = %v, want [1]", got)
	}
}

// Concurrent appends land in shared group commits; every tagged event is
// listed once, in position order, and a conflict indexes nothing.
func TestTagGroupCommit(t *testing.T) {
	l, _ := openTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				st := fmt.Sprintf("s%d", w)
				if _, err := l.Append(ctx, st, Any, []EventData{tagged("a", `{}`, "all", st), tagged("a", `{}`, "all")}); err != nil {
					t.Error(err)
					return
				}
				if _, err := l.Append(ctx, st, NoStream, []EventData{tagged("a", `{}`, "never")}); !errors.Is(err, ErrConflict) {
					t.Errorf("Append with NoStream to %q = %v, want ErrConflict", st, err)
				}
			}
		}()
	}
	wg.Wait()
	all := tagPositions(t, l, "all", 0, 10000)
	if len(all) != 16*20*2 || !slices.IsSorted(all) || slices.Compact(slices.Clone(all))[len(all)-1] != all[len(all)-1] {
		t.Errorf("ReadTag(all) = %d positions, want %d, sorted, distinct", len(all), 16*20*2)
	}
	if got := tagPositions(t, l, "s3", 0, 1000); len(got) != 20 {
		t.Errorf("ReadTag(s3) = %d positions, want 20", len(got))
	}
	if got := tagPositions(t, l, "never", 0, 0); len(got) != 0 {
		t.Errorf("ReadTag(never) = %v, want none", got)
	}
}

// A directory of the format before tags opens, upgraded in place.
func TestOpenUpgradesPreviousFormat(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, "s", Any, ev("t", `{}`))
	l.Close()
	tamper(t, dir, keys.Format(), func([]byte) []byte { return keys.U64(uint64(keys.PreviousFormatVersion)) })
	l, err = Open(dir, DefaultOptions())
	if err != nil {
		t.Fatalf("Open of format %d: %v", keys.PreviousFormatVersion, err)
	}
	mustAppend(t, l, "s", Any, tagged("t", `{}`, "x"))
	if got := tagPositions(t, l, "x", 0, 0); !slices.Equal(got, []uint64{2}) {
		t.Errorf("ReadTag after upgrade = %v, want [2]", got)
	}
	l.Close()
	l, err = Open(dir, DefaultOptions())
	if err != nil {
		t.Fatalf("reopen after upgrade: %v", err)
	}
	l.Close()
}
