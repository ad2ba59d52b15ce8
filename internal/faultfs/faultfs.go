package faultfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Op names an operation a fault can be injected into.
type Op int

const (
	// OpWrite is a write(2) or a page the kernel writes back from a mapping.
	OpWrite Op = iota + 1
	// OpFsync is fsync, fdatasync or msync of a file or a folder.
	OpFsync
	// OpCreate is the creation of a file, folder or node.
	OpCreate
)

// FaultFunc decides whether an operation on the file at rel (relative to
// the root of the mount) fails, and with which errno; 0 lets it through.
type FaultFunc func(op Op, rel string) syscall.Errno

// ErrMounted is returned by Mount when the file system is already mounted.
var ErrMounted = errors.New("faultfs: already mounted")

// FS is a pass-through file system over Dir()/data that forgets on
// PowerCut whatever was not made durable. See doc.go.
type FS struct {
	dir  string // holds data/, limbo/ and, during a cut, data.new/
	data string
	lim  string

	fault atomic.Pointer[FaultFunc]

	mu      sync.Mutex
	server  *fuse.Server
	mnt     string
	tables  map[uint64]map[string]entry // durable entry table per folder, by backing inode
	files   map[uint64]*fileState       // unsynced file data, by backing inode
	limboID uint64
}

type entry struct {
	ino uint64
	dir bool
}

// New prepares a file system whose durable state lives in dir. A
// folder already in dir/data is taken as durable.
func New(dir string) (*FS, error) {
	f := &FS{dir: dir, data: filepath.Join(dir, "data"), lim: filepath.Join(dir, "limbo")}
	for _, d := range []string{f.data, f.lim} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create folder: %w", err)
		}
	}
	return f, nil
}

// SetFault installs fn (nil removes it) for the operations that follow.
func (f *FS) SetFault(fn FaultFunc) {
	if fn == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&fn)
}

func (f *FS) check(op Op, abs string) syscall.Errno {
	fn := f.fault.Load()
	if fn == nil {
		return 0
	}
	rel, err := filepath.Rel(f.data, abs)
	if err != nil {
		rel = abs
	}
	return (*fn)(op, rel)
}

// Mount serves the file system at mnt (an existing empty folder). All of
// data/ as it stands is taken as durable.
func (f *FS) Mount(mnt string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.server != nil {
		return ErrMounted
	}
	tables, err := scanTables(f.data)
	if err != nil {
		return err
	}
	f.tables = tables
	f.files = map[uint64]*fileState{}
	var st syscall.Stat_t
	if err := syscall.Stat(f.data, &st); err != nil {
		return fmt.Errorf("stat data: %w", err)
	}
	root := &fs.LoopbackRoot{Path: f.data, Dev: uint64(st.Dev)}
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, fsys: f}
	}
	rootNode := &node{LoopbackNode: fs.LoopbackNode{RootData: root}, fsys: f}
	root.RootNode = rootNode
	opts := &fs.Options{
		MountOptions: fuse.MountOptions{
			DirectMount: true,
			FsName:      "faultfs",
			Name:        "faultfs",
			MaxWrite:    1 << 20,
			Debug:       os.Getenv("FAULTFS_DEBUG") != "",
		},
		NullPermissions: true,
	}
	server, err := fs.Mount(mnt, rootNode, opts)
	if err != nil {
		return fmt.Errorf("mount faultfs: %w", err)
	}
	f.server = server
	f.mnt = mnt
	return nil
}

// unmount detaches the mount (waiting for open files to close) and
// keeps the unsynced state for PowerCut to drop.
func (f *FS) unmount() error {
	f.mu.Lock()
	server := f.server
	f.mu.Unlock()
	if server == nil {
		return nil
	}
	if err := server.Unmount(); err != nil {
		return fmt.Errorf("unmount faultfs: %w", err)
	}
	f.mu.Lock()
	f.server = nil
	f.mu.Unlock()
	return nil
}

// PowerCut unmounts the file system and rebuilds data/ to what was
// durable: every file's content as of its last fsync, every folder's
// entries as of its last fsync. Files still open (by a process that was
// not killed) keep the mount busy and make PowerCut fail.
func (f *FS) PowerCut() error {
	if err := f.unmount(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files = nil // unsynced data is never written to data/
	return f.rebuild()
}

// Dir returns the folder that holds the backing data (Dir()/data).
func (f *FS) Dir() string { return f.dir }

// rebuild makes data/ hold exactly the durable entry tables, linking each
// file by inode from where it now is (data/ or limbo/).
func (f *FS) rebuild() error {
	where := map[uint64]string{}
	for _, top := range []string{f.data, f.lim} {
		err := filepath.Walk(top, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			ino := fi.Sys().(*syscall.Stat_t).Ino
			if _, ok := where[ino]; !ok {
				where[ino] = p
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("scan backing: %w", err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(f.data, &st); err != nil {
		return fmt.Errorf("stat data: %w", err)
	}
	next := filepath.Join(f.dir, "data.new")
	if err := os.RemoveAll(next); err != nil {
		return fmt.Errorf("clear data.new: %w", err)
	}
	if err := os.Mkdir(next, 0o755); err != nil {
		return fmt.Errorf("create data.new: %w", err)
	}
	var build func(dst string, ino uint64) error
	build = func(dst string, ino uint64) error {
		for name, e := range f.tables[ino] {
			p := filepath.Join(dst, name)
			if e.dir {
				if err := os.Mkdir(p, 0o755); err != nil {
					return fmt.Errorf("rebuild folder: %w", err)
				}
				if err := build(p, e.ino); err != nil {
					return err
				}
				continue
			}
			src, ok := where[e.ino]
			if !ok {
				return fmt.Errorf("rebuild %s: inode %d: %w", name, e.ino, os.ErrNotExist)
			}
			if err := os.Link(src, p); err != nil {
				return fmt.Errorf("rebuild file: %w", err)
			}
		}
		return nil
	}
	if err := build(next, st.Ino); err != nil {
		return err
	}
	old := filepath.Join(f.dir, "data.old")
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("clear data.old: %w", err)
	}
	if err := os.Rename(f.data, old); err != nil {
		return fmt.Errorf("swap data: %w", err)
	}
	if err := os.Rename(next, f.data); err != nil {
		return fmt.Errorf("swap data: %w", err)
	}
	for _, d := range []string{old, f.lim} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove %s: %w", filepath.Base(d), err)
		}
	}
	return os.MkdirAll(f.lim, 0o755)
}

// scanTables reads every folder under root as durable.
func scanTables(root string) (map[uint64]map[string]entry, error) {
	tables := map[uint64]map[string]entry{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return nil
		}
		t, err := readTable(p)
		if err != nil {
			return err
		}
		tables[fi.Sys().(*syscall.Stat_t).Ino] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan backing: %w", err)
	}
	return tables, nil
}

func readTable(dir string) (map[string]entry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read folder: %w", err)
	}
	t := make(map[string]entry, len(ents))
	for _, e := range ents {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, e.Name()), &st); err != nil {
			return nil, fmt.Errorf("stat entry: %w", err)
		}
		t[e.Name()] = entry{ino: st.Ino, dir: st.Mode&syscall.S_IFMT == syscall.S_IFDIR}
	}
	return t, nil
}

// toLimbo moves p aside instead of removing it, so a power cut can bring
// it back while the removal is not durable.
func (f *FS) toLimbo(p string) syscall.Errno {
	f.mu.Lock()
	f.limboID++
	id := f.limboID
	f.mu.Unlock()
	return fs.ToErrno(syscall.Rename(p, filepath.Join(f.lim, fmt.Sprintf("%d", id))))
}

// syncDir records the folder's current entries as durable.
func (f *FS) syncDir(p string) syscall.Errno {
	if errno := f.check(OpFsync, p); errno != 0 {
		return errno
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return fs.ToErrno(err)
	}
	t, err := readTable(p)
	if err != nil {
		return syscall.EIO
	}
	f.mu.Lock()
	if f.tables != nil {
		f.tables[st.Ino] = t
	}
	f.mu.Unlock()
	return 0
}

// state returns the unsynced state of the file with inode ino, creating
// it from the backing file fd if create is set.
func (f *FS) state(ino uint64, fd int, create bool) (*fileState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.files[ino]; ok || !create {
		return s, nil
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	s := &fileState{size: st.Size, floor: st.Size, pages: map[int64][]byte{}}
	if f.files == nil {
		f.files = map[uint64]*fileState{}
	}
	f.files[ino] = s
	return s, nil
}
