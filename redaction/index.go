package redaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog"
)

// The subject index: every event that holds a value of a subject carries
// the tag "subject:<id>" in the event log's tag index (EventData.Tags), so
// ReadTag lists the events that refer to a subject with one range scan.
// The tags are written in the append's own log transaction: an
// acknowledged event is indexed, an event the log refused is not, and
// there is nothing to queue, checkpoint or recover. Which paths of an
// event hold the subject's values comes from the event's own token list
// ("$piivault" metadata), so the index holds positions only.
//
// Logs written before the tag index kept it in system streams
// "$subject-<id>" (hashed if long) of SubjectReferenced events, filled off
// the append's critical path; those streams are still read, for the events
// they name, and no longer written.

// subjectTagPrefix starts the tag of a subject's events.
const subjectTagPrefix = "subject:"

// subjectTag is the log tag of the events that hold a subject's values.
// Subject IDs are at most 256 bytes, within the log's tag limit.
func subjectTag(subject string) string { return subjectTagPrefix + subject }

// subjectTags returns the tags of an event with token list m: one per
// distinct subject (buildMeta lists each subject once).
func subjectTags(m *storedMeta) []string {
	if len(m.Subjects) == 0 {
		return nil
	}
	tags := make([]string, len(m.Subjects))
	for i, s := range m.Subjects {
		tags[i] = subjectTag(s)
	}
	return tags
}

// subjectEvents calls fn for every event that refers to subject, in
// position order, each once: first those the legacy index stream names,
// then those in the tag index.
func (s *Service) subjectEvents(ctx context.Context, subject string, fn func(e eventlog.Event) error) error {
	seen, err := s.legacySubjectEvents(ctx, subject, fn)
	if err != nil {
		return err
	}
	from := uint64(1)
	for {
		evs, err := s.log.ReadTag(ctx, subjectTag(subject), from, 1000)
		if err != nil {
			return fmt.Errorf("read subject index: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		for _, e := range evs {
			from = e.Position + 1
			if _, dup := seen[e.Position]; dup {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}

// subjectEventRefs returns where the events that refer to subject hold its
// values.
func (s *Service) subjectEventRefs(ctx context.Context, subject string) ([]EventRef, error) {
	var refs []EventRef
	err := s.subjectEvents(ctx, subject, func(e eventlog.Event) error {
		m, _, ok, err := splitMeta(e.Metadata)
		if err != nil || !ok {
			return nil // not a redacted event: nothing of the subject in it
		}
		si := -1
		for i, subj := range m.Subjects {
			if subj == subject {
				si = i
				break
			}
		}
		if si < 0 {
			return nil
		}
		r := EventRef{Stream: e.Stream, Version: e.Version, Position: e.Position, Type: e.Type, RecordedAt: e.RecordedAt}
		for k, idx := range m.SubjectIdx {
			if idx == si {
				r.Paths = append(r.Paths, metaPathName(&m, k))
				r.Classes = append(r.Classes, m.Classes[k])
			}
		}
		refs = append(refs, r)
		return nil
	})
	return refs, err
}

// eventSubjectReferenced is the type of the legacy index streams' events.
const eventSubjectReferenced = "SubjectReferenced"

// subjectRef is one reference in a legacy SubjectReferenced event, which
// holds one (as its body) or several (as {"refs":[...]}).
type subjectRef struct {
	Stream   string   `json:"stream"`
	Version  uint64   `json:"version"`
	Position uint64   `json:"position"`
	Type     string   `json:"type"`
	Paths    []string `json:"paths"`
	Classes  []Class  `json:"classes"`
}

// legacySubjectEvents calls fn for each event a subject's legacy index
// stream names (each once) and returns their positions.
func (s *Service) legacySubjectEvents(ctx context.Context, subject string, fn func(e eventlog.Event) error) (map[uint64]struct{}, error) {
	seen := map[uint64]struct{}{}
	stream := legacySubjectStream(subject)
	from := uint64(1)
	for {
		evs, err := s.log.ReadStream(ctx, stream, from, 1000, eventlog.Forward)
		if errors.Is(err, eventlog.ErrStreamNotFound) || (err == nil && len(evs) == 0) {
			return seen, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read legacy subject index: %w", err)
		}
		for _, ie := range evs {
			from = ie.Version + 1
			if ie.Type != eventSubjectReferenced {
				continue
			}
			refs, err := decodeRefs(ie.Data)
			if err != nil {
				return nil, fmt.Errorf("legacy subject index at position %d: %w", ie.Position, eventlog.ErrCorrupt)
			}
			for _, r := range refs {
				if _, dup := seen[r.Position]; dup {
					continue // written twice (a retry or a recovery scan)
				}
				es, err := s.log.ReadStream(ctx, r.Stream, r.Version, 1, eventlog.Forward)
				if err != nil {
					return nil, fmt.Errorf("read legacy subject index: %w", err)
				}
				if len(es) == 0 || es[0].Position != r.Position {
					continue
				}
				seen[r.Position] = struct{}{}
				if err := fn(es[0]); err != nil {
					return nil, err
				}
			}
		}
	}
}

// decodeRefs reads the body of a legacy SubjectReferenced event: one
// reference or {"refs":[...]}.
func decodeRefs(data []byte) ([]subjectRef, error) {
	var body struct {
		subjectRef
		Refs []subjectRef `json:"refs"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, err
	}
	if body.Refs != nil {
		return body.Refs, nil
	}
	return []subjectRef{body.subjectRef}, nil
}

// legacySubjectStream is the name of a subject's legacy index stream.
// Stream names are at most 256 bytes; subject IDs too, so long ones were
// hashed.
func legacySubjectStream(subject string) string {
	if len(subjectStreamPrefix)+len(subject) <= 256 {
		return subjectStreamPrefix + subject
	}
	return "$subject#" + uuid.NewSHA1(uuid.NameSpaceOID, []byte(subject)).String()
}
