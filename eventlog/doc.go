// Package eventlog is piivault's append-only event log: streams with
// versions, one global order, idempotent appends, a hash chain, snapshots
// and subscriptions, stored in one Badger database. It knows nothing of PII,
// HTTP or policy: the redaction package puts only tokens in it.
//
// # Model
//
// An event belongs to a stream (a name of 1 to 256 bytes of UTF-8 without
// control characters). The first event of a stream has version 1 and
// versions have no gaps. Every event also gets a global position: 1 for the
// first event of the log, strictly increasing, without gaps. RecordedAt is
// UTC and never decreases along positions (the writer takes the maximum of
// the clock and the previous event's time).
//
// Streams whose names start with "$" ($schemas, $audit, $erasures) belong to
// the system: Append rejects them, AppendSystem accepts only them. Reads see
// every stream.
//
// There is no update and no delete, of an event or of a stream, anywhere in
// the API.
//
// # Appends
//
// Append is all or nothing and checks an ExpectedVersion: Any, NoStream (0)
// or an exact version N. A failed check returns a *ConflictError carrying the
// actual version (errors.Is(err, ErrConflict)). Events carry a UUID; a caller
// that sets IDs can retry safely: if every ID of an append was appended
// before, to the same stream in the same order, the original AppendResult
// comes back and nothing is appended; if only some were, the append fails
// with ErrIdempotencyOverlap.
//
// Input is validated before it reaches the writer (sizes, names, JSON), so
// bad input changes nothing.
//
// # Tags
//
// An event may carry tags (EventData.Tags): names the caller chooses, for
// example the data subjects an event refers to. The tag index is a
// secondary index written in the append's own transaction, so a tag is
// durable exactly when its event is, and ReadTag lists a tag's events in
// position order with one range scan. Tags are not part of the record or
// its hash, reads do not return them, and an idempotent retry adds none.
// The index holds runs of consecutive positions per tag (one entry for a
// batch of events with the same tag), like the type index.
//
// # Group commit and durability
//
// One writer goroutine owns the tail of the log. Appenders validate their
// events in their own goroutine and queue them; the writer takes everything
// queued (up to Options.MaxGroupEvents and Badger's transaction limits),
// checks each append against the state as of the appends before it in the
// same group, writes all of them in ONE Badger transaction and commits it
// with SyncWrites, i.e. one msync of the write-ahead log and one of the value
// log per group. Only then does it acknowledge every append in the group.
// An append that fails its checks fails alone; a commit that fails fails the
// whole group and the writer restores its state from before the group.
//
// Concurrent appenders therefore share fsyncs: 64 appenders of one event
// cost about one fsync per 64 events, while a single appender still waits
// for its own.
//
// AppendAfter adds a barrier for events that refer to writes in another
// store that are not durable yet: the writer calls each distinct Barrier
// of a group once, after taking the group and before staging it, and
// fails (writing nothing) the appends whose Barrier failed. The other
// store's fsync is then shared by the group and ordered before the log's.
// The writer is two goroutines: one gathers a group and syncs its
// barriers, the other commits groups in order, so a group's barrier sync
// overlaps the commit of the group before it (one cycle costs the longer
// of the two fsyncs, not their sum). After a group without barriers the
// gatherer waits for its commit, so plain appends group as described
// above.
//
// Without help, N appenders of one event each split into two alternating
// half groups: while one group syncs, the other half queues, and the
// first half only comes back after its acknowledgement. The writer
// therefore remembers how many appenders were active at the last commit
// (acknowledged plus queued) and, when the queue holds fewer, lingers for
// them for at most a quarter of the last commit's duration (capped at
// 1 ms). A single appender never waits.
//
// The appender's goroutine does the per-event CPU work: validation (a JSON
// validator that accepts exactly what encoding/json.Valid accepts, about
// ten times faster) and building the record bytes. The writer only fills
// in position, version, time and previous hash, hashes and stages.
//
// # Hash chain
//
// Each record holds the SHA-256 hash of the previous record and its own
// hash over its canonical encoding (record.go: fixed-width big-endian
// fields, length-prefixed strings). Verify walks the chain from position 1
// and returns the head (position, hash) or the first break: a missing
// position, a record that does not decode, a hash that does not match its
// bytes, or a broken link. The chain makes tampering evident; it does not
// prevent an attacker who can write the files from rewriting the whole
// chain: anchor the head hash elsewhere for that.
//
// # Reads and subscriptions
//
// ReadStream and ReadAll are range scans over Badger keys: the stream index
// for one stream, the event keys for all, and the per-type index for a type
// filter (merged in position order), never a scan of the whole log.
// The indexes hold runs of consecutive positions, and a read fetches each
// run's events with one Badger iterator (Seek to the first, Next through
// the run) rather than a point Get per event: a Get searches every level
// of the LSM tree, the iterator merges them once. With the stream's events
// in LSM tables and interleaved with another stream's, this made reading
// runs of 100 about 4 times faster and runs of one or two events about
// 1.6 times (BenchmarkReadStream, BenchmarkReadAllType).
//
// A Subscription is pull-based: Next reads the next batch from disk by
// position (Options.SubscriptionBatch events at a time) and, once caught up,
// waits for the next commit. Catch-up and live use the same code path, so
// there is no gap or duplicate at the switch; a slow subscriber holds one
// batch and never slows writers down.
//
// # Key layout and format version
//
// internal/keys holds the key layout, with a format version that Open
// checks; record.go holds the record codec. Both have fuzz tests. Format 3
// added the tag index; Open upgrades a format-2 directory in place (its
// events carry no tags).
//
// Per event the log writes two Badger entries (the record by position and
// the event ID for idempotency); the stream, type and tag indexes hold
// runs (one entry per append, or per run of consecutive positions of one
// type in a group), because each Badger entry costs a skiplist insert and
// a write-ahead-log record on the single write path.
//
// # Badger tuning
//
// Badger's defaults are tuned for a database server, not a sidecar. The
// choices here (DefaultOptions, badgerOptions) and why:
//
//   - SyncWrites is always on: an append is acknowledged only after it is
//     on disk. Group commit, not weaker durability, provides the throughput.
//   - ValueThreshold 256 bytes: an event record (117 bytes of header and
//     hash plus names and data) is written once, to the value log, and the LSM tree holds
//     only keys and 12-byte value pointers. This keeps the LSM tree small,
//     so compaction rewrites keys, not event bodies (write amplification),
//     SST files mapped into memory stay small (resident memory), and a
//     16 MiB append fits in one transaction, whose size Badger bounds at 15%
//     of MemTableSize counting pointers, not values.
//   - MemTableSize 16 MiB (default 64 MiB) and NumMemtables 2 (default 5):
//     memtables are the largest fixed memory cost; the write-ahead log of a
//     memtable is a file mapped at twice this size, and each synced commit
//     msyncs it, so a smaller memtable also means less to sync.
//   - ValueLogFileSize 64 MiB (default 1 GiB): the file being written is
//     the part of the value log that stays resident; older files are paged
//     out (next section).
//   - BlockCacheSize 8 MiB (default 256 MiB) and IndexCacheSize 8 MiB
//     (default 0 = all indexes in memory): bounded caches; blocks hold only
//     keys and pointers here, and ReadAll reads values from the value log.
//   - BaseTableSize 1 MiB at every level (default 2 MiB, doubling per
//     level): a compaction runs up to about eight table builders at once,
//     each holding twice its table size in memory; growing tables made
//     resident memory peak near 600 MiB under 30,000 events/s. Tables hold
//     keys and pointers only, so small tables cost little.
//   - Compression off (default Snappy): tables hold keys and value
//     pointers, which compress little, and a table builder keeps every
//     compressed block besides the plain one; a heap profile under 28,000
//     events/s showed 68 MiB live in compressData alone.
//   - NumCompactors 2 (two cores), conflict detection off (one writer),
//     metrics off.
//   - Badger's logger is routed into the injected slog.Logger at
//     Options.BadgerLogLevel (default Warn): Badger is chatty at Info.
//
// # Resident memory and write amplification
//
// Badger (v4) reads and writes its value log, write-ahead logs and tables
// through shared memory maps and gives the kernel no advice about them.
// Measured here (kernel 6.18, ext4) with Badger options alone:
//
//   - Write amplification of about 15x under 64 concurrent appenders:
//     faults on a sequentially written mapping trigger readahead, which
//     builds large page-cache folios; a synced commit dirties the folio
//     holding the log's tail and the kernel writes the whole folio back,
//     about 0.8 MiB per group commit of about 60 KiB of events. Smaller
//     memtables and value-log files only shorten the runs.
//   - Resident memory growing with the data (1.4 GiB after 1,000,000
//     1 KiB events, 1.2 GiB of it file pages): every page written through a
//     mapping stays mapped.
//
// So the log runs a small loop (residency_linux.go, every
// Options.AdviseInterval) that reads /proc/self/maps and advises Badger's
// mappings of its own directory: MADV_RANDOM on every new mapping (no
// readahead, so folios stay one page and a sync writes what changed), and,
// when the process's file-backed resident memory passes
// Options.MaxMappedResident, MADV_PAGEOUT on the tables and MADV_DONTNEED
// on the full value-log files (the files Badger only reads), at most once
// a second. MADV_DONTNEED leaves the events in the page cache: with
// MADV_PAGEOUT on the value log too, reads of older events after a bulk
// load went to the disk (read-100: about 86 MB/s read, 28,000-40,000 ev/s,
// one core idle; with MADV_DONTNEED about 150,000 ev/s). MADV_RANDOM and
// MADV_PAGEOUT are advice: on a range unmapped and reused in between they
// cost performance, never data; MADV_DONTNEED goes only to full value-log
// files, whose mappings stay put until Close (residency_linux.go). With the loop, 60 s of 64 appenders wrote 1.6x to 2.1x the event
// bytes to storage, and resident memory peaked at 381 to 463 MiB
// (TestSustainedLoad with EVENTLOG_SUSTAINED=60s, TestResidentMemory1M
// with EVENTLOG_MEM1M=1). What remains is mostly Go heap: memtable arenas
// and Badger's table builders, and the garbage the collector's default
// pacing allows on top (GOMEMLIMIT, set by the deployment, bounds that).
//
// # Appends after a bulk load
//
// An append's latency is its group's Badger commit and fsync; Badger
// itself holds writes back only when level 0 reaches
// NumLevelZeroTablesStall tables (here NumMemtables+8 = 10) or both
// memtables wait for their flush. Right after 1,000,000 1 KiB events
// (4 appenders, batches of 100, tagged like the redaction service's),
// 30 s of single appends one after another measured (three runs on the
// shared 2-core box) p50 0.37-0.62 ms, p99 5.6-7.0 ms, max 66-124 ms
// (medians 0.38, 5.9 and 84 ms), and p99 21.8 ms, max 198 ms with two
// busy loops taking the cores
// (TestAppendLatencyAfterFill1M, EVENTLOG_STALL1M=1). Level 0 held at most
// two tables after the fill, and Badger never stalled writes, during it or
// after (its lifetime L0 stall: 0 s). In two of the four runs the
// slowest append was the one that switched memtables (124 and 198 ms).
// What stretches the tail is other
// writes to the same disk: with another process writing files with fsync
// meanwhile, p99 was 37 ms and max 353 ms, because the log's fsync queues
// behind them. The erasures of piivault-bench's erase scenario after a
// 1,000,000-event fill through the HTTP API took p99 17-18 ms, max 25-41
// ms, with and without the busy loops.
//
// # Caveats
//
// The crash test kills the process, not the machine: pages already handed
// to the kernel survive kill -9 even without a sync. What it checks is
// recovery (no acknowledged event lost or altered, no gap, a verifying
// chain); durability against power loss rests on SyncWrites, which the
// log never turns off.
//
// Open takes an exclusive lock on the directory: one process at a time.
// Snapshots are kept per version and not pruned.
//
// The mapping advice needs Linux 5.4+ (MADV_PAGEOUT) and /proc; elsewhere
// the loop does nothing and resident memory follows Badger's mappings.
// MaxMappedResident compares against the whole process's file-backed
// resident memory (another Badger in the process counts too), but pages out
// only this log's files.
//
// A failed Badger commit fails the whole group, and the writer restores its
// state from before the group; it does not try to tell whether any of the
// group reached the disk (an fsync error leaves that unknown). Reopening
// the log reads the truth from disk.
package eventlog
