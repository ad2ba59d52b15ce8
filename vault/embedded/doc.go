// Package embedded is the default vault backend: a Badger database of its
// own (never the event log's) inside the sidecar's data folder.
//
// # Layout on disk
//
//	<dir>/db/      the Badger database
//	<dir>/db.key   Badger's 256-bit encryption-at-rest key, wrapped by the
//	               KeyProvider (absent when encryption at rest is off)
//
// Key and record bytes are described in keys.go, the one file that knows
// them.
//
// # Durability
//
// A write is acknowledged only after an fsync that started after its commit
// finished (group commit, groupsync.go). Badger runs with SyncWrites off,
// because with it on Badger fsyncs once per transaction; instead writers
// share fsyncs: whoever finds none running starts one that covers every
// commit made so far, and the others wait for it. Put calls are also packed
// by one committer goroutine into one transaction per batch; callers find
// DEKs and seal values in parallel before queuing, so the committer only
// checks tombstones and DEK races and writes; a subject it found without
// a tombstone is not looked up again until an Erase commits a tombstone
// (see Store.live). The fsync covers the memtable logs Badger has not yet
// flushed to a synced table (not Badger's Sync: the value log stays empty),
// and the folder when its listing changed.
//
// Token IDs begin with their creation time (keys.go, newTokenIDs), so a
// subject's new values are inserted at the end of its keys, where Badger's
// skiplist path is still in the CPU cache. An fsync error is sticky: every
// later write fails with vault.ErrUnavailable, since nothing since the last
// good fsync can be trusted to be on disk.
//
// # Reads
//
// Resolve reads a batch in one read-only transaction, so one snapshot.
// Tokens are grouped by subject and sorted by key; each subject's values
// are read with one iterator: a seek to the first, then up to three steps
// to each next one (a stream of one customer wants most of its values,
// and a step costs a fraction of a seek, which searches every memtable
// and level), seeking again after a walk misses. Values are decrypted
// into shared buffers. With the DEK cached and no erasure in flight a
// subject's tombstone is not read (see Store.erasing). A batch of 128
// tokens or more is split at a subject boundary between goroutines, each
// with its own iterator on the shared transaction, while fewer Resolve
// calls than processors are in flight (concurrent readers already use
// the processors). Reading one customer's stream is therefore much cheaper
// per value than reading events of many customers (docs/performance.md).
//
// # Erasure and purge
//
// Erase commits the tombstone (with a purge-queue entry) and the deletion
// of the DEK and the values in one transaction (a subject bigger than one
// transaction continues in more, behind the tombstone), then one group
// fsync, then drops the cached DEK. Readers see Erased and the values gone
// at the same instant, never one without the other, and later Puts fail
// with vault.ErrErased. The transaction is serialized with every commit
// that can create keys under a subject (Put's committer, PutBlindIndex),
// so none can slip a key past its snapshot.
//
// Badger keeps deleted bytes in its memtable log and its tables until
// compaction, so Purge makes the deletion physical: for every queued
// subject it calls DropPrefix on the subject's key prefix, which flushes
// the memtables without those keys and rewrites every table that held
// them, then runs value-log GC until it has nothing to rewrite. A live
// marker key is left under each erased prefix, because DropPrefix skips
// prefixes that hold only deleted keys. Blind-index prefixes are dropped
// the same way. The canary-scan test proves this on the bytes of the data
// folder.
//
// Purge runs on demand (Reapply at start, tests, operators) and purges the
// whole queue. The background purge runs once the store has been quiet for
// Options.PurgeDelay, or at the latest Options.PurgeMaxDelay after the
// first erasure it waits for, purgeChunk subjects per DropPrefix call,
// yielding to writers between calls until PurgeMaxDelay has passed. Both
// report through Options.OnPurge. Until its purge an erased subject is
// already unreadable, only not yet gone from disk; AwaitsPurge tells which,
// so the compliance workflow completes an erasure after the purge.
//
// # Beyond vault.Store
//
// Rotate rotates the KEK and rewraps every DEK and Badger's key online.
// Expire destroys single values for retention. PutBlindIndex and
// LookupBlindIndex keep keyed digests that Erase and the purge remove.
//
// # Caveats
//
// DropPrefix blocks writes while it runs, and reads too (it holds
// Badger's memtable lock); Put, Erase and Delete wait and retry meanwhile,
// so a purge shows up as latency, not errors. Its cost grows with the size
// of the tables it rewrites (docs/performance.md), which is why the
// background purge batches erasures and waits for quiet, in chunks; Badger
// has no way to flush a memtable or compact a key range while writes go on.
// The quiet wait sees only the store's commits: a request held up elsewhere
// longer than PurgeDelay may meet a chunk, and under writes that never
// pause the purge runs PurgeMaxDelay after the erasure, each chunk a stall.
// An expired value leaves the disk at compaction, not at a purge. Bytes of
// deleted files may remain in free blocks of the file system; encryption at
// rest (on by default) leaves only ciphertext there.
package embedded
