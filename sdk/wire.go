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
}

// ErasureRequest is the body of POST /v1/subjects/{subject}/erasure.
type ErasureRequest struct {
	RequestID string `json:"requestId,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Requester string `json:"requester,omitempty"`
	Ticket    string `json:"ticket,omitempty"`
}

// Erasure is the answer of an erasure request and of GET /v1/erasures/{id}.
type Erasure struct {
	ErasureID string          `json:"erasureId"`
	Subject   string          `json:"subject"`
	Status    string          `json:"status"`
	Receipt   json.RawMessage `json:"receipt,omitempty"`
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
