package redaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
)

// eventSchemaDefined is the type of the events of $schemas.
const eventSchemaDefined = "SchemaDefined"

// loadSchemas replays $schemas.
func (s *Service) loadSchemas(ctx context.Context) error {
	from := uint64(1)
	for {
		evs, err := s.log.ReadStream(ctx, StreamSchemas, from, 1000, eventlog.Forward)
		if err != nil {
			if errors.Is(err, eventlog.ErrStreamNotFound) {
				return nil
			}
			return fmt.Errorf("load schemas: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		for _, e := range evs {
			if e.Type != eventSchemaDefined {
				continue
			}
			sc, err := DecodeSchema("", e.Data)
			if err != nil {
				return fmt.Errorf("load schemas: stored schema at version %d: %w", e.Version, err)
			}
			s.addSchema(sc)
		}
		from = evs[len(evs)-1].Version + 1
	}
}

// addSchema records a stored schema; versions arrive in order.
func (s *Service) addSchema(sc *Schema) {
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	vs := s.schemas[sc.EventType]
	if sc.Version != uint64(len(vs))+1 {
		// Should not happen ($schemas is written under expected version);
		// keep the highest version as current.
		s.lg.Warn("schema versions out of order", logKeyType, sc.EventType)
	}
	s.schemas[sc.EventType] = append(vs, sc)
}

// currentSchema returns the newest schema of an event type, or nil.
func (s *Service) currentSchema(eventType string) *Schema {
	s.schemaMu.RLock()
	defer s.schemaMu.RUnlock()
	vs := s.schemas[eventType]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// PutSchema declares (or changes) the PII of an event type. The document has
// the shape of sdk.Schema. A new version is stored in $schemas; old events
// keep the version they were redacted under. Putting a schema equal to the
// current one stores nothing and returns the current one. Needs action admin.
func (s *Service) PutSchema(ctx context.Context, a Access, eventType string, doc []byte) (*Schema, error) {
	if err := s.authorize(ctx, a, policy.ActionAdmin, policy.Resource{EventType: eventType}); err != nil {
		return nil, err
	}
	// The same rules as an append's event type: a schema for a type no
	// append can use would sit in $schemas for ever.
	if err := eventlog.ValidateEventType(eventType); err != nil {
		return nil, fmt.Errorf("put schema: %w", err)
	}
	sc, err := DecodeSchema(eventType, doc)
	if err != nil {
		return nil, err
	}
	allow := sc.AllowUnprotect
	sc.AllowUnprotect, sc.Unprotected = false, nil
	s.putMu.Lock()
	defer s.putMu.Unlock()
	cur := s.currentSchema(eventType)
	if cur != nil && sameSchema(cur, sc) {
		return cur.Clone(), nil
	}
	var lost []string
	if cur != nil {
		var why []string
		lost, why = unprotected(cur, sc)
		if len(lost) > 0 && !allow {
			return nil, fmt.Errorf("put schema %s: %w: %s; send \"allowUnprotect\": true to apply it anyway", eventType, ErrUnprotect, strings.Join(why, ", "))
		}
		if len(lost) > 0 {
			rec := auditRecord{EventType: eventType, Paths: lost, Effect: "unprotect",
				Reason: fmt.Sprintf("schema version %d stops protecting: %s", cur.Version+1, strings.Join(why, ", "))}
			if err := s.audit(ctx, a, policy.ActionAdmin, []auditRecord{rec}); err != nil {
				return nil, fmt.Errorf("put schema: %w", err)
			}
		}
	}
	sc.Version = 1
	if cur != nil {
		sc.Version = cur.Version + 1
	}
	body, err := json.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("put schema: %w", err)
	}
	expected := eventlog.NoStream
	if info, err := s.log.StreamInfo(ctx, StreamSchemas); err == nil {
		expected = eventlog.ExpectedVersion(info.Version)
	} else if !errors.Is(err, eventlog.ErrStreamNotFound) {
		return nil, fmt.Errorf("put schema: %w", err)
	}
	if _, err := s.log.AppendSystem(ctx, StreamSchemas, expected, []eventlog.EventData{{Type: eventSchemaDefined, Data: body}}); err != nil {
		return nil, fmt.Errorf("put schema: %w", err)
	}
	s.addSchema(sc)
	out := sc.Clone()
	out.Unprotected = lost
	return out, nil
}

// unprotected lists the field paths of cur that next no longer protects as
// cur did: no longer declared, or filed under another subject pointer (an
// erasure of the old subject would then miss them). why says it per path.
func unprotected(cur, next *Schema) (paths, why []string) {
	subjectOf := func(s *Schema, f Field) string {
		if f.Subject != "" {
			return f.Subject
		}
		return s.Subject
	}
	for _, f := range cur.Fields {
		i := slices.IndexFunc(next.Fields, func(n Field) bool { return n.Path == f.Path })
		switch {
		case i < 0:
			paths = append(paths, f.Path)
			why = append(why, f.Path+" (no longer declared)")
		case subjectOf(next, next.Fields[i]) != subjectOf(cur, f):
			paths = append(paths, f.Path)
			why = append(why, fmt.Sprintf("%s (subject %s -> %s)", f.Path, subjectOf(cur, f), subjectOf(next, next.Fields[i])))
		}
	}
	return paths, why
}

func sameSchema(a, b *Schema) bool {
	return a.Subject == b.Subject && a.LeakGuard == b.LeakGuard && reflect.DeepEqual(publicFields(a.Fields), publicFields(b.Fields))
}

func publicFields(fs []Field) []Field {
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = Field{Path: f.Path, Class: f.Class, Subject: f.Subject}
	}
	return out
}

// GetSchema returns the current schema of an event type, or ErrSchemaNotFound.
func (s *Service) GetSchema(ctx context.Context, eventType string) (*Schema, error) {
	if sc := s.currentSchema(eventType); sc != nil {
		return sc.Clone(), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrSchemaNotFound, eventType)
}

// GetSchemaVersion returns one version of an event type's schema.
func (s *Service) GetSchemaVersion(ctx context.Context, eventType string, version uint64) (*Schema, error) {
	s.schemaMu.RLock()
	defer s.schemaMu.RUnlock()
	vs := s.schemas[eventType]
	if version == 0 || version > uint64(len(vs)) {
		return nil, fmt.Errorf("%w: %q version %d", ErrSchemaNotFound, eventType, version)
	}
	return vs[version-1].Clone(), nil
}

// ListSchemas returns the current schema of every event type, sorted by type.
func (s *Service) ListSchemas(ctx context.Context) ([]*Schema, error) {
	s.schemaMu.RLock()
	out := make([]*Schema, 0, len(s.schemas))
	for _, vs := range s.schemas {
		out = append(out, vs[len(vs)-1].Clone())
	}
	s.schemaMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].EventType < out[j].EventType })
	return out, nil
}
