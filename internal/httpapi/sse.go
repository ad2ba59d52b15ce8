package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/sdk"
)

// sseWriteTimeout bounds one write to a subscriber, so a client that stops
// reading cannot hold the handler forever.
const sseWriteTimeout = 30 * time.Second

type nextResult struct {
	ev  sdk.Event
	err error
}

// subscribe serves GET /v1/subscribe as Server-Sent Events. It starts at
// ?from= (inclusive, default 1) or, when the client resumes, right after
// Last-Event-ID. Catch-up and live delivery are one pull loop over the log
// subscription, so there is neither a gap nor a duplicate between them.
func (s *Server) subscribe(c *gin.Context) {
	from, err := queryUint(c.Request, "from", 1)
	if err != nil {
		s.fail(c, err)
		return
	}
	if last := c.GetHeader(sdk.HeaderLastEventID); last != "" {
		n, err := strconv.ParseUint(last, 10, 64)
		if err != nil || n == math.MaxUint64 {
			s.fail(c, badRequest(sdk.CodeBadRequest, "header %s: want a position", sdk.HeaderLastEventID))
			return
		}
		from = n + 1
	}
	if from == 0 {
		from = 1
	}

	release, err := s.takeSubscriptionSlot(callerOf(c).Principal.ID)
	if err != nil {
		c.Header("Retry-After", "5")
		s.fail(c, err)
		return
	}
	defer release()

	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	sub, err := s.core.Subscribe(ctx, callerOf(c), from)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.metrics.subscriptions.Inc()
	defer s.metrics.subscriptions.Dec()

	// One goroutine pulls from the subscription; this one writes and sends
	// heartbeats. The puller ends when ctx ends, and it is waited for
	// before the subscription is closed.
	results := make(chan nextResult)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := sub.Next(ctx)
			select {
			case results <- nextResult{ev, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		<-done
		sub.Close()
	}()

	w := c.Writer
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A first comment puts the headers on the wire at once.
	if !s.sseWrite(rc, w, []byte(": ok\n\n")) {
		return
	}

	// The credentials are checked again whenever they were reloaded
	// (SetAuth): a token removed from the tokens file, or a principal whose
	// roles changed, must not keep a stream that reveals new events.
	authAt := infoOf(c).authBy
	who := infoOf(c).principal
	revoked := func() bool {
		cur := s.auth.Load()
		if cur == authAt {
			return false
		}
		p, err := cur.Authenticate(c.Request)
		if err != nil || !samePrincipal(p, who) {
			s.log.InfoContext(ctx, "subscription ended: its credentials were revoked or changed", slog.String(keyRequestID, requestID(c)))
			b, _ := json.Marshal(sdk.Problem{Status: http.StatusUnauthorized, Code: sdk.CodeUnauthenticated,
				Title: "Unauthorized", Detail: "the subscription's credentials were revoked or changed"})
			s.sseWrite(rc, w, append(append([]byte("event: error\ndata: "), b...), '\n', '\n'))
			return true
		}
		authAt = cur
		return false
	}

	tick := time.NewTicker(s.opts.HeartbeatInterval)
	defer tick.Stop()
	var last uint64 = from - 1
	var buf bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if revoked() {
				return
			}
			s.observeLag(ctx, last)
			if !s.sseWrite(rc, w, []byte(": ping\n\n")) {
				return
			}
		case r := <-results:
			if r.err != nil {
				if ctx.Err() == nil && !errors.Is(r.err, context.Canceled) {
					s.log.WarnContext(ctx, "subscription ended",
						slog.String(keyRequestID, requestID(c)), slog.String(keyCode, problemFor(r.err).Code))
					pr := problemFor(r.err)
					b, _ := json.Marshal(pr)
					s.sseWrite(rc, w, append(append([]byte("event: error\ndata: "), b...), '\n', '\n'))
				}
				return
			}
			if revoked() {
				return
			}
			buf.Reset()
			if err := writeSSEEvent(&buf, r.ev); err != nil {
				s.log.ErrorContext(ctx, "encode event", slog.String(keyRequestID, requestID(c)))
				return
			}
			if !s.sseWrite(rc, w, buf.Bytes()) {
				return
			}
			s.countFields(r.ev.PII)
			s.metrics.eventsRead.Inc()
			last = r.ev.Position
		}
	}
}

// takeSubscriptionSlot takes one of the principal's slots and one of the
// server's, or neither: ErrTooManyPrincipalSubscriptions or
// ErrTooManySubscriptions says which limit was reached. The per-principal
// slot is taken first, so one principal at its cap cannot hold global slots.
func (s *Server) takeSubscriptionSlot(principal string) (release func(), err error) {
	s.subsMu.Lock()
	if s.subsOf[principal] >= s.opts.MaxSubscriptionsPerPrincipal {
		s.subsMu.Unlock()
		return nil, ErrTooManyPrincipalSubscriptions
	}
	s.subsOf[principal]++
	s.subsMu.Unlock()
	dropMine := func() {
		s.subsMu.Lock()
		if s.subsOf[principal]--; s.subsOf[principal] <= 0 {
			delete(s.subsOf, principal)
		}
		s.subsMu.Unlock()
	}
	select {
	case s.subs <- struct{}{}:
		return func() { <-s.subs; dropMine() }, nil
	default:
		dropMine()
		return nil, ErrTooManySubscriptions
	}
}

func writeSSEEvent(buf *bytes.Buffer, ev sdk.Event) error {
	if ev.PII == nil {
		ev.PII = []sdk.PIIField{}
	}
	// One line, as SSE data needs: the log stores data compact, and
	// appendEvent adds no line breaks of its own.
	b, err := appendEvent(nil, &ev)
	if err != nil {
		return err
	}
	if bytes.ContainsAny(b, "\r\n") {
		if b, err = compactJSON(b); err != nil {
			return err
		}
	}
	buf.WriteString("id: ")
	buf.WriteString(strconv.FormatUint(ev.Position, 10))
	buf.WriteString("\nevent: ")
	buf.WriteString(sdk.SSEEventName)
	buf.WriteString("\ndata: ")
	buf.Write(b)
	buf.WriteString("\n\n")
	return nil
}

// sseWrite writes and flushes one message under a write deadline; false
// means the client is gone.
func (s *Server) sseWrite(rc *http.ResponseController, w gin.ResponseWriter, b []byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if _, err := w.Write(b); err != nil {
		return false
	}
	if err := rc.Flush(); err != nil {
		return false
	}
	return true
}

// observeLag samples how far the subscriber is behind the head.
func (s *Server) observeLag(ctx context.Context, last uint64) {
	head, err := s.core.Head(ctx)
	if err != nil || head < last {
		return
	}
	s.metrics.subscriptionLag.Observe(float64(head - last))
}

// compactJSON removes insignificant white space, line breaks included.
func compactJSON(b []byte) ([]byte, error) {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// samePrincipal reports whether a and b are one identity with the same
// rights: what a subscription was allowed under must still hold.
func samePrincipal(a, b policy.Principal) bool {
	return a.ID == b.ID && a.Root == b.Root && slices.Equal(a.Roles, b.Roles) && maps.Equal(a.Attributes, b.Attributes)
}
