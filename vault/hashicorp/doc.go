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
//	             (one string, so Vault does not decode and re-encode an
//	             object per value: 5x faster for a subject of 5,000 values),
//	             where the record is
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
// A token ID is the random part of the token (see vault's doc.go), so a
// token finds its value with one read of its subject's record. Sealed values
// are vault.DEK.Seal output (AES-256-GCM, bound to subject, token and class).
// Every write is a check-and-set on the record's version, so concurrent
// writers on any instance never lose each other's values: the loser reads
// again and retries. kv.go is the only file that knows this layout.
//
// # Operations and their cost
//
// Put groups entries by subject and writes each subject's record once,
// with check-and-set. A new subject takes a fresh DEK from a pool that is
// wrapped in batches (one Transit batch_input request for Options.DEKBatch
// keys), so a Put for a new subject costs a read and a write, and one for a
// known subject whose record is cached costs one write. Resolve reads each
// subject's record once (not at all when cached), unwraps the missing DEKs
// in one Transit batch and opens the values locally: a batch of tokens
// costs a request per distinct cold subject, not per value. Measured on the
// dev server with 8 callers (bench_test.go, medians of 5), one KV v2 write
// costs about five Transit encrypts (336 against 1,899 per second), so
// batching wins clearly on reads (a 100-token batch of one subject: 185x
// the values per second of one Transit decrypt per value when cached, 17x
// cold; of ten subjects cold: 4.5x) and on large writes (100 values of one
// subject: 11x), while a Put of 3 values reaches only about half the
// values per second of one Transit encrypt per value (which still leaves
// the caller to store the ciphertexts somewhere).
//
// # Erasure
//
// Erase first replaces the record by the erasure marker (the tombstone)
// with check-and-set, so every reader sees Erased from that instant and no
// concurrent Put slips past it: every writer writes against the version it
// read, and that version is gone. Then it destroys every older version of
// the record (KV v2 destroy, which removes a version's data from Vault's
// storage, unlike a soft delete), so no version keeps a sealed value or the
// wrapped DEK. Erase is idempotent, and a call after an interrupted one
// finishes the destruction under the first erasure's ID. Purge has nothing
// to do (reclaiming disk space inside Vault's own storage backend, Raft or
// Consul, is Vault's business).
//
// The record's metadata is destroyed version by version rather than
// deleted with DELETE .../metadata/..., on purpose: deleting the metadata
// resets KV v2's version counter to zero, and a writer on another instance
// that read version N before the erasure could then write with
// check-and-set N and bring the erased record back once the counter
// reached N again (an ABA race the two-instance test caught). Keeping the
// counter makes the marker final. What stays in the metadata is the key
// name (the subject ID, as the tombstone must keep it anyway), version
// numbers and times.
//
// # Caching and other instances
//
// Records and unwrapped DEKs are cached for Options.CacheTTL (2 s by
// default). An erasure through one instance is therefore visible on every
// other instance sharing the Vault within CacheTTL; on the erasing instance
// at once. A Put on another instance sees the erasure at once too, because
// its check-and-set against the cached version fails and it reads again.
// A negative CacheTTL turns caching off. The same bound applies to Delete
// and Expire done through another instance.
//
// # Retention and blind index
//
// Expire destroys single values for a retention rule and leaves a note so
// Resolve answers vault.Expired. PutBlindIndex and LookupBlindIndex find a
// subject by a keyed digest of a value (computed by the caller) without
// storing the value; the entries are noted in the subject's record first
// (check-and-set, so an erasure cannot slip past) and Erase deletes them,
// key and metadata, since they are pseudonymous personal data. These keys
// are never written with check-and-set, so deleting their metadata is safe.
//
// # Authentication
//
// Token auth uses the client's token and renews it with an
// api.LifetimeWatcher when it is renewable. AppRole (and Kubernetes) auth
// log in at New, renew the token, and log in again when it reaches its max
// TTL or renewal fails, with backoff while Vault is down. AuthStats counts
// logins and renewals.
//
// # Failure
//
// Whenever Vault cannot answer (connection refused, timeout, sealed, 5xx,
// 403) the error wraps vault.ErrUnavailable and no value is returned: never
// a wrong answer, never a panic. Error messages carry Vault's own error
// text but never request URLs, which name subjects, nor values. The store
// needs nothing to recover: the next call after Vault is back works.
//
// # Caveats
//
//   - A subject's values live in one KV secret, rewritten whole on every
//     Put, so a Put costs time linear in the values its subject holds:
//     measured on the dev server, 2-6 ms for up to 100 values, 18 ms at
//     1,000, 78 ms at 5,000. Subjects with many thousands of values would
//     want the record split into buckets (not done).
//     Delete and Expire destroy the record's older versions, so removed
//     values do not linger in KV v2's version history; erasure destroys
//     all of them.
//   - Put is all or nothing per subject. Across subjects, a failed write
//     rolls back the subjects already written; if Vault fails during that
//     rollback too, those values stay under tokens nobody was given (they
//     are never returned) until the subject is erased.
//   - Transit key policy (deletion, min_decryption_version, exportability)
//     is the Vault operator's; Rewrap moves DEKs to the newest key version.
package hashicorp
