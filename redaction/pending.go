package redaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/vault"
)

// Durable orphan sweep. Every Append that stores values adds one more entry
// to its single vault Put: a pending marker under a reserved subject
// ("$piivault-pending-<instance>-<shard>"), class "system", whose value
// lists the batch's subject IDs (which the log holds in clear anyway; never
// a PII value). Put is all or nothing, so the marker is durable exactly
// when the values are. Once the log has the events (or a failed append's
// values are deleted, marker included), the marker is retired: a goroutine
// deletes retired markers in batches, off the append's critical path.
//
// A marker that survives is the trace of an append whose fate is unknown
// (a crash between the vault Put and the log append, or before the
// marker's deletion). recoverPending resolves them, in New (the subject
// index, written with the events, names every event in the log; nothing
// is in flight yet) and in every sweep for markers older than the
// Service's start (so never an append of this process): for each subject
// of the marker, the values created by the same Put (same CreatedAt as the
// marker: both backends stamp one Put with one time) that no event in the
// subject's index refers to are deleted, then the marker.
//
// The instance ID (in the system stream "$instance", written once, by the
// first append with PII) keeps sidecars that share one vault but have
// their own logs from judging each other's markers.

const (
	// streamInstance holds the InstanceCreated event naming this log's
	// instance ID.
	streamInstance       = "$instance"
	eventInstanceCreated = "InstanceCreated"
	// markerSubjectPrefix starts the reserved subjects of pending markers.
	// checkSubject refuses it to clients.
	markerSubjectPrefix = "$piivault-pending"
	markerClass         = "system"
	// markerShards spreads the markers over subjects, so that a backend
	// that serialises per subject (HashiCorp: one check-and-set document
	// per subject) does not serialise every append: 64 appenders meet on
	// one shard about once each. Recovery reads every shard, so changing
	// this number strands the markers of the shards it drops.
	markerShards = 64
	// retireEvery is how often retired markers are deleted.
	retireEvery = 100 * time.Millisecond
	// maxRetireBatch bounds one Delete of retired markers.
	maxRetireBatch = 4096
)

type instanceCreated struct {
	Instance string `json:"instance"`
}

// pending tracks this process's markers.
type pending struct {
	initMu   sync.Mutex
	ready    atomic.Bool // subjects are set (the instance ID is in the log)
	subjects [markerShards]string
	next     atomic.Uint32

	mu     sync.Mutex
	retire []vault.Token
}

func (p *pending) subject() string {
	return p.subjects[p.next.Add(1)%markerShards]
}

func (p *pending) retireLater(tok vault.Token) {
	p.mu.Lock()
	p.retire = append(p.retire, tok)
	p.mu.Unlock()
}

// markerEntry is the vault entry of an append's pending marker.
func (s *Service) markerEntry(entries []vault.Entry) vault.Entry {
	b := make([]byte, 0, 64)
	b = append(b, `{"s":[`...)
	seen := make(map[string]struct{}, 2)
	for _, e := range entries {
		if _, ok := seen[e.Subject]; ok {
			continue
		}
		seen[e.Subject] = struct{}{}
		if len(seen) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, e.Subject)
	}
	b = append(b, "]}"...)
	return vault.Entry{Subject: s.pend.subject(), Class: markerClass, Value: vault.NewPII(b)}
}

// ensureInstance makes sure the log holds this instance's ID before the
// first marker names it. It writes to the log once in the log's life, at
// the first append with PII (not at start, so that an idle sidecar writes
// nothing).
func (s *Service) ensureInstance(ctx context.Context) error {
	if s.pend.ready.Load() {
		return nil
	}
	s.pend.initMu.Lock()
	defer s.pend.initMu.Unlock()
	if s.pend.ready.Load() {
		return nil
	}
	return s.loadInstance(ctx, true)
}

// loadInstance reads this log's instance ID and, if create is set and there
// is none yet, creates it. Without an instance ID no marker was ever
// written.
func (s *Service) loadInstance(ctx context.Context, create bool) error {
	evs, err := s.log.ReadStream(ctx, streamInstance, 1, 1, eventlog.Forward)
	if err != nil && !errors.Is(err, eventlog.ErrStreamNotFound) {
		return fmt.Errorf("load instance: %w", err)
	}
	var id string
	if len(evs) == 1 {
		var ic instanceCreated
		if json.Unmarshal(evs[0].Data, &ic) == nil {
			id = ic.Instance
		}
	}
	if id == "" {
		if !create {
			return nil
		}
		id = uuid.NewString()
		body, _ := json.Marshal(instanceCreated{Instance: id})
		_, err := s.log.AppendSystem(ctx, streamInstance, eventlog.NoStream, []eventlog.EventData{{Type: eventInstanceCreated, Data: body}})
		if errors.Is(err, eventlog.ErrConflict) {
			return s.loadInstance(ctx, false)
		}
		if err != nil {
			return fmt.Errorf("create instance: %w", err)
		}
	}
	for i := range s.pend.subjects {
		s.pend.subjects[i] = markerSubjectPrefix + "-" + id + "-" + strconv.Itoa(i)
	}
	s.pend.ready.Store(true)
	return nil
}

// retireMarkers deletes the markers of appends that are settled. Those it
// cannot delete now are tried again next time (or resolved after a restart).
func (s *Service) retireMarkers(ctx context.Context) error {
	s.pend.mu.Lock()
	toks := s.pend.retire
	s.pend.retire = nil
	s.pend.mu.Unlock()
	// In bounded chunks: a queue that grew while the vault was down must
	// not become one transaction too large to commit.
	for len(toks) > 0 {
		n := min(len(toks), maxRetireBatch)
		if err := s.store.Delete(ctx, toks[:n]); err != nil {
			s.pend.mu.Lock()
			s.pend.retire = append(toks, s.pend.retire...)
			s.pend.mu.Unlock()
			return fmt.Errorf("retire pending markers: %w", err)
		}
		toks = toks[n:]
	}
	return nil
}

// recoverPending resolves the surviving markers created before cutoff (all
// of them if cutoff is zero): it deletes the values of their appends that
// no event refers to, then the markers. It returns how many values it
// deleted.
func (s *Service) recoverPending(ctx context.Context, cutoff time.Time) (int, error) {
	if !s.pend.ready.Load() {
		return 0, nil // no instance ID: no marker was ever written
	}
	var errs []error
	deleted := 0
	for _, ms := range s.pend.subjects {
		recs, err := s.store.Export(ctx, ms)
		if err != nil {
			errs = append(errs, fmt.Errorf("list pending markers: %w", err))
			continue
		}
		for _, rec := range recs {
			if !cutoff.IsZero() && !rec.CreatedAt.Before(cutoff) {
				continue
			}
			n, err := s.resolveMarker(ctx, rec)
			deleted += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if deleted > 0 {
		s.lg.Info("orphaned vault values of interrupted appends deleted", logKeyCount, deleted)
	}
	return deleted, errors.Join(errs...)
}

func (s *Service) resolveMarker(ctx context.Context, rec vault.Record) (int, error) {
	var body struct {
		S []string `json:"s"`
	}
	if err := json.Unmarshal(rec.Value.Reveal(), &body); err != nil {
		// Not ours to judge; drop the malformed marker only.
		return 0, s.store.Delete(ctx, []vault.Token{rec.Token})
	}
	var orphans []vault.Token
	for _, subj := range body.S {
		info, err := s.store.Describe(ctx, subj)
		if err != nil {
			return 0, fmt.Errorf("resolve pending marker: %w", err)
		}
		if info.Erased {
			continue // nothing left to remove
		}
		var cands []vault.Token
		for _, ti := range info.Tokens {
			if ti.CreatedAt.Equal(rec.CreatedAt) {
				cands = append(cands, ti.Token)
			}
		}
		if len(cands) == 0 {
			continue
		}
		refd, err := s.referencedTokens(ctx, subj)
		if err != nil {
			return 0, fmt.Errorf("resolve pending marker: %w", err)
		}
		for _, t := range cands {
			if _, ok := refd[t]; !ok {
				orphans = append(orphans, t)
			}
		}
	}
	if err := s.store.Delete(ctx, append(orphans, rec.Token)); err != nil {
		return 0, fmt.Errorf("resolve pending marker: %w", err)
	}
	return len(orphans), nil
}

// referencedTokens returns the tokens that the events in a subject's index
// hold.
func (s *Service) referencedTokens(ctx context.Context, subject string) (map[vault.Token]struct{}, error) {
	out := map[vault.Token]struct{}{}
	err := s.subjectEvents(ctx, subject, func(e eventlog.Event) error {
		trs, err := EventTokens(e)
		if err != nil {
			return err
		}
		for _, tr := range trs {
			out[tr.Token] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func isMarkerSubject(subject string) bool {
	return strings.HasPrefix(subject, markerSubjectPrefix)
}
