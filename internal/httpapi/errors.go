package httpapi

import (
	"errors"
	"fmt"
)

// Errors of this package. Each maps to one problem code in problemFor.
var (
	// ErrUnauthenticated means the request carried no credential, or one
	// that matches no configured token or certificate.
	ErrUnauthenticated = errors.New("httpapi: unauthenticated")
	// ErrBadRequest means a malformed request: bad JSON, wrong types, a bad
	// query parameter or header.
	ErrBadRequest = errors.New("httpapi: bad request")
	// ErrBodyTooLarge means the request body exceeded Options.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("httpapi: request body too large")
	// ErrUnsupportedMediaType means a body that is not declared as JSON.
	ErrUnsupportedMediaType = errors.New("httpapi: unsupported media type")
	// ErrRouteNotFound means no route matches the path.
	ErrRouteNotFound = errors.New("httpapi: no such route")
	// ErrMethodNotAllowed means the path exists for other methods.
	ErrMethodNotAllowed = errors.New("httpapi: method not allowed")
	// ErrNotReady means the service is not ready to serve (stores closed,
	// policy not loaded).
	ErrNotReady = errors.New("httpapi: not ready")
	// ErrTooManySubscriptions means Options.MaxSubscriptions are open.
	ErrTooManySubscriptions = errors.New("httpapi: too many subscriptions")
	// ErrTooManyPrincipalSubscriptions means the caller's principal has
	// Options.MaxSubscriptionsPerPrincipal open.
	ErrTooManyPrincipalSubscriptions = errors.New("httpapi: too many subscriptions for one principal")
	// ErrNotImplemented means the route exists in the contract but the
	// service under it does not offer the operation yet.
	ErrNotImplemented = errors.New("httpapi: not implemented")
)

// badRequest wraps ErrBadRequest with a detail written by this package. The
// detail must never quote the request's values.
func badRequest(code, format string, args ...any) error {
	return &inputError{code: code, detail: fmt.Sprintf(format, args...)}
}

// inputError is a bad-request error with its own stable code.
type inputError struct {
	code   string
	detail string
}

func (e *inputError) Error() string { return "httpapi: bad request: " + e.detail }
func (e *inputError) Unwrap() error { return ErrBadRequest }

// errPanic stands for a recovered handler panic; it maps to 500.
var errPanic = errors.New("httpapi: handler panicked")
