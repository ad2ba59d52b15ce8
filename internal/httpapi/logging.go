package httpapi

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

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

// Context keys of values the middleware hands to handlers.
const (
	ctxRequestID = "piivault.request_id"
	ctxPrincipal = "piivault.principal"
	ctxPurpose   = "piivault.purpose"
	ctxPublic    = "piivault.public"
)

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

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// observe is the outermost middleware: it assigns the request ID, and after
// the handler it writes one access-log record and the latency sample. Both
// name the route template, never the raw path.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader(sdk.HeaderRequestID)
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Set(ctxRequestID, id)
	c.Header(sdk.HeaderRequestID, id)
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()

	c.Next()

	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	took := time.Since(start)
	s.metrics.requestDuration.WithLabelValues(c.Request.Method, route, statusLabel(status)).Observe(took.Seconds())
	attrs := []slog.Attr{
		slog.String(keyRequestID, id),
		slog.String(keyMethod, c.Request.Method),
		slog.String(keyRoute, route),
		slog.Int(keyStatus, status),
		slog.Float64(keyDuration, float64(took.Microseconds())/1000),
		slog.Int(keyBytes, c.Writer.Size()),
	}
	if p, ok := principalOf(c); ok {
		attrs = append(attrs, slog.String(keyPrincipal, p.ID))
	}
	level := slog.LevelInfo
	if _, public := c.Get(ctxPublic); public && status < 400 {
		// Probes and scrapes every few seconds would drown the log.
		level = slog.LevelDebug
	}
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.LogAttrs(c.Request.Context(), level, "http request", attrs...)
}

// statusLabel keeps the status label set small and fixed.
func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}
