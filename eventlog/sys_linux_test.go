package eventlog

import (
	"os"
	"syscall"
	"testing"
)

func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// pageFaults returns the process's major faults (the page was read from
// the disk) and minor faults so far.
func pageFaults(t *testing.T) (major, minor int64) {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Majflt, ru.Minflt
}
