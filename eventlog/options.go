package eventlog

import (
	"fmt"
	"log/slog"
	"time"
)

// Options tunes a Log. Start from DefaultOptions and change what you need;
// a zero field means "the default".
type Options struct {
	// Logger receives the log's own messages and Badger's. nil discards.
	Logger *slog.Logger
	// BadgerLogLevel is the lowest level at which Badger's messages are
	// passed to Logger. Default slog.LevelWarn: Badger is chatty at INFO.
	BadgerLogLevel slog.Level

	// MaxEventSize bounds len(Type)+len(Data)+len(Metadata) of one event.
	// Default 1 MiB.
	MaxEventSize int
	// MaxBatchEvents bounds the number of events of one append. Default 1000.
	MaxBatchEvents int
	// MaxBatchBytes bounds the summed event sizes of one append. Default 16 MiB.
	MaxBatchBytes int

	// MaxGroupEvents bounds how many events the writer puts in one group
	// commit (one Badger transaction, one fsync). Default 8192.
	MaxGroupEvents int
	// SubscriptionBatch is how many events a Subscription reads from disk at
	// a time; it bounds a subscriber's memory. Default 256.
	SubscriptionBatch int

	// AdviseInterval is how often the log looks for new Badger memory maps
	// to advise (Linux). Default 50ms; negative disables the advice. See
	// doc.go "Resident memory and write amplification".
	AdviseInterval time.Duration
	// MaxMappedResident is the file-backed resident memory above which the
	// log asks the kernel to reclaim the pages of Badger files it only
	// reads (Linux). Default 192 MiB; negative disables.
	MaxMappedResident int64

	// Badger memory and file tuning; see doc.go "Badger tuning" for why.
	MemTableSize     int64 // default 16 MiB
	NumMemtables     int   // default 2
	BlockCacheSize   int64 // default 8 MiB
	IndexCacheSize   int64 // default 8 MiB
	ValueThreshold   int64 // default 256 bytes: event records go to the value log
	ValueLogFileSize int64 // default 64 MiB
	BaseTableSize    int64 // default 1 MiB, at every level
	NumCompactors    int   // default 2
}

// DefaultOptions returns the options a sidecar should run with.
func DefaultOptions() Options {
	return Options{
		BadgerLogLevel:    slog.LevelWarn,
		MaxEventSize:      1 << 20,
		MaxBatchEvents:    1000,
		MaxBatchBytes:     16 << 20,
		MaxGroupEvents:    8192,
		SubscriptionBatch: 256,
		AdviseInterval:    50 * time.Millisecond,
		MaxMappedResident: 192 << 20,
		MemTableSize:      16 << 20,
		NumMemtables:      2,
		BlockCacheSize:    8 << 20,
		IndexCacheSize:    8 << 20,
		ValueThreshold:    256,
		ValueLogFileSize:  64 << 20,
		BaseTableSize:     1 << 20,
		NumCompactors:     2,
	}
}

// withDefaults fills zero fields from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxEventSize <= 0 {
		o.MaxEventSize = d.MaxEventSize
	}
	if o.MaxBatchEvents <= 0 {
		o.MaxBatchEvents = d.MaxBatchEvents
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = d.MaxBatchBytes
	}
	if o.MaxGroupEvents <= 0 {
		o.MaxGroupEvents = d.MaxGroupEvents
	}
	if o.SubscriptionBatch <= 0 {
		o.SubscriptionBatch = d.SubscriptionBatch
	}
	if o.AdviseInterval == 0 {
		o.AdviseInterval = d.AdviseInterval
	}
	if o.MaxMappedResident == 0 {
		o.MaxMappedResident = d.MaxMappedResident
	}
	if o.MemTableSize <= 0 {
		o.MemTableSize = d.MemTableSize
	}
	if o.NumMemtables <= 0 {
		o.NumMemtables = d.NumMemtables
	}
	if o.BlockCacheSize <= 0 {
		o.BlockCacheSize = d.BlockCacheSize
	}
	if o.IndexCacheSize <= 0 {
		o.IndexCacheSize = d.IndexCacheSize
	}
	if o.ValueThreshold <= 0 {
		o.ValueThreshold = d.ValueThreshold
	}
	if o.ValueLogFileSize <= 0 {
		o.ValueLogFileSize = d.ValueLogFileSize
	}
	if o.BaseTableSize <= 0 {
		o.BaseTableSize = d.BaseTableSize
	}
	if o.NumCompactors <= 0 {
		o.NumCompactors = d.NumCompactors
	}
	return o
}

func (o Options) validate() error {
	if o.MaxEventSize > o.MaxBatchBytes {
		return fmt.Errorf("open eventlog: MaxEventSize %d > MaxBatchBytes %d: %w", o.MaxEventSize, o.MaxBatchBytes, ErrInvalid)
	}
	if o.NumCompactors < 2 {
		// Badger requires at least two compactors (one prioritises L0).
		return fmt.Errorf("open eventlog: NumCompactors %d < 2: %w", o.NumCompactors, ErrInvalid)
	}
	return nil
}
