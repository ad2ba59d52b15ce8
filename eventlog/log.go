package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog/internal/keys"
	"github.com/piivault/piivault/internal/badgerrecover"
)

// ExpectedVersion is the optimistic-concurrency condition of an append:
// Any, NoStream, or an exact version N > 0 the stream must be at.
type ExpectedVersion int64

const (
	// Any appends whatever the stream's version.
	Any ExpectedVersion = -1
	// NoStream appends only if the stream has no events yet.
	NoStream ExpectedVersion = 0
)

func (v ExpectedVersion) String() string {
	switch {
	case v == Any:
		return "any"
	case v == NoStream:
		return "no stream"
	default:
		return strconv.FormatInt(int64(v), 10)
	}
}

// EventData is an event to append. A zero ID makes the log assign a new
// (time-ordered, version 7) UUID; give an ID to make retries idempotent.
type EventData struct {
	ID       uuid.UUID
	Type     string
	Data     json.RawMessage
	Metadata json.RawMessage
	// Tags puts the event in the tag index under each tag (ReadTag lists
	// a tag's events), written in the append's own transaction. Tags are
	// not part of the record or its hash, and reads do not return them.
	// Each is 1 to MaxTagLen bytes of UTF-8 without control characters;
	// a repeated tag counts once.
	Tags []string
}

// Event is an appended event.
type Event struct {
	ID         uuid.UUID
	Stream     string
	Version    uint64 // 1 for the first event of a stream
	Position   uint64 // global position, 1 for the first event of the log
	Type       string
	Data       json.RawMessage
	Metadata   json.RawMessage // nil if the event had none
	RecordedAt time.Time       // UTC; never decreases along positions
}

// AppendResult tells where an append's events landed.
type AppendResult struct {
	FirstVersion, LastVersion   uint64
	FirstPosition, LastPosition uint64
}

// Direction is the order of ReadStream.
type Direction int

const (
	// Forward reads versions upward from the start version.
	Forward Direction = iota
	// Backward reads versions downward from the start version.
	Backward
)

// Filter selects events in ReadAll. A zero Filter selects every event.
type Filter struct {
	// Types, if not empty, keeps only events of these types.
	Types []string
}

// StreamInfo describes a stream.
type StreamInfo struct {
	Stream        string
	Version       uint64 // current (last) version
	FirstPosition uint64 // position of version 1
	LastPosition  uint64 // position of the current version
}

// Snapshot is a stream's state as some reader computed it at a version.
type Snapshot struct {
	Stream  string
	Version uint64
	Data    json.RawMessage
	SavedAt time.Time
}

// VerifyResult is the outcome of walking the hash chain.
type VerifyResult struct {
	OK           bool
	HeadPosition uint64   // last position verified
	HeadHash     [32]byte // its hash (zero if the log is empty)
	BreakAt      uint64   // first position that failed, 0 if OK
	Reason       string   // why it failed, empty if OK
}

// DefaultReadLimit is used by reads given a limit <= 0.
const DefaultReadLimit = 1000

// slog attribute keys.
const (
	attrComponent = "component"
	attrDir       = "dir"
	attrHead      = "head"
	attrErr       = "err"
	attrFiles     = "files"
)

// Log is an append-only event log stored in one Badger database.
// Its methods are safe for concurrent use.
type Log struct {
	db     *badger.DB
	opts   Options
	logger *slog.Logger

	maxTxnSize  int64
	maxTxnCount int64

	// mu guards closed. Reads hold it shared for their duration, so Close
	// waits for them before closing Badger.
	mu        sync.RWMutex
	closed    bool
	done      chan struct{} // closed when Close starts: wakes subscribers
	closeDone chan struct{} // closed when Close has closed Badger: nothing writes to the directory any more

	reqs       chan *appendReq
	writerDone chan struct{}

	head     atomic.Uint64
	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced after every commit
	headHash [32]byte      // hash of the record at head; guarded by notifyMu

	// Owned by the writer goroutine.
	w      writerState
	folder folderSync

	// Counters for tests and benchmarks.
	groups, grouped atomic.Uint64 // group commits, events committed in them
	// Time in Badger commits (write + sync) and in the writer's linger,
	// summed over groups, in nanoseconds.
	commitNanos, lingerNanos atomic.Int64
	// Set by the committer, read by the writer's linger: appenders seen at
	// the last commit (acknowledged + queued), and how long the last
	// Badger commit (write + sync) took, in nanoseconds.
	active, lastCommit atomic.Int64
	pageOuts           atomic.Uint64 // times the residency loop paged Badger files out
	// writeErr is why the last group that wrote was not made durable (its
	// commit or the folder sync failed); nil once a group succeeds.
	writeErr atomic.Pointer[error]

	residencyDone chan struct{}
	stopResidency chan struct{}
}

// Open opens (creating if needed) the log in dir.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := badgerrecover.CreateDir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open eventlog: %w", err)
	}
	// A kill -9 between Badger's creation and truncation of a memtable file
	// leaves an empty one that Badger refuses to open; it holds nothing.
	removed, err := badgerrecover.RemoveEmptyMemtables(dir)
	if err != nil {
		return nil, fmt.Errorf("open eventlog: %w", err)
	}
	if len(removed) > 0 {
		logger.Warn("removed empty memtable files left by a crash", attrFiles, removed)
	}
	db, err := badger.Open(badgerOptions(dir, opts, logger))
	if err != nil {
		return nil, fmt.Errorf("open eventlog: %w", err)
	}
	l := &Log{
		db:          db,
		opts:        opts,
		logger:      logger,
		maxTxnSize:  db.MaxBatchSize(),
		maxTxnCount: db.MaxBatchCount(),
		done:        make(chan struct{}),
		closeDone:   make(chan struct{}),
		reqs:        make(chan *appendReq, 1024),
		writerDone:  make(chan struct{}),
		notify:      make(chan struct{}),
		folder:      folderSync{dir: dir},

		residencyDone: make(chan struct{}),
		stopResidency: make(chan struct{}),
	}
	if err := l.checkLimits(); err != nil {
		db.Close()
		return nil, err
	}
	if err := l.load(); err != nil {
		db.Close()
		return nil, err
	}
	go l.writer()
	go func() {
		defer close(l.residencyDone)
		if opts.AdviseInterval > 0 {
			l.residency(dir, l.stopResidency)
		}
	}()
	logger.Debug("eventlog opened", attrDir, dir, attrHead, l.head.Load())
	return l, nil
}

// checkLimits makes sure the largest append the options allow fits in one
// Badger transaction, so an append can never be split.
func (l *Log) checkLimits() error {
	// Badger's own estimate per entry (see entrySize), for the largest names:
	// the event record inline at most up to the value threshold, the ID
	// index value, a stream run and a type run (one each per event at worst).
	vt := l.opts.ValueThreshold
	perEvent := (9 + max(vt, 12) + 12) + (17 + 16 + MaxNameLen + 12) + (3 + MaxNameLen + 8 + 12 + 12) + (3 + MaxNameLen + 8 + 4 + 12)
	need := perEvent * int64(l.opts.MaxBatchEvents)
	if need >= l.maxTxnSize*9/10 || int64(4*l.opts.MaxBatchEvents) >= l.maxTxnCount*9/10 {
		return fmt.Errorf("open eventlog: MaxBatchEvents %d needs up to %d bytes per transaction but Badger allows %d (raise MemTableSize or lower ValueThreshold): %w",
			l.opts.MaxBatchEvents, need, l.maxTxnSize, ErrInvalid)
	}
	return nil
}

// load checks the format version and reads the head of the chain.
func (l *Log) load() error {
	return l.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(keys.Format())
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			it := txn.NewIterator(badger.IteratorOptions{Prefix: keys.EventPrefix()})
			it.Rewind()
			any := it.Valid()
			it.Close()
			if any {
				return fmt.Errorf("open eventlog: events without a format version: %w", ErrCorrupt)
			}
			return txn.Set(keys.Format(), keys.U64(uint64(keys.FormatVersion)))
		case err != nil:
			return fmt.Errorf("open eventlog: %w", err)
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("open eventlog: %w", err)
		}
		n, err := keys.ParseU64(v)
		switch {
		case err == nil && n == uint64(keys.PreviousFormatVersion):
			// The same layout without tag entries: upgrade in place.
			if err := txn.Set(keys.Format(), keys.U64(uint64(keys.FormatVersion))); err != nil {
				return fmt.Errorf("open eventlog: upgrade format: %w", err)
			}
		case err != nil || n != uint64(keys.FormatVersion):
			return fmt.Errorf("open eventlog: unsupported format version %x (this build reads %d): %w", v, keys.FormatVersion, ErrCorrupt)
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: keys.EventPrefix(), Reverse: true})
		defer it.Close()
		it.Seek(keys.SeekLast(keys.EventPrefix()))
		if !it.Valid() {
			return nil
		}
		pos, err := keys.ParseEvent(it.Item().Key())
		if err != nil {
			return fmt.Errorf("open eventlog: last event key: %w", ErrCorrupt)
		}
		var rec record
		var hash [32]byte
		err = it.Item().Value(func(b []byte) error {
			var derr error
			rec, derr = decodeRecord(b, false)
			hash = storedHash(b)
			return derr
		})
		if err != nil {
			return fmt.Errorf("open eventlog: head record %d: %w", pos, err)
		}
		if rec.Position != pos {
			return fmt.Errorf("open eventlog: head record at key %d says position %d: %w", pos, rec.Position, ErrCorrupt)
		}
		l.w.nextPos = pos + 1
		l.w.lastHash = hash
		l.w.lastTime = rec.RecordedAt
		l.head.Store(pos)
		l.headHash = hash
		return nil
	})
}

// Close stops accepting appends, commits those already queued, waits for
// reads in progress and closes the database. Subscriptions return ErrClosed.
// When Close returns, nothing writes to the log's directory any more (Badger
// writes a table and its manifest while it closes); a second Close returns
// ErrClosed, also only once the first has finished, and so do subscriptions
// that end because the log closed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.closeDone
		return ErrClosed
	}
	l.closed = true
	close(l.reqs)
	close(l.done)
	l.mu.Unlock()
	defer close(l.closeDone)
	<-l.writerDone
	close(l.stopResidency)
	<-l.residencyDone
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("close eventlog: %w", err)
	}
	return nil
}

// Head returns the last global position, 0 if the log is empty.
func (l *Log) Head(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.head.Load(), nil
}

// HeadHash returns the last global position and the chain hash of its
// record (zero for an empty log) without walking the chain: the value a
// receipt can anchor and a later Verify must reproduce.
func (l *Log) HeadHash(ctx context.Context) (uint64, [32]byte, error) {
	if err := l.acquire(ctx); err != nil {
		return 0, [32]byte{}, err
	}
	defer l.mu.RUnlock()
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	return l.head.Load(), l.headHash, nil
}

// errClosed returns ErrClosed once Close has finished, for callers that
// found the log closing: whoever sees ErrClosed may then remove the
// directory.
func (l *Log) errClosed() error {
	<-l.closeDone
	return ErrClosed
}

// acquire takes the read lock for an operation, or reports ErrClosed.
func (l *Log) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// published returns the channel closed at the next commit.
func (l *Log) published() <-chan struct{} {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	return l.notify
}

func (l *Log) publish(head uint64, hash [32]byte) {
	l.notifyMu.Lock()
	l.head.Store(head)
	l.headHash = hash
	close(l.notify)
	l.notify = make(chan struct{})
	l.notifyMu.Unlock()
}

// MaxBatchEvents is the most events one append may carry
// (Options.MaxBatchEvents): callers that do work per event before the
// append (the vault writes of redaction) check it first.
func (l *Log) MaxBatchEvents() int { return l.opts.MaxBatchEvents }
