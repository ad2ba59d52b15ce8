// Package redaction is piivault's redaction-aware event store. It composes
// the event log (package eventlog), the PII vault (package vault) and the
// policy (package policy) so that personal data leaves events on append and
// comes back on read only as the policy allows. The event log never holds a
// PII value; erasing a subject touches the vault only.
//
// # Schemas
//
// An event type declares its PII with a Schema (the JSON shape of
// sdk.Schema): a subject pointer (for example "/customerId"), then fields,
// each a JSON pointer (RFC 6901), a Class and, optionally, the field's own
// subject pointer. A segment that is exactly "*" matches every element of an
// array and every member of an object; a field's subject pointer may use
// "*" too, its k-th "*" taking the index the field's k-th "*" matched.
// Fields may not overlap and a subject pointer may not point into a field.
// Schemas live in the system stream "$schemas", versioned; a change never
// rewrites old events, each of which records the schema version it was
// redacted under.
//
// # Append
//
// Append validates every event of the batch, runs the leak guard, moves
// every declared value to the vault with one vault Put for the batch, and
// appends events in which each value is replaced in place by its token (a
// JSON string, whatever the value's type; every other byte is kept; null
// stays null). The stored metadata gets a reserved first member,
// "$piivault" (ReservedMetadataKey), listing each token's path, class and
// subject, so reads find tokens without the schema. Clients may not send
// that key; reads remove it.
//
// All or nothing: if the log append fails after the vault Put, the new
// values are deleted (or, failing that, by the sweeper). A crash between
// the two is covered by a durable pending marker written in the same Put
// (pending.go): the next start deletes values no event refers to. The vault
// is always durable before the log: with the embedded vault, the log's
// writer syncs the vault once per group before committing it
// (eventlog.AppendAfter).
//
// # Leak guard
//
// Values outside the declared fields, in data and metadata, are scanned
// (DetectPII): email, phone, payment card, IBAN, IP address, some national
// IDs. Per event type the guard rejects the batch with a *LeakError (naming
// the path and kind, never the value), tokenizes the value as class
// "detected", or allows it. Object keys are scanned too; a key cannot
// hold a token, so a key that looks like personal data is rejected in
// tokenize mode as well. Text is folded before matching (invalid bytes,
// control and format characters dropped, NFKC, dashes and digits made
// ASCII); printable ASCII is its own fold and costs one pass.
//
// # Read
//
// ReadStream, ReadAll and Subscribe resolve tokens per field under
// policy.Engine.Field. Effects become states: reveal (the value), mask (a
// class-specific mask), tokenize (the token stays), deny (null). An erased
// subject's value reads as Options.Placeholder with state erased, a value
// destroyed by retention as Options.ExpiredPlaceholder with state expired,
// and a vault that cannot answer gives state unavailable and null, never a
// value. Each read event lists its PII as {path, class, subject, state}.
// ReadAll and Subscribe hide the audit trail but show $schemas and
// $erasures, so read models learn of erasures.
//
// # Policy and audit
//
// The Service is the enforcement point: every method takes an Access
// (principal, purpose, request ID) and asks policy.Engine.Authorize before
// it does anything; a denial is audited and returned as ErrDenied. Audit
// records go to "$audit", one PIIAccessed event per request: who, action,
// purpose, and per stream, subject and outcome the paths, classes, effect,
// state and reason. Never a value; tokenized fields are not recorded. If the
// audit append fails, the read fails with ErrAudit and returns nothing.
//
// # Erasure and export
//
// Erase records ErasureRequested in "$erasures", calls vault.Erase, then
// records SubjectErased; none of these holds PII. A request ID makes it
// idempotent. The erasure workflow (holds, deadlines, receipts, and
// re-applying "$erasures" to a restored vault) is redaction/compliance,
// which calls Erase.
//
// Export returns every value the vault holds for a subject, as the policy's
// export decision shows it, and the events that refer to the subject, found
// through the log tag "subject:<subject ID>" written with each event.
//
// # Caveats
//
//   - The leak guard is a heuristic: it catches common shapes, not every
//     personal datum (a bare name in an undeclared field passes). Declaring
//     fields is the real protection.
//   - SaveSnapshot writes no pending marker: a crash between its Put and the
//     log leaves its values until the subject is erased. The tokens of a
//     snapshot a newer one replaces also stay until then.
//   - Restoring the log and the vault together from a backup taken before
//     an erasure brings the erased subject back: the restored log no longer
//     names the erasure.
//   - With the HashiCorp backend (durable when Put returns) an append waits
//     for the two stores in series.
package redaction
