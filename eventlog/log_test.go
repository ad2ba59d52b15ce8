package eventlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func openTest(t testing.TB) (*Log, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

func ev(typ, data string) EventData {
	return EventData{Type: typ, Data: json.RawMessage(data)}
}

func evID(id uuid.UUID, typ, data string) EventData {
	return EventData{ID: id, Type: typ, Data: json.RawMessage(data)}
}

func mustAppend(t testing.TB, l *Log, stream string, exp ExpectedVersion, evs ...EventData) AppendResult {
	t.Helper()
	res, err := l.Append(context.Background(), stream, exp, evs)
	if err != nil {
		t.Fatalf("Append(%q, %v): %v", stream, exp, err)
	}
	return res
}

func TestAppendAndRead(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t)
	res := mustAppend(t, l, "s1", NoStream, ev("a", `{"x":1}`), ev("b", `{"x":2}`))
	if want := (AppendResult{1, 2, 1, 2}); res != want {
		t.Fatalf("Append = %+v, want %+v", res, want)
	}
	res = mustAppend(t, l, "s2", Any, EventData{Type: "a", Data: json.RawMessage(`[1]`), Metadata: json.RawMessage(`{"m":true}`)})
	if want := (AppendResult{1, 1, 3, 3}); res != want {
		t.Fatalf("Append = %+v, want %+v", res, want)
	}
	res = mustAppend(t, l, "s1", 2, ev("a", `3`))
	if want := (AppendResult{3, 3, 4, 4}); res != want {
		t.Fatalf("Append = %+v, want %+v", res, want)
	}
	all, err := l.ReadAll(ctx, 0, 0, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		stream  string
		version uint64
		typ     string
		data    string
	}
	want := []row{{"s1", 1, "a", `{"x":1}`}, {"s1", 2, "b", `{"x":2}`}, {"s2", 1, "a", `[1]`}, {"s1", 3, "a", `3`}}
	if len(all) != len(want) {
		t.Fatalf("ReadAll returned %d events, want %d", len(all), len(want))
	}
	var last time.Time
	for i, e := range all {
		got := row{e.Stream, e.Version, e.Type, string(e.Data)}
		if got != want[i] || e.Position != uint64(i+1) {
			t.Errorf("event %d = %+v at %d, want %+v at %d", i, got, e.Position, want[i], i+1)
		}
		if e.ID == uuid.Nil {
			t.Errorf("event %d has no ID", i)
		}
		if e.RecordedAt.Location() != time.UTC || e.RecordedAt.Before(last) {
			t.Errorf("event %d recordedAt %v (previous %v): not UTC or decreasing", i, e.RecordedAt, last)
		}
		last = e.RecordedAt
	}
	if string(all[2].Metadata) != `{"m":true}` || all[0].Metadata != nil {
		t.Errorf("metadata = %q, %q", all[2].Metadata, all[0].Metadata)
	}

	tests := []struct {
		name     string
		from     uint64
		limit    int
		dir      Direction
		versions []uint64
	}{
		{"forward all", 0, 10, Forward, []uint64{1, 2, 3}},
		{"forward from 2", 2, 10, Forward, []uint64{2, 3}},
		{"forward limit", 1, 2, Forward, []uint64{1, 2}},
		{"forward past end", 4, 10, Forward, nil},
		{"backward from end", 0, 10, Backward, []uint64{3, 2, 1}},
		{"backward from 2", 2, 10, Backward, []uint64{2, 1}},
		{"backward limit", 0, 1, Backward, []uint64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := l.ReadStream(ctx, "s1", tt.from, tt.limit, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, e := range evs {
				got = append(got, e.Version)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.versions) {
				t.Errorf("ReadStream(s1, %d, %d, %d) versions = %v, want %v", tt.from, tt.limit, tt.dir, got, tt.versions)
			}
		})
	}
	if evs, err := l.ReadStream(ctx, "nope", 0, 10, Forward); err != nil || len(evs) != 0 {
		t.Errorf("ReadStream(nope) = %v, %v; want empty", evs, err)
	}

	info, err := l.StreamInfo(ctx, "s1")
	if want := (StreamInfo{"s1", 3, 1, 4}); err != nil || info != want {
		t.Errorf("StreamInfo(s1) = %+v, %v; want %+v", info, err, want)
	}
	if _, err := l.StreamInfo(ctx, "nope"); !errors.Is(err, ErrStreamNotFound) {
		t.Errorf("StreamInfo(nope) error = %v, want ErrStreamNotFound", err)
	}
	if h, err := l.Head(ctx); err != nil || h != 4 {
		t.Errorf("Head = %d, %v; want 4", h, err)
	}
}

func TestReadAllFilter(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t)
	for i := 0; i < 30; i++ {
		typ := []string{"a", "b", "c"}[i%3]
		mustAppend(t, l, fmt.Sprintf("s%d", i%4), Any, ev(typ, fmt.Sprint(i)))
	}
	tests := []struct {
		types []string
		from  uint64
		limit int
		want  []uint64
	}{
		{[]string{"a"}, 0, 100, []uint64{1, 4, 7, 10, 13, 16, 19, 22, 25, 28}},
		{[]string{"c", "a"}, 5, 5, []uint64{6, 7, 9, 10, 12}},
		{[]string{"b", "b"}, 27, 100, []uint64{29}},
		{[]string{"zzz"}, 0, 100, nil},
		{nil, 28, 100, []uint64{28, 29, 30}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.types, tt.from, tt.limit), func(t *testing.T) {
			evs, err := l.ReadAll(ctx, tt.from, tt.limit, Filter{Types: tt.types})
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, e := range evs {
				got = append(got, e.Position)
				if len(tt.types) > 0 && e.Type != tt.types[0] && (len(tt.types) < 2 || e.Type != tt.types[1]) {
					t.Errorf("event %d has type %q", e.Position, e.Type)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ReadAll(%d, %d, %v) = %v, want %v", tt.from, tt.limit, tt.types, got, tt.want)
			}
		})
	}
}

func TestExpectedVersion(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t)
	mustAppend(t, l, "s", NoStream, ev("a", `1`), ev("a", `2`))
	tests := []struct {
		name     string
		expected ExpectedVersion
		wantErr  bool
	}{
		{"no stream on existing", NoStream, true},
		{"behind", 1, true},
		{"ahead", 3, true},
		{"exact", 2, false},
		{"any", Any, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, _ := l.StreamInfo(ctx, "s")
			_, err := l.Append(ctx, "s", tt.expected, []EventData{ev("a", `0`)})
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Append(expected %v) = %v", tt.expected, err)
				}
				return
			}
			var ce *ConflictError
			if !errors.Is(err, ErrConflict) || !errors.As(err, &ce) {
				t.Fatalf("Append(expected %v) error = %v, want ConflictError", tt.expected, err)
			}
			if ce.Actual != info.Version || ce.Expected != tt.expected || ce.Stream != "s" {
				t.Errorf("ConflictError = %+v, want actual %d", ce, info.Version)
			}
		})
	}
	if h, _ := l.Head(ctx); h != 4 {
		t.Errorf("Head = %d after 2 successful single appends, want 4", h)
	}
}

func TestIdempotency(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	first := mustAppend(t, l, "s", NoStream, evID(a, "t", `1`), evID(b, "t", `2`))
	mustAppend(t, l, "other", NoStream, ev("t", `1`))

	// Exact retry, even with the (now stale) expected version: same result, nothing appended.
	again, err := l.Append(ctx, "s", NoStream, []EventData{evID(a, "t", `1`), evID(b, "t", `2`)})
	if err != nil || again != first {
		t.Fatalf("retry = %+v, %v; want %+v", again, err, first)
	}
	tests := []struct {
		name     string
		stream   string
		evs      []EventData
		mismatch bool // every ID was appended before, elsewhere
	}{
		{"partial overlap", "s", []EventData{evID(a, "t", `1`), evID(c, "t", `3`)}, false},
		{"other order", "s", []EventData{evID(b, "t", `2`), evID(a, "t", `1`)}, true},
		{"other stream", "x", []EventData{evID(a, "t", `1`), evID(b, "t", `2`)}, true},
		{"subset not starting at first", "s", []EventData{evID(b, "t", `2`), evID(c, "t", `3`)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := l.Append(ctx, tt.stream, Any, tt.evs)
			if !errors.Is(err, ErrIdempotencyOverlap) {
				t.Errorf("Append = %v, want ErrIdempotencyOverlap", err)
			}
			if got := errors.Is(err, ErrIdempotencyMismatch); got != tt.mismatch {
				t.Errorf("Append = %v: errors.Is(ErrIdempotencyMismatch) = %v, want %v", err, got, tt.mismatch)
			}
		})
	}
	// A retry of a suffix that was one append on its own is fine.
	single, err := l.Append(ctx, "s", Any, []EventData{evID(b, "t", `2`)})
	if err != nil || single.FirstVersion != 2 || single.FirstPosition != 2 {
		t.Errorf("retry of second event = %+v, %v", single, err)
	}
	if h, _ := l.Head(ctx); h != 3 {
		t.Errorf("Head = %d, want 3: a retry appended something", h)
	}
	// Duplicate IDs inside one append.
	if _, err := l.Append(ctx, "s", Any, []EventData{evID(c, "t", `1`), evID(c, "t", `1`)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate IDs in batch: %v, want ErrInvalid", err)
	}
	// Same IDs concurrently in one group: both calls get the same result.
	d := uuid.New()
	type r struct {
		res AppendResult
		err error
	}
	ch := make(chan r, 8)
	for i := 0; i < 8; i++ {
		go func() {
			res, err := l.Append(ctx, "dup", Any, []EventData{evID(d, "t", `1`)})
			ch <- r{res, err}
		}()
	}
	var firstRes AppendResult
	for i := 0; i < 8; i++ {
		got := <-ch
		if got.err != nil {
			t.Fatalf("concurrent retry: %v", got.err)
		}
		if i == 0 {
			firstRes = got.res
		} else if got.res != firstRes {
			t.Errorf("concurrent retries disagree: %+v vs %+v", got.res, firstRes)
		}
	}
	if info, _ := l.StreamInfo(ctx, "dup"); info.Version != 1 {
		t.Errorf("dup stream version = %d, want 1", info.Version)
	}
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	opts := DefaultOptions()
	opts.MaxEventSize = 100
	opts.MaxBatchEvents = 3
	opts.MaxBatchBytes = 150
	l, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := `"` + strings.Repeat("x", 120) + `"`
	mid := `"` + strings.Repeat("x", 60) + `"`
	tests := []struct {
		name   string
		system bool
		stream string
		exp    ExpectedVersion
		evs    []EventData
		want   error
	}{
		{"empty stream", false, "", Any, []EventData{ev("a", `1`)}, ErrInvalidStream},
		{"long stream", false, strings.Repeat("s", 257), Any, []EventData{ev("a", `1`)}, ErrInvalidStream},
		{"control char", false, "a\nb", Any, []EventData{ev("a", `1`)}, ErrInvalidStream},
		{"not utf8", false, "a\xffb", Any, []EventData{ev("a", `1`)}, ErrInvalidStream},
		{"reserved", false, "$audit", Any, []EventData{ev("a", `1`)}, ErrReservedStream},
		{"system to user stream", true, "user", Any, []EventData{ev("a", `1`)}, ErrReservedStream},
		{"no events", false, "s", Any, nil, ErrInvalid},
		{"bad expected", false, "s", -2, []EventData{ev("a", `1`)}, ErrInvalid},
		{"empty type", false, "s", Any, []EventData{ev("", `1`)}, ErrInvalid},
		{"bad json", false, "s", Any, []EventData{ev("a", `{`)}, ErrInvalidJSON},
		{"empty data", false, "s", Any, []EventData{ev("a", ``)}, ErrInvalidJSON},
		{"bad metadata", false, "s", Any, []EventData{{Type: "a", Data: json.RawMessage(`1`), Metadata: json.RawMessage(`x`)}}, ErrInvalidJSON},
		{"event too large", false, "s", Any, []EventData{ev("a", big)}, ErrEventTooLarge},
		{"too many events", false, "s", Any, []EventData{ev("a", `1`), ev("a", `1`), ev("a", `1`), ev("a", `1`)}, ErrBatchTooLarge},
		{"too many bytes", false, "s", Any, []EventData{ev("a", mid), ev("a", mid), ev("a", mid)}, ErrBatchTooLarge},
		{"bad JSON in a later event", false, "s", Any, []EventData{ev("a", `1`), ev("a", `nul`)}, ErrInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.system {
				_, err = l.AppendSystem(ctx, tt.stream, tt.exp, tt.evs)
			} else {
				_, err = l.Append(ctx, tt.stream, tt.exp, tt.evs)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Append(%q) error = %v, want %v", tt.stream, err, tt.want)
			}
		})
	}
	if h, _ := l.Head(ctx); h != 0 {
		t.Errorf("Head = %d after only bad input, want 0", h)
	}
	if _, err := l.AppendSystem(ctx, "$audit", NoStream, []EventData{ev("audit", `{}`)}); err != nil {
		t.Errorf("AppendSystem($audit) = %v", err)
	}
	if evs, err := l.ReadStream(ctx, "$audit", 0, 10, Forward); err != nil || len(evs) != 1 {
		t.Errorf("ReadStream($audit) = %v, %v", evs, err)
	}
}

func TestSnapshots(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t)
	if _, err := l.LoadSnapshot(ctx, "s"); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("LoadSnapshot on empty = %v, want ErrNoSnapshot", err)
	}
	if err := l.SaveSnapshot(ctx, "s", 1, json.RawMessage(`{}`)); !errors.Is(err, ErrStreamNotFound) {
		t.Errorf("SaveSnapshot of missing stream = %v, want ErrStreamNotFound", err)
	}
	mustAppend(t, l, "s", Any, ev("a", `1`), ev("a", `2`), ev("a", `3`))
	tests := []struct {
		version uint64
		data    string
		want    error
	}{
		{2, `{"n":2}`, nil},
		{1, `{"n":1}`, nil},
		{0, `{}`, ErrInvalid},
		{4, `{}`, ErrInvalid},
		{3, `{`, ErrInvalidJSON},
	}
	for _, tt := range tests {
		if err := l.SaveSnapshot(ctx, "s", tt.version, json.RawMessage(tt.data)); !errors.Is(err, tt.want) {
			t.Errorf("SaveSnapshot(s, %d) = %v, want %v", tt.version, err, tt.want)
		}
	}
	snap, err := l.LoadSnapshot(ctx, "s")
	if err != nil || snap.Version != 2 || string(snap.Data) != `{"n":2}` || snap.SavedAt.IsZero() {
		t.Errorf("LoadSnapshot = %+v, %v; want version 2 (the highest, not the last saved)", snap, err)
	}
}

func TestReopenContinuesChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, "s", Any, ev("a", `1`), ev("a", `2`))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, "s", Any, []EventData{ev("a", `1`)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := l.ReadAll(ctx, 0, 1, Filter{}); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadAll after Close = %v, want ErrClosed", err)
	}
	l, err = Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	res := mustAppend(t, l, "s", 2, ev("a", `3`))
	if res.FirstPosition != 3 || res.FirstVersion != 3 {
		t.Errorf("after reopen Append = %+v, want position 3 version 3", res)
	}
	vr, err := l.Verify(ctx)
	if err != nil || !vr.OK || vr.HeadPosition != 3 {
		t.Errorf("Verify = %+v, %v", vr, err)
	}
	pos, hash, err := l.HeadHash(ctx)
	if err != nil || pos != vr.HeadPosition || hash != vr.HeadHash {
		t.Errorf("HeadHash = %d, %x, %v; Verify says %d, %x", pos, hash, err, vr.HeadPosition, vr.HeadHash)
	}
}

func TestBadgerLogsGoToSlog(t *testing.T) {
	var buf bytes.Buffer
	opts := DefaultOptions()
	opts.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.BadgerLogLevel = slog.LevelInfo
	l, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if !strings.Contains(buf.String(), "component=badger") {
		t.Errorf("no Badger line in the slog output at Info:\n%s", buf.String())
	}
	buf.Reset()
	opts.BadgerLogLevel = slog.LevelWarn
	l, err = Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if strings.Contains(buf.String(), "component=badger") {
		t.Errorf("Badger Info lines leak through at the default Warn level:\n%s", buf.String())
	}
}
