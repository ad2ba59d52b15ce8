package compliance

import (
	"errors"
	"fmt"
)

var (
	// ErrLegalHold is returned when an erasure is asked for a subject under
	// a legal hold. Wrapped in *LegalHoldError, which carries the hold's
	// reason. The rejection is recorded in $erasures and audited.
	ErrLegalHold = errors.New("compliance: subject under legal hold")
	// ErrNotFound is returned for an unknown erasure ID.
	ErrNotFound = errors.New("compliance: erasure not found")
	// ErrNoHold is returned by LiftHold for a subject without an active hold.
	ErrNoHold = errors.New("compliance: no legal hold")
	// ErrRequestIDReused is returned when a request ID already names an
	// erasure of another subject.
	ErrRequestIDReused = errors.New("compliance: request ID already used for another subject")
	// ErrInvalid is returned for bad input: an empty subject, a reason that
	// looks like personal data, a bad option.
	ErrInvalid = errors.New("compliance: invalid input")
	// ErrBadReceipt is returned by VerifyReceipt for a receipt that does not
	// parse or whose signature does not verify.
	ErrBadReceipt = errors.New("compliance: receipt does not verify")
	// ErrNotSupported is returned when the vault backend lacks a capability
	// (the blind index).
	ErrNotSupported = errors.New("compliance: not supported by the vault backend")
	// ErrBlindIndexOff is returned by FindSubjects when no blind index key
	// is configured (Options.BlindIndexKey; the sidecar's blindIndex.keyFile).
	ErrBlindIndexOff = errors.New("compliance: blind index not configured: set blindIndex.keyFile")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("compliance: closed")
)

// LegalHoldError is the rejection of an erasure of a held subject.
type LegalHoldError struct {
	Subject   string
	ErasureID string
	// Reason is the hold's reason, as placed.
	Reason string
}

func (e *LegalHoldError) Error() string {
	return fmt.Sprintf("compliance: erasure %s rejected: subject under legal hold: %s", e.ErasureID, e.Reason)
}

// Unwrap makes errors.Is(err, ErrLegalHold) true.
func (e *LegalHoldError) Unwrap() error { return ErrLegalHold }
