// Package faultfs is a FUSE file system for tests that forgets, on a
// simulated power cut, everything that was never made durable, and that
// fails operations on purpose (a full disk, I/O errors). It plays the part
// LazyFS and CharybdeFS play for etcd and Jepsen.
//
// It passes through to a backing folder, Dir()/data, which always holds
// exactly the durable state, apart from files moved aside (below):
//
//   - File data. A write(2), or a page the kernel writes back from a shared
//     writable mapping, goes to whole 4 KiB pages kept in memory per inode,
//     over the backing file; reads merge them. fsync, fdatasync, or msync
//     with MS_SYNC of the file (through any descriptor or name) writes them
//     to the backing file. A truncate is held the same way (bytes beyond it
//     read as zero even if the file grows again) and is durable with the
//     file's fsync, as on ext4 and XFS.
//   - Names. Creating, renaming, unlinking a file or making or removing a
//     folder happen at once in the backing folder, but are durable only once
//     the folder holding the name is fsynced: that fsync records the
//     folder's entry table (name to backing inode). An unlinked file or a
//     file replaced by a rename is moved to Dir()/limbo, not removed, so a
//     cut can bring it back with its synced content.
//
// PowerCut unmounts, drops every unsynced page and rebuilds data/ from the
// recorded entry tables, hard-linking each file from where its inode now
// is. A folder created but never fsynced comes back empty. The result does
// not depend on ext4's ordered mode or on the kernel's write-back timing.
//
// What the file system can and cannot see. Files are served through the
// kernel's page cache (not direct_io), so shared writable mappings work, and
// without the writeback-cache capability so every write(2) reaches the file
// system at once. A store through a mapping reaches it only when the kernel
// writes the page back: on msync, fsync, memory pressure or the periodic
// write-back. Until then it is in the kernel's page cache, which a cut
// (unmount) also drops or hands over as an unsynced write, so the outcome is
// the same: a mapped store is durable only after msync/fsync. The file
// system cannot tell msync from fsync, nor a write-back from a write(2).
// fallocate, copy_file_range and SEEK_DATA are refused (EOPNOTSUPP); callers
// fall back to plain writes. Owners, modes, times and extended attributes
// pass through and are durable at once. A cut needs every file on the mount
// closed, so the workload runs in a process the test kills first.
//
// SetFault injects errors (ENOSPC, EIO, ...) into writes, fsyncs and file
// and folder creation while it is set; an operation that fails changes
// nothing.
package faultfs
