package embedded

import (
	"log/slog"
	"time"

	"github.com/piivault/piivault/vault"
)

// Options tunes a Store. Zero fields take the value DefaultOptions gives.
type Options struct {
	// Logger receives operational messages; never values, never subject IDs.
	Logger *slog.Logger
	// DEKCacheTTL is how long unwrapped DEKs stay cached (default 2 s;
	// negative disables the cache).
	DEKCacheTTL time.Duration
	// DEKCacheSize caps the number of cached DEKs.
	DEKCacheSize int
	// DisableEncryptionAtRest turns Badger's own encryption off. Values and
	// DEKs are envelope-encrypted either way; this exists for the canary
	// scan, which proves nothing through Badger's encryption. Never in
	// production.
	DisableEncryptionAtRest bool
	// IndexCacheSize is Badger's table-index cache, required with
	// encryption at rest (default 32 MiB).
	IndexCacheSize int64
	// BlockCacheSize is Badger's block cache (default 64 MiB).
	BlockCacheSize int64
	// MemTableSize is Badger's memtable size (default 64 MiB).
	MemTableSize int64
	// ValueLogFileSize is the size of Badger's value-log files, which hold
	// nothing here (every record stays under the value threshold) but are
	// preallocated (default 64 MiB).
	ValueLogFileSize int64
	// MaxValueSize is the largest value Put accepts (default 256 KiB).
	MaxValueSize int
	// MaxBatchPuts caps how many Put calls one group commit holds
	// (default 1024).
	MaxBatchPuts int
	// PurgeDelay is how long the store must have been quiet (no commit)
	// before the background purge runs after erasures: a purge stalls
	// every write and read while it runs, so it waits for a moment when
	// nobody writes, and a burst of erasures shares one purge (default
	// 5 s, long enough that a client held up elsewhere for a few seconds,
	// as in an event-log write stall, does not pass for quiet; negative
	// disables the background purge, leaving Purge on demand).
	PurgeDelay time.Duration
	// PurgeMaxDelay is the longest the background purge waits for such a
	// quiet moment after an erasure; then it runs anyway, and writers and
	// readers wait for it (default 10 min; negative: wait for quiet
	// however long it takes).
	PurgeMaxDelay time.Duration
	// OnPurge, if set, is called after every purge that made erasures
	// physical, background or on demand.
	OnPurge func(vault.PurgeReport)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		Logger:           slog.New(slog.DiscardHandler),
		DEKCacheTTL:      vault.DefaultDEKCacheTTL,
		DEKCacheSize:     vault.DefaultDEKCacheSize,
		IndexCacheSize:   32 << 20,
		BlockCacheSize:   64 << 20,
		MemTableSize:     64 << 20,
		MaxValueSize:     256 << 10,
		ValueLogFileSize: 64 << 20,
		MaxBatchPuts:     1024,
		PurgeDelay:       5 * time.Second,
		PurgeMaxDelay:    10 * time.Minute,
		Now:              time.Now,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	if o.DEKCacheTTL == 0 {
		o.DEKCacheTTL = d.DEKCacheTTL
	}
	if o.DEKCacheSize <= 0 {
		o.DEKCacheSize = d.DEKCacheSize
	}
	if o.IndexCacheSize <= 0 {
		o.IndexCacheSize = d.IndexCacheSize
	}
	if o.BlockCacheSize <= 0 {
		o.BlockCacheSize = d.BlockCacheSize
	}
	if o.MemTableSize <= 0 {
		o.MemTableSize = d.MemTableSize
	}
	if o.ValueLogFileSize <= 0 {
		o.ValueLogFileSize = d.ValueLogFileSize
	}
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = d.MaxValueSize
	}
	if o.MaxBatchPuts <= 0 {
		o.MaxBatchPuts = d.MaxBatchPuts
	}
	if o.PurgeDelay == 0 {
		o.PurgeDelay = d.PurgeDelay
	}
	if o.PurgeMaxDelay == 0 {
		o.PurgeMaxDelay = d.PurgeMaxDelay
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	return o
}

// Log attribute keys.
const (
	attrErasureID = "erasure_id"
	attrValues    = "values"
	attrSubjects  = "subjects"
	attrDuration  = "duration"
	attrLeft      = "left"
	attrErr       = "err"
	attrDEKs      = "deks"
)
