package sdk_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/piivault/piivault/sdk"
)

// fakeSidecar is a small in-memory stand-in for the sidecar's HTTP API, so
// the examples and tests of this package run without a server. It reveals
// PII to the purpose "support", shows a token to any other purpose, and the
// placeholder once the subject was erased. Only the JSON pointer shape
// "/field" is supported.
type fakeSidecar struct {
	mu      sync.Mutex
	schemas map[string]sdk.Schema
	streams map[string][]int // stream -> indexes into all
	all     []fakeEvent
	ids     map[string]bool
	erased  map[string]bool
	changed chan struct{}
	// failNext makes the next n calls answer 503, to exercise retries.
	failNext int
	calls    int
}

type fakeEvent struct {
	sdk.Event
	subject string
}

func newFake() (*fakeSidecar, *httptest.Server) {
	f := &fakeSidecar{
		schemas: map[string]sdk.Schema{}, streams: map[string][]int{},
		ids: map[string]bool{}, erased: map[string]bool{}, changed: make(chan struct{}),
	}
	return f, httptest.NewServer(f)
}

func (f *fakeSidecar) problem(w http.ResponseWriter, status int, code, detail string, actual *uint64) {
	w.Header().Set("Content-Type", sdk.ContentTypeProblem)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(sdk.Problem{Title: http.StatusText(status), Status: status, Code: code, Detail: detail, ActualVersion: actual})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeSidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	if f.failNext > 0 {
		f.failNext--
		f.mu.Unlock()
		f.problem(w, 503, sdk.CodeUnavailable, "try again", nil)
		return
	}
	f.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		f.problem(w, 401, sdk.CodeUnauthenticated, "no bearer token", nil)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == "PUT" && len(parts) == 3 && parts[1] == "schemas":
		var s sdk.Schema
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			f.problem(w, 400, sdk.CodeInvalidJSON, "body is not JSON", nil)
			return
		}
		s.EventType = parts[2]
		f.mu.Lock()
		s.Version = f.schemas[s.EventType].Version + 1
		f.schemas[s.EventType] = s
		f.mu.Unlock()
		reply(w, 200, s)
	case r.Method == "POST" && len(parts) == 4 && parts[3] == "events":
		f.append(w, r, parts[2])
	case r.Method == "GET" && len(parts) == 4 && parts[3] == "events":
		f.read(w, r, f.streamEvents(parts[2]))
	case r.Method == "GET" && len(parts) == 2 && parts[1] == "events":
		f.mu.Lock()
		evs := append([]fakeEvent(nil), f.all...)
		f.mu.Unlock()
		f.read(w, r, evs)
	case r.Method == "POST" && len(parts) == 4 && parts[3] == "erasure":
		f.mu.Lock()
		f.erased[parts[2]] = true
		f.mu.Unlock()
		reply(w, 200, sdk.Erasure{ErasureID: "er-1", Subject: parts[2], Status: "erased"})
	case r.Method == "GET" && len(parts) == 4 && parts[1] == "subjects" && parts[3] == "export" && r.URL.Query().Get("format") == "csv":
		f.exportCSV(w, parts[2])
	case r.Method == "POST" && r.URL.Path == "/v1/admin/erasures/advance":
		f.mu.Lock()
		n := len(f.erased)
		f.mu.Unlock()
		reply(w, 200, sdk.AdvanceReport{Completed: n})
	case r.Method == "POST" && r.URL.Path == "/v1/admin/erasures/purge":
		f.mu.Lock()
		n := len(f.erased)
		f.mu.Unlock()
		now := time.Now().UTC()
		reply(w, 200, sdk.PurgeReport{AdvanceReport: sdk.AdvanceReport{Purged: n, Completed: n}, StartedAt: now, DoneAt: now})
	case r.Method == "GET" && len(parts) == 2 && parts[1] == "subscribe":
		f.subscribe(w, r)
	default:
		f.problem(w, 404, sdk.CodeNotFound, "no route", nil)
	}
}

func (f *fakeSidecar) streamEvents(stream string) []fakeEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeEvent
	for _, i := range f.streams[stream] {
		out = append(out, f.all[i])
	}
	return out
}

func (f *fakeSidecar) append(w http.ResponseWriter, r *http.Request, stream string) {
	var req sdk.AppendRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Events) == 0 {
		f.problem(w, 400, sdk.CodeInvalidJSON, "body is not an append request", nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	actual := uint64(len(f.streams[stream]))
	if req.ExpectedVersion != nil && *req.ExpectedVersion != actual {
		f.problem(w, 409, sdk.CodeConflict, fmt.Sprintf("stream %s is at version %d", stream, actual), &actual)
		return
	}
	res := sdk.AppendResult{FirstVersion: actual + 1, FirstPosition: uint64(len(f.all)) + 1}
	for _, in := range req.Events {
		if in.ID != "" && f.ids[in.ID] {
			continue
		}
		f.ids[in.ID] = true
		var data map[string]any
		_ = json.Unmarshal(in.Data, &data)
		ev := fakeEvent{Event: sdk.Event{
			ID: in.ID, Stream: stream, Version: uint64(len(f.streams[stream])) + 1, Position: uint64(len(f.all)) + 1,
			Type: in.Type, Data: in.Data, Metadata: in.Metadata, RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		}}
		if s, ok := f.schemas[in.Type]; ok {
			ev.subject, _ = data[strings.TrimPrefix(s.Subject, "/")].(string)
		}
		f.streams[stream] = append(f.streams[stream], len(f.all))
		f.all = append(f.all, ev)
	}
	res.LastVersion = uint64(len(f.streams[stream]))
	res.LastPosition = uint64(len(f.all))
	close(f.changed)
	f.changed = make(chan struct{})
	reply(w, 201, res)
}

// resolve applies the fake policy to one event.
func (f *fakeSidecar) resolve(ev fakeEvent, purpose string) sdk.Event {
	f.mu.Lock()
	s, ok := f.schemas[ev.Type]
	erased := f.erased[ev.subject]
	f.mu.Unlock()
	out := ev.Event
	if !ok {
		return out
	}
	var data map[string]any
	_ = json.Unmarshal(ev.Data, &data)
	out.PII = []sdk.PIIField{}
	for _, fl := range s.Fields {
		key := strings.TrimPrefix(fl.Path, "/")
		state := sdk.StateRevealed
		switch {
		case erased:
			state, data[key] = sdk.StateErased, "[deleted under GDPR]"
		case purpose != "support":
			state, data[key] = sdk.StateTokenized, "pv1:"+ev.subject+":"+strconv.Itoa(int(ev.Position))
		}
		out.PII = append(out.PII, sdk.PIIField{Path: fl.Path, Class: fl.Class, Subject: ev.subject, State: state})
	}
	out.Data, _ = json.Marshal(data)
	return out
}

func (f *fakeSidecar) read(w http.ResponseWriter, r *http.Request, evs []fakeEvent) {
	from, _ := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	all := r.URL.Path == "/v1/events"
	page := sdk.EventsPage{Events: []sdk.Event{}}
	for _, ev := range evs {
		at := ev.Version
		if all {
			at = ev.Position
		}
		if at >= from && (limit == 0 || len(page.Events) < limit) {
			page.Events = append(page.Events, f.resolve(ev, r.Header.Get(sdk.HeaderPurpose)))
		}
	}
	reply(w, 200, page)
}

func (f *fakeSidecar) subscribe(w http.ResponseWriter, r *http.Request) {
	next, _ := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
	if id := r.Header.Get(sdk.HeaderLastEventID); id != "" {
		last, _ := strconv.ParseUint(id, 10, 64)
		next = last + 1
	}
	next = max(next, 1)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	_, _ = fmt.Fprint(w, ": ping\n\n")
	fl.Flush()
	for {
		f.mu.Lock()
		evs := append([]fakeEvent(nil), f.all...)
		changed := f.changed
		f.mu.Unlock()
		for ; next <= uint64(len(evs)); next++ {
			b, _ := json.Marshal(f.resolve(evs[next-1], r.Header.Get(sdk.HeaderPurpose)))
			_, _ = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", next, sdk.SSEEventName, b)
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		}
	}
}

// exportCSV answers the CSV export of subject like the sidecar: a zip of
// subject.csv, values.csv (as support would read them) and events.csv.
func (f *fakeSidecar) exportCSV(w http.ResponseWriter, subject string) {
	f.mu.Lock()
	erased := f.erased[subject]
	var mine []fakeEvent
	for _, ev := range f.all {
		if ev.subject == subject {
			mine = append(mine, ev)
		}
	}
	f.mu.Unlock()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	write := func(name string, rows ...[]string) {
		fw, _ := zw.Create(name)
		cw := csv.NewWriter(fw)
		_ = cw.WriteAll(rows)
	}
	write("subject.csv", []string{"subject", "erased", "erasureId", "exportedAt"}, []string{subject, strconv.FormatBool(erased), "", ""})
	values := [][]string{{"subject", "class", "value", "state", "createdAt"}}
	events := [][]string{{"stream", "version", "position", "type", "recordedAt", "paths"}}
	for _, ev := range mine {
		out := f.resolve(ev, "support")
		var data map[string]any
		_ = json.Unmarshal(out.Data, &data)
		var paths []string
		for _, p := range out.PII {
			v, _ := data[strings.TrimPrefix(p.Path, "/")].(string)
			values = append(values, []string{subject, p.Class, v, p.State, ""})
			paths = append(paths, p.Path)
		}
		events = append(events, []string{ev.Stream, strconv.FormatUint(ev.Version, 10), strconv.FormatUint(ev.Position, 10),
			ev.Type, ev.RecordedAt.Format(time.RFC3339Nano), strings.Join(paths, " ")})
	}
	write("values.csv", values...)
	write("events.csv", events...)
	_ = zw.Close()
	w.Header().Set("Content-Type", "application/zip")
	_, _ = w.Write(buf.Bytes())
}
