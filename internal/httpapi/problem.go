package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/sdk"
)

// problemFor is the one place that maps an error to an HTTP status and a
// stable problem code. Details of 5xx answers are generic: the error goes
// to the server log, not to the client.
func problemFor(err error) sdk.Problem {
	p := func(status int, code, detail string) sdk.Problem {
		return sdk.Problem{Status: status, Title: http.StatusText(status), Code: code, Detail: detail}
	}
	var in *inputError
	switch {
	case errors.As(err, &in):
		return p(http.StatusBadRequest, in.code, in.detail)
	case errors.Is(err, ErrBadRequest):
		return p(http.StatusBadRequest, sdk.CodeBadRequest, "bad request")
	case errors.Is(err, ErrUnauthenticated):
		return p(http.StatusUnauthorized, sdk.CodeUnauthenticated, "a valid bearer token or client certificate is required")
	case errors.Is(err, ErrRouteNotFound):
		return p(http.StatusNotFound, sdk.CodeNotFound, "no such route")
	case errors.Is(err, ErrMethodNotAllowed):
		return p(http.StatusMethodNotAllowed, sdk.CodeMethodNotAllowed, "method not allowed on this route")
	case errors.Is(err, ErrBodyTooLarge):
		return p(http.StatusRequestEntityTooLarge, sdk.CodeTooLarge, "request body too large")
	case errors.Is(err, ErrUnsupportedMediaType):
		return p(http.StatusUnsupportedMediaType, sdk.CodeUnsupportedMediaType, "request body must be application/json")
	case errors.Is(err, ErrNotImplemented):
		return p(http.StatusNotImplemented, sdk.CodeNotImplemented, "not implemented by this server")
	case errors.Is(err, ErrTooManySubscriptions):
		return p(http.StatusServiceUnavailable, sdk.CodeServiceUnavailable, "the server's limit of open subscriptions (all principals) is reached; retry later")
	case errors.Is(err, ErrTooManyPrincipalSubscriptions):
		return p(http.StatusServiceUnavailable, sdk.CodeServiceUnavailable, "the per-principal limit of open subscriptions is reached: close one of this principal's subscriptions or retry later")
	case errors.Is(err, ErrNotReady):
		return p(http.StatusServiceUnavailable, sdk.CodeServiceUnavailable, "not ready")

	case errors.Is(err, context.DeadlineExceeded):
		return p(http.StatusGatewayTimeout, sdk.CodeTimeout, "the request took longer than the server allows")
	case errors.Is(err, context.Canceled):
		return p(http.StatusServiceUnavailable, sdk.CodeCanceled, "the request was canceled")

	case errors.Is(err, redaction.ErrSubjectErased):
		return p(http.StatusConflict, sdk.CodeErased, "the subject was erased")
	case errors.Is(err, redaction.ErrVaultDown), errors.Is(err, redaction.ErrVaultClosed):
		return p(http.StatusServiceUnavailable, sdk.CodeUnavailable, "the vault is unavailable")
	case errors.Is(err, redaction.ErrVaultInvalid):
		return p(http.StatusBadRequest, sdk.CodeBadRequest, err.Error())

	case errors.Is(err, policy.ErrInvalidInput):
		return p(http.StatusBadRequest, sdk.CodeBadRequest, err.Error())
	case errors.Is(err, policy.ErrClosed):
		return p(http.StatusServiceUnavailable, sdk.CodeServiceUnavailable, "the policy engine is closed")
	}
	if p, ok := problemForDomain(err); ok {
		return p
	}
	return p(http.StatusInternalServerError, sdk.CodeInternal, "internal error")
}

// fail writes err as a problem and stops the chain.
func (s *Server) fail(c *gin.Context, err error) {
	pr := problemFor(err)
	pr.Instance = requestID(c)
	s.metrics.problems.WithLabelValues(pr.Code).Inc()
	if pr.Status >= 500 {
		// Package errors carry no values by the team's rule; still only
		// 5xx are logged with their text, where an operator needs it.
		s.log.ErrorContext(c.Request.Context(), "request failed",
			slog.String(keyRequestID, pr.Instance), slog.String(keyCode, pr.Code), slog.String(keyError, err.Error()))
	}
	if pr.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="piivault"`)
	}
	c.Header("Content-Type", sdk.ContentTypeProblem)
	c.Header("Cache-Control", "no-store")
	c.Error(err) //nolint:errcheck // recorded for the access log
	c.AbortWithStatusJSON(pr.Status, pr)
}
