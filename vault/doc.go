// Package vault holds personal data (PII) by data subject, so that the event
// log never has to. Values are put in, tokens come out; tokens are resolved
// back to values under policy, and erasing a subject destroys its data key
// and values, which turns every token of that subject into "erased".
//
// # Model
//
// A subject is the person the data is about, named by an ID the caller
// chooses (a customer ID). Every value belongs to exactly one subject and has
// a class ("email", "address"). Store is the contract every backend
// implements; vault/embedded (a Badger database) and vault/hashicorp
// (HashiCorp Vault KV v2) are the two backends, and vault/vaulttest is the
// conformance suite both run.
//
// # Capabilities
//
// Some features exist in one backend only: an unsynced Put with a Sync
// barrier (so the event log syncs the vault once per commit group), value
// expiry, the blind index, a purge queue and a purge that runs by itself.
// They are methods of Store like the others, and Capabilities says which
// of them a backend has; the others answer ErrNotSupported and change
// nothing. Required methods were chosen over optional interfaces found by
// type assertion because a wrapper (vault/metered) then forwards every one
// of them without knowing the backend, so no caller is handed the bare
// store to reach a feature and a hidden feature cannot silently switch a
// caller to a slower path; the conformance suite calls every method on
// every backend. Capabilities exists so that a caller picks its path
// without a trial call: the append path asks it before choosing between
// PutUnsynced and Put. A new backend embeds Unsupported and overrides what
// it has.
//
// # Token format
//
// A token is the ASCII string
//
//	pv1.<subject>.<id>
//
// where <subject> is the subject ID encoded with unpadded base64url
// (RFC 4648 §5, no "="), and <id> is 16 bytes (128 bits) in the same
// encoding, always 22 characters: from crypto/rand (NewTokenID, the
// HashiCorp backend), or, in the embedded vault, the creation time in
// milliseconds (48 bits) followed by 80 bits from crypto/rand, as in a
// UUIDv7, so that a subject's values are stored in creation order (see
// vault/embedded). Neither part contains ".", so the token splits
// unambiguously. "pv1" is the format version. A token names its subject
// (ParseToken returns it without any lookup, which is how a reader knows
// whose value a token is before the vault answers) and cannot be guessed:
// its random bits are the only secret-like part. The token
// is a reference, not a ciphertext: it carries no part of the value.
// Subject IDs are at most MaxSubjectLen bytes of valid UTF-8 without control
// characters, so a token is at most 4+342+1+22 = 369 bytes.
//
// # Envelope encryption
//
// Each subject has its own random 256-bit data key (DEK). Each value is
// sealed with AES-256-GCM under the subject's DEK, with a fresh 96-bit
// random nonce, and with additional authenticated data that binds the
// subject, the token and the class (see DEK.Seal). A ciphertext moved to
// another token, subject or class fails to open with ErrTampered. DEKs are
// stored only wrapped by a key-encryption key (KEK) held by a KeyProvider
// (a local key file, vault/keys.Local, or HashiCorp Vault Transit). Sealed
// values are laid out as
//
//	0x01 | nonce (12 bytes) | AES-256-GCM ciphertext and 16-byte tag
//
// Unwrapped DEKs may be held in a DEKCache for a short time (2 s by
// default), which bounds how long another instance sharing a backend can
// still decrypt a subject that was erased elsewhere.
//
// # Erasure
//
// Erase writes a tombstone first (erased at, erasure ID), so concurrent
// readers see Erased at once; then destroys the DEK and the ciphertexts and
// drops cached keys. It is idempotent. A later Put for the subject fails
// with ErrErased: a subject ID is never reused by accident. Backends whose
// storage keeps deleted bytes around (Badger keeps them until compaction)
// make the deletion physical at Purge; with CapPurgeQueue, AwaitsPurge
// tells whether a subject still waits for it.
//
// # Caveats
//
// DEK.Destroy zeroes the key bytes it holds, but Go cannot zero the expanded
// AES key schedule or copies the runtime made; erasure relies on the wrapped
// DEK being gone from storage, not on memory hygiene.
package vault
