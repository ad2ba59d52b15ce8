// Package badgerrecover repairs what a kill -9 can leave in a Badger folder
// that Badger v4 itself refuses to open.
//
// # Empty memtable files
//
// Badger creates a memtable's write-ahead file with O_CREATE, then truncates
// it to its full size and writes a header. A process killed between those
// two steps leaves a zero-length `NNNNNN.mem` file, and Badger's next Open
// fails with "while opening memtables ... Create a new file" (its
// openMemTables treats the new-file sentinel as an error). A zero-length
// file cannot hold an acknowledged write: every write to a memtable file
// goes after its header, so removing it loses nothing. Both of piivault's
// Badger stores (the event log and the embedded vault) call
// RemoveEmptyMemtables before badger.Open.
//
// A value-log file (`NNNNNN.vlog`) is made the same way, and a power cut
// leaves it empty when its folder was synced but its truncation was not
// (the embedded vault keeps every value in the LSM tree and never syncs its
// value log); Badger refuses it the same way, and it holds nothing either,
// so RemoveEmptyMemtables removes it too.
package badgerrecover

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// RemoveEmptyMemtables removes the zero-length memtable files (`*.mem`) of
// the Badger folder dir and returns their names. A missing folder is not an
// error: Badger will create it.
func RemoveEmptyMemtables(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read badger folder: %w", err)
	}
	var removed []string
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".mem") || strings.HasSuffix(e.Name(), ".vlog")) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return removed, fmt.Errorf("stat memtable file: %w", err)
		}
		if info.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return removed, fmt.Errorf("remove empty memtable file: %w", err)
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}
