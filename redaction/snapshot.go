package redaction

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/internal/jsonvalid"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/vault"
)

// Snapshot is a stream's state at a version, read like an event.
type Snapshot struct {
	Stream  string
	Version uint64
	// Type names the event type whose schema declared the snapshot's PII.
	Type    string
	Data    json.RawMessage
	SavedAt time.Time
	PII     []PIIField
}

// storedSnapshot is what the log holds for a snapshot: the tokenized data
// and the same token list an event keeps in its metadata.
type storedSnapshot struct {
	Meta storedMeta      `json:"piivault"`
	Type string          `json:"type,omitempty"`
	Data json.RawMessage `json:"data"`
}

// SaveSnapshot stores data as stream's state at version, tokenized like an
// event of type typ (its schema; with no schema, the leak guard's default).
// Needs action append on the stream.
func (s *Service) SaveSnapshot(ctx context.Context, a Access, stream string, version uint64, typ string, data json.RawMessage) error {
	if err := s.authorize(ctx, a, policy.ActionAppend, policy.Resource{Stream: stream, EventType: typ}); err != nil {
		return err
	}
	if !jsonvalid.Valid(data) {
		return &EventError{Type: typ, Reason: "snapshot data is not valid JSON"}
	}
	sc := s.currentSchema(typ)
	x := extractor{schema: sc, guard: s.opts.DefaultLeakGuard}
	if sc != nil && sc.LeakGuard != "" {
		x.guard = sc.LeakGuard
	}
	if sc == nil {
		x.fallback = s.opts.UnattributedSubject(stream, typ)
	}
	res, err := x.extract(0, typ, data, nil)
	if err != nil {
		return err
	}
	entries := make([]vault.Entry, len(res.values))
	for i, v := range res.values {
		if err := checkSubject(v.subject); err != nil {
			return &EventError{Type: typ, Path: v.path, Reason: err.Error()}
		}
		entries[i] = vault.Entry{Subject: v.subject, Class: string(v.class), Value: vault.NewPII(append([]byte(nil), data[v.at.start:v.at.end]...))}
	}
	var tokens []vault.Token
	if len(entries) > 0 {
		tokens, err = s.store.Put(ctx, entries)
		if err != nil {
			return vaultWriteError("save snapshot", err)
		}
	}
	edits := make([]edit, len(res.values))
	for i, v := range res.values {
		edits[i] = edit{at: v.at, with: appendJSONString(nil, string(tokens[i]))}
	}
	sortEdits(edits)
	var sv uint64
	if sc != nil {
		sv = sc.Version
	}
	body, err := json.Marshal(storedSnapshot{Meta: buildMeta(sv, res.values), Type: typ, Data: splice(data, edits)})
	if err == nil {
		err = s.log.SaveSnapshot(ctx, stream, version, body)
	}
	if err != nil {
		s.deleteOrphans(tokens)
		return fmt.Errorf("save snapshot: %w", err)
	}
	return nil
}

// LoadSnapshot returns a stream's latest snapshot with its PII resolved
// under the policy, like a read. Needs action read on the stream.
func (s *Service) LoadSnapshot(ctx context.Context, a Access, stream string) (Snapshot, error) {
	if err := s.authorize(ctx, a, policy.ActionRead, policy.Resource{Stream: stream}); err != nil {
		return Snapshot{}, err
	}
	snap, err := s.log.LoadSnapshot(ctx, stream)
	if err != nil {
		return Snapshot{}, fmt.Errorf("load snapshot: %w", err)
	}
	var st storedSnapshot
	if err := json.Unmarshal(snap.Data, &st); err != nil {
		return Snapshot{}, fmt.Errorf("load snapshot: %w: stored snapshot is malformed", eventlog.ErrCorrupt)
	}
	meta, err := withMeta(nil, st.Meta)
	if err != nil {
		return Snapshot{}, err
	}
	evs, err := s.resolvePage(ctx, a, policy.ActionRead, []eventlog.Event{{Stream: stream, Version: snap.Version, Type: st.Type,
		Data: st.Data, Metadata: meta, RecordedAt: snap.SavedAt}})
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Stream: stream, Version: snap.Version, Type: st.Type, Data: evs[0].Data, SavedAt: snap.SavedAt, PII: evs[0].PII}, nil
}
