package faultfs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/piivault/piivault/internal/faultfs"
)

func write(t *testing.T, p string, data string, sync bool) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func syncDir(t *testing.T, p string) {
	t.Helper()
	d, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, p string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

func want(t *testing.T, p, data string, exists bool) {
	t.Helper()
	got, ok := content(t, p)
	if ok != exists || got != data {
		t.Fatalf("%s after the power cut: exists %v content %q, want exists %v content %q", filepath.Base(p), ok, got, exists, data)
	}
}

func TestPowerCutLosesUnsyncedWrite(t *testing.T) {
	f, mnt := faultfs.ForTest(t)
	p := filepath.Join(mnt, "a")
	write(t, p, "synced", true)
	syncDir(t, mnt)
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt([]byte("LOST-and-longer"), 0); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	want(t, p, "LOST-and-longer", true) // readable before the cut
	f.Cut(t)
	want(t, p, "synced", true)
}

func TestPowerCutKeepsFsyncedWrite(t *testing.T) {
	f, mnt := faultfs.ForTest(t)
	p := filepath.Join(mnt, "a")
	write(t, p, "one", true)
	syncDir(t, mnt)
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString("-two")
	if err := syscall.Fdatasync(int(fh.Fd())); err != nil {
		t.Fatal(err)
	}
	fh.WriteString("-three") // not synced
	fh.Close()
	f.Cut(t)
	want(t, p, "one-two", true)
}

func TestPowerCutCreateNeedsFolderFsync(t *testing.T) {
	f, mnt := faultfs.ForTest(t)
	write(t, filepath.Join(mnt, "nodirsync"), "x", true)
	write(t, filepath.Join(mnt, "dirsync"), "y", true)
	syncDir(t, mnt)
	write(t, filepath.Join(mnt, "after"), "z", true)
	if err := os.Mkdir(filepath.Join(mnt, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.Cut(t)
	want(t, filepath.Join(mnt, "dirsync"), "y", true)
	want(t, filepath.Join(mnt, "after"), "", false)
	if _, err := os.Stat(filepath.Join(mnt, "sub")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a folder made after the last fsync of its parent survived: %v", err)
	}
}

func TestPowerCutNestedFolder(t *testing.T) {
	f, mnt := faultfs.ForTest(t)
	sub := filepath.Join(mnt, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	syncDir(t, mnt)
	write(t, filepath.Join(sub, "in"), "kept", true)
	syncDir(t, sub)
	write(t, filepath.Join(sub, "lost"), "lost", true)
	f.Cut(t)
	want(t, filepath.Join(sub, "in"), "kept", true)
	want(t, filepath.Join(sub, "lost"), "", false)
}

// replace writes p atomically, the way a careful program does: a temp
// file, fsync, rename, and (unless skipDirSync) an fsync of the folder.
func replace(t *testing.T, p, data string, skipDirSync bool) {
	tmp := p + ".tmp"
	write(t, tmp, data, true)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if !skipDirSync {
		syncDir(t, filepath.Dir(p))
	}
}

// replaceSurvives reports whether replace's new content is there after a
// power cut right after it returned.
func replaceSurvives(t *testing.T, skipDirSync bool) bool {
	f, mnt := faultfs.ForTest(t)
	p := filepath.Join(mnt, "config")
	write(t, p, "old", true)
	syncDir(t, mnt)
	replace(t, p, "new", skipDirSync)
	f.Cut(t)
	got, ok := content(t, p)
	if !ok {
		t.Fatal("the old file is gone after a rename that was never made durable")
	}
	if _, ok := content(t, p+".tmp"); ok && !skipDirSync {
		t.Fatal("the temp file is back after a durable rename")
	}
	return got == "new"
}

func TestPowerCutRenameNeedsFolderFsync(t *testing.T) {
	if !replaceSurvives(t, false) {
		t.Fatal("a rename followed by a folder fsync was lost")
	}
}

// TestPowerCutCatchesMissingFolderFsync is the check a durability test
// makes, run on a program with the bug: it must report the loss.
func TestPowerCutCatchesMissingFolderFsync(t *testing.T) {
	if replaceSurvives(t, true) {
		t.Fatal("a program that skips the folder fsync after rename kept its write: the file system cannot catch that bug")
	}
}

func TestPowerCutUnlinkNeedsFolderFsync(t *testing.T) {
	f, mnt := faultfs.ForTest(t)
	a, b := filepath.Join(mnt, "a"), filepath.Join(mnt, "b")
	write(t, a, "a", true)
	write(t, b, "b", true)
	syncDir(t, mnt)
	os.Remove(a)
	os.Remove(b)
	syncDir(t, mnt)
	write(t, filepath.Join(mnt, "c"), "c", true)
	syncDir(t, mnt)
	if err := os.Remove(filepath.Join(mnt, "c")); err != nil {
		t.Fatal(err)
	}
	f.Cut(t)
	want(t, a, "", false)
	want(t, filepath.Join(mnt, "c"), "c", true)
}

func TestPowerCutTruncateNeedsFsync(t *testing.T) {
	f, mnt := faultfs.ForTest(t)
	a, b := filepath.Join(mnt, "a"), filepath.Join(mnt, "b")
	write(t, a, "0123456789", true)
	write(t, b, "0123456789", true)
	syncDir(t, mnt)
	if err := os.Truncate(a, 3); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(b, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.Truncate(4)
	fh.Truncate(6) // grows with zeros, not the old bytes
	fh.Sync()
	fh.Close()
	want(t, a, "012", true)
	f.Cut(t)
	want(t, a, "0123456789", true)
	want(t, b, "0123\x00\x00", true)
}

func mmapWrite(t *testing.T, p string, data string, msync bool) {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	m, err := syscall.Mmap(int(fh.Fd()), 0, 8192, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	copy(m[100:], data)
	if msync {
		if _, _, e := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafePointer(m)), uintptr(len(m)), syscall.MS_SYNC); e != 0 {
			t.Fatal(e)
		}
	}
	if err := syscall.Munmap(m); err != nil {
		t.Fatal(err)
	}
}

func TestPowerCutMmapNeedsMsync(t *testing.T) {
	f, mnt := faultfs.ForTest(t)
	a, b := filepath.Join(mnt, "a"), filepath.Join(mnt, "b")
	for _, p := range []string{a, b} {
		write(t, p, string(make([]byte, 8192)), true)
	}
	syncDir(t, mnt)
	mmapWrite(t, a, "msynced", true)
	mmapWrite(t, b, "not-msynced", false)
	got, _ := content(t, b)
	if !bytes.Contains([]byte(got), []byte("not-msynced")) {
		t.Fatal("a write through a mapping is not seen by read before the cut")
	}
	f.Cut(t)
	got, _ = content(t, a)
	if got[100:107] != "msynced" {
		t.Fatalf("msynced mapping write lost: %q", got[100:110])
	}
	got, _ = content(t, b)
	if got[100:111] != string(make([]byte, 11)) {
		t.Fatalf("a mapping write never msynced survived the power cut: %q", got[100:111])
	}
}

func TestDiskFaultInjected(t *testing.T) {
	f, mnt := faultfs.ForTest(t)
	p := filepath.Join(mnt, "a")
	write(t, p, "a", true)
	syncDir(t, mnt)
	f.Fault(t, faultfs.OpWrite, syscall.ENOSPC, "")
	f.Fault(t, faultfs.OpCreate, syscall.EIO, "")
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString("x"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write: %v, want ENOSPC", err)
	}
	fh.Close()
	if _, err := os.Create(filepath.Join(mnt, "b")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("create: %v, want EIO", err)
	}
	f.Fault(t, faultfs.OpWrite, 0, "")
	f.Fault(t, faultfs.OpCreate, 0, "")
	f.Fault(t, faultfs.OpFsync, syscall.EIO, "a")
	fh, _ = os.OpenFile(p, os.O_WRONLY, 0)
	fh.WriteString("y")
	if err := fh.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("fsync: %v, want EIO", err)
	}
	fh.Close()
	f.Fault(t, faultfs.OpFsync, 0, "")
	f.Cut(t)
	want(t, p, "a", true)
}
