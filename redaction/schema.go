package redaction

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Class is the kind of personal data a field holds; it selects the masker and
// is part of every policy decision.
type Class string

// The classes a schema may declare. ClassDetected is what the leak guard
// gives values it tokenizes in undeclared fields.
const (
	ClassEmail       Class = "email"
	ClassPhone       Class = "phone"
	ClassName        Class = "name"
	ClassAddress     Class = "address"
	ClassDateOfBirth Class = "date_of_birth"
	ClassNationalID  Class = "national_id"
	ClassIPAddress   Class = "ip_address"
	ClassFreeText    Class = "free_text"
	ClassDetected    Class = "detected"
)

// Classes lists every known class.
func Classes() []Class {
	return []Class{ClassEmail, ClassPhone, ClassName, ClassAddress, ClassDateOfBirth,
		ClassNationalID, ClassIPAddress, ClassFreeText, ClassDetected}
}

// Valid reports whether c is a known class.
func (c Class) Valid() bool {
	for _, k := range Classes() {
		if c == k {
			return true
		}
	}
	return false
}

// LeakGuard says what happens to undeclared values that look like personal
// data.
type LeakGuard string

const (
	// LeakReject refuses the whole batch with ErrLeak naming the path.
	LeakReject LeakGuard = "reject"
	// LeakTokenize moves the value to the vault as class "detected".
	LeakTokenize LeakGuard = "tokenize"
	// LeakAllow stores the value as it is.
	LeakAllow LeakGuard = "allow"
)

// Valid reports whether g is a known mode.
func (g LeakGuard) Valid() bool { return g == LeakReject || g == LeakTokenize || g == LeakAllow }

// Limits of a schema document.
const (
	maxSchemaFields  = 256
	maxPointerLength = 1024
	maxSchemaBytes   = 64 << 10
)

// Field declares one PII location of an event type.
type Field struct {
	// Path is a JSON pointer into the event's data; "*" matches every array
	// element or object member. A whole object or array may be one field.
	Path string `json:"path"`
	// Class is the kind of data.
	Class Class `json:"class"`
	// Subject, if set, is the pointer of this field's own subject ID; its
	// "*" segments take the array indexes the field's path matched, in order.
	Subject string `json:"subject,omitempty"`

	path    Pointer
	subject Pointer
}

// Schema declares which JSON pointers of an event type are PII and whose.
// It has the JSON shape of sdk.Schema.
type Schema struct {
	EventType string `json:"eventType,omitempty"`
	// Version is assigned when the schema is stored: 1 for the first schema of
	// an event type, then 2, 3, ...
	Version uint64 `json:"version,omitempty"`
	// Subject is the pointer of the event's data subject ID, for example
	// "/customerId". It must resolve to a non-empty string in every event.
	Subject string  `json:"subject"`
	Fields  []Field `json:"fields"`
	// LeakGuard is empty (the deployment default), "reject", "tokenize" or
	// "allow".
	LeakGuard LeakGuard `json:"leakGuard,omitempty"`
	// AllowUnprotect, in a PutSchema request, accepts a new version that
	// un-declares personal-data paths of the current one, or moves them to
	// another subject. It is not stored.
	AllowUnprotect bool `json:"allowUnprotect,omitempty"`
	// Unprotected, in PutSchema's answer, lists the paths of the previous
	// version that the new one no longer protects (as declared before). It
	// is not stored.
	Unprotected []string `json:"unprotected,omitempty"`

	subject Pointer
	// ptrs are the pointers one walk of an event looks for: the fields first
	// (index i is Fields[i]), then the distinct subject pointers.
	ptrs       []Pointer
	subjectIdx []int // per field: index in ptrs of its subject pointer
	mainIdx    int   // index in ptrs of the event's subject pointer
}

// DecodeSchema decodes and validates a schema document for eventType. Unknown
// keys are refused so that a typo ("feilds") does not silently declare
// nothing. The event type in the document, if present, must match.
func DecodeSchema(eventType string, doc []byte) (*Schema, error) {
	if len(doc) > maxSchemaBytes {
		return nil, &SchemaError{EventType: eventType, Field: "(document)", Reason: fmt.Sprintf("larger than %d bytes", maxSchemaBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var s Schema
	if err := dec.Decode(&s); err != nil {
		return nil, &SchemaError{EventType: eventType, Field: "(document)", Reason: "not a schema object: " + jsonErrorReason(err)}
	}
	if dec.More() {
		return nil, &SchemaError{EventType: eventType, Field: "(document)", Reason: "trailing data after the schema object"}
	}
	if s.EventType != "" && eventType != "" && s.EventType != eventType {
		return nil, &SchemaError{EventType: eventType, Field: "eventType", Reason: fmt.Sprintf("%q does not match the event type of the request", s.EventType)}
	}
	if eventType != "" {
		s.EventType = eventType
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// jsonErrorReason describes a decoding error without quoting the input.
func jsonErrorReason(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("malformed JSON at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("%s must be %s", e.Field, e.Type)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field") {
		return strings.TrimPrefix(msg, "json: ")
	}
	return "malformed JSON"
}

// Validate checks the schema and prepares it for use. DecodeSchema calls it.
func (s *Schema) Validate() error {
	fail := func(field, format string, args ...any) error {
		e := &SchemaError{EventType: s.EventType, Field: field, Reason: fmt.Sprintf(format, args...)}
		for _, a := range args {
			if err, ok := a.(error); ok && errors.Is(err, ErrInvalidPointer) {
				e.Cause = ErrInvalidPointer
			}
		}
		return e
	}
	if s.EventType == "" {
		return fail("eventType", "must not be empty")
	}
	if s.LeakGuard != "" && !s.LeakGuard.Valid() {
		return fail("leakGuard", "%q is not one of reject, tokenize, allow", string(s.LeakGuard))
	}
	sp, err := parseSchemaPointer(s.Subject)
	if err != nil {
		return fail("subject", "%v", err)
	}
	if sp.HasWildcard() {
		return fail("subject", "the event's subject pointer must not contain \"*\"")
	}
	s.subject = sp
	if len(s.Fields) > maxSchemaFields {
		return fail("fields", "more than %d fields", maxSchemaFields)
	}
	s.ptrs = s.ptrs[:0]
	s.subjectIdx = make([]int, len(s.Fields))
	for i := range s.Fields {
		f := &s.Fields[i]
		name := fmt.Sprintf("fields[%d]", i)
		p, err := parseSchemaPointer(f.Path)
		if err != nil {
			return fail(name+".path", "%v", err)
		}
		f.path = p
		if !f.Class.Valid() {
			return fail(name+".class", "unknown class %q (known: %s)", string(f.Class), classList())
		}
		f.subject = s.subject
		if f.Subject != "" {
			fs, err := parseSchemaPointer(f.Subject)
			if err != nil {
				return fail(name+".subject", "%v", err)
			}
			if fs.wild > p.wild {
				return fail(name+".subject", "has more \"*\" segments than the field's path")
			}
			f.subject = fs
		}
		for j := 0; j < i; j++ {
			if s.Fields[j].path.overlaps(p) {
				return fail(name+".path", "overlaps fields[%d].path %q: one field would lie inside another", j, s.Fields[j].Path)
			}
		}
		s.ptrs = append(s.ptrs, p)
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		for j := range s.Fields {
			if s.Fields[j].path.overlaps(f.subject) {
				return fail(fmt.Sprintf("fields[%d].subject", i), "the subject pointer %q lies in or around PII field fields[%d]; a subject ID must stay readable in the event", f.subject.String(), j)
			}
		}
		idx := -1
		for k := len(s.Fields); k < len(s.ptrs); k++ {
			if s.ptrs[k].String() == f.subject.String() {
				idx = k
			}
		}
		if idx < 0 {
			idx = len(s.ptrs)
			s.ptrs = append(s.ptrs, f.subject)
		}
		s.subjectIdx[i] = idx
	}
	s.mainIdx = -1
	for k := len(s.Fields); k < len(s.ptrs); k++ {
		if s.ptrs[k].String() == s.subject.String() {
			s.mainIdx = k
		}
	}
	if s.mainIdx < 0 {
		for j := range s.Fields {
			if s.Fields[j].path.overlaps(s.subject) {
				return fail("subject", "the subject pointer lies in or around PII field fields[%d]", j)
			}
		}
		s.mainIdx = len(s.ptrs)
		s.ptrs = append(s.ptrs, s.subject)
	}
	return nil
}

func parseSchemaPointer(s string) (Pointer, error) {
	if s == "" {
		return Pointer{}, fmt.Errorf("%w: must not be empty (the whole event cannot be one field or subject)", ErrInvalidPointer)
	}
	if len(s) > maxPointerLength {
		return Pointer{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidPointer, maxPointerLength)
	}
	return ParsePointer(s)
}

func classList() string {
	var names []string
	for _, c := range Classes() {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}

// Clone returns a deep copy of the schema, ready for use.
func (s *Schema) Clone() *Schema {
	c := *s
	c.Fields = append([]Field(nil), s.Fields...)
	c.ptrs = append([]Pointer(nil), s.ptrs...)
	c.subjectIdx = append([]int(nil), s.subjectIdx...)
	return &c
}
