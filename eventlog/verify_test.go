package eventlog

import (
	"context"
	"errors"
	"fmt"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/eventlog/internal/keys"
)

// tamper opens the closed log's Badger directly and rewrites the value of
// key with change applied.
func tamper(t *testing.T, dir string, key []byte, change func([]byte) []byte) {
	t.Helper()
	opts := DefaultOptions()
	db, err := badger.Open(badgerOptions(dir, opts.withDefaults(), testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return txn.Set(key, change(v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	ctx := context.Background()
	const n, target = 20, 7
	tests := []struct {
		name   string
		offset func(v []byte) int // which byte of record `target` to flip
	}{
		{"data byte", func(v []byte) int { return len(v) - 32 - 4 - 3 }},
		{"stored hash", func(v []byte) int { return len(v) - 1 }},
		{"prev hash link", func(v []byte) int { return 41 }},
		{"version field", func(v []byte) int { return 16 }},
		{"position field", func(v []byte) int { return 8 }},
		{"length field", func(v []byte) int { return 74 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := Open(dir, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				mustAppend(t, l, fmt.Sprintf("s%d", i%3), Any, ev("t", fmt.Sprintf(`{"i":%d,"pad":"abcdefgh"}`, i)))
			}
			before, err := l.Verify(ctx)
			if err != nil || !before.OK || before.HeadPosition != n {
				t.Fatalf("Verify before tampering = %+v, %v", before, err)
			}
			l.Close()

			tamper(t, dir, keys.Event(target), func(v []byte) []byte {
				v[tt.offset(v)] ^= 0x01
				return v
			})

			l, err = Open(dir, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			got, err := l.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.OK || got.BreakAt != target || got.Reason == "" {
				t.Errorf("Verify after flipping a byte of %d = %+v, want a break at %d", target, got, target)
			}
			if got.HeadPosition != target-1 {
				t.Errorf("Verify head = %d, want the last good position %d", got.HeadPosition, target-1)
			}
		})
	}
}

func TestVerifyDetectsMissingRecord(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		mustAppend(t, l, "s", Any, ev("t", `{}`))
	}
	l.Close()
	db, err := badger.Open(badgerOptions(dir, DefaultOptions().withDefaults(), testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Delete(keys.Event(3)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	l, err = Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := l.Verify(ctx)
	if err != nil || got.OK || got.BreakAt != 3 {
		t.Errorf("Verify with position 3 deleted = %+v, %v; want break at 3", got, err)
	}
}

func TestOpenRefusesOtherFormat(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, "s", Any, ev("t", `{}`))
	l.Close()
	tamper(t, dir, keys.Format(), func([]byte) []byte { return keys.U64(uint64(keys.FormatVersion) + 1) })
	if l, err := Open(dir, DefaultOptions()); !errors.Is(err, ErrCorrupt) {
		if err == nil {
			l.Close()
		}
		t.Errorf("Open of a directory with format version %d = %v, want ErrCorrupt", keys.FormatVersion+1, err)
	}
}
