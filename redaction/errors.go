package redaction

import (
	"errors"
	"fmt"
)

var (
	// ErrUnprotect is returned by PutSchema when the new version would stop
	// protecting paths the current one declares, and the request did not
	// say allowUnprotect.
	ErrUnprotect = errors.New("redaction: schema change would stop protecting personal data")
	// ErrInvalidPointer is returned for a malformed JSON pointer.
	ErrInvalidPointer = errors.New("redaction: invalid JSON pointer")
	// ErrInvalidSchema is returned for a schema that cannot be used: a bad
	// pointer, an unknown class, overlapping fields. Wrapped in *SchemaError.
	ErrInvalidSchema = errors.New("redaction: invalid schema")
	// ErrInvalidEvent is returned for an event that does not fit its schema
	// (for example a subject pointer that does not resolve to a non-empty
	// string) or is not a JSON object. Wrapped in *EventError.
	ErrInvalidEvent = errors.New("redaction: invalid event")
	// ErrLeak is returned when the leak guard finds something that looks like
	// personal data in an undeclared field and the event type says reject.
	// Wrapped in *LeakError, which names the path, never the value.
	ErrLeak = errors.New("redaction: undeclared personal data")
	// ErrSchemaNotFound is returned by GetSchema for an unknown event type.
	ErrSchemaNotFound = errors.New("redaction: schema not found")
	// ErrDenied is returned when the policy denies a request.
	ErrDenied = errors.New("redaction: denied by policy")
	// ErrAudit is returned when an audit record cannot be written; the read
	// that needed it fails and returns no data.
	ErrAudit = errors.New("redaction: audit record not written")
	// ErrVaultUnavailable is returned when the vault cannot answer a write
	// (append, erase, export). Reads do not fail on it: their fields read as
	// unavailable.
	ErrVaultUnavailable = errors.New("redaction: vault unavailable")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("redaction: closed")
	// ErrInvalid is returned for other bad input (empty subject, bad limit).
	ErrInvalid = errors.New("redaction: invalid input")
	// ErrErasureNotFound is returned by compliance.Service.Get for an unknown
	// erasure ID.
	ErrErasureNotFound = errors.New("redaction: erasure not found")
)

// SchemaError explains why a schema was refused. Field names the place in
// the schema document (for example "fields[2].path").
type SchemaError struct {
	EventType string
	Field     string
	Reason    string
	// Cause is the underlying sentinel, if any (ErrInvalidPointer).
	Cause error
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("redaction: invalid schema for %q: %s: %s", e.EventType, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidSchema) true, and
// errors.Is(err, ErrInvalidPointer) when a pointer was the cause.
func (e *SchemaError) Unwrap() []error {
	if e.Cause != nil {
		return []error{ErrInvalidSchema, e.Cause}
	}
	return []error{ErrInvalidSchema}
}

// EventError explains why an event was refused. Index is the event's place in
// the batch; Path is a JSON pointer into data (or metadata if Metadata is set).
// It never carries a value.
type EventError struct {
	Index    int
	Type     string
	Path     string
	Metadata bool
	Reason   string
}

func (e *EventError) Error() string {
	return fmt.Sprintf("redaction: invalid event %d (%s) at %s%q: %s", e.Index, e.Type, where(e.Metadata), e.Path, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidEvent) true.
func (e *EventError) Unwrap() error { return ErrInvalidEvent }

// LeakError names an undeclared field whose value looks like personal data.
// Kind is what it looks like ("email", "payment_card", ...). It never carries
// the value.
type LeakError struct {
	Index    int
	Type     string
	Path     string
	Metadata bool
	Kind     string
	// Key: an object key, not a value, looks like personal data. Path is
	// then the object that holds the key (the key itself is not named). A
	// token can only stand in for a value, so such a key is refused
	// whatever the guard mode.
	Key bool
}

func (e *LeakError) Error() string {
	if e.Key {
		return fmt.Sprintf("redaction: event %d (%s): a key of the %sobject %q looks like %s; keys cannot be tokenized: move it into a value and declare it in the schema",
			e.Index, e.Type, where(e.Metadata), e.Path, e.Kind)
	}
	return fmt.Sprintf("redaction: event %d (%s): undeclared field %s%q looks like %s; declare it in the schema or remove it",
		e.Index, e.Type, where(e.Metadata), e.Path, e.Kind)
}

// Unwrap makes errors.Is(err, ErrLeak) true.
func (e *LeakError) Unwrap() error { return ErrLeak }

func where(metadata bool) string {
	if metadata {
		return "metadata "
	}
	return "data "
}
