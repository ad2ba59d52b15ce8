// Package redaction is piivault's redaction-aware event store: it composes
// the event log (eventlog), the PII vault (vault) and the OPA policy (policy)
// so that personal data leaves events on append and comes back on read only
// as the policy allows.
//
// # Schemas
//
// An event type declares its PII with a Schema: a subject pointer (whose
// data the event is about) and fields, each a JSON pointer (RFC 6901, with
// "*" matching every array element or object member), a Class and,
// optionally, its own subject pointer.
package redaction
