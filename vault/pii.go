package vault

import (
	"fmt"
	"log/slog"
)

// redacted is what every printing path of PII shows instead of the value.
const redacted = "[REDACTED]"

// PII holds one personal-data value as raw JSON bytes (a string, number,
// object or array exactly as it appeared in the event). Its String, GoString,
// Format, LogValue and MarshalJSON all print "[REDACTED]", so a careless log
// line, error or audit record cannot leak it. Use Reveal to get the bytes on
// the one path that is allowed to: the read path after the policy said so.
type PII struct {
	raw []byte
}

// NewPII wraps raw JSON bytes. The slice is kept, not copied.
func NewPII(raw []byte) PII { return PII{raw: raw} }

// Reveal returns the raw JSON bytes of the value.
func (p PII) Reveal() []byte { return p.raw }

// IsZero reports whether p holds no value.
func (p PII) IsZero() bool { return len(p.raw) == 0 }

// String implements fmt.Stringer without revealing the value.
func (p PII) String() string { return redacted }

// GoString implements fmt.GoStringer without revealing the value.
func (p PII) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb, %x and %q included,
// prints the placeholder.
func (p PII) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (p PII) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON prints the placeholder: encoding a PII by accident (a log
// record, an audit record, an error body) must never carry the value.
func (p PII) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
