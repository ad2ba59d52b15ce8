package httpapi

import (
	"errors"
	"net/http"

	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/redaction/compliance"
	"github.com/piivault/piivault/sdk"
)

// problemForDomain is the part of problemFor for the errors of eventlog
// and redaction. It is called only from problemFor.
func problemForDomain(err error) (sdk.Problem, bool) {
	p := func(status int, code, detail string) (sdk.Problem, bool) {
		return sdk.Problem{Status: status, Title: http.StatusText(status), Code: code, Detail: detail}, true
	}
	var (
		hold     *compliance.LegalHoldError
		conflict *redaction.ConflictError
		leak     *redaction.LeakError
		schema   *redaction.SchemaError
		event    *redaction.EventError
	)
	switch {
	case errors.As(err, &hold):
		return p(http.StatusConflict, sdk.CodeLegalHold, "the subject is under legal hold: "+hold.Reason)
	case errors.Is(err, compliance.ErrRequestIDReused):
		return p(http.StatusConflict, sdk.CodeRequestIDReused, "the request ID already names an erasure of another subject")
	case errors.Is(err, compliance.ErrNotFound), errors.Is(err, compliance.ErrNoHold):
		return p(http.StatusNotFound, sdk.CodeNotFound, err.Error())
	case errors.Is(err, compliance.ErrBlindIndexOff):
		return p(http.StatusNotImplemented, sdk.CodeNotImplemented, "the blind index is not configured: set blindIndex.keyFile (a file of at least 32 random bytes)")
	case errors.Is(err, compliance.ErrNotSupported):
		return p(http.StatusNotImplemented, sdk.CodeNotImplemented, "not supported by this vault backend")
	case errors.Is(err, compliance.ErrInvalid):
		return p(http.StatusBadRequest, sdk.CodeBadRequest, err.Error())
	case errors.Is(err, compliance.ErrClosed):
		return p(http.StatusServiceUnavailable, sdk.CodeServiceUnavailable, "the service is shutting down")
	case errors.As(err, &conflict):
		pr, _ := p(http.StatusConflict, sdk.CodeConflict, "the stream is at another version than expected")
		actual := conflict.Actual
		pr.ActualVersion = &actual
		return pr, true
	case errors.Is(err, redaction.ErrUnprotect):
		return p(http.StatusConflict, sdk.CodeUnprotect, err.Error())
	case errors.Is(err, redaction.ErrIdempotencyMismatch):
		return p(http.StatusConflict, sdk.CodeIdempotencyConflict, "every event ID was appended before, but to another stream or in another order")
	case errors.Is(err, redaction.ErrIdempotencyOverlap):
		return p(http.StatusConflict, sdk.CodeIdempotencyConflict, "some, not all, of the event IDs were appended before")
	case errors.Is(err, redaction.ErrEventTooLarge), errors.Is(err, redaction.ErrBatchTooLarge):
		return p(http.StatusRequestEntityTooLarge, sdk.CodeTooLarge, err.Error())
	case errors.Is(err, redaction.ErrStreamNotFound), errors.Is(err, redaction.ErrNoSnapshot),
		errors.Is(err, redaction.ErrSchemaNotFound), errors.Is(err, redaction.ErrErasureNotFound):
		return p(http.StatusNotFound, sdk.CodeNotFound, err.Error())
	case errors.Is(err, redaction.ErrInvalidJSON):
		return p(http.StatusBadRequest, sdk.CodeInvalidJSON, err.Error())
	case errors.Is(err, redaction.ErrInvalidStream), errors.Is(err, redaction.ErrReservedStream),
		errors.Is(err, redaction.ErrLogInvalid):
		return p(http.StatusBadRequest, sdk.CodeBadRequest, err.Error())
	case errors.Is(err, redaction.ErrLogClosed), errors.Is(err, redaction.ErrClosed):
		return p(http.StatusServiceUnavailable, sdk.CodeServiceUnavailable, "the service is shutting down")
	case errors.Is(err, redaction.ErrLogCorrupt):
		return p(http.StatusInternalServerError, sdk.CodeInternal, "internal error")

	case errors.As(err, &leak):
		pr, _ := p(http.StatusUnprocessableEntity, sdk.CodeLeak, err.Error())
		pr.Path = leak.Path
		return pr, true
	case errors.Is(err, redaction.ErrInvalidPointer):
		return p(http.StatusBadRequest, sdk.CodeInvalidPointer, err.Error())
	case errors.As(err, &schema):
		return p(http.StatusBadRequest, sdk.CodeBadRequest, err.Error())
	case errors.As(err, &event):
		pr, _ := p(http.StatusBadRequest, sdk.CodeInvalidEvent, err.Error())
		pr.Path = event.Path
		return pr, true
	case errors.Is(err, redaction.ErrInvalidEvent), errors.Is(err, redaction.ErrInvalidSchema),
		errors.Is(err, redaction.ErrInvalid):
		return p(http.StatusBadRequest, sdk.CodeBadRequest, err.Error())
	case errors.Is(err, redaction.ErrDenied):
		return p(http.StatusForbidden, sdk.CodeDenied, err.Error())
	case errors.Is(err, redaction.ErrVaultUnavailable):
		return p(http.StatusServiceUnavailable, sdk.CodeUnavailable, "the vault is unavailable")
	case errors.Is(err, redaction.ErrAudit):
		return p(http.StatusServiceUnavailable, sdk.CodeAuditUnavailable, "the audit record could not be written; nothing was returned")
	}
	return sdk.Problem{}, false
}
