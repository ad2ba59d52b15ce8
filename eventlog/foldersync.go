package eventlog

import (
	"fmt"
	"os"
	"time"
)

// folderSync fsyncs the log's folder when its entries may have changed
// since the last fsync. Badger creates a new value-log file (at open and
// when one fills up) without an fsync of the folder, so a power cut could
// take the file's name, and every acknowledged event whose record is in
// it, even though the file's data was synced. The group writer calls
// sync after each commit, before it acknowledges.
type folderSync struct {
	dir      string
	mtime    time.Time // the folder's mtime at the last fsync
	syncedAt time.Time
}

// sync fsyncs the folder unless its mtime is the one seen at the last
// fsync and that fsync came well after it (racyWindow: a change within
// the same clock tick leaves the mtime as it was).
func (f *folderSync) sync() error {
	st, err := os.Stat(f.dir)
	if err != nil {
		return fmt.Errorf("sync log folder: %w", err)
	}
	mtime := st.ModTime()
	if !f.syncedAt.IsZero() && mtime.Equal(f.mtime) && f.syncedAt.Sub(mtime) > racyWindow {
		return nil
	}
	syncedAt := time.Now()
	d, err := os.Open(f.dir)
	if err != nil {
		return fmt.Errorf("sync log folder: %w", err)
	}
	err = d.Sync()
	d.Close()
	if err != nil {
		return fmt.Errorf("sync log folder: %w", err)
	}
	f.mtime, f.syncedAt = mtime, syncedAt
	return nil
}

// racyWindow is how long after a change of the folder its mtime is not
// trusted: file times come from a coarse clock.
const racyWindow = time.Second
