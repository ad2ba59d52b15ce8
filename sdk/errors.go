package sdk

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. A failed call's error matches one of them with errors.Is
// when the server's answer maps to it (by problem code, else by status).
var (
	// ErrBadRequest: the server rejected the input (400, 422 other than a leak).
	ErrBadRequest = errors.New("sdk: bad request")
	// ErrUnauthenticated: the bearer token is missing or unknown (401).
	ErrUnauthenticated = errors.New("sdk: unauthenticated")
	// ErrDenied: the policy denied the call (403).
	ErrDenied = errors.New("sdk: denied by policy")
	// ErrNotFound: no such stream, schema, erasure or route (404).
	ErrNotFound = errors.New("sdk: not found")
	// ErrConflict: the stream is not at the expected version (409).
	ErrConflict = errors.New("sdk: version conflict")
	// ErrErased: PII was written for a subject that was erased.
	ErrErased = errors.New("sdk: subject erased")
	// ErrTooLarge: the request body or batch is over the server's limit (413).
	ErrTooLarge = errors.New("sdk: request too large")
	// ErrLeak: the leak guard found undeclared personal data (422).
	ErrLeak = errors.New("sdk: undeclared personal data")
	// ErrUnavailable: the vault or the server cannot answer now (503).
	ErrUnavailable = errors.New("sdk: unavailable")
	// ErrLegalHold: the subject is under a legal hold and cannot be erased
	// (409); the detail carries the hold's reason.
	ErrLegalHold = errors.New("sdk: subject under legal hold")
	// ErrNotImplemented: the server does not offer this (501), for example
	// the blind index when it has no key.
	ErrNotImplemented = errors.New("sdk: not implemented by the server")
	// ErrServer: any other 5xx.
	ErrServer = errors.New("sdk: server error")
)

// APIError is a problem answer of the server (application/problem+json).
// errors.Is(err, ErrConflict) and friends match it through Is.
type APIError struct {
	Status int    // HTTP status
	Code   string // the problem's stable code, for example "version_conflict"
	Title  string
	Detail string
	// ActualVersion is the stream's version on a version conflict, when the
	// server reports it.
	ActualVersion *uint64
	// Path is the JSON pointer a bad-input problem points at, if any.
	Path string
	// RequestID echoes the server's X-Request-Id, for support.
	RequestID string
}

// Error implements error. It never includes the request body.
func (e *APIError) Error() string {
	msg := fmt.Sprintf("piivault: %d %s", e.Status, e.Code)
	if e.Detail != "" {
		msg += ": " + e.Detail
	} else if e.Title != "" {
		msg += ": " + e.Title
	}
	return msg
}

// Is maps the error to the package's sentinels.
func (e *APIError) Is(target error) bool {
	s := e.sentinel()
	return s != nil && s == target
}

func (e *APIError) sentinel() error {
	switch e.Code {
	case CodeConflict:
		return ErrConflict
	case CodeErased:
		return ErrErased
	case CodeDenied:
		return ErrDenied
	case CodeUnauthenticated:
		return ErrUnauthenticated
	case CodeNotFound:
		return ErrNotFound
	case CodeTooLarge:
		return ErrTooLarge
	case CodeLeak:
		return ErrLeak
	case CodeUnavailable:
		return ErrUnavailable
	case CodeLegalHold:
		return ErrLegalHold
	case CodeNotImplemented:
		return ErrNotImplemented
	case CodeBadRequest, CodeInvalidJSON, CodeInvalidPointer:
		return ErrBadRequest
	}
	switch {
	case e.Status == http.StatusUnauthorized:
		return ErrUnauthenticated
	case e.Status == http.StatusForbidden:
		return ErrDenied
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status == http.StatusConflict:
		return ErrConflict
	case e.Status == http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case e.Status == http.StatusServiceUnavailable:
		return ErrUnavailable
	case e.Status == http.StatusNotImplemented:
		return ErrNotImplemented
	case e.Status >= 500:
		return ErrServer
	case e.Status >= 400:
		return ErrBadRequest
	}
	return nil
}
