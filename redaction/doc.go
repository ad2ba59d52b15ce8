// Package redaction is piivault's redaction-aware event store. It composes
// the event log (package eventlog), the PII vault (package vault) and the
// policy (package policy) so that personal data leaves events on append and
// comes back on read only as the policy allows. The event log never holds a
// PII value; erasing a subject touches the vault only.
//
// # Schemas
//
// An event type declares its PII with a Schema (the JSON shape of
// sdk.Schema): a subject pointer (whose data the event is about, for
// example "/customerId"), then fields, each a JSON pointer, a Class and,
// optionally, the field's own subject pointer. Pointers follow RFC 6901
// ("~0" is "~", "~1" is "/"), with one addition: a segment that is exactly
// "*" matches every element of an array and every member of an object
// ("/addresses/*/street"). A key literally named "*" cannot be addressed. A
// whole object or array may be one field. A field's own subject pointer may
// use "*" too: its k-th "*" takes the index the field's k-th "*" matched, so
// "/people/*/email" with subject "/people/*/id" pairs each email with the
// id beside it. Fields may not overlap (one inside another), and a subject
// pointer may not point into a field: the subject ID stays readable.
//
// Classes: email, phone, name, address, date_of_birth, national_id,
// ip_address, free_text, and detected (what the leak guard gives values it
// tokenizes).
//
// Schemas live in the system stream "$schemas" (one SchemaDefined event per
// version; version n of a type is its n-th schema), so they are versioned,
// replay on start and survive restarts. Putting a schema equal to the
// current one stores nothing. A change never rewrites old events: each
// stored event records the schema version it was redacted under.
//
// # Append
//
// Append validates every event of the batch (data a JSON object, metadata
// absent or a JSON object, the subject pointers resolve to non-empty
// strings, no key twice at a PII path), runs the leak guard, moves every
// declared value to the vault with ONE vault Put for the whole batch, and
// appends events in which each value is replaced in place by its token (a
// JSON string, whatever the value's type: number, object and array become
// token strings; every other byte of the document is kept). A null value is
// not personal data and stays null.
//
// The stored event's metadata gets a reserved first member, "$piivault"
// (ReservedMetadataKey): the schema version, and for each token its path,
// class, subject and whether it is in metadata. Reads use it to find the
// tokens without the schema, so a later schema change cannot confuse them.
// Clients may not send that key; reads remove it.
//
// All or nothing: if the log append fails after the vault Put (conflict,
// bad input the log refuses, I/O), the new values are deleted at once. If
// that deletion fails too, the tokens go to the sweeper, which retries every
// SweepInterval (Sweep runs one pass). An exact retry of an earlier append
// (same event IDs) is detected by reading back the first event, and its new
// values are deleted as well. A crash between the vault Put and the log
// append is covered by a durable pending marker in the same Put (see
// "Orphans after a crash" below): the next start deletes the orphans.
//
// # Leak guard
//
// Values outside the declared fields, in data and in metadata, are scanned
// (DetectPII): email, phone (a leading "+" or the punctuation of a written
// number; dates, UUIDs, timestamps do not count), payment card (Luhn and a
// network prefix, also as a JSON number), IBAN (mod-97), IPv4/IPv6 (not
// loopback or unspecified), national IDs (US SSN, UK NINO, Spanish DNI with
// its check letter). Per event type (Schema.LeakGuard, else
// Options.DefaultLeakGuard, reject by default): reject the batch with a
// *LeakError that names the path and the kind, never the value; tokenize
// the value as class "detected" under the event's subject (for a type
// without schema, Options.UnattributedSubject, the stream name by default);
// or allow it.
//
// # Read
//
// ReadStream, ReadAll and Subscribe resolve tokens per field under
// policy.Engine.Field (the engine caches; within one request each distinct
// (stream, type, subject, path, class) is asked once). Effects become
// states: reveal (the original JSON value), mask (a string from the class's
// masker: j***@example.com, ***-***-1234, J*** D**, the year of a date of
// birth, **** otherwise), tokenize (the token string stays), deny (JSON
// null). Only reveal and mask need the vault: ONE vault Resolve per page.
// An erased subject's value reads as Options.Placeholder ("[deleted under
// GDPR]") with state erased; a value destroyed by retention as
// Options.ExpiredPlaceholder with state expired; a vault that cannot answer
// gives state unavailable and null, never a value. Each read event carries
// PII, a list of {path, class, subject, state}; metadata fields have
// Metadata set (wire path "metadata/<ptr>").
//
// ReadAll and Subscribe skip the audit trail (and the legacy subject-index
// streams and checkpoints of logs written before the tag index); they show
// $schemas and $erasures, so read models learn of erasures
// (EventSubjectErased carries the subject ID).
//
// # Policy and audit
//
// The Service is the enforcement point: every method takes an Access
// (principal, purpose, request ID) and asks policy.Engine.Authorize for the
// request (append, read, subscribe, erase, export, audit, admin) before it
// does anything; a denial is audited and returned as ErrDenied. A caller
// (the HTTP layer) may check too; it does not have to.
//
// Audit records go to the system stream "$audit", one PIIAccessed event per
// request (split in parts of one atomic append if large): who (principal,
// roles), action, purpose, request ID, when, and records of subject,
// stream, event type, versions, paths, classes, effect, state and the
// policy's reason. Never a value. Reveals, masks, denials, erased and
// unavailable outcomes are recorded; tokenized fields are not (a token
// reveals nothing). Fields of one stream and subject with the same outcome
// are merged into one record with a list of versions, so reading one
// customer's stream writes one small record. If the audit append fails,
// the read fails with ErrAudit and returns nothing. Audit queries them.
//
// # Erasure
//
// Erase asks the policy (action erase) itself. It records ErasureRequested
// in "$erasures" first, then calls vault.Erase, then records SubjectErased.
// None of these holds PII: reason, requester and ticket are refused
// (ErrLeak) if they look like personal data. A request ID makes the
// erasure ID deterministic, so repeating a request repeats nothing but an
// idempotent vault call. ReapplyErasures erases again every subject named
// in "$erasures"; call it on start so that a vault restored from an older
// backup forgets again (issue 6). GetErasure reads an erasure's status.
//
// # Export and the subject index
//
// Export (action export) returns every value the vault holds for a subject,
// each shown as the policy's field decision for action export says (the
// shipped policy reveals all to the dpo), and the events that refer to the
// subject, with the paths and classes that hold its values (from each
// event's token list). Those come from the subject index: every appended
// event that holds a subject's value carries the log tag
// "subject:<subject ID>" (eventlog's tag index), written in the same log
// transaction as the event, so an acknowledged append is indexed and a
// failed one is not, with nothing to queue, checkpoint or repair after a
// crash; eventlog.ReadTag lists a subject's events with one range scan.
// Logs written before the tag index kept it in "$subject-<subject ID>"
// streams (filled off the critical path, checkpointed in "$index"); Export
// still reads those, for the events they name, and nothing writes them any
// more. After an erasure, Export lists the events and one placeholder per
// referenced path.
//
// # Snapshots
//
// SaveSnapshot tokenizes a snapshot like an event of the given type and
// stores it with its token list; LoadSnapshot resolves it like a read.
// Caveat: the tokens of a snapshot that a newer one replaces stay in the
// vault until the subject is erased.
//
// # Cost model
//
// An append is one policy decision (cached by the engine), one JSON
// validation (internal/jsonvalid, shared with the log) and one walk of each
// document (extraction and leak scan together, no decoding into maps), one
// vault Put for the batch and one log append, whose transaction also holds
// the subject index: one tag-index entry per distinct subject per run of
// consecutive events (a batch of one customer's events shares one entry).
// The index used to be a second log event per event, written by a
// background indexer (about 40 µs of CPU of the ~140 µs an event cost in
// BenchmarkAppendConcurrent64, and a second request in the log's group
// commit).
//
// Measured on the shared 2-core machine (load average 3 to 4, others'
// benchmarks running), medians of 5 interleaved runs of the code before
// the tag index and the aligned syncs against the code after:
//
//	benchmark                before        after         CPU-µs/ev
//	AppendConcurrent64        7,644 ev/s   12,858 ev/s   141 -> 94
//	AppendBatch100           15,836 ev/s   20,784 ev/s    65 -> 48
//	AppendBatch100x4         27,922 ev/s   30,483 ev/s    55 -> 50
//	BaselinePutThenAppend64  14,293 ev/s   13,994 ev/s   (the stores alone)
//
// The pipelined writer alone (barrier overlapping the previous commit)
// gave 1.33x on AppendConcurrent64 in paired runs, at the same CPU per
// event. A batch of 100 from one appender waits for two fsyncs in series
// (the vault's, then the log's) and for the vault's sealing of its values
// on the appender's goroutine (one timed run under load: 9.9 ms a batch,
// 2.7 in the vault Put, 2.1 in the vault sync, 3.9 in the rest of the log
// append, 1.2 in redaction itself); splitting the
// batch into parallel Puts, or starting the vault fsync right after a big
// Put, did not measurably help (paired ratios 0.96 and 1.03), so neither
// is done.
//
// A read page is one log read, one walk of each document that stops at its
// last token (each distinct token list of the page decoded once), one
// policy decision per distinct (stream, type, subject, path, class), one
// vault Resolve (the embedded vault reads the whole batch on one snapshot,
// one iterator per subject), and one audit append whose records are grouped
// in reused scratch space. The audit append is started as soon as the
// page's states are known and runs while the documents are rewritten; the
// page is returned only once it is durable. The vault Resolve is most of a
// page's CPU; see BenchmarkBaselineReadResolve (the log read and the
// Resolve alone). With many concurrent readers of small pages the wait for
// the audit record's group commit, not CPU, bounds throughput:
// BenchmarkReadRevealedPage100x16 is the in-process shape of the load
// tool's read-100.
//
// The vault must be durable before the log (an event may never point to a
// missing value). With the HashiCorp backend (durable when Put returns) an
// append waits for the two stores in series. The embedded vault offers
// PutUnsynced and Sync: Append commits its values without waiting for a
// vault fsync and appends with eventlog.AppendAfter, so the log's writer
// syncs the vault once per group, just before it commits the group (an
// event is never durable before its values; TestAppendKill9 checks the
// order after SIGKILL). An append then waits for one group commit, which
// holds one vault sync and one log sync, instead of a vault group sync and
// then a log group commit. The benchmarks report the two stores alone
// (Baseline*) beside the redaction figures.
//
// # Caveats
//
// The leak guard is a heuristic: it catches the common shapes above, not
// every personal datum (a bare name in an undeclared field passes).
// Declaring fields is the real protection.
//
// # Orphans after a crash
//
// A crash between the vault Put and the log append leaves values no event
// refers to, which the in-memory sweeper forgets. The durable fix
// (pending.go) stays within this package's boundaries (vault.Store and the
// log's system streams, no Badger keys) and adds no write to the append's
// critical path:
//
//  1. Marker in the same Put. Append adds one entry to its single vault
//     Put: subject "$piivault-pending-<instance>-<shard>" (64 shards, round
//     robin, because the HashiCorp backend keeps one check-and-set
//     document per subject), class "system", value {"s":[<the batch's distinct
//     subjects>]}: subject IDs, which the log holds in clear anyway, no
//     value. Put is all or nothing and stamps one CreatedAt on all its
//     entries (both backends), so the marker is durable exactly when the
//     values are, and names them by subject and time. checkSubject refuses
//     subjects with that prefix, so clients can neither store under,
//     erase nor export them. The instance ID is written once to the
//     hidden system stream "$instance" by the first append with PII; it
//     keeps sidecars that share a vault from judging each other's markers.
//  2. Retire. Once the log acknowledged the append, the marker's token is
//     queued and one goroutine Deletes the queue every 100 ms (and at
//     Close). A failed append deletes the marker with its values (or the
//     in-memory sweeper does, both together).
//  3. Recover, in New (the subject index names every event in the log,
//     being written with them, and no append of this process is in
//     flight): for each surviving marker, for each of its subjects,
//     Describe lists the tokens; those with the marker's CreatedAt that no
//     event in the subject's index holds (read back through EventTokens)
//     are deleted, then the marker. An erased subject is skipped (its
//     values are gone). If that fails (vault down), every sweep retries,
//     judging only markers created before the Service started (never an
//     in-flight append of this process).
//
// The bound of issue 4 holds across restarts: orphans of a crash are gone
// when New returns, or within a sweep interval after the vault is back.
// Cost on the append: one more small sealed entry in the Put (same group
// commit) and, off the critical path, one batched Delete per 100 ms; no
// log write. Measured (interleaved A/B runs on a noisy shared 2-core
// machine, embedded vault): BenchmarkAppendConcurrent64 (one event per
// append) median ~132-140 -> ~148-159 CPU-us per event (+12-13%: a second
// subject in every Put and a vault delete per append), throughput about
// -11%; BenchmarkAppendBatch100 (one marker per 100 events) unchanged
// within noise (~67 CPU-us per event either way). Its limits: SaveSnapshot writes no marker (a crash between its
// Put and the log leaves its values until the subject is erased), and
// recovery reads every event of a marker's subjects (only after a crash,
// per surviving marker).
package redaction
