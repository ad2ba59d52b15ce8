package redaction

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/vault"
)

// memStore is an in-memory vault.Store for unit tests, with switches for
// outages.
type memStore struct {
	vault.Unsupported // no optional capability
	mu                sync.Mutex
	vals              map[vault.Token]memVal
	erased            map[string]string
	down              bool // every call fails with ErrUnavailable
	failDel           bool // Delete fails
	puts              int
	resolves          int
}

type memVal struct {
	subject, class string
	raw            []byte
	at             time.Time
}

var _ vault.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{vals: map[vault.Token]memVal{}, erased: map[string]string{}}
}

func (m *memStore) setDown(v bool) { m.mu.Lock(); m.down = v; m.mu.Unlock() }

func (m *memStore) Put(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if m.down {
		return nil, vault.ErrUnavailable
	}
	for _, e := range entries {
		if _, ok := m.erased[e.Subject]; ok {
			return nil, vault.ErrErased
		}
	}
	out := make([]vault.Token, len(entries))
	now := time.Now() // one time per Put, like the real backends
	for i, e := range entries {
		t, err := vault.NewToken(e.Subject)
		if err != nil {
			return nil, err
		}
		out[i] = t
		m.vals[t] = memVal{e.Subject, e.Class, append([]byte(nil), e.Value.Reveal()...), now}
	}
	return out, nil
}

func (m *memStore) Resolve(ctx context.Context, tokens []vault.Token) ([]vault.Resolved, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resolves++
	if m.down {
		return nil, vault.ErrUnavailable
	}
	out := make([]vault.Resolved, len(tokens))
	for i, t := range tokens {
		subj, _ := vault.ParseToken(t)
		out[i] = vault.Resolved{Token: t, Subject: subj, State: vault.Unknown}
		if _, ok := m.erased[subj]; ok {
			out[i].State = vault.Erased
			continue
		}
		if v, ok := m.vals[t]; ok {
			out[i].State, out[i].Class, out[i].Value = vault.Found, v.class, vault.NewPII(v.raw)
		}
	}
	return out, nil
}

func (m *memStore) Delete(ctx context.Context, tokens []vault.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down || m.failDel {
		return vault.ErrUnavailable
	}
	for _, t := range tokens {
		delete(m.vals, t)
	}
	return nil
}

func (m *memStore) Erase(ctx context.Context, subject, id string) (vault.EraseResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return vault.EraseResult{}, vault.ErrUnavailable
	}
	if _, ok := m.erased[subject]; ok {
		return vault.EraseResult{Subject: subject, ErasureID: id, AlreadyErased: true}, nil
	}
	n := 0
	for t, v := range m.vals {
		if v.subject == subject {
			delete(m.vals, t)
			n++
		}
	}
	m.erased[subject] = id
	return vault.EraseResult{Subject: subject, ErasureID: id, ErasedAt: time.Now(), ValuesDeleted: n, DEKDestroyed: true}, nil
}

func (m *memStore) Export(ctx context.Context, subject string) ([]vault.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, vault.ErrUnavailable
	}
	var out []vault.Record
	for t, v := range m.vals {
		if v.subject == subject {
			out = append(out, vault.Record{Token: t, Class: v.class, Value: vault.NewPII(v.raw), CreatedAt: v.at})
		}
	}
	return out, nil
}

func (m *memStore) Describe(ctx context.Context, subject string) (vault.SubjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return vault.SubjectInfo{}, vault.ErrUnavailable
	}
	id, erased := m.erased[subject]
	info := vault.SubjectInfo{Subject: subject, Erased: erased, ErasureID: id}
	for t, v := range m.vals {
		if v.subject == subject {
			info.Tokens = append(info.Tokens, vault.TokenInfo{Token: t, Class: v.class, CreatedAt: v.at})
		}
	}
	return info, nil
}

func (m *memStore) Purge(ctx context.Context) (vault.PurgeReport, error) {
	return vault.PurgeReport{}, nil
}
func (m *memStore) Close() error { return nil }

// count is how many values the store holds, pending markers not counted.
func (m *memStore) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, v := range m.vals {
		if !isMarkerSubject(v.subject) {
			n++
		}
	}
	return n
}

// flakyLog wraps the real log and fails appends on demand.
type flakyLog struct {
	eventLog
	mu         sync.Mutex
	failAppend bool
	failSystem func(stream string) bool
	gate       chan struct{}  // set: AppendAfter behaves as if queued until it closes
	queued     chan struct{}  // receives once per gated AppendAfter
	bg         sync.WaitGroup // gated appends still on their way to the log
}

var errInjected = errors.New("injected log failure")

func (f *flakyLog) Append(ctx context.Context, stream string, exp eventlog.ExpectedVersion, evs []eventlog.EventData) (eventlog.AppendResult, error) {
	f.mu.Lock()
	fail := f.failAppend
	f.mu.Unlock()
	if fail {
		return eventlog.AppendResult{}, errInjected
	}
	return f.eventLog.Append(ctx, stream, exp, evs)
}

func (f *flakyLog) AppendAfter(ctx context.Context, stream string, exp eventlog.ExpectedVersion, evs []eventlog.EventData, before eventlog.Barrier) (eventlog.AppendResult, error) {
	f.mu.Lock()
	fail := f.failAppend
	f.mu.Unlock()
	if fail {
		return eventlog.AppendResult{}, errInjected
	}
	f.mu.Lock()
	gate, queued := f.gate, f.queued
	f.mu.Unlock()
	if gate != nil {
		return f.gatedAppend(ctx, gate, queued, func() (eventlog.AppendResult, error) {
			return f.eventLog.AppendAfter(context.Background(), stream, exp, evs, before)
		})
	}
	return f.eventLog.AppendAfter(ctx, stream, exp, evs, before)
}

// gatedAppend is what eventlog documents for an append whose ctx ends while
// it is queued: the call returns ctx.Err(), and the events may be appended
// all the same (here once gate closes).
func (f *flakyLog) gatedAppend(ctx context.Context, gate, queued chan struct{}, appendNow func() (eventlog.AppendResult, error)) (eventlog.AppendResult, error) {
	type result struct {
		res eventlog.AppendResult
		err error
	}
	out := make(chan result, 1)
	f.bg.Add(1)
	go func() {
		defer f.bg.Done()
		<-gate
		res, err := appendNow()
		out <- result{res, err}
	}()
	queued <- struct{}{}
	select {
	case r := <-out:
		return r.res, r.err
	case <-ctx.Done():
		return eventlog.AppendResult{}, ctx.Err()
	}
}

// setGate makes AppendAfter wait for gate as if queued; each call sends on
// queued once it is.
func (f *flakyLog) setGate(gate, queued chan struct{}) {
	f.mu.Lock()
	f.gate, f.queued = gate, queued
	f.mu.Unlock()
}

func (f *flakyLog) AppendSystem(ctx context.Context, stream string, exp eventlog.ExpectedVersion, evs []eventlog.EventData) (eventlog.AppendResult, error) {
	f.mu.Lock()
	fail := f.failSystem != nil && f.failSystem(stream)
	f.mu.Unlock()
	if fail {
		return eventlog.AppendResult{}, errInjected
	}
	return f.eventLog.AppendSystem(ctx, stream, exp, evs)
}

func (f *flakyLog) setFailAppend(v bool) { f.mu.Lock(); f.failAppend = v; f.mu.Unlock() }
func (f *flakyLog) setFailSystem(fn func(string) bool) {
	f.mu.Lock()
	f.failSystem = fn
	f.mu.Unlock()
}
