package httpapi

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/sdk"
)

// Caller is who asks, for what, in which request. Services put it in their
// policy inputs and audit records.
type Caller struct {
	Principal policy.Principal
	Purpose   string
	RequestID string
	// decision is the request's policy decision, once Authorize made it.
	decision *redaction.Decision
}

// ReadRequest is a page of one stream or of all streams.
type ReadRequest struct {
	From     uint64
	Limit    int
	Backward bool
	Types    []string // $all only: filter by event type
}

// AuditQuery filters GET /v1/audit.
type AuditQuery struct {
	Subject   string
	Principal string
	Action    string
	Purpose   string
	Since     time.Time // inclusive; zero does not bound
	Until     time.Time // exclusive; zero does not bound
	From      uint64
	Limit     int
}

// service is what the handlers need of the core, in wire types. The
// redaction service satisfies it through an adapter (redaction.go), which is
// the one place that knows both sides.
type service interface {
	// Authorize is the request's one policy decision; a denial (audited)
	// wraps errDenied. The Caller it returns carries the decision.
	Authorize(ctx context.Context, who Caller, action policy.Action, res policy.Resource) (Caller, error)

	PutSchema(ctx context.Context, who Caller, eventType string, s sdk.Schema) (sdk.Schema, error)
	GetSchema(ctx context.Context, who Caller, eventType string) (sdk.Schema, error)
	ListSchemas(ctx context.Context, who Caller) ([]sdk.Schema, error)

	// Append takes a request validateAppend passed; ids are its events'
	// IDs as it parsed them (nil if no event has one).
	Append(ctx context.Context, who Caller, stream string, req sdk.AppendRequest, ids []uuid.UUID) (sdk.AppendResult, error)
	ReadStream(ctx context.Context, who Caller, stream string, req ReadRequest) ([]sdk.Event, error)
	ReadAll(ctx context.Context, who Caller, req ReadRequest) ([]sdk.Event, error)
	// Subscribe starts at position from (inclusive).
	Subscribe(ctx context.Context, who Caller, from uint64) (subscription, error)
	Head(ctx context.Context) (uint64, error)

	SaveSnapshot(ctx context.Context, who Caller, stream string, req sdk.SnapshotRequest) error
	LoadSnapshot(ctx context.Context, who Caller, stream string) (sdk.Snapshot, error)

	Export(ctx context.Context, who Caller, subject string) (sdk.SubjectExport, error)
	Audit(ctx context.Context, who Caller, q AuditQuery) (sdk.AuditPage, error)
	Verify(ctx context.Context, who Caller) (sdk.VerifyResult, error)
}

// subscription is a pull-based feed of events in position order. Next
// blocks until an event is there or ctx ends.
type subscription interface {
	Next(ctx context.Context) (sdk.Event, error)
	Close()
}

// pageAppender is what a service may offer beside service: the read pages
// written straight into the answer's JSON (sdk.EventsPage), without the
// wire values in between, with the PII fields counted by state into n. The
// redaction adapter has it; handlers fall back to the service methods.
type pageAppender interface {
	appendStreamPage(ctx context.Context, who Caller, stream string, req ReadRequest, b []byte, n *stateCounts) ([]byte, int, error)
	appendAllPage(ctx context.Context, who Caller, req ReadRequest, b []byte, n *stateCounts) ([]byte, int, error)
}
