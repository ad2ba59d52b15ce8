package httpapi

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/sdk"
)

// fakeCore is an in-memory service for the tests of HTTP concerns (auth,
// problems, limits, SSE) that do not need the real stores. The real stack
// is exercised in integration_test.go.
type fakeCore struct {
	pol     authorizer
	mu      sync.Mutex
	schemas map[string]sdk.Schema
	events  []sdk.Event
	streams map[string]uint64
	values  int
	wake    chan struct{}
	subs    int
}

func newFakeCore() *fakeCore {
	return &fakeCore{schemas: map[string]sdk.Schema{}, streams: map[string]uint64{}, wake: make(chan struct{})}
}

var _ service = (*fakeCore)(nil)

func (f *fakeCore) PutSchema(_ context.Context, _ Caller, et string, s sdk.Schema) (sdk.Schema, error) {
	if !strings.HasPrefix(s.Subject, "/") {
		return sdk.Schema{}, badRequest(sdk.CodeInvalidPointer, "subject: want a JSON pointer")
	}
	for _, fl := range s.Fields {
		if !strings.HasPrefix(fl.Path, "/") {
			return sdk.Schema{}, badRequest(sdk.CodeInvalidPointer, "fields: want JSON pointers")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Version = f.schemas[et].Version + 1
	f.schemas[et] = s
	return s, nil
}

func (f *fakeCore) GetSchema(_ context.Context, _ Caller, et string) (sdk.Schema, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.schemas[et]
	if !ok {
		return sdk.Schema{}, ErrRouteNotFound
	}
	return s, nil
}

func (f *fakeCore) ListSchemas(context.Context, Caller) ([]sdk.Schema, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sdk.Schema
	for _, s := range f.schemas {
		out = append(out, s)
	}
	return out, nil
}

func (f *fakeCore) Append(_ context.Context, _ Caller, stream string, req sdk.AppendRequest, _ []uuid.UUID) (sdk.AppendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res sdk.AppendResult
	v := f.streams[stream]
	for i, in := range req.Events {
		v++
		ev := sdk.Event{ID: in.ID, Stream: stream, Version: v, Position: uint64(len(f.events) + 1), Type: in.Type,
			Data: in.Data, Metadata: in.Metadata, RecordedAt: time.Now().UTC()}
		if ev.ID == "" {
			ev.ID = uuid.NewString()
		}
		if s, ok := f.schemas[in.Type]; ok {
			for _, fl := range s.Fields {
				ev.PII = append(ev.PII, sdk.PIIField{Path: fl.Path, Class: fl.Class, Subject: "subj", State: sdk.StateRevealed})
				f.values++
			}
		}
		f.events = append(f.events, ev)
		if i == 0 {
			res.FirstVersion, res.FirstPosition = ev.Version, ev.Position
		}
		res.LastVersion, res.LastPosition = ev.Version, ev.Position
	}
	f.streams[stream] = v
	close(f.wake)
	f.wake = make(chan struct{})
	return res, nil
}

func (f *fakeCore) ReadStream(_ context.Context, _ Caller, stream string, rr ReadRequest) ([]sdk.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sdk.Event
	for _, ev := range f.events {
		if ev.Stream == stream && ev.Version >= rr.From && len(out) < rr.Limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (f *fakeCore) ReadAll(_ context.Context, _ Caller, rr ReadRequest) ([]sdk.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sdk.Event
	for _, ev := range f.events {
		if ev.Position >= rr.From && len(out) < rr.Limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

type fakeSub struct {
	f    *fakeCore
	next uint64
}

func (f *fakeCore) Subscribe(_ context.Context, _ Caller, from uint64) (subscription, error) {
	f.mu.Lock()
	f.subs++
	f.mu.Unlock()
	return &fakeSub{f: f, next: from}, nil
}

func (s *fakeSub) Next(ctx context.Context) (sdk.Event, error) {
	for {
		s.f.mu.Lock()
		if s.next <= uint64(len(s.f.events)) {
			ev := s.f.events[s.next-1]
			s.next++
			s.f.mu.Unlock()
			return ev, nil
		}
		wake := s.f.wake
		s.f.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return sdk.Event{}, ctx.Err()
		}
	}
}

func (s *fakeSub) Close() {
	s.f.mu.Lock()
	s.f.subs--
	s.f.mu.Unlock()
}

func (f *fakeCore) Head(context.Context) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.events)), nil
}

func (f *fakeCore) SaveSnapshot(context.Context, Caller, string, sdk.SnapshotRequest) error {
	return nil
}

func (f *fakeCore) LoadSnapshot(context.Context, Caller, string) (sdk.Snapshot, error) {
	return sdk.Snapshot{}, ErrRouteNotFound
}

func (f *fakeCore) Export(ctx context.Context, _ Caller, subject string) (sdk.SubjectExport, error) {
	if subject == "slow" { // stands for a vault that does not answer
		<-ctx.Done()
		return sdk.SubjectExport{}, fmt.Errorf("export: %w", ctx.Err())
	}
	return sdk.SubjectExport{Subject: subject}, nil
}

func (f *fakeCore) Audit(context.Context, Caller, AuditQuery) (sdk.AuditPage, error) {
	return sdk.AuditPage{}, nil
}

func (f *fakeCore) Verify(context.Context, Caller) (sdk.VerifyResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sdk.VerifyResult{OK: true, HeadPosition: uint64(len(f.events))}, nil
}

func (f *fakeCore) counts() (head uint64, values int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.events)), f.values
}

// authorizer is what the fake core asks for its request-level decision.
type authorizer interface {
	Authorize(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// Authorize asks the fake's policy, as redaction.Service.Authorize asks the
// engine (without the audit record).
func (f *fakeCore) Authorize(ctx context.Context, who Caller, action policy.Action, res policy.Resource) (Caller, error) {
	if f.pol == nil {
		return who, nil
	}
	d, err := f.pol.Authorize(ctx, policy.Input{Principal: who.Principal, Action: action, Purpose: who.Purpose, Resource: res})
	if err != nil {
		return who, err
	}
	if !d.Allow {
		return who, fmt.Errorf("%w: %s: %s", errDenied, action, d.Reason)
	}
	return who, nil
}
