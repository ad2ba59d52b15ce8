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
// first event of the log, then strictly increasing in commit order, without
// gaps over the whole log. System events take positions too, so a reader
// that does not see every stream sees increasing positions with gaps.
// RecordedAt is UTC and never decreases along positions.
//
// Streams whose names start with "$" ($schemas, $audit, $erasures) belong to
// the system: Append rejects them, AppendSystem accepts only them. Reads see
// every stream. There is no update and no delete, of an event or of a
// stream, anywhere in the API.
//
// # Appends
//
// Append is all or nothing and checks an ExpectedVersion: Any, NoStream (0)
// or an exact version N. A failed check returns a *ConflictError carrying the
// actual version (errors.Is(err, ErrConflict)). A caller that sets event IDs
// can retry safely: if every ID of an append was appended before, to the
// same stream in the same order, the original AppendResult comes back and
// nothing is appended; if only some were, the append fails with
// ErrIdempotencyOverlap. Input is validated before it reaches the writer,
// so bad input changes nothing.
//
// An event may carry tags (EventData.Tags), for example the data subjects it
// refers to. The tag index is written in the append's own transaction, so a
// tag is durable exactly when its event is; ReadTag lists a tag's events in
// position order. Tags are not part of the record or its hash.
//
// # Group commit and durability
//
// One writer owns the tail of the log. Appenders validate and encode their
// events in their own goroutine and queue them; the writer takes everything
// queued (up to Options.MaxGroupEvents), checks each append against the
// appends before it, writes the group in one Badger transaction with
// SyncWrites, and only then acknowledges every append in it. An append that
// fails its checks fails alone; a commit that fails fails the whole group.
// Concurrent appenders thus share fsyncs; a single appender never waits for
// others.
//
// AppendAfter adds a barrier for events that refer to writes in another
// store not yet durable: the writer calls each distinct Barrier of a group
// once before staging it and fails the appends whose Barrier failed, so the
// other store's fsync is shared by the group and ordered before the log's.
//
// # Hash chain
//
// Each record holds the SHA-256 hash of the previous record and its own
// hash over its canonical encoding (record.go). Verify walks the chain from
// position 1 and returns the head or the first break. The chain makes
// tampering evident; it does not stop an attacker who can rewrite every
// file: anchor the head hash elsewhere for that.
//
// # Reads and subscriptions
//
// ReadStream and ReadAll are range scans over the stream index, the event
// keys, or the per-type index for a type filter; never a scan of the whole
// log. A Subscription is pull-based: Next reads the next batch from disk by
// position and, once caught up, waits for the next commit. Catch-up and live
// share one code path, so there is no gap or duplicate at the switch, and a
// slow subscriber never slows writers down.
//
// # Storage
//
// internal/keys holds the key layout, with a format version that Open
// checks (format 2 is upgraded in place); record.go holds the record codec.
// DefaultOptions tunes Badger for a sidecar rather than a database server:
// small memtables, tables and caches, values in the value log, compression
// off. On Linux a small loop (residency_linux.go) advises the kernel about
// Badger's memory maps, which bounds both write amplification and resident
// memory. Figures: docs/performance.md.
//
// # Caveats
//
//   - Badger creates value-log files without an fsync of their folder, so
//     after a commit the writer fsyncs the folder when its mtime changed,
//     before it acknowledges (TestPowerCutLog, on internal/faultfs).
//   - Open locks the directory: one process at a time. Snapshots are kept
//     per version and not pruned.
//   - The mapping advice needs Linux 5.4+ and /proc; elsewhere resident
//     memory follows Badger's mappings. MaxMappedResident compares against
//     the whole process's file-backed memory but pages out only this log.
//   - A failed commit fails the whole group without telling whether any of
//     it reached the disk (an fsync error leaves that unknown); reopening
//     the log reads the truth.
//   - Append latency follows the disk's fsync; other writers to the same
//     disk stretch its tail.
package eventlog
