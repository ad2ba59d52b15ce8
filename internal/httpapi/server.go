package httpapi

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"
)

// Server is the HTTP API. It is an http.Handler; NewHTTPServer wraps it in
// an http.Server with the configured timeouts.
type Server struct {
	core service
	// pol is the policy engine for the policy matrix only (policymatrix.go);
	// nil: that route answers 501. The request decisions are core's.
	pol     any
	flow    workflow // nil without Options.Compliance
	opts    Options
	log     *slog.Logger
	metrics *metrics
	engine  *gin.Engine
	routes  []route
	subs    chan struct{} // one token per open subscription
	// subsOf counts the open subscriptions of each principal (by ID).
	subsMu sync.Mutex
	subsOf map[string]int
	auth   atomic.Pointer[Authenticator]
	ids    *requestIDs
}

var _ http.Handler = (*Server)(nil)

// ginMode is set once: gin keeps its mode in package state, and debug mode
// prints every route to stdout.
var ginMode sync.Once

func newServer(core service, opts Options) *Server {
	ginMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	opts = opts.withDefaults()
	s := &Server{core: core, opts: opts, log: opts.Logger, metrics: newMetrics(opts.Registry),
		subs: make(chan struct{}, opts.MaxSubscriptions), subsOf: map[string]int{}, ids: newRequestIDs()}
	s.auth.Store(opts.Auth)
	if opts.Compliance != nil { // not a typed nil in the interface
		s.flow = opts.Compliance
	}

	e := gin.New()
	// Paths hold stream names and subject IDs that may be escaped; match on
	// the raw path and unescape the parameters.
	e.UseRawPath = true
	e.UnescapePathValues = true
	// An API answers, it does not redirect.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	// No proxy is trusted: ClientIP is the peer address.
	_ = e.SetTrustedProxies(nil)
	e.Use(s.observe, s.recover)
	e.NoRoute(func(c *gin.Context) { s.fail(c, ErrRouteNotFound) })
	e.NoMethod(func(c *gin.Context) { s.fail(c, ErrMethodNotAllowed) })
	s.engine = e
	s.register(s.routeTable())
	if opts.UI != nil {
		ui := gin.WrapH(opts.UI)
		e.GET("/ui", ui)
		e.GET("/ui/*asset", ui)
		e.HEAD("/ui/*asset", ui)
	}
	return s
}

// SetAuth swaps the authenticator, for a tokens file reloaded while the
// server runs. Requests already past authentication keep their principal.
func (s *Server) SetAuth(a *Authenticator) { s.auth.Store(a) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s }

// NewHTTPServer returns an http.Server for h on addr with the header, read
// and idle timeouts and header size limit of opts. It sets no
// WriteTimeout: SSE subscriptions are long-lived, and every other handler
// is bounded by its request's work.
func NewHTTPServer(addr string, h http.Handler, opts Options) *http.Server {
	opts = opts.withDefaults()
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
}

// HTTPServer is NewHTTPServer(addr, s, the server's options).
func (s *Server) HTTPServer(addr string) *http.Server { return NewHTTPServer(addr, s, s.opts) }

// recover turns a handler panic into a 500 problem without the panic value
// in the answer; the log gets the route, not the value, because a panic
// message may quote data.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(c.Request.Context(), "handler panic",
				slog.String(keyRequestID, requestID(c)), slog.String(keyRoute, c.FullPath()))
			if !c.Writer.Written() {
				s.fail(c, errPanic)
			}
			c.Abort()
		}
	}()
	c.Next()
}
