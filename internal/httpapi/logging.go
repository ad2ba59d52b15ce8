package httpapi

import (
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/sdk"
)

// Attribute keys of the server's log records.
const (
	keyRequestID = "request_id"
	keyMethod    = "method"
	keyRoute     = "route"
	keyStatus    = "status"
	keyDuration  = "duration_ms"
	keyPrincipal = "principal"
	keyAction    = "action"
	keyCode      = "code"
	keyError     = "error"
	keyBytes     = "bytes"
	keyEvents    = "events"
)

// ctxRequest is the gin context key of the request's *reqInfo.
const ctxRequest = "piivault.request"

// reqInfo is what the middleware learns about a request and hands on to
// the handlers and back to observe: one value per request, stored in the
// gin context once (every c.Set of a value type boxes it, and the first
// allocates the context's map).
type reqInfo struct {
	id        string
	route     *routeSeries // nil when no route matched
	principal policy.Principal
	authed    bool
	// authBy is the credentials set that authenticated the request; a
	// subscription compares it with the current one (sse.go).
	authBy *Authenticator
	// decision is the request's policy decision (middleware.go).
	decision *redaction.Decision
	purpose  string
	public   bool
}

// infoOf returns the request's reqInfo; a context that observe did not see
// (a handler called on its own) gets an empty one.
func infoOf(c *gin.Context) *reqInfo {
	if v, ok := c.Get(ctxRequest); ok {
		if ri, ok := v.(*reqInfo); ok {
			return ri
		}
	}
	ri := &reqInfo{}
	c.Set(ctxRequest, ri)
	return ri
}

// requestIDs makes the IDs of requests that bring none: a random prefix
// drawn once per server and a counter, laid out as a UUID of version 8
// (RFC 9562, custom layout). They are unique per server and random enough
// across servers, without reading the system's randomness per request.
type requestIDs struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	g := &requestIDs{}
	_, _ = rand.Read(g.prefix[:]) // crypto/rand.Read never fails
	return g
}

func (g *requestIDs) next() string {
	var u uuid.UUID
	copy(u[:8], g.prefix[:])
	binary.BigEndian.PutUint64(u[8:], g.n.Add(1))
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u.String()
}

// requestIDs accepted from a client: short, and made of characters that
// cannot spell an e-mail address or a name with spaces.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func requestID(c *gin.Context) string { return infoOf(c).id }

// Header values the server sets on many answers, shared: a header's value
// slice is only ever replaced, never written into.
var (
	hdrNoStore = []string{"no-store"}
	hdrJSON    = []string{"application/json; charset=utf-8"}
)

// observe is the outermost middleware: it assigns the request ID, and after
// the handler it writes one access-log record and the latency sample. Both
// name the route template, never the raw path.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader(sdk.HeaderRequestID)
	if !validRequestID(id) {
		id = s.ids.next()
	}
	ri := &reqInfo{id: id}
	c.Set(ctxRequest, ri)
	c.Writer.Header()[sdk.HeaderRequestID] = []string{id}
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()

	c.Next()

	status := c.Writer.Status()
	took := time.Since(start)
	route := ""
	if ri.route != nil {
		route = ri.route.route
		ri.route.observer(status).Observe(took.Seconds())
	} else {
		if route = c.FullPath(); route == "" {
			route = "unmatched"
		}
		s.metrics.requestDuration.WithLabelValues(c.Request.Method, route, statusLabel(status)).Observe(took.Seconds())
	}
	level := slog.LevelInfo
	if ri.public && status < 400 {
		// Probes and scrapes every few seconds would drown the log.
		level = slog.LevelDebug
	}
	if status >= 500 {
		level = slog.LevelError
	}
	ctx := c.Request.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs,
		slog.String(keyRequestID, id),
		slog.String(keyMethod, c.Request.Method),
		slog.String(keyRoute, route),
		slog.Int(keyStatus, status),
		slog.Float64(keyDuration, float64(took.Microseconds())/1000),
		slog.Int(keyBytes, c.Writer.Size()),
	)
	if ri.authed {
		attrs = append(attrs, slog.String(keyPrincipal, ri.principal.ID))
	}
	s.log.LogAttrs(ctx, level, "http request", attrs...)
}

// statusLabel keeps the status label set small and fixed.
func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}
