package sdk

import (
	"encoding/json"
	"time"
)

// This file holds the wire types of the HTTP API. The server encodes them and
// the client decodes them, so the contract lives in one place.

// EventInput is one event to append.
type EventInput struct {
	ID       string          `json:"id,omitempty"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// AppendRequest is the body of POST /v1/streams/{stream}/events.
// ExpectedVersion nil means any; 0 means the stream must not exist.
type AppendRequest struct {
	ExpectedVersion *uint64      `json:"expectedVersion,omitempty"`
	Events          []EventInput `json:"events"`
}

// AppendResult is the 201 answer of an append.
type AppendResult struct {
	FirstVersion  uint64 `json:"firstVersion"`
	LastVersion   uint64 `json:"lastVersion"`
	FirstPosition uint64 `json:"firstPosition"`
	LastPosition  uint64 `json:"lastPosition"`
}

// PII states of a field in a read event.
const (
	StateRevealed    = "revealed"
	StateMasked      = "masked"
	StateTokenized   = "tokenized"
	StateErased      = "erased"
	StateDenied      = "denied"
	StateUnavailable = "unavailable"
	StateExpired     = "expired"
)

// PIIField describes one declared PII field of a read event. It never holds
// the value.
type PIIField struct {
	Path    string `json:"path"`
	Class   string `json:"class"`
	Subject string `json:"subject"`
	State   string `json:"state"`
}

// Event is one event as the read endpoints return it.
type Event struct {
	ID         string          `json:"id"`
	Stream     string          `json:"stream"`
	Version    uint64          `json:"version"`
	Position   uint64          `json:"position"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RecordedAt time.Time       `json:"recordedAt"`
	PII        []PIIField      `json:"pii"`
}

// EventsPage is the answer of the read endpoints.
type EventsPage struct {
	Events []Event `json:"events"`
}

// SchemaField declares one PII field of an event type.
type SchemaField struct {
	Path    string `json:"path"`
	Class   string `json:"class"`
	Subject string `json:"subject,omitempty"`
}

// Schema declares which JSON pointers of an event type are PII.
type Schema struct {
	EventType string        `json:"eventType,omitempty"`
	Version   uint64        `json:"version,omitempty"`
	Subject   string        `json:"subject"`
	Fields    []SchemaField `json:"fields"`
	// LeakGuard is "reject", "tokenize" or "allow"; empty means the
	// deployment's default.
	LeakGuard string `json:"leakGuard,omitempty"`
	// AllowUnprotect (request only) applies a new version even though it
	// stops protecting paths the current version declares (no longer
	// declared, or under another subject); without it such a change is
	// refused with 409 would_unprotect.
	AllowUnprotect bool `json:"allowUnprotect,omitempty"`
	// Unprotected (answer only) lists the paths the new version stopped
	// protecting; the change is also in the audit trail.
	Unprotected []string `json:"unprotected,omitempty"`
}

// ErasureRequest is the body of POST /v1/subjects/{subject}/erasure.
type ErasureRequest struct {
	RequestID string `json:"requestId,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Requester string `json:"requester,omitempty"`
	Ticket    string `json:"ticket,omitempty"`
}

// Erasure is the answer of an erasure request and of GET /v1/erasures/{id}.
// Status moves requested -> erased -> purged -> completed, or rejected
// (with Rejection). Receipt is the signed receipt once completed.
type Erasure struct {
	ErasureID string          `json:"erasureId"`
	Subject   string          `json:"subject"`
	Status    string          `json:"status"`
	Receipt   json.RawMessage `json:"receipt,omitempty"`

	RequestID     string    `json:"requestId,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Requester     string    `json:"requester,omitempty"`
	Ticket        string    `json:"ticket,omitempty"`
	Principal     string    `json:"principal,omitempty"`
	Rejection     string    `json:"rejection,omitempty"`
	ValuesDeleted int       `json:"valuesDeleted"`
	DEKDestroyed  bool      `json:"dekDestroyed"`
	AlreadyErased bool      `json:"alreadyErased,omitempty"`
	RequestedAt   time.Time `json:"requestedAt,omitzero"`
	ErasedAt      time.Time `json:"erasedAt,omitzero"`
	PurgedAt      time.Time `json:"purgedAt,omitzero"`
	CompletedAt   time.Time `json:"completedAt,omitzero"`
	RejectedAt    time.Time `json:"rejectedAt,omitzero"`
	DueAt         time.Time `json:"dueAt,omitzero"`
	Overdue       bool      `json:"overdue,omitempty"`
	NearDeadline  bool      `json:"nearDeadline,omitempty"`
	Late          bool      `json:"late,omitempty"`
}

// Erasure statuses.
const (
	ErasureRequested = "requested"
	ErasureErased    = "erased"
	ErasurePurged    = "purged"
	ErasureCompleted = "completed"
	ErasureRejected  = "rejected"
)

// ErasureList is the answer of GET /v1/erasures.
type ErasureList struct {
	Erasures []Erasure `json:"erasures"`
}

// HoldList is the answer of GET /v1/holds.
type HoldList struct {
	Holds []Hold `json:"holds"`
}

// HoldRequest is the body of PUT and DELETE /v1/subjects/{subject}/hold.
type HoldRequest struct {
	Reason string `json:"reason"`
}

// Hold is a legal hold on a subject: while active, the subject cannot be
// erased.
type Hold struct {
	Subject    string    `json:"subject"`
	Active     bool      `json:"active"`
	Reason     string    `json:"reason"`
	PlacedBy   string    `json:"placedBy"`
	PlacedAt   time.Time `json:"placedAt"`
	LiftedBy   string    `json:"liftedBy,omitempty"`
	LiftedAt   time.Time `json:"liftedAt,omitzero"`
	LiftReason string    `json:"liftReason,omitempty"`
}

// AdvanceReport is the answer of POST /v1/admin/erasures/advance: what one
// pass of the erasure workflow did.
type AdvanceReport struct {
	// Erased counts requested erasures whose vault erasure was (re)done.
	Erased    int `json:"erased"`
	Purged    int `json:"purged"`
	Completed int `json:"completed"`
	// AwaitingPurge counts erased erasures left for a later pass because
	// the vault purges in the background and has not yet (a server that
	// does not report it leaves it 0).
	AwaitingPurge int `json:"awaitingPurge"`
}

// PurgeReport is the answer of POST /v1/admin/erasures/purge: the vault
// purged every erased subject at once, then one pass of the erasure
// workflow ran. Purged counts the erasures whose purge it recorded (one
// subject each) and Completed those it completed; StartedAt and DoneAt
// are the server's clock around both.
type PurgeReport struct {
	AdvanceReport
	StartedAt time.Time `json:"startedAt"`
	DoneAt    time.Time `json:"doneAt"`
}

// RetentionReport is the answer of POST /v1/admin/retention/run: what one
// run of the retention job did.
type RetentionReport struct {
	Scanned int    `json:"scanned"` // events read
	Expired int    `json:"expired"` // values destroyed
	Records int    `json:"records"` // ValuesExpired events written
	Cursor  uint64 `json:"cursor"`  // log position the next run starts from
	// Mode is "expired" (values read as expired) or "deleted" (the vault
	// cannot expire single values; they read as unavailable).
	Mode string `json:"mode"`
}

// SubjectList is the answer of POST /v1/subjects/search (and of the older
// GET /v1/subjects?email=|phone=).
type SubjectList struct {
	Subjects []string `json:"subjects"`
}

// SubjectSearch is the body of POST /v1/subjects/search: one of Email and
// Phone. The value travels in the body, not in the URL, where proxies and
// access logs would keep it.
type SubjectSearch struct {
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// The system stream of erasures and the event a read model reacts to.
const (
	StreamErasures           = "$erasures"
	EventTypeErasureComplete = "ErasureCompleted"
)

// ErasureCompletedEvent is the data of an ErasureCompleted event in
// $erasures: a read model that receives it should forget the subject.
type ErasureCompletedEvent struct {
	ErasureID   string          `json:"erasureId"`
	Subject     string          `json:"subject"`
	CompletedAt time.Time       `json:"completedAt"`
	Receipt     json.RawMessage `json:"receipt,omitempty"`
}

// Problem is an application/problem+json error body (RFC 9457) with a stable
// machine-readable code.
type Problem struct {
	Type          string  `json:"type,omitempty"`
	Title         string  `json:"title"`
	Status        int     `json:"status"`
	Detail        string  `json:"detail,omitempty"`
	Code          string  `json:"code"`
	Instance      string  `json:"instance,omitempty"`
	ActualVersion *uint64 `json:"actualVersion,omitempty"`
	Path          string  `json:"path,omitempty"`
}

// VerifyResult is the answer of GET /v1/log/verify.
type VerifyResult struct {
	OK           bool   `json:"ok"`
	HeadPosition uint64 `json:"headPosition"`
	HeadHash     string `json:"headHash"`
	BreakAt      uint64 `json:"breakAt,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// SchemaList is the answer of GET /v1/schemas.
type SchemaList struct {
	Schemas []Schema `json:"schemas"`
}

// SnapshotRequest is the body of PUT /v1/streams/{stream}/snapshot. Type, when
// set, names the event type whose schema declares the snapshot's PII fields.
type SnapshotRequest struct {
	Version uint64          `json:"version"`
	Type    string          `json:"type,omitempty"`
	Data    json.RawMessage `json:"data"`
}

// Snapshot is the answer of GET /v1/streams/{stream}/snapshot. Its PII fields
// are resolved like an event's.
type Snapshot struct {
	Stream  string          `json:"stream"`
	Version uint64          `json:"version"`
	Type    string          `json:"type,omitempty"`
	Data    json.RawMessage `json:"data"`
	SavedAt time.Time       `json:"savedAt"`
	PII     []PIIField      `json:"pii,omitempty"`
}

// ExportValue is one value held for a subject, in an export.
type ExportValue struct {
	Class     string          `json:"class"`
	Value     json.RawMessage `json:"value"`
	State     string          `json:"state,omitempty"`
	CreatedAt time.Time       `json:"createdAt,omitzero"` // absent for an erased or expired value
}

// ExportEventRef names one event that references a subject, without values.
type ExportEventRef struct {
	Stream     string    `json:"stream"`
	Version    uint64    `json:"version"`
	Position   uint64    `json:"position,omitempty"`
	Type       string    `json:"type"`
	RecordedAt time.Time `json:"recordedAt"`
	Paths      []string  `json:"paths"`
}

// SubjectExport is the answer of GET /v1/subjects/{subject}/export:
// everything held about a subject (GDPR Art. 15 and 20).
type SubjectExport struct {
	Subject   string           `json:"subject"`
	Erased    bool             `json:"erased"`
	ErasureID string           `json:"erasureId,omitempty"`
	Values    []ExportValue    `json:"values"`
	Events    []ExportEventRef `json:"events"`
}

// AuditRecord is one access to personal data: who, what, when and why. It
// never holds a value.
type AuditRecord struct {
	ID        string    `json:"id,omitempty"`
	Position  uint64    `json:"position,omitempty"`
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`
	Roles     []string  `json:"roles,omitempty"`
	Action    string    `json:"action"`
	Purpose   string    `json:"purpose,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Stream    string    `json:"stream,omitempty"`
	Version   uint64    `json:"version,omitempty"`
	Paths     []string  `json:"paths,omitempty"`
	Effect    string    `json:"effect,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
}

// AuditPage is the answer of GET /v1/audit. Query parameters: subject,
// principal, action, from (position, inclusive), limit. Next, when not zero,
// is the from of the next page.
type AuditPage struct {
	Records []AuditRecord `json:"records"`
	Next    uint64        `json:"next,omitempty"`
}

// Server-Sent Events of GET /v1/subscribe: each event is written as
//
//	id: <position>
//	event: event
//	data: <one Event as JSON on one line>
//
// Heartbeats are comment lines (": ping"). A client resumes by sending the
// last id it saw in Last-Event-ID; the server then starts after it.
const (
	// SSEEventName is the "event:" field of an event message.
	SSEEventName = "event"
	// HeaderPurpose carries the purpose of a read.
	HeaderPurpose = "X-Purpose"
	// HeaderLastEventID carries the last position a subscriber saw.
	HeaderLastEventID = "Last-Event-ID"
	// HeaderRequestID carries the request ID, echoed by the server.
	HeaderRequestID = "X-Request-Id"
	// ContentTypeProblem is the media type of error bodies.
	ContentTypeProblem = "application/problem+json"
)

// Problem codes: the stable "code" of a Problem.
const (
	CodeBadRequest      = "bad_request"
	CodeInvalidJSON     = "invalid_json"
	CodeInvalidPointer  = "invalid_pointer"
	CodeUnauthenticated = "unauthenticated"
	CodeDenied          = "denied"
	CodeNotFound        = "not_found"
	CodeConflict        = "version_conflict"
	CodeErased          = "subject_erased"
	CodeTooLarge        = "too_large"
	CodeLeak            = "pii_leak"
	CodeUnavailable     = "vault_unavailable"
	CodeInternal        = "internal"
	CodeLegalHold       = "legal_hold"
	CodeRequestIDReused = "request_id_reused"
	CodeNotImplemented  = "not_implemented"
	// CodeUnprotect: a schema change would stop protecting declared
	// personal-data paths; resend with allowUnprotect to apply it anyway.
	CodeUnprotect = "would_unprotect"

	CodeInvalidEvent         = "invalid_event"
	CodeAuditUnavailable     = "audit_unavailable"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeIdempotencyConflict  = "idempotency_conflict"
	CodeServiceUnavailable   = "unavailable"
	CodeTimeout              = "timeout"
	CodeCanceled             = "canceled"
)
