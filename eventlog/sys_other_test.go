//go:build !linux

package eventlog

import (
	"os"
	"testing"
)

func fdatasync(f *os.File) error { return f.Sync() }

// pageFaults is not counted here; the tests that use it are Linux-only.
func pageFaults(*testing.T) (major, minor int64) { return 0, 0 }
