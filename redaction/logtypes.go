package redaction

import "github.com/piivault/piivault/eventlog"

// The types of this file are redaction's own names for what a caller gives
// and gets of the log through the Service, so that callers (the HTTP layer)
// need not import eventlog. They convert to the log's types without cost.

// ExpectedVersion is the optimistic-concurrency condition of an append:
// Any, NoStream, or an exact version N > 0 the stream must be at.
type ExpectedVersion int64

const (
	// Any appends whatever the stream's version.
	Any = ExpectedVersion(eventlog.Any)
	// NoStream appends only if the stream has no events yet.
	NoStream = ExpectedVersion(eventlog.NoStream)
)

func (v ExpectedVersion) log() eventlog.ExpectedVersion { return eventlog.ExpectedVersion(v) }

// AppendResult tells where an append's events landed.
type AppendResult struct {
	FirstVersion, LastVersion   uint64
	FirstPosition, LastPosition uint64
}

func appendResult(r eventlog.AppendResult) AppendResult {
	return AppendResult{FirstVersion: r.FirstVersion, LastVersion: r.LastVersion,
		FirstPosition: r.FirstPosition, LastPosition: r.LastPosition}
}

// Direction is the order of ReadStream.
type Direction int

const (
	// Forward reads versions upward from the start version.
	Forward Direction = iota
	// Backward reads versions downward from the start version.
	Backward
)

func (d Direction) log() eventlog.Direction {
	if d == Backward {
		return eventlog.Backward
	}
	return eventlog.Forward
}

// Filter selects events in ReadAll. A zero Filter selects every event.
type Filter struct {
	// Types, if not empty, keeps only events of these types.
	Types []string
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	OK           bool
	HeadPosition uint64   // last position verified
	HeadHash     [32]byte // its hash (zero if the log is empty)
	BreakAt      uint64   // first position that failed, 0 if OK
	Reason       string   // why it failed, empty if OK
}

// Errors of the log that the Service passes on; errors.Is matches them.
var (
	ErrStreamNotFound      = eventlog.ErrStreamNotFound
	ErrNoSnapshot          = eventlog.ErrNoSnapshot
	ErrReservedStream      = eventlog.ErrReservedStream
	ErrInvalidStream       = eventlog.ErrInvalidStream
	ErrInvalidJSON         = eventlog.ErrInvalidJSON
	ErrEventTooLarge       = eventlog.ErrEventTooLarge
	ErrBatchTooLarge       = eventlog.ErrBatchTooLarge
	ErrIdempotencyOverlap  = eventlog.ErrIdempotencyOverlap
	ErrIdempotencyMismatch = eventlog.ErrIdempotencyMismatch
	ErrLogClosed           = eventlog.ErrClosed
	ErrLogCorrupt          = eventlog.ErrCorrupt
	ErrLogInvalid          = eventlog.ErrInvalid
)

// ConflictError is the log's answer to an append whose ExpectedVersion did
// not hold; Actual is the stream's version.
type ConflictError = eventlog.ConflictError
