package policy

import "time"

// Principal is the caller, as authenticated by the HTTP layer. It carries no
// personal data of a data subject; Attributes are free-form operator-defined
// labels (team, tenant, region) that policies may test.
type Principal struct {
	ID         string            `json:"id"`
	Roles      []string          `json:"roles"`
	Attributes map[string]string `json:"attributes,omitempty"`
	// Root marks the dev root token: like Vault's root token it passes every
	// check and every field is revealed. OPA is not consulted; the decision
	// is still logged.
	Root bool `json:"root,omitempty"`
}

// Action is what the principal asks to do.
type Action string

// The actions piivault knows. Authorize refuses any other value with
// ErrInvalidInput.
const (
	ActionAppend    Action = "append"
	ActionRead      Action = "read"
	ActionSubscribe Action = "subscribe"
	ActionErase     Action = "erase"
	ActionExport    Action = "export"
	ActionAudit     Action = "audit"
	ActionAdmin     Action = "admin"
)

// Valid reports whether a is one of the known actions.
func (a Action) Valid() bool {
	switch a {
	case ActionAppend, ActionRead, ActionSubscribe, ActionErase, ActionExport, ActionAudit, ActionAdmin:
		return true
	}
	return false
}

// Resource names what is touched. Every member is an identifier (a stream
// name, an event type, a subject ID, a JSON pointer, a PII class), never a
// personal-data value.
type Resource struct {
	Stream    string `json:"stream,omitempty"`
	EventType string `json:"event_type,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Path      string `json:"path,omitempty"`
	Class     string `json:"class,omitempty"`
}

// Input is one question to the policy. It never contains a PII value.
type Input struct {
	Principal Principal `json:"principal"`
	Action    Action    `json:"action"`
	Purpose   string    `json:"purpose,omitempty"`
	Resource  Resource  `json:"resource"`
}

// Effect is what happens to one PII field on a read.
type Effect string

// The field effects, from least to most revealing: deny < tokenize < mask <
// reveal.
const (
	EffectDeny     Effect = "deny"
	EffectTokenize Effect = "tokenize"
	EffectMask     Effect = "mask"
	EffectReveal   Effect = "reveal"
)

// Valid reports whether e is one of the four effects.
func (e Effect) Valid() bool {
	switch e {
	case EffectDeny, EffectTokenize, EffectMask, EffectReveal:
		return true
	}
	return false
}

// Decision is the policy's answer. Authorize sets Allow and Reason (Effect is
// empty). Field sets Effect, Reason, and Allow = (Effect != EffectDeny).
// Reason is written by the policy author for operators and audit records; the
// shipped policy builds it from roles, purposes and classes only.
type Decision struct {
	Allow  bool   `json:"allow"`
	Effect Effect `json:"effect,omitempty"`
	Reason string `json:"reason"`
}

// Kind tells which question a DecisionRecord answers.
type Kind string

// Decision kinds.
const (
	KindRequest Kind = "request" // Authorize
	KindField   Kind = "field"   // Field
)

// DecisionRecord is what the decision log hook receives: who asked what, for
// which purpose, about which resource, and the answer. It holds no value and
// no principal attributes (operators may put anything in those).
type DecisionRecord struct {
	Time      time.Time     `json:"time"`
	Kind      Kind          `json:"kind"`
	Principal string        `json:"principal"`
	Roles     []string      `json:"roles,omitempty"`
	Root      bool          `json:"root,omitempty"`
	Action    Action        `json:"action"`
	Purpose   string        `json:"purpose,omitempty"`
	Resource  Resource      `json:"resource"`
	Decision  Decision      `json:"decision"`
	Cached    bool          `json:"cached,omitempty"`
	Revision  string        `json:"revision"`           // policy revision that decided
	Duration  time.Duration `json:"duration,omitempty"` // evaluation time (0 when cached or root)
	Error     string        `json:"error,omitempty"`    // set when evaluation failed (the decision is then a deny)
}
