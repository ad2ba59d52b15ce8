package eventlog

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test with errors.Is; every error the package
// returns for bad input wraps one of these and ErrInvalid where it is a
// validation failure, so an HTTP layer can map them to 4xx in one place.
var (
	// ErrConflict is returned when the expected version does not match the
	// stream's current version. The concrete error is a *ConflictError.
	ErrConflict = errors.New("eventlog: wrong expected version")
	// ErrStreamNotFound is returned by StreamInfo for a stream with no events.
	ErrStreamNotFound = errors.New("eventlog: stream not found")
	// ErrInvalidStream is returned for a stream name that is empty, longer
	// than 256 bytes, not UTF-8 or holds control characters.
	ErrInvalidStream = errors.New("eventlog: invalid stream name")
	// ErrReservedStream is returned when Append targets a "$" system stream
	// or AppendSystem targets a user stream.
	ErrReservedStream = errors.New("eventlog: reserved stream name")
	// ErrInvalidJSON is returned when event data, metadata or a snapshot is
	// not valid JSON.
	ErrInvalidJSON = errors.New("eventlog: invalid JSON")
	// ErrEventTooLarge is returned when one event exceeds Options.MaxEventSize.
	ErrEventTooLarge = errors.New("eventlog: event too large")
	// ErrBatchTooLarge is returned when an append exceeds
	// Options.MaxBatchEvents or Options.MaxBatchBytes.
	ErrBatchTooLarge = errors.New("eventlog: batch too large")
	// ErrIdempotencyOverlap is returned when some, but not all, event IDs of
	// an append were appended before, or were appended in another order or
	// to another stream: the append is neither new nor an exact retry.
	ErrIdempotencyOverlap = errors.New("eventlog: event IDs partially appended before")
	// ErrIdempotencyMismatch is the case of ErrIdempotencyOverlap (an
	// error that is one is also the other) where every event ID was
	// appended before, but to another stream or in another order.
	ErrIdempotencyMismatch = errors.New("eventlog: event IDs appended before to another stream or in another order")
	// ErrNoSnapshot is returned by LoadSnapshot when a stream has none.
	ErrNoSnapshot = errors.New("eventlog: no snapshot")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("eventlog: closed")
	// ErrInvalid is returned for other bad input: empty batch, bad event
	// type, duplicate event IDs in one batch, bad limit or version.
	ErrInvalid = errors.New("eventlog: invalid input")
	// ErrCorrupt is returned when a stored record cannot be decoded or the
	// stored data contradicts itself (for example a gap in positions).
	ErrCorrupt = errors.New("eventlog: corrupt record")
)

// ConflictError is the concrete error of an optimistic-concurrency failure.
// errors.Is(err, ErrConflict) reports true for it.
type ConflictError struct {
	Stream   string
	Expected ExpectedVersion
	Actual   uint64 // the stream's version at the time of the append; 0 if it does not exist
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("eventlog: wrong expected version for stream %q: expected %s, actual %d",
		e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
