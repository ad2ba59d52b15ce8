// Package hashicorp is the HashiCorp Vault backend of vault.Store: every
// subject's wrapped data key (DEK) and sealed values live in a KV v2 secrets
// engine, DEKs are wrapped by a Transit key (vault/keys.Transit) that never
// leaves Vault, and any number of piivault instances can share one Vault.
//
//	client, _ := api.NewClient(hashicorp.ClientConfig(0)) // VAULT_ADDR, VAULT_TOKEN
//	s, err := hashicorp.New(ctx, client, hashicorp.Options{})
//
// # Layout in KV v2
//
// Under <KVMount>/<Prefix> (default secret/piivault), with the subject ID
// in unpadded base64url so any subject is one path segment:
//
//	s/<subject>  the subject record, as KV data {"v":1, "r":"<record JSON>"}
//	             (one string, so Vault does not decode it), where the record is
//	             {"v":1, "dek":"<base64 wrapped DEK>",
//	              "vals":{"<token id>":{"c":"<class>","x":"<base64 sealed value>","t":<unix ns>}}}
//	             or, once erased, only the marker
//	             {"v":1, "erased":{"id":"<erasure id>","at":"<time>","n":<values>,"dek":true}}
//	             a live record may also hold "exp" (token IDs whose values a
//	             retention rule destroyed: class and time) and "bi" (its
//	             blind-index keys)
//	b/<class>/<digest hex>/<subject>
//	             a blind-index entry (empty), listed by LookupBlindIndex
//
// A token finds its value with one read of its subject's record. Sealed
// values are vault.DEK.Seal output. Every write is a check-and-set on the
// record's version, so concurrent writers on any instance never lose each
// other's values. kv.go is the only file that knows this layout.
//
// # Operations and their cost
//
// Put writes each subject's record once, with check-and-set; new subjects
// take DEKs from a pool wrapped in Transit batches (Options.DEKBatch), so a
// Put costs a read and a write per new subject, one write per cached one.
// Resolve reads each
// subject's record once (not at all when cached), unwraps the missing DEKs
// in one Transit batch and opens the values locally: a batch of tokens
// costs a request per distinct cold subject, not per value. Batching pays
// most on reads and large writes; figures in docs/performance.md.
//
// # Erasure
//
// Erase first replaces the record by the erasure marker (the tombstone)
// with check-and-set, so every reader sees Erased from that instant and no
// concurrent Put slips past it. Then it destroys every older version of the
// record (KV v2 destroy, not a soft delete), so no version keeps a sealed
// value or the wrapped DEK. Erase is idempotent and finishes an interrupted
// one under its ID. Purge has nothing to do (Vault's own storage is
// Vault's business).
//
// The record's metadata is destroyed version by version, never deleted:
// deleting it resets KV v2's version counter, and a writer on another
// instance holding an old version could then bring the erased record back
// by check-and-set. What stays in the metadata is the key name (the subject
// ID, which the tombstone keeps anyway), version numbers and times.
//
// # Caching and other instances
//
// Records and unwrapped DEKs are cached for Options.CacheTTL (2 s by
// default; negative turns caching off). An erasure, Delete or Expire through
// one instance is visible on every other instance within CacheTTL, on the
// erasing instance at once; a Put elsewhere sees an erasure at once, since
// its check-and-set fails.
//
// # Retention and blind index
//
// Expire destroys single values and leaves a note so Resolve answers
// vault.Expired. PutBlindIndex and LookupBlindIndex find a subject by a
// keyed digest of a value; the entries are noted in the subject's record
// first (so an erasure cannot slip past) and Erase deletes them, key and
// metadata, since they are pseudonymous personal data.
//
// # Authentication
//
// Token auth renews the client's token when it is renewable. AppRole (and
// Kubernetes) auth log in at New, renew, and log in again at max TTL or when
// renewal fails, with backoff while Vault is down.
//
// # Failure
//
// Whenever Vault cannot answer (refused, timeout, sealed, 5xx, 403) the
// error wraps vault.ErrUnavailable and no value is returned. Error messages
// never carry request URLs, which name subjects, nor values. The next call
// after Vault is back works.
//
// # Caveats
//
//   - A subject's values live in one KV secret, rewritten whole on every
//     Put, so a Put costs time linear in the values its subject holds
//     (docs/performance.md). Subjects with many thousands of values would
//     want the record split into buckets (not done).
//   - Put is all or nothing per subject. Across subjects, a failed write
//     rolls back the subjects already written; if Vault fails during that
//     rollback too, those values stay under tokens nobody was given (they
//     are never returned) until the subject is erased.
//   - Transit key policy (deletion, min_decryption_version, exportability)
//     is the Vault operator's; Rewrap moves DEKs to the newest key version.
package hashicorp
