package eventlog

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
)

// TestClosedMeansQuiet: whoever learns that the log closed (a
// subscription the close ended, a second Close) finds its directory quiet.
// Badger's own Close writes a table and its manifest; a subscriber that
// returned ErrClosed before that, and a test whose t.TempDir cleanup then
// removed the directory, failed with "directory not empty".
func TestClosedMeansQuiet(t *testing.T) {
	ctx := context.Background()
	files := func(dir string) []string {
		t.Helper()
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	open := func(t *testing.T) (*Log, string) {
		t.Helper()
		dir := t.TempDir()
		l, err := Open(dir, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, l, "s", Any, ev("t", `1`)) // a memtable for Close to flush
		return l, dir
	}
	t.Run("subscription", func(t *testing.T) {
		for range 10 {
			l, dir := open(t)
			s := l.Subscribe(ctx, 2)
			closed := make(chan error, 1)
			go func() { closed <- l.Close() }()
			if _, err := s.Next(ctx); !errors.Is(err, ErrClosed) {
				t.Fatalf("Next when the log closes = %v, want ErrClosed", err)
			}
			before := files(dir)
			// Open locks the directory, which Badger releases last.
			l2, err := Open(dir, DefaultOptions())
			if err != nil {
				t.Fatalf("Open after Next returned ErrClosed = %v (the log was still closing)", err)
			}
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
			if err := <-closed; err != nil {
				t.Fatalf("Close = %v", err)
			}
			if !slices.Contains(before, "000001.sst") {
				t.Errorf("files when Next returned ErrClosed: %v, want Badger's table from Close", before)
			}
		}
	})
	t.Run("second Close", func(t *testing.T) {
		for range 10 {
			l, _ := open(t)
			closed := make(chan error, 1)
			go func() { closed <- l.Close() }()
			<-l.done // the first Close has started
			if err := l.Close(); !errors.Is(err, ErrClosed) {
				t.Fatalf("second Close = %v, want ErrClosed", err)
			}
			select {
			case <-l.closeDone:
			default:
				t.Fatal("second Close returned before the first had closed Badger")
			}
			if err := <-closed; err != nil {
				t.Fatalf("Close = %v", err)
			}
		}
	})
}
