package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/redaction/compliance"
	"github.com/piivault/piivault/sdk"
	"github.com/piivault/piivault/vault"
)

// TestProblemFor pins the one mapping from errors to status and code. The
// errors are wrapped the way the packages wrap them.
func TestProblemFor(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("do thing: %w", err) }
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{badRequest(sdk.CodeInvalidJSON, "x"), 400, sdk.CodeInvalidJSON},
		{ErrUnauthenticated, 401, sdk.CodeUnauthenticated},
		{ErrRouteNotFound, 404, sdk.CodeNotFound},
		{ErrMethodNotAllowed, 405, sdk.CodeMethodNotAllowed},
		{ErrBodyTooLarge, 413, sdk.CodeTooLarge},
		{ErrUnsupportedMediaType, 415, sdk.CodeUnsupportedMediaType},
		{ErrNotReady, 503, sdk.CodeServiceUnavailable},
		{errPanic, 500, sdk.CodeInternal},
		{wrap(context.DeadlineExceeded), 504, sdk.CodeTimeout},
		{wrap(context.Canceled), 503, sdk.CodeCanceled},
		{errors.New("something else"), 500, sdk.CodeInternal},

		{wrap(&eventlog.ConflictError{Stream: "s", Expected: 3, Actual: 5}), 409, sdk.CodeConflict},
		{wrap(eventlog.ErrIdempotencyOverlap), 409, sdk.CodeIdempotencyConflict},
		{wrap(fmt.Errorf("%w (%w)", eventlog.ErrIdempotencyMismatch, eventlog.ErrIdempotencyOverlap)), 409, sdk.CodeIdempotencyConflict},
		{wrap(eventlog.ErrStreamNotFound), 404, sdk.CodeNotFound},
		{wrap(eventlog.ErrNoSnapshot), 404, sdk.CodeNotFound},
		{wrap(eventlog.ErrInvalidStream), 400, sdk.CodeBadRequest},
		{wrap(eventlog.ErrReservedStream), 400, sdk.CodeBadRequest},
		{wrap(eventlog.ErrInvalidJSON), 400, sdk.CodeInvalidJSON},
		{wrap(eventlog.ErrEventTooLarge), 413, sdk.CodeTooLarge},
		{wrap(eventlog.ErrBatchTooLarge), 413, sdk.CodeTooLarge},
		{wrap(eventlog.ErrInvalid), 400, sdk.CodeBadRequest},
		{wrap(eventlog.ErrClosed), 503, sdk.CodeServiceUnavailable},
		{wrap(eventlog.ErrCorrupt), 500, sdk.CodeInternal},

		{wrap(vault.ErrErased), 409, sdk.CodeErased},
		{wrap(vault.ErrUnavailable), 503, sdk.CodeUnavailable},
		{wrap(vault.ErrClosed), 503, sdk.CodeUnavailable},
		{wrap(vault.ErrInvalid), 400, sdk.CodeBadRequest},

		{wrap(&redaction.LeakError{Path: "/note", Kind: "email"}), 422, sdk.CodeLeak},
		{wrap(&redaction.EventError{Path: "/customerId", Reason: "r"}), 400, sdk.CodeInvalidEvent},
		{wrap(&redaction.SchemaError{Field: "fields[0].class", Reason: "r"}), 400, sdk.CodeBadRequest},
		{wrap(redaction.ErrInvalidPointer), 400, sdk.CodeInvalidPointer},
		{wrap(redaction.ErrSchemaNotFound), 404, sdk.CodeNotFound},
		{wrap(redaction.ErrErasureNotFound), 404, sdk.CodeNotFound},
		{wrap(redaction.ErrDenied), 403, sdk.CodeDenied},
		{wrap(redaction.ErrVaultUnavailable), 503, sdk.CodeUnavailable},
		{wrap(redaction.ErrAudit), 503, sdk.CodeAuditUnavailable},
		{wrap(redaction.ErrClosed), 503, sdk.CodeServiceUnavailable},
		{wrap(redaction.ErrInvalid), 400, sdk.CodeBadRequest},

		{wrap(&compliance.LegalHoldError{Subject: "s", Reason: "litigation"}), 409, sdk.CodeLegalHold},
		{wrap(compliance.ErrRequestIDReused), 409, sdk.CodeRequestIDReused},
		{wrap(compliance.ErrNotFound), 404, sdk.CodeNotFound},
		{wrap(compliance.ErrNoHold), 404, sdk.CodeNotFound},
		{wrap(compliance.ErrNotSupported), 501, sdk.CodeNotImplemented},
		{wrap(compliance.ErrInvalid), 400, sdk.CodeBadRequest},
		{wrap(compliance.ErrClosed), 503, sdk.CodeServiceUnavailable},

		{wrap(policy.ErrInvalidInput), 400, sdk.CodeBadRequest},
		{wrap(policy.ErrClosed), 503, sdk.CodeServiceUnavailable},
		{wrap(policy.ErrBadDecision), 500, sdk.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			p := problemFor(tt.err)
			if p.Status != tt.status || p.Code != tt.code || p.Title != http.StatusText(tt.status) {
				t.Errorf("problemFor(%v) = %d %q %q, want %d %q", tt.err, p.Status, p.Code, p.Title, tt.status, tt.code)
			}
		})
	}
	p := problemFor(&eventlog.ConflictError{Stream: "s", Expected: 0, Actual: 7})
	if p.ActualVersion == nil || *p.ActualVersion != 7 {
		t.Errorf("conflict problem has actualVersion %v, want 7", p.ActualVersion)
	}
	p = problemFor(wrap(&redaction.LeakError{Path: "/note", Kind: "email"}))
	if p.Path != "/note" {
		t.Errorf("leak problem path = %q, want /note", p.Path)
	}
	if p := problemFor(errors.New("secret detail")); p.Detail != "internal error" {
		t.Errorf("500 detail = %q, want a generic one", p.Detail)
	}
}

// An append whose IDs were all appended before, elsewhere, is not told that
// only some were.
func TestIdempotencyProblemSaysWhichCase(t *testing.T) {
	mismatch := fmt.Errorf("append: %w (%w)", eventlog.ErrIdempotencyMismatch, eventlog.ErrIdempotencyOverlap)
	if p := problemFor(mismatch); !strings.Contains(p.Detail, "every event ID was appended before") {
		t.Errorf("problemFor(mismatch).Detail = %q, want it to say every ID was appended before", p.Detail)
	}
	if p := problemFor(fmt.Errorf("append: %w", eventlog.ErrIdempotencyOverlap)); !strings.Contains(p.Detail, "some, not all") {
		t.Errorf("problemFor(overlap).Detail = %q, want some, not all", p.Detail)
	}
}
