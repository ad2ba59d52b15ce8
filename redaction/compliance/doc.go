// Package compliance runs piivault's GDPR workflows on top of the
// redaction service: erasure as a workflow with a deadline and a signed
// receipt, legal holds, retention, and a blind index to find a subject by
// email or phone. It keeps no state of its own beyond the event log: every
// step is a system-stream event, replayed on start.
//
// # Erasure workflow
//
// Request (POST /v1/subjects/{subject}/erasure) moves an erasure through
//
//	requested -> erased -> purged -> completed      or      rejected
//
// each step an event in $erasures with its time and no personal value:
// redaction's Erase writes ErasureRequested (before the vault is touched)
// and SubjectErased (after vault.Erase destroyed the DEK and values); this
// package writes ErasurePurged and ErasureCompleted (together, after the
// vault made the subject's erasure physical and the receipt was signed),
// or ErasureRejected (legal hold). With a vault that purges in the
// background (the embedded vault), Advance waits for that purge; with any
// other, Advance runs one vault Purge per erased subject. PurgeNow purges at
// once and advances. ErasureCompleted carries the subject ID and the
// receipt; read models subscribed to the log forget the subject on it.
//
// Requests are idempotent per request ID: the same ID returns the same
// erasure, as it stands (ErrRequestIDReused for another subject); an
// empty one gets a fresh ID. The background worker (Options.AdvanceInterval)
// or Advance moves erasures on, including ones a crash left at requested.
//
// Restore safety: the log is the record of every erasure, so Reapply, run
// on every start before a read, erases again in the vault every subject
// $erasures names (recording what it destroyed for an erasure left at
// requested), purges, and logs how many it re-applied. A vault restored alone from an older backup is thereby
// brought back in line; a log restored with it is not (see Caveats).
//
// # Deadline
//
// An erasure is due Options.Deadline (30 days, GDPR Art. 12(3)) after its
// request, fixed in ErasureRequested. Open erasures past it are Overdue,
// within Options.NearDeadline NearDeadline; completed ones after it Late.
// List filters on them and Stats counts them for /metrics.
//
// # Receipts
//
// A completed erasure has a receipt: subject, erasure ID, request fields,
// counts of values destroyed, DEK destroyed, purge done, the events that
// referred to the subject (stream, version, position, type, paths; no
// values), the log head (position and chain hash) when the receipt was made,
// and times. The event list comes from redaction's Export of the (erased)
// subject, run as the principal "piivault-compliance", so each receipt
// also leaves an export audit record by that principal. The document is
//
//	{"receipt": {...}, "signature": {"alg": "Ed25519", "keyId": "...", "publicKey": "<base64>", "value": "<base64>"}}
//
// The signature is Ed25519 over the bytes "piivault erasure receipt v1",
// 0x00, then the canonical encoding of the receipt object (Canonical:
// members sorted by key, no whitespace, integers only, Go's string
// escaping without HTML escaping). Because the canonical form is
// recomputed, pretty-printing or reordering the document keeps it valid;
// changing any value does not. VerifyReceipt checks a document offline
// against a public key the verifier trusts (the embedded publicKey is only
// a hint). The key is the sidecar's, kept by LoadOrCreateSigningKey in the
// data folder (PEM PKCS #8, mode 0600, generated on first start).
//
// # Legal hold
//
// PlaceHold and LiftHold record HoldPlaced and HoldLifted in their own
// system stream, $holds (hidden from ReadAll and Subscribe), apart from
// $erasures, and write an audit record each. An erasure of a held subject is
// rejected with a *LegalHoldError (errors.Is ErrLegalHold) that carries
// the hold's reason, recorded as ErasureRejected and audited. A hold does
// not stop an erasure already running.
//
// # Retention
//
// Options.Retention gives a period per event type and/or class. RunRetention
// (at start, then every RetentionInterval) destroys values whose period, counted from
// their event's recordedAt, has passed, and records them in $retention (no
// values). Reads then say "expired", or "unavailable" with a vault that can
// only Delete.
//
// # Blind index
//
// With Options.BlindIndexKey set and a vault with the blind-index capability,
// IndexBlind (background) puts, for every email and phone value, the
// HMAC-SHA256 of its normalised form (NormaliseEmail, NormalisePhone) under
// the deployment key into the vault, next to the subject, where erasure
// destroys it. FindSubjects answers subject IDs, never values, after an
// IndexBlind up to the log head: an acknowledged append is found at once.
//
// # Caveats
//
// The workflow state is per event log: sidecars with their own logs sharing
// one vault each see the erasures requested through them (the vault
// erasure itself is shared). A later Verify must reproduce the receipt's
// log head at its position. Restoring the log and the vault together from a backup taken
// before an erasure brings the erased subject back: nothing then records
// the erasure. Expired values leave the embedded vault's disk at compaction,
// not at a purge (the vault's caveat), so the canary guarantee after a
// purge covers erasure, not retention.
package compliance
