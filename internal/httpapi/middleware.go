package httpapi

import (
	"context"
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/sdk"
)

// authorizer is what the middleware needs of the policy engine.
type authorizer interface {
	Authorize(ctx context.Context, in policy.Input) (policy.Decision, error)
}

var _ authorizer = (*policy.Engine)(nil)

func principalOf(c *gin.Context) (policy.Principal, bool) {
	v, ok := c.Get(ctxPrincipal)
	if !ok {
		return policy.Principal{}, false
	}
	p, ok := v.(policy.Principal)
	return p, ok
}

func purposeOf(c *gin.Context) string { return c.GetString(ctxPurpose) }

// authenticate resolves the caller or answers 401.
func (s *Server) authenticate(c *gin.Context) {
	p, err := s.auth.Load().Authenticate(c.Request)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Set(ctxPrincipal, p)
	// Answers of /v1 may hold personal data: no cache keeps them.
	c.Header("Cache-Control", "no-store")
}

// authorize asks the policy whether the principal may do action on the
// route's resource, for the purpose in X-Purpose, before the handler reads
// the body.
func (s *Server) authorize(action policy.Action, resource func(*gin.Context) policy.Resource) gin.HandlerFunc {
	return func(c *gin.Context) {
		purpose := c.GetHeader(sdk.HeaderPurpose)
		if !validPurpose(purpose, s.opts.MaxPurposeLen) {
			s.fail(c, badRequest(sdk.CodeBadRequest, "header %s: want at most %d characters of [A-Za-z0-9._:-]", sdk.HeaderPurpose, s.opts.MaxPurposeLen))
			return
		}
		c.Set(ctxPurpose, purpose)
		p, _ := principalOf(c)
		in := policy.Input{Principal: p, Action: action, Purpose: purpose, Resource: resource(c)}
		d, err := s.pol.Authorize(c.Request.Context(), in)
		switch {
		case err != nil:
			s.metrics.policyDecisions.WithLabelValues(string(action), "error").Inc()
			s.fail(c, err)
			return
		case !d.Allow:
			s.metrics.policyDecisions.WithLabelValues(string(action), "deny").Inc()
			s.log.InfoContext(c.Request.Context(), "request denied",
				slog.String(keyRequestID, requestID(c)), slog.String(keyPrincipal, p.ID),
				slog.String(keyAction, string(action)), slog.String(keyRoute, c.FullPath()))
			s.fail(c, &DeniedError{Reason: d.Reason})
			return
		}
		s.metrics.policyDecisions.WithLabelValues(string(action), "allow").Inc()
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
