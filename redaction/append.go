package redaction

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/internal/jsonvalid"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/vault"
)

// EventInput is one event to append.
type EventInput struct {
	// ID makes retries idempotent; zero: the log assigns one.
	ID       uuid.UUID
	Type     string
	Data     json.RawMessage
	Metadata json.RawMessage
	// JSONChecked says Data and Metadata are known to be valid JSON (the
	// caller checked them while it decoded its request), so Append does
	// not check them again. The log still refuses invalid JSON.
	JSONChecked bool
}

// prepared is one event on its way to the log.
type prepared struct {
	in      EventInput
	schema  *Schema
	res     extractResult
	first   int // index of its first value in the batch's entries
	data    []byte
	meta    []byte
	metaRec storedMeta
}

// Append redacts and appends events to stream, all or nothing. For every
// event it validates the schema's subject pointers, runs the leak guard over
// undeclared data and metadata, moves every declared value to the vault in
// one Put for the whole batch, and appends events holding tokens only. If the
// log append fails the new vault values are deleted again (or, if that fails
// too, by the sweeper). A stream name or event type the log would refuse
// (or a "$" system stream) is refused before anything is written. Needs action append on the
// stream.
func (s *Service) Append(ctx context.Context, a Access, stream string, expected ExpectedVersion, events []EventInput) (AppendResult, error) {
	var zero AppendResult
	// The log's own rules for the name, before anything is written: a name
	// it would refuse must not leave the $instance record (pending.go), a
	// denial's audit record or vault values behind.
	if err := eventlog.ValidateStreamName(stream); err != nil {
		return zero, fmt.Errorf("append: %w", err)
	}
	if strings.HasPrefix(stream, "$") {
		return zero, fmt.Errorf("append: %w", eventlog.ErrReservedStream)
	}
	if err := s.authorize(ctx, a, policy.ActionAppend, policy.Resource{Stream: stream}); err != nil {
		return zero, err
	}
	if len(events) == 0 {
		return zero, fmt.Errorf("append: %w: no events", ErrInvalid)
	}
	// The log's cheap limits before any vault work: an oversized batch
	// must not cost a vault write (and a delete) per event to be refused.
	if max := s.log.MaxBatchEvents(); len(events) > max {
		return zero, fmt.Errorf("append: %d events, at most %d: %w", len(events), max, ErrBatchTooLarge)
	}
	preps := make([]prepared, len(events))
	var entries []vault.Entry
	anyID := false
	for i, ev := range events {
		p := &preps[i]
		p.in = ev
		if ev.ID != uuid.Nil {
			anyID = true
		}
		// The log's rule, before the vault or the $instance record is
		// written; the error is the one the log would return.
		if err := eventlog.ValidateEventType(ev.Type); err != nil {
			return zero, fmt.Errorf("append: event %d: %w", i, err)
		}
		if !ev.JSONChecked && !jsonvalid.Valid(ev.Data) {
			return zero, &EventError{Index: i, Type: ev.Type, Reason: "data is not valid JSON"}
		}
		if !ev.JSONChecked && len(ev.Metadata) > 0 && !jsonvalid.Valid(ev.Metadata) {
			return zero, &EventError{Index: i, Type: ev.Type, Metadata: true, Reason: "metadata is not valid JSON"}
		}
		p.schema = s.currentSchema(ev.Type)
		x := extractor{schema: p.schema, guard: s.opts.DefaultLeakGuard}
		if p.schema != nil && p.schema.LeakGuard != "" {
			x.guard = p.schema.LeakGuard
		}
		if p.schema == nil {
			x.fallback = s.opts.UnattributedSubject(stream, ev.Type)
		}
		res, err := x.extract(i, ev.Type, ev.Data, ev.Metadata)
		if err != nil {
			return zero, err // a duplicated personal-data key, with its path
		}
		// Any other duplicated key: it means one thing to this parser and
		// another to one that keeps the first (the HTTP layer checked).
		if !ev.JSONChecked && (!jsonvalid.UniqueKeys(ev.Data) || !jsonvalid.UniqueKeys(ev.Metadata)) {
			return zero, &EventError{Index: i, Type: ev.Type, Reason: "an object names a member twice"}
		}
		for _, v := range res.values {
			if err := checkSubject(v.subject); err != nil {
				return zero, &EventError{Index: i, Type: ev.Type, Path: v.path, Metadata: v.metadata, Reason: err.Error()}
			}
		}
		p.res = res
		p.first = len(entries)
		for _, v := range res.values {
			src := ev.Data
			if v.metadata {
				src = ev.Metadata
			}
			raw := bytes.Clone(src[v.at.start:v.at.end])
			entries = append(entries, vault.Entry{Subject: v.subject, Class: string(v.class), Value: vault.NewPII(raw)})
		}
	}

	// tokens holds the values' tokens and, last, the pending marker's (see
	// pending.go): deleting tokens deletes the marker with the values.
	var tokens []vault.Token
	var barrier eventlog.Barrier // what the log syncs before the events
	if len(entries) > 0 {
		if err := s.ensureInstance(ctx); err != nil {
			return zero, fmt.Errorf("append: %w", err)
		}
		entries = append(entries, s.markerEntry(entries))
		var err error
		if s.store.Capabilities().Has(vault.CapUnsyncedPut) {
			// One vault sync per log group: the log syncs the vault just
			// before it commits the group holding the events, so no event
			// is durable before its values.
			tokens, err = s.store.PutUnsynced(ctx, entries)
			barrier = s.store
		} else {
			tokens, err = s.store.Put(ctx, entries)
		}
		if err != nil {
			return zero, vaultWriteError("append", err)
		}
		if len(tokens) != len(entries) {
			s.deleteOrphans(tokens)
			return zero, fmt.Errorf("append: vault returned %d tokens for %d values: %w", len(tokens), len(entries), ErrVaultUnavailable)
		}
	}

	out := make([]eventlog.EventData, len(preps))
	for i := range preps {
		p := &preps[i]
		var dataEdits, metaEdits []edit
		for j, v := range p.res.values {
			lit := appendJSONString(nil, string(tokens[p.first+j]))
			if v.metadata {
				metaEdits = append(metaEdits, edit{at: v.at, with: lit})
			} else {
				dataEdits = append(dataEdits, edit{at: v.at, with: lit})
			}
		}
		sortEdits(dataEdits)
		sortEdits(metaEdits)
		p.data = splice(p.in.Data, dataEdits)
		var sv uint64
		if p.schema != nil {
			sv = p.schema.Version
		}
		p.metaRec = buildMeta(sv, p.res.values)
		meta, err := withMeta(splice(p.in.Metadata, metaEdits), p.metaRec)
		if err != nil {
			s.deleteOrphans(tokens)
			return zero, fmt.Errorf("append: %w", err)
		}
		// The subject index (index.go): written with the events.
		out[i] = eventlog.EventData{ID: p.in.ID, Type: p.in.Type, Data: p.data, Metadata: meta, Tags: subjectTags(&p.metaRec)}
	}

	// The log is asked without the caller's cancellation: once queued, the
	// events may be committed after a cancelled wait returned, and deleting
	// their values as orphans then would leave events whose values are
	// gone. The wait is one group commit.
	var res eventlog.AppendResult
	var err error
	if barrier != nil {
		res, err = s.log.AppendAfter(context.WithoutCancel(ctx), stream, expected.log(), out, barrier)
	} else {
		res, err = s.log.Append(context.WithoutCancel(ctx), stream, expected.log(), out)
	}
	if err != nil {
		s.deleteOrphans(tokens)
		return zero, fmt.Errorf("append: %w", err)
	}
	if anyID && len(tokens) > 0 && !s.appendedOurs(ctx, res, preps, out) {
		// An exact retry of an earlier append: the log kept the first one,
		// so this attempt's values belong to no event.
		s.deleteOrphans(tokens)
		return appendResult(res), nil
	}
	if len(tokens) > 0 {
		s.pend.retireLater(tokens[len(tokens)-1])
	}
	return appendResult(res), nil
}

// appendedOurs reports whether the event at res.FirstPosition is the one
// this call wrote (and not an earlier append with the same IDs).
func (s *Service) appendedOurs(ctx context.Context, res eventlog.AppendResult, preps []prepared, out []eventlog.EventData) bool {
	k := 0
	for k < len(preps) && len(preps[k].res.values) == 0 {
		k++
	}
	evs, err := s.log.ReadAll(ctx, res.FirstPosition+uint64(k), 1, eventlog.Filter{})
	if err != nil || len(evs) == 0 {
		return true // cannot tell: keep the values (never delete a referenced one)
	}
	return bytes.Equal(evs[0].Data, out[k].Data) && bytes.Equal(evs[0].Metadata, out[k].Metadata)
}

func sortEdits(es []edit) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].at.start < es[j-1].at.start; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

func checkSubject(s string) error {
	if isMarkerSubject(s) {
		return fmt.Errorf("subject IDs starting with %q are reserved", markerSubjectPrefix)
	}
	if len(s) > vault.MaxSubjectLen {
		return fmt.Errorf("subject ID longer than %d bytes", vault.MaxSubjectLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("subject ID is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("subject ID holds control characters")
		}
	}
	return nil
}

func vaultWriteError(op string, err error) error {
	switch {
	case errors.Is(err, vault.ErrErased):
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, vault.ErrInvalid):
		return fmt.Errorf("%s: %w: %w", op, ErrInvalid, err)
	}
	return fmt.Errorf("%s: %w: %w", op, ErrVaultUnavailable, err)
}

// deleteOrphans removes the values of a failed append; what cannot be
// removed now is left to the sweeper.
func (s *Service) deleteOrphans(tokens []vault.Token) {
	if len(tokens) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.Delete(ctx, tokens); err != nil {
		s.lg.Warn("orphaned vault values left for the sweeper", logKeyCount, len(tokens), logKeyErr, err.Error())
		s.sw.addOrphans(tokens, s.opts.Now())
	}
}

// metaPathName is how a path of an event's token list is named outside:
// data paths as they are, metadata paths prefixed with "metadata".
func metaPathName(m *storedMeta, k int) string {
	if m.inMetadata(k) {
		return "metadata" + m.Paths[k]
	}
	return m.Paths[k]
}

func (m *storedMeta) inMetadata(k int) bool {
	for _, i := range m.InMetadata {
		if i == k {
			return true
		}
	}
	return false
}
