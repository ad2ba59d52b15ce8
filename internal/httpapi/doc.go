// Package httpapi is piivault's HTTP API: a gin router over the redaction
// service, with authentication, one audited policy decision per request
// (made by redaction.Service.Authorize), problem+json errors, limits, metrics, structured logs and an OpenAPI
// document.
//
// # Routes and authorization
//
// Every route is declared once in the route table (routes.go) together with
// the policy.Action it needs and the policy.Resource it names. The table is
// the only way a handler is registered, and registration wraps each handler
// in the authentication and authorization middleware, so a route that does
// not ask the policy cannot exist. The middleware asks redaction, which
// decides once, audits a denial, and carries the decision down in
// redaction.Access, so the layers below do not ask again. A test walks gin's registered routes and
// fails if one is not in the table, and another checks the table against
// openapi.json in both directions. The operational routes (/healthz,
// /readyz, /metrics, /openapi.json) and the receipt-verification key
// (/v1/receipts/public-key) are marked public explicitly; they carry no
// personal data.
//
// # Erasure workflow
//
// With Options.Compliance set, erasure goes through redaction/compliance
// (legal holds, deadlines, signed receipts) and the workflow routes
// (erasure list, holds, subject lookup, receipt key, and the admin
// triggers: advance, purge now, retention run) are served; without it
// those routes, erasure included, answer 501. Advance answers awaitingPurge, the erasures that wait for
// the vault's background purge; POST /v1/admin/erasures/purge runs the
// vault's purge at once (compliance.PurgeNow) and completes them.
//
// # Authentication
//
// A request authenticates with "Authorization: Bearer <token>". The
// configuration holds only SHA-256 digests of the tokens (see HashToken);
// the presented token is hashed and compared against every digest in
// constant time. The dev root token maps to policy.Principal{Root: true}.
// Optionally, a TLS client certificate verified by the server's
// tls.Config (ClientAuth VerifyClientCertIfGiven or stricter) maps to a
// principal by its URI SAN (a SPIFFE ID) or, failing that, its subject CN.
//
// # Errors
//
// Every error answer is application/problem+json (RFC 9457) with a stable
// machine-readable "code". One function, problemFor, maps the sentinel
// errors of eventlog, vault, policy, redaction and this package to status
// and code; handlers never pick a status themselves.
//
// # Limits
//
// Request bodies are read through http.MaxBytesReader and the whole body
// must be one JSON value: a valid object followed by more bytes is
// rejected, so the size limit cannot be dodged by trailing data. A page
// limit above Options.MaxPageSize is refused rather than clamped, because
// clients end a paged read at the first short page. NewHTTPServer sets
// header, read and idle timeouts and no write timeout, because an SSE
// subscription is long-lived; every other request is bounded by
// Options.RequestTimeout (504 past it). SSE sends a comment heartbeat every
// Options.HeartbeatInterval, at most Options.MaxSubscriptions are open at
// once and Options.MaxSubscriptionsPerPrincipal per principal (503 beyond,
// naming the limit), and the goroutine that pulls from a subscription ends
// with the request.
//
// # Subscriptions
//
// GET /v1/subscribe streams every event in global order from ?from=
// (inclusive, default 1), or from the position after Last-Event-ID, which
// wins: a client that reconnects with the last id it saw gets neither a gap
// nor a duplicate. Positions skip the hidden system events, so they grow
// with gaps; a checkpoint is always a position. Each message is "id: <position>", "event: event" and one
// "data:" line of sdk.Event JSON; heartbeats are ": ping" comments. If the
// service fails mid-stream an "event: error" message carries a problem
// before the stream ends.
//
// # Cost per request
//
// The sidecar shares its cores with the service beside it, so the path from
// the socket to the redaction service does little besides the work. An
// append body in the form clients send is decoded by a strict scanner
// (appenddecode.go); anything else goes to encoding/json, and a
// differential fuzz test holds the two to the same answers. Read pages are
// written straight into a pooled buffer and sent in one write. Figures:
// docs/performance.md.
//
// # Wiring
//
// cmd/piivault builds the parts (vault wrapped by vault/metered, an
// Authenticator from AuthConfig, the compliance workflow) and hands them to
// New with DefaultOptions; HTTPServer sets the timeouts.
//
// # Personal data
//
// Nothing this package logs or counts carries a personal value or a subject
// ID: logs name the route template (never the raw path, which holds
// subject IDs and stream names) and metrics labels are route templates,
// methods, status codes, actions and outcomes. Problem details are built
// from this package's own words or from the packages' errors, which by the
// team's rule never hold a value. Answers of /v1 carry Cache-Control:
// no-store.
package httpapi
