package compliance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
)

// TokenRef is one tokenized value of a stored event: where it is, its class
// and subject, and its vault token. Never the value.
type TokenRef struct {
	Path     string
	Metadata bool
	Class    string
	Subject  string
	Token    vault.Token
}

// storedMeta mirrors redaction's reserved metadata member (format 1): for
// every token, its path, class and subject index. Until redaction exports
// a way to list an event's tokens (requested), this is read here.
type storedMeta struct {
	Format     int      `json:"v"`
	Subjects   []string `json:"s"`
	Paths      []string `json:"p"`
	Classes    []string `json:"c"`
	SubjectIdx []int    `json:"i"`
	InMetadata []int    `json:"m"`
}

// EventTokens lists the tokens of a stored event (as the log holds it, not
// as a read returns it); nil for an event without PII.
func EventTokens(e eventlog.Event) ([]TokenRef, error) {
	md := bytes.TrimSpace(e.Metadata)
	if len(md) == 0 || md[0] != '{' || !bytes.Contains(md, []byte(redaction.ReservedMetadataKey)) {
		return nil, nil
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(md, &outer); err != nil {
		return nil, fmt.Errorf("event tokens: metadata: %w", err)
	}
	raw, ok := outer[redaction.ReservedMetadataKey]
	if !ok {
		return nil, nil
	}
	var m storedMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("event tokens: %s: %w", redaction.ReservedMetadataKey, err)
	}
	if m.Format != 1 {
		return nil, fmt.Errorf("event tokens: %s format %d not understood", redaction.ReservedMetadataKey, m.Format)
	}
	if len(m.Classes) != len(m.Paths) || len(m.SubjectIdx) != len(m.Paths) {
		return nil, fmt.Errorf("event tokens: %s: arrays of different lengths", redaction.ReservedMetadataKey)
	}
	inMeta := map[int]bool{}
	for _, i := range m.InMetadata {
		inMeta[i] = true
	}
	var data, meta any
	if err := json.Unmarshal(e.Data, &data); err != nil {
		return nil, fmt.Errorf("event tokens: data: %w", err)
	}
	if len(m.InMetadata) > 0 {
		_ = json.Unmarshal(md, &meta)
	}
	out := make([]TokenRef, 0, len(m.Paths))
	for i, p := range m.Paths {
		si := m.SubjectIdx[i]
		if si < 0 || si >= len(m.Subjects) {
			return nil, fmt.Errorf("event tokens: subject index out of range")
		}
		doc := data
		if inMeta[i] {
			doc = meta
		}
		v, ok := pointerGet(doc, p)
		tok, isStr := v.(string)
		if !ok || !isStr || !strings.HasPrefix(tok, vault.TokenPrefix) {
			continue // not a token there: the schema's value was absent or null
		}
		out = append(out, TokenRef{Path: p, Metadata: inMeta[i], Class: m.Classes[i], Subject: m.Subjects[si], Token: vault.Token(tok)})
	}
	return out, nil
}

// pointerGet follows an RFC 6901 JSON pointer into a decoded document.
func pointerGet(doc any, p string) (any, bool) {
	if p == "" {
		return doc, true
	}
	if p[0] != '/' {
		return nil, false
	}
	cur := doc
	for _, seg := range strings.Split(p[1:], "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
