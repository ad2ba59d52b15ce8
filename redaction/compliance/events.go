package compliance

import (
	"encoding/json"
	"time"

	"github.com/piivault/piivault/redaction"
)

// System streams this package writes besides $erasures (redaction's) and
// $audit (redaction's, same record shape). None holds a personal value.
const (
	// StreamErasures is redaction's $erasures stream; the workflow adds its
	// steps there.
	StreamErasures = redaction.StreamErasures
	// StreamHolds holds HoldPlaced and HoldLifted events.
	StreamHolds = "$holds"
	// StreamRetention holds ValuesExpired events and the cursors of the
	// retention job (RetentionCheckpoint) and of the blind indexer
	// (BlindIndexedThrough). Redaction hides it, like $holds, from
	// ReadAll and Subscribe.
	StreamRetention = "$retention"
	// streamAudit is redaction's $audit.
	streamAudit = redaction.StreamAudit
)

// Types of the events this package appends. Redaction's Erase appends
// ErasureRequested and SubjectErased to $erasures; the workflow adds
// ErasurePurged, ErasureCompleted (the one read models react to) and
// ErasureRejected.
const (
	EventErasureRequested = redaction.EventErasureRequested
	EventSubjectErased    = redaction.EventSubjectErased
	EventErasurePurged    = "ErasurePurged"
	EventErasureCompleted = "ErasureCompleted"
	EventErasureRejected  = "ErasureRejected"

	EventHoldPlaced = "HoldPlaced"
	EventHoldLifted = "HoldLifted"

	EventValuesExpired       = "ValuesExpired"
	EventRetentionCheckpoint = "RetentionCheckpoint"
	EventBlindIndexed        = "BlindIndexedThrough"

	eventPIIAccessed = "PIIAccessed"
)

// erasureRequested is the body of redaction's ErasureRequested.
type erasureRequested struct {
	ErasureID   string    `json:"erasureId"`
	Subject     string    `json:"subject"`
	RequestID   string    `json:"requestId,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Requester   string    `json:"requester,omitempty"`
	Ticket      string    `json:"ticket,omitempty"`
	Principal   string    `json:"principal"`
	RequestedAt time.Time `json:"requestedAt"`
	// DueAt is fixed when the request is recorded (requestedAt plus the
	// deadline then configured); records written before it existed lack it.
	DueAt time.Time `json:"dueAt,omitzero"`
}

// erasurePurged is the body of ErasurePurged.
type erasurePurged struct {
	ErasureID string    `json:"erasureId"`
	Subject   string    `json:"subject"`
	PurgedAt  time.Time `json:"purgedAt"`
}

// ErasureCompletedEvent is the body of ErasureCompleted: what a read model
// needs to forget the subject, and the signed receipt.
type ErasureCompletedEvent struct {
	ErasureID   string          `json:"erasureId"`
	Subject     string          `json:"subject"`
	CompletedAt time.Time       `json:"completedAt"`
	Receipt     json.RawMessage `json:"receipt"`
}

// erasureRejected is the body of ErasureRejected.
type erasureRejected struct {
	erasureRequested
	RejectedAt time.Time `json:"rejectedAt"`
	Rejection  string    `json:"rejection"`
}

// holdEvent is the body of HoldPlaced and HoldLifted.
type holdEvent struct {
	Subject   string    `json:"subject"`
	Reason    string    `json:"reason"`
	Principal string    `json:"principal"`
	At        time.Time `json:"at"`
}

// auditRecord and auditEvent have the shape of redaction's audit records,
// so that redaction.Service.Audit lists what this package audits.
type auditRecord struct {
	Subject   string `json:"subject,omitempty"`
	Effect    string `json:"effect,omitempty"`
	State     string `json:"state,omitempty"`
	Reason    string `json:"reason,omitempty"`
	ErasureID string `json:"erasureId,omitempty"`
}

type auditEvent struct {
	Time      time.Time     `json:"time"`
	Principal string        `json:"principal"`
	Roles     []string      `json:"roles,omitempty"`
	Root      bool          `json:"root,omitempty"`
	Action    string        `json:"action"`
	Purpose   string        `json:"purpose,omitempty"`
	RequestID string        `json:"requestId,omitempty"`
	Records   []auditRecord `json:"records"`
}
