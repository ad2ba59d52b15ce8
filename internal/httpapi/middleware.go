package httpapi

import (
	"errors"
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/sdk"
)

func principalOf(c *gin.Context) (policy.Principal, bool) {
	ri := infoOf(c)
	return ri.principal, ri.authed
}

func purposeOf(c *gin.Context) string { return infoOf(c).purpose }

// authenticate resolves the caller or answers 401.
func (s *Server) authenticate(c *gin.Context) {
	a := s.auth.Load()
	p, err := a.Authenticate(c.Request)
	if err != nil {
		s.fail(c, err)
		return
	}
	ri := infoOf(c)
	ri.principal, ri.authed, ri.authBy = p, true, a
	// Answers of /v1 may hold personal data: no cache keeps them.
	c.Writer.Header()["Cache-Control"] = hdrNoStore
}

// decisionSeries are the request-decision counters of one action.
type decisionSeries struct{ allow, deny, fail *counterSeries }

// authorize has the service decide whether the principal may do action on
// the route's resource, for the purpose in X-Purpose, before the handler
// reads the body. This is the request's one policy decision: the service
// makes it (and audits a denial), and the Caller of the handler carries it
// down, so the service does not ask the same question again.
func (s *Server) authorize(action policy.Action, resource func(*gin.Context) policy.Resource) gin.HandlerFunc {
	vec := s.metrics.policyDecisions
	m := decisionSeries{newCounterSeries(vec, string(action), "allow"), newCounterSeries(vec, string(action), "deny"),
		newCounterSeries(vec, string(action), "error")}
	return func(c *gin.Context) {
		purpose := c.GetHeader(sdk.HeaderPurpose)
		if !validPurpose(purpose, s.opts.MaxPurposeLen) {
			s.fail(c, badRequest(sdk.CodeBadRequest, "header %s: want at most %d characters of [A-Za-z0-9._:-]", sdk.HeaderPurpose, s.opts.MaxPurposeLen))
			return
		}
		ri := infoOf(c)
		ri.purpose = purpose
		who, err := s.core.Authorize(c.Request.Context(), callerOf(c), action, resource(c))
		switch {
		case errors.Is(err, errDenied):
			m.deny.get().Inc()
			s.log.InfoContext(c.Request.Context(), "request denied",
				slog.String(keyRequestID, ri.id), slog.String(keyPrincipal, ri.principal.ID),
				slog.String(keyAction, string(action)), slog.String(keyRoute, c.FullPath()))
			s.fail(c, err)
			return
		case err != nil:
			m.fail.get().Inc()
			s.fail(c, err)
			return
		}
		ri.decision = who.decision
		m.allow.get().Inc()
	}
}

// validPurpose accepts an empty purpose (the policy decides what that
// means) or a short identifier.
func validPurpose(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
