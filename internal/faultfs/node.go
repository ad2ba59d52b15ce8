package faultfs

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

const pageSize = 4096

// fileState is what was written to a file and not yet fsynced: whole
// pages, the size, and the floor below which the backing file's bytes
// still count (a truncate lowers it; bytes past it read as zero).
type fileState struct {
	mu    sync.Mutex
	size  int64
	floor int64
	pages map[int64][]byte
}

// page returns page i, loading it from the backing file.
func (s *fileState) page(fd int, i int64) ([]byte, error) {
	if p, ok := s.pages[i]; ok {
		return p, nil
	}
	p := make([]byte, pageSize)
	off := i * pageSize
	if off < s.floor {
		n := int64(pageSize)
		if off+n > s.floor {
			n = s.floor - off
		}
		if _, err := syscall.Pread(fd, p[:n], off); err != nil {
			return nil, err
		}
	}
	s.pages[i] = p
	return p, nil
}

func (s *fileState) write(fd int, data []byte, off int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for done := 0; done < len(data); {
		o := off + int64(done)
		p, err := s.page(fd, o/pageSize)
		if err != nil {
			return err
		}
		done += copy(p[o%pageSize:], data[done:])
	}
	if end := off + int64(len(data)); end > s.size {
		s.size = end
	}
	return nil
}

func (s *fileState) read(fd int, dest []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off >= s.size {
		return 0, nil
	}
	if max := s.size - off; int64(len(dest)) > max {
		dest = dest[:max]
	}
	for done := 0; done < len(dest); {
		o := off + int64(done)
		i := o / pageSize
		if p, ok := s.pages[i]; ok {
			done += copy(dest[done:], p[o%pageSize:])
			continue
		}
		n := pageSize - int(o%pageSize)
		if n > len(dest)-done {
			n = len(dest) - done
		}
		chunk := dest[done : done+n]
		clear(chunk)
		if o < s.floor {
			m := int64(n)
			if o+m > s.floor {
				m = s.floor - o
			}
			if _, err := syscall.Pread(fd, chunk[:m], o); err != nil {
				return 0, err
			}
		}
		done += n
	}
	return len(dest), nil
}

func (s *fileState) truncate(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.size = n
	if n < s.floor {
		s.floor = n
	}
	for i, p := range s.pages {
		switch {
		case i*pageSize >= n:
			delete(s.pages, i)
		case (i+1)*pageSize > n:
			clear(p[n-i*pageSize:])
		}
	}
}

// flush writes the state to the backing file, which then holds it durably.
func (s *fileState) flush(fd int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := syscall.Ftruncate(fd, s.floor); err != nil {
		return err
	}
	if err := syscall.Ftruncate(fd, s.size); err != nil {
		return err
	}
	for i, p := range s.pages {
		off := i * pageSize
		n := int64(pageSize)
		if off+n > s.size {
			n = s.size - off
		}
		if n > 0 {
			if _, err := syscall.Pwrite(fd, p[:n], off); err != nil {
				return err
			}
		}
	}
	s.pages = map[int64][]byte{}
	s.floor = s.size
	return nil
}

// node is a loopback node whose data and namespace changes become
// durable only as doc.go says.
type node struct {
	fs.LoopbackNode
	fsys *FS
}

var (
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeLookuper       = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeFsyncer        = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeGetattrer      = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.NodeAllocater      = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
	_ fs.NodeLseeker        = (*node)(nil)
	_ fs.FileFsyncdirer     = (*dirHandle)(nil)
	_ fs.FileReader         = (*handle)(nil)
	_ fs.FileWriter         = (*handle)(nil)
	_ fs.FileFsyncer        = (*handle)(nil)
	_ fs.FileReleaser       = (*handle)(nil)
)

func (n *node) backing() string {
	return filepath.Join(n.RootData.Path, n.Path(n.RootData.RootNode.EmbeddedInode()))
}

func (n *node) ino() uint64 { return n.StableAttr().Ino }

// Open opens the backing file read-write (the file system must read
// pages to merge writes) and serves its data through the page cache, so
// that shared writable mappings work.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return n.open(n.backing(), flags)
}

// open opens the node's backing file at p (the node may not be linked in
// the tree yet, as during Create).
func (n *node) open(p string, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fd, err := syscall.Open(p, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		fd, err = syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return nil, 0, fs.ToErrno(err)
		}
	}
	h := &handle{n: n, fd: fd}
	if flags&syscall.O_TRUNC != 0 {
		if errno := h.truncate(0); errno != 0 {
			syscall.Close(fd)
			return nil, 0, errno
		}
	}
	return h, 0, 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if errno := n.fsys.check(OpCreate, filepath.Join(n.backing(), name)); errno != 0 {
		return nil, nil, 0, errno
	}
	ch, lf, _, errno := n.LoopbackNode.Create(ctx, name, flags&^syscall.O_TRUNC, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if r, ok := lf.(fs.FileReleaser); ok {
		r.Release(ctx)
	}
	child := ch.Operations().(*node)
	h, fl, errno := child.open(filepath.Join(n.backing(), name), flags)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return ch, h, fl, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.fsys.check(OpCreate, filepath.Join(n.backing(), name)); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.fsys.check(OpCreate, filepath.Join(n.backing(), name)); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Mknod(ctx, name, mode, rdev, out)
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	p := filepath.Join(n.backing(), name)
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return fs.ToErrno(err)
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return syscall.EISDIR
	}
	return n.fsys.toLimbo(p)
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	p := filepath.Join(n.backing(), name)
	if errno := emptyDir(p); errno != 0 {
		return errno
	}
	return n.fsys.toLimbo(p)
}

func emptyDir(p string) syscall.Errno {
	d, err := os.Open(p)
	if err != nil {
		return fs.ToErrno(err)
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return fs.ToErrno(err)
	}
	if !fi.IsDir() {
		return syscall.ENOTDIR
	}
	if names, _ := d.Readdirnames(1); len(names) > 0 {
		return syscall.ENOTEMPTY
	}
	return 0
}

// Rename moves a replaced target to limbo first, so that the replacement
// can be undone by a power cut.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	if flags != 0 {
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	}
	src := filepath.Join(n.backing(), name)
	dst := filepath.Join(np.backing(), newName)
	var sst, dst_ syscall.Stat_t
	if err := syscall.Lstat(src, &sst); err != nil {
		return fs.ToErrno(err)
	}
	if err := syscall.Lstat(dst, &dst_); err == nil {
		if sst.Ino == dst_.Ino {
			return 0
		}
		srcDir := sst.Mode&syscall.S_IFMT == syscall.S_IFDIR
		dstDir := dst_.Mode&syscall.S_IFMT == syscall.S_IFDIR
		switch {
		case srcDir && !dstDir:
			return syscall.ENOTDIR
		case !srcDir && dstDir:
			return syscall.EISDIR
		case dstDir:
			if errno := emptyDir(dst); errno != 0 {
				return errno
			}
		}
		if errno := n.fsys.toLimbo(dst); errno != 0 {
			return errno
		}
	}
	return fs.ToErrno(syscall.Rename(src, dst))
}

func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if n.IsDir() {
		return n.fsys.syncDir(n.backing())
	}
	if h, ok := f.(*handle); ok {
		return h.Fsync(ctx, flags)
	}
	fh, _, errno := n.open(n.backing(), 0)
	if errno != 0 {
		return errno
	}
	h := fh.(*handle)
	defer h.Release(ctx)
	return h.Fsync(ctx, flags)
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	ds, _, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &dirHandle{FileHandle: ds, n: n}, 0, 0
}

func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if errno := n.LoopbackNode.Getattr(ctx, nil, out); errno != 0 {
		return errno
	}
	n.patchSize(out)
	return 0
}

// Lookup (also run for each entry of READDIRPLUS) reports the size with
// unsynced writes, as Getattr does: the kernel takes the size it is told,
// and a smaller one would cut a mapping short (SIGBUS).
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno != 0 {
		return nil, errno
	}
	if c, ok := ch.Operations().(*node); ok && !ch.IsDir() {
		c.patchAttr(&out.Attr)
	}
	return ch, 0
}

func (n *node) patchSize(out *fuse.AttrOut) {
	if !n.IsDir() {
		n.patchAttr(&out.Attr)
	}
}

func (n *node) patchAttr(a *fuse.Attr) {
	s, _ := n.fsys.state(n.ino(), -1, false)
	if s == nil {
		return
	}
	s.mu.Lock()
	a.Size = uint64(s.size)
	a.Blocks = (a.Size + 511) / 512
	s.mu.Unlock()
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok && !n.IsDir() {
		h, isH := f.(*handle)
		if !isH {
			fh, _, errno := n.open(n.backing(), 0)
			if errno != 0 {
				return errno
			}
			h = fh.(*handle)
			defer h.Release(ctx)
		}
		if errno := h.truncate(int64(sz)); errno != 0 {
			return errno
		}
		in.Valid &^= fuse.FATTR_SIZE
	}
	if errno := n.LoopbackNode.Setattr(ctx, nil, in, out); errno != 0 {
		return errno
	}
	n.patchSize(out)
	return 0
}

// Allocate, CopyFileRange and Lseek would bypass the unsynced state;
// callers fall back to plain writes and reads.
func (n *node) Allocate(ctx context.Context, f fs.FileHandle, off uint64, size uint64, mode uint32) syscall.Errno {
	return syscall.EOPNOTSUPP
}

func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, len uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}

func (n *node) Lseek(ctx context.Context, f fs.FileHandle, off uint64, whence uint32) (uint64, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}

// dirHandle records the folder's entries as durable on fsync.
type dirHandle struct {
	fs.FileHandle
	n *node
}

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return d.n.fsys.syncDir(d.n.backing())
}

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.FileHandle.(fs.FileReaddirenter).Readdirent(ctx)
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	return d.FileHandle.(fs.FileSeekdirer).Seekdir(ctx, off)
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	d.FileHandle.(fs.FileReleasedirer).Releasedir(ctx, flags)
}

// handle is an open file: reads merge the unsynced pages over the backing
// file, writes go to the unsynced pages, fsync writes them through.
type handle struct {
	n  *node
	fd int
}

func (h *handle) truncate(size int64) syscall.Errno {
	s, err := h.n.fsys.state(h.n.ino(), h.fd, true)
	if err != nil {
		return fs.ToErrno(err)
	}
	s.truncate(size)
	return 0
}

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	s, _ := h.n.fsys.state(h.n.ino(), h.fd, false)
	if s == nil {
		n, err := syscall.Pread(h.fd, dest, off)
		if err != nil {
			return nil, fs.ToErrno(err)
		}
		return fuse.ReadResultData(dest[:n]), 0
	}
	n, err := s.read(h.fd, dest, off)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if errno := h.n.fsys.check(OpWrite, h.n.backing()); errno != 0 {
		return 0, errno
	}
	s, err := h.n.fsys.state(h.n.ino(), h.fd, true)
	if err != nil {
		return 0, fs.ToErrno(err)
	}
	if err := s.write(h.fd, data, off); err != nil {
		return 0, fs.ToErrno(err)
	}
	return uint32(len(data)), 0
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if errno := h.n.fsys.check(OpFsync, h.n.backing()); errno != 0 {
		return errno
	}
	s, _ := h.n.fsys.state(h.n.ino(), h.fd, false)
	if s == nil {
		return 0
	}
	if err := s.flush(h.fd); err != nil {
		return fs.ToErrno(err)
	}
	return 0
}

func (h *handle) Flush(ctx context.Context) syscall.Errno { return 0 }

func (h *handle) Release(ctx context.Context) syscall.Errno {
	return fs.ToErrno(syscall.Close(h.fd))
}

func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(h.fd, &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStat(&st)
	h.n.patchSize(out)
	return 0
}
