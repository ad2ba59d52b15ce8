package redaction

import (
	"fmt"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/vault"
)

// TokenRef is one token of a stored event: where it is, its class and
// subject. Never a value.
type TokenRef struct {
	// Path is a JSON pointer into data, or into metadata if Metadata is set.
	Path     string
	Class    Class
	Subject  string
	Token    vault.Token
	Metadata bool
}

// EventTokens lists the tokens of an event as stored in the log (from its
// reserved metadata), without asking the policy or the vault. It returns nil
// for an event without PII. It is for jobs that work on tokens (retention,
// blind indexing), not for reads.
func EventTokens(e eventlog.Event) ([]TokenRef, error) {
	m, rest, ok, err := splitMeta(e.Metadata)
	if err != nil {
		return nil, fmt.Errorf("event tokens at position %d: %w: stored metadata is malformed", e.Position, eventlog.ErrCorrupt)
	}
	if !ok {
		return nil, nil
	}
	fields, err := locateTokens(nil, 0, e.Data, rest, &m)
	if err != nil {
		return nil, fmt.Errorf("event tokens at position %d: %w", e.Position, err)
	}
	var out []TokenRef
	for _, f := range fields {
		if f.isToken {
			out = append(out, TokenRef{Path: f.path, Class: f.class, Subject: f.subject, Token: f.token, Metadata: f.meta})
		}
	}
	return out, nil
}
