package badgerrecover

import (
	"fmt"
	"os"
	"time"
)

// SyncDir fsyncs a folder, making the names it holds durable: Badger
// creates files (value logs, memtables, tables) without doing so.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	return nil
}

// RacyWindow is how long after a change of a folder its mtime is not
// trusted: file times come from a coarse clock, so a second change within
// the same tick as the first leaves the mtime as it was (git's "racily
// clean" index entries are the same problem).
const RacyWindow = time.Second

// FolderClock tells whether a folder's entries may have changed since its
// caller last acted on them (listed them, fsynced the folder), by the
// folder's mtime, so that per-commit work on a folder of thousands of
// files is done only when a file came or went. Not safe for concurrent use.
type FolderClock struct {
	mtime  time.Time // the folder's mtime when last acted on
	seenAt time.Time // when that was; zero: never
}

// Changed returns the folder's mtime and whether its entries may differ
// from those seen at the last Mark: always before the first Mark, and
// within RacyWindow of a change.
func (c *FolderClock) Changed(dir string) (mtime time.Time, changed bool, err error) {
	st, err := os.Stat(dir)
	if err != nil {
		return time.Time{}, false, err
	}
	mtime = st.ModTime()
	if !c.seenAt.IsZero() && mtime.Equal(c.mtime) && c.seenAt.Sub(mtime) > RacyWindow {
		return mtime, false, nil
	}
	return mtime, true, nil
}

// Mark records that the caller acted on the folder as it was at mtime,
// having started at seenAt (take it before acting, so that a change
// during the act counts as racy).
func (c *FolderClock) Mark(mtime, seenAt time.Time) { c.mtime, c.seenAt = mtime, seenAt }
