package faultfs

import (
	"os"
	"path/filepath"
	"testing"
)

// ForTest mounts a new file system under t.TempDir() and returns it with
// its mount point; the mount goes at the end of the test. Where it cannot
// mount (not root, no /dev/fuse) the test fails when the CI variable is
// set and is skipped otherwise, saying why.
func ForTest(t testing.TB) (*FS, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := New(filepath.Join(dir, "backing"))
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := os.Stat("/dev/fuse"); err != nil {
		why = "no /dev/fuse"
	} else if err := f.Mount(mnt); err != nil {
		why = err.Error()
	}
	if why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("faultfs cannot mount a FUSE file system (%s), and CI is set", why)
		}
		t.Skipf("faultfs cannot mount a FUSE file system (%s): power-cut and disk-fault tests need root and /dev/fuse", why)
	}
	t.Cleanup(func() {
		if err := f.PowerCut(); err != nil {
			t.Errorf("unmount faultfs at the end: %v", err)
		}
	})
	return f, mnt
}

// Cut cuts the power and mounts again at mnt, failing the test on error.
func (f *FS) Cut(t testing.TB, mnt string) {
	t.Helper()
	if err := f.PowerCut(); err != nil {
		t.Fatalf("power cut: %v", err)
	}
	if err := f.Mount(mnt); err != nil {
		t.Fatalf("remount after power cut: %v", err)
	}
}
