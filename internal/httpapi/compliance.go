package httpapi

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/redaction/compliance"
	"github.com/piivault/piivault/sdk"
)

// workflow is what the erasure-workflow routes need of compliance.Service.
// With Options.Compliance nil, the erasure and workflow routes answer 501.
type workflow interface {
	Request(ctx context.Context, a redaction.Access, subject string, req redaction.ErasureRequest) (compliance.Erasure, error)
	Get(ctx context.Context, a redaction.Access, id string) (compliance.Erasure, error)
	List(ctx context.Context, a redaction.Access, q compliance.ListQuery) ([]compliance.Erasure, error)
	PlaceHold(ctx context.Context, a redaction.Access, subject, reason string) (compliance.Hold, error)
	LiftHold(ctx context.Context, a redaction.Access, subject, reason string) (compliance.Hold, error)
	GetHold(ctx context.Context, a redaction.Access, subject string) (compliance.Hold, error)
	ListHolds(ctx context.Context, a redaction.Access, all bool) ([]compliance.Hold, error)
	FindSubjects(ctx context.Context, a redaction.Access, class string, value redaction.PII) ([]string, error)
	PublicKey() ed25519.PublicKey
	Advance(ctx context.Context) (compliance.AdvanceReport, error)
	PurgeNow(ctx context.Context) (compliance.AdvanceReport, error)
	RunRetention(ctx context.Context) (compliance.RetentionReport, error)
}

var _ workflow = (*compliance.Service)(nil)

func (s *Server) needFlow(c *gin.Context) bool {
	if s.flow == nil {
		s.fail(c, ErrNotImplemented)
		return false
	}
	return true
}

func (s *Server) requestErasure(c *gin.Context, subject string, req sdk.ErasureRequest) {
	e, err := s.flow.Request(c.Request.Context(), access(callerOf(c)), subject, redaction.ErasureRequest{
		RequestID: req.RequestID, Reason: req.Reason, Requester: req.Requester, Ticket: req.Ticket,
	})
	s.metrics.erasures.WithLabelValues(erasureOutcome(err)).Inc()
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/v1/erasures/"+url.PathEscape(e.ID))
	c.JSON(http.StatusOK, wireErasure(e))
}

func (s *Server) listErasures(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	q := compliance.ListQuery{Status: c.Query("status"), Subject: c.Query("subject"), After: c.Query("after")}
	var err error
	if q.Overdue, err = queryBool(c, "overdue"); err == nil {
		if q.NearDeadline, err = queryBool(c, "nearDeadline"); err == nil {
			q.Limit, err = pageLimit(c.Request, s.opts.DefaultPageSize, s.opts.MaxPageSize)
		}
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	list, err := s.flow.List(c.Request.Context(), access(callerOf(c)), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, sdk.ErasureList{Erasures: wireErasures(list)})
}

func queryBool(c *gin.Context, name string) (bool, error) {
	v := c.Query(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest(sdk.CodeBadRequest, "query parameter %s: want true or false", name)
	}
	return b, nil
}

func (s *Server) getHold(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	h, err := s.flow.GetHold(c.Request.Context(), access(callerOf(c)), c.Param("subject"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireHold(h))
}

func (s *Server) changeHold(place bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !s.needFlow(c) {
			return
		}
		var req sdk.HoldRequest
		if !s.decode(c, &req) {
			return
		}
		if strings.TrimSpace(req.Reason) == "" {
			s.fail(c, badRequest(sdk.CodeBadRequest, "reason: required"))
			return
		}
		change := s.flow.LiftHold
		if place {
			change = s.flow.PlaceHold
		}
		h, err := change(c.Request.Context(), access(callerOf(c)), c.Param("subject"), req.Reason)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, wireHold(h))
	}
}

// findSubjects looks a subject up by e-mail or phone through the blind
// index. The value arrives in the query string, as issue 6 specifies; it is
// wrapped in redaction.PII (vault.PII) at once, and this package logs only route templates.
func (s *Server) findSubjects(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	// RFC 9745: the value in the URL is why this route gives way to the POST.
	c.Header("Deprecation", "true")
	c.Header("Link", `</v1/subjects/search>; rel="successor-version"`)
	q := c.Request.URL.Query()
	s.lookUpSubjects(c, q.Get(compliance.ClassEmail), q.Get(compliance.ClassPhone), "query parameter email or phone")
}

// searchSubjects is findSubjects with the value in the body, out of URLs
// that proxies and access logs keep.
func (s *Server) searchSubjects(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	var req sdk.SubjectSearch
	if !s.decode(c, &req) {
		return
	}
	s.lookUpSubjects(c, req.Email, req.Phone, "email or phone")
}

// lookUpSubjects answers the subjects whose e-mail or phone (exactly one
// given) is value, through the blind index; what names the two inputs in
// the 400.
func (s *Server) lookUpSubjects(c *gin.Context, email, phone, what string) {
	class, value := compliance.ClassEmail, email
	switch {
	case email != "" && phone != "":
		s.fail(c, badRequest(sdk.CodeBadRequest, "give one of email and phone"))
		return
	case email == "" && phone == "":
		s.fail(c, badRequest(sdk.CodeBadRequest, "%s: required", what))
		return
	case phone != "":
		class, value = compliance.ClassPhone, phone
	}
	subjects, err := s.flow.FindSubjects(c.Request.Context(), access(callerOf(c)), class, redaction.NewPII([]byte(value)))
	if err != nil {
		s.fail(c, err)
		return
	}
	if subjects == nil {
		subjects = []string{}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, sdk.SubjectList{Subjects: subjects})
}

// receiptKey serves the Ed25519 public key that verifies erasure receipts,
// as a PEM block. It is public by nature.
func (s *Server) receiptKey(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	c.Data(http.StatusOK, "application/x-pem-file", compliance.MarshalPublicKey(s.flow.PublicKey()))
}

func erasureOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, compliance.ErrLegalHold):
		return "rejected_hold"
	default:
		return "error"
	}
}

func (s *Server) listHolds(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	all, err := queryBool(c, "all")
	if err != nil {
		s.fail(c, err)
		return
	}
	holds, err := s.flow.ListHolds(c.Request.Context(), access(callerOf(c)), all)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, sdk.HoldList{Holds: wireHolds(holds)})
}

// advance moves open erasures on now (purge, sign, complete) instead of
// waiting for the background worker. The route's policy check (admin) is
// the only one: the workflow call takes no principal.
func (s *Server) advance(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	rep, err := s.flow.Advance(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireAdvanceReport(rep))
}

// purgeNow makes every erased subject physical in the vault at once and
// then advances, for an operator who cannot wait for the vault's
// background purge (the embedded vault's waits for a quiet moment). The
// vault's purge stalls its writers and readers while it runs; that is the
// caller's choice. Admin, like advance, and like it not audited: it
// touches no subject that an erasure has not already named, and the
// access log records who called it. A request that times out (504) may
// leave part of the queue purged; calling again goes on from there.
func (s *Server) purgeNow(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	started := time.Now().UTC()
	rep, err := s.flow.PurgeNow(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, sdk.PurgeReport{AdvanceReport: wireAdvanceReport(rep), StartedAt: started, DoneAt: time.Now().UTC()})
}

// runRetention runs the retention job now; admin, like advance.
func (s *Server) runRetention(c *gin.Context) {
	if !s.needFlow(c) {
		return
	}
	rep, err := s.flow.RunRetention(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wireRetentionReport(rep))
}
