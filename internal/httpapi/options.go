package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/piivault/piivault/redaction/compliance"
)

// Options configures a Server. Zero fields take the values of
// DefaultOptions.
type Options struct {
	// Logger receives one JSON-friendly record per request and the
	// server's own events. Nil means slog.Default().
	Logger *slog.Logger
	// Auth authenticates requests. Nil means no token is accepted (every
	// /v1 call answers 401).
	Auth *Authenticator
	// Registry receives the server's metrics and is served on /metrics. Nil
	// means a fresh registry of the server's own (never the global one).
	Registry *prometheus.Registry

	// MaxBodyBytes bounds every request body.
	MaxBodyBytes int64
	// DefaultPageSize is the page size of reads without a limit.
	DefaultPageSize int
	// MaxPageSize is the largest limit a read accepts; a larger one is a
	// 400 (clamping would end a client's paged read early). Keep it at least
	// sdk.MaxPageSize, which clients may ask for, and at most the redaction
	// service's MaxReadLimit, which clamps.
	MaxPageSize int
	// HeartbeatInterval is the period of SSE comment heartbeats.
	HeartbeatInterval time.Duration
	// RequestTimeout bounds the handling of every request but the SSE
	// subscription; past it the request's context ends and the answer is
	// 503 or 504.
	RequestTimeout time.Duration
	// MaxSubscriptions bounds the open SSE subscriptions; one more is a 503.
	MaxSubscriptions int
	// MaxSubscriptionsPerPrincipal bounds the open SSE subscriptions of
	// one principal, so that one client cannot take every slot; one more
	// is a 503 that names this limit.
	MaxSubscriptionsPerPrincipal int
	// MaxPurposeLen bounds the X-Purpose header.
	MaxPurposeLen int

	// ReadHeaderTimeout, ReadTimeout and IdleTimeout go to the http.Server
	// that NewHTTPServer builds. WriteTimeout is not set there because an
	// SSE subscription lives for hours; handlers bound their own work.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int

	// Compliance, when set, serves the erasure workflow of issue 6: erasure
	// requests with legal holds and signed receipts, the erasure list, holds,
	// subject lookup and the receipt key. Nil: those routes, erasure
	// included, answer 501.
	Compliance *compliance.Service

	// UI, when set, is served under /ui/ without authentication (the web
	// console: a static page that calls /v1 with the user's own token).
	UI http.Handler

	// KEKVersion, when set, reports the key-encryption key version the vault
	// wraps new data keys with, for GET /v1/admin/keys (admin only). Nil:
	// that route answers 501 (a backend that does not say cheaply).
	KEKVersion func() uint32

	// Ready reports whether the stores are open and the policy is loaded,
	// for /readyz. Nil means ready once the server is built.
	Ready func() error
}

// DefaultOptions returns the defaults: 4 MiB bodies, pages of 100 up to
// 1000, a 15 s heartbeat, 30 s per request (SSE excepted), and 10 s header / 60 s read / 120 s idle timeouts.
func DefaultOptions() Options {
	return Options{
		MaxBodyBytes:                 4 << 20,
		DefaultPageSize:              100,
		MaxPageSize:                  1000,
		HeartbeatInterval:            15 * time.Second,
		RequestTimeout:               30 * time.Second,
		MaxSubscriptions:             1024,
		MaxSubscriptionsPerPrincipal: 64,
		MaxPurposeLen:                128,
		ReadHeaderTimeout:            10 * time.Second,
		ReadTimeout:                  60 * time.Second,
		IdleTimeout:                  120 * time.Second,
		MaxHeaderBytes:               64 << 10,
	}
}

// withDefaults fills the zero fields of o from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = d.MaxBodyBytes
	}
	if o.DefaultPageSize <= 0 {
		o.DefaultPageSize = d.DefaultPageSize
	}
	if o.MaxPageSize <= 0 {
		o.MaxPageSize = d.MaxPageSize
	}
	if o.DefaultPageSize > o.MaxPageSize {
		o.DefaultPageSize = o.MaxPageSize
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = d.HeartbeatInterval
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = d.MaxSubscriptions
	}
	if o.MaxSubscriptionsPerPrincipal <= 0 {
		o.MaxSubscriptionsPerPrincipal = d.MaxSubscriptionsPerPrincipal
	}
	if o.MaxPurposeLen <= 0 {
		o.MaxPurposeLen = d.MaxPurposeLen
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = d.ReadTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = d.IdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return o
}
