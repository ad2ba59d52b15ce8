package vault

import (
	"context"
	"time"
)

// Token is an opaque reference to one stored value. It names its subject and
// carries at least 128 random bits; see doc.go for the format.
type Token string

// Entry is one value to store.
type Entry struct {
	Subject string
	Class   string
	Value   PII
}

// State says what Resolve found for one token.
type State int

const (
	// Found means the value is held and was decrypted.
	Found State = iota + 1
	// Erased means the token's subject was erased; no value exists any more.
	Erased
	// Unknown means the vault holds nothing for this token (never stored,
	// removed as an orphan, or malformed).
	Unknown
	// Expired means the value was destroyed by a retention rule.
	Expired
)

// Resolved is the outcome for one token of Resolve.
type Resolved struct {
	Token   Token
	Subject string
	Class   string
	State   State
	Value   PII // set only when State == Found
}

// Record is one held value of a subject, as Export returns it.
type Record struct {
	Token     Token
	Class     string
	Value     PII
	CreatedAt time.Time
}

// TokenInfo describes one held value without the value.
type TokenInfo struct {
	Token     Token
	Class     string
	CreatedAt time.Time
}

// SubjectInfo is what Describe returns: what is held for a subject, never the
// values themselves.
type SubjectInfo struct {
	Subject   string
	Erased    bool
	ErasedAt  time.Time
	ErasureID string
	Tokens    []TokenInfo
}

// EraseResult reports what an erasure destroyed.
type EraseResult struct {
	Subject       string
	ErasureID     string
	ErasedAt      time.Time
	ValuesDeleted int
	DEKDestroyed  bool
	AlreadyErased bool
}

// PurgeReport reports a purge that made erasures physical.
type PurgeReport struct {
	Subjects  int
	StartedAt time.Time
	DoneAt    time.Time
}

// Store is the vault contract that every backend implements and that
// vault/vaulttest checks. All methods are safe for concurrent use. The
// methods after Purge belong to optional capabilities: a backend without
// one answers ErrNotSupported (wrapped) from its methods; Capabilities
// says which it has, so a caller can choose its path once.
type Store interface {
	// Put stores the entries, all or nothing, and returns one token per entry
	// in order. It fails with ErrErased (wrapped) if any subject was erased.
	Put(ctx context.Context, entries []Entry) ([]Token, error)
	// Resolve returns one Resolved per token, in order, in one batch.
	// Erased and unknown tokens are states, not errors; an error means the
	// backend could not answer (ErrUnavailable) and no value is returned.
	Resolve(ctx context.Context, tokens []Token) ([]Resolved, error)
	// Delete removes the given tokens' values. It is for orphans of a failed
	// append, not for erasure.
	Delete(ctx context.Context, tokens []Token) error
	// Erase tombstones the subject first, then destroys its DEK and values.
	// It is idempotent: a second call reports AlreadyErased.
	Erase(ctx context.Context, subject, erasureID string) (EraseResult, error)
	// Export returns every value held for the subject.
	Export(ctx context.Context, subject string) ([]Record, error)
	// Describe lists what is held for a subject without values.
	Describe(ctx context.Context, subject string) (SubjectInfo, error)
	// Purge makes past erasures physical on disk, where the backend needs it.
	Purge(ctx context.Context) (PurgeReport, error)
	// Close releases the backend.
	Close() error

	// Capabilities returns the optional capabilities the backend has. It is
	// fixed once the store is open.
	Capabilities() Capabilities
	// PutUnsynced is Put, except that the values may not be durable until
	// the next Sync returns (CapUnsyncedPut).
	PutUnsynced(ctx context.Context, entries []Entry) ([]Token, error)
	// Sync makes every value put before it durable (CapUnsyncedPut). It
	// has the signature of eventlog.Barrier, so the log can sync the vault
	// just before it commits the events that hold the values' tokens.
	Sync() error
	// Expire destroys the tokens' values and leaves an expiry tombstone, so
	// Resolve answers Expired for them; it returns how many it destroyed
	// (CapExpire). Tokens already gone are skipped.
	Expire(ctx context.Context, tokens []Token) (int, error)
	// PutBlindIndex records that subject has a value of class whose keyed
	// digest is digest (CapBlindIndex). It fails with ErrErased if the
	// subject was erased. The digests are pseudonymous personal data: they
	// go with the subject on Erase.
	PutBlindIndex(ctx context.Context, subject, class string, digest []byte) error
	// LookupBlindIndex returns the subjects with a value of class whose
	// digest is digest, never an erased one (CapBlindIndex).
	LookupBlindIndex(ctx context.Context, class string, digest []byte) ([]string, error)
	// AwaitsPurge reports whether the subject was erased and its purge has
	// not run yet (CapPurgeQueue).
	AwaitsPurge(ctx context.Context, subject string) (bool, error)
}
