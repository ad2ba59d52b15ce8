package eventlog

import (
	"fmt"
	"time"

	"github.com/piivault/piivault/internal/badgerrecover"
)

// folderSync fsyncs the log's folder when its entries may have changed
// since the last fsync. Badger creates a new value-log file (at open and
// when one fills up) without an fsync of the folder, so a power cut could
// take the file's name, and every acknowledged event whose record is in
// it, even though the file's data was synced. The group writer calls
// sync after each commit, before it acknowledges.
type folderSync struct {
	dir   string
	clock badgerrecover.FolderClock
}

func (f *folderSync) sync() error {
	mtime, changed, err := f.clock.Changed(f.dir)
	if err != nil {
		return fmt.Errorf("sync log folder: %w", err)
	}
	if !changed {
		return nil
	}
	at := time.Now()
	if err := badgerrecover.SyncDir(f.dir); err != nil {
		return fmt.Errorf("sync log folder: %w", err)
	}
	f.clock.Mark(mtime, at)
	return nil
}
