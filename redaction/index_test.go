package redaction

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog"
)

// TestIndexWithEvents: the subject index is written with the events: an
// acknowledged append is exported at once (also by a new Service over the
// same log), a failed one is not, an idempotent retry is listed once, and
// the index adds no event to the log.
func TestIndexWithEvents(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", `{"subject":"/customerId","fields":[{"path":"/email","class":"email"},{"path":"/name","class":"name"},
		{"path":"/contact/email","class":"email","subject":"/contact/id"}]}`)
	batch := []EventInput{
		ev("CustomerRegistered", `{"customerId":"m1","email":"a@example.com"}`),
		{ID: uuid.New(), Type: "CustomerRegistered", Data: json.RawMessage(`{"customerId":"m2","email":"b@example.com","name":"B","contact":{"id":"m1","email":"c@example.com"}}`)},
		ev("CustomerRegistered", `{"customerId":"m1","email":"d@example.com"}`),
	}
	res, err := svc.Append(ctx, pService, "idx", Any, batch)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := env.log.Head(ctx); h != res.LastPosition {
		t.Errorf("head after the append = %d, want %d (no index events)", h, res.LastPosition)
	}
	env.flaky.setFailAppend(true)
	if _, err := svc.Append(ctx, pService, "idx", Any, batch[:1]); err == nil {
		t.Fatal("Append succeeded with a failing log")
	}
	env.flaky.setFailAppend(false)
	// An exact retry appends and indexes nothing.
	retry := []EventInput{batch[1]}
	retry[0].ID = uuid.New()
	for range 2 {
		if _, err := svc.Append(ctx, pService, "idx2", Any, retry); err != nil {
			t.Fatal(err)
		}
	}
	type ref struct {
		stream  string
		version uint64
		paths   []string
	}
	check := func(svc *Service) {
		for _, tt := range []struct {
			subject string
			want    []ref
		}{
			{"m1", []ref{{"idx", 1, []string{"/email"}}, {"idx", 2, []string{"/contact/email"}}, {"idx", 3, []string{"/email"}}, {"idx2", 1, []string{"/contact/email"}}}},
			{"m2", []ref{{"idx", 2, []string{"/email", "/name"}}, {"idx2", 1, []string{"/email", "/name"}}}},
			{"m3", nil},
		} {
			x, err := svc.Export(ctx, pDPO, tt.subject)
			if err != nil {
				t.Fatalf("Export(%q): %v", tt.subject, err)
			}
			var got []ref
			for _, e := range x.Events {
				got = append(got, ref{e.Stream, e.Version, e.Paths})
				if e.RecordedAt.IsZero() || e.Type != "CustomerRegistered" {
					t.Errorf("Export(%q) event %+v lacks its time or type", tt.subject, e)
				}
			}
			if !slices.EqualFunc(got, tt.want, func(a, b ref) bool {
				return a.stream == b.stream && a.version == b.version && slices.Equal(a.paths, b.paths)
			}) {
				t.Errorf("Export(%q) events = %+v, want %+v", tt.subject, got, tt.want)
			}
		}
	}
	check(svc)
	svc2, err := newService(ctx, env.log, env.store, env.pol, Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Close()
	check(svc2)
}

// TestLegacyIndex: a log written before the tag index keeps its subject
// index in "$subject-<id>" streams; Export still lists the events they
// name, once, beside the tagged ones.
func TestLegacyIndex(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	res, err := svc.Append(ctx, pService, "new", Any, []EventInput{ev("CustomerRegistered", `{"customerId":"l1","email":"a@example.com"}`)})
	if err != nil {
		t.Fatal(err)
	}
	// An "old" event: the same stored event appended without tags.
	stored, err := env.log.ReadStream(ctx, "new", 1, 1, eventlog.Forward)
	if err != nil {
		t.Fatal(err)
	}
	old, err := env.log.Append(ctx, "old", eventlog.Any, []eventlog.EventData{{Type: stored[0].Type, Data: stored[0].Data, Metadata: stored[0].Metadata}})
	if err != nil {
		t.Fatal(err)
	}
	oldRef := subjectRef{Stream: "old", Version: 1, Position: old.FirstPosition, Type: "CustomerRegistered", Paths: []string{"/email"}, Classes: []Class{ClassEmail}}
	newRef := subjectRef{Stream: "new", Version: 1, Position: res.FirstPosition, Type: "CustomerRegistered", Paths: []string{"/email"}, Classes: []Class{ClassEmail}}
	one, _ := json.Marshal(oldRef)
	two, _ := json.Marshal(map[string][]subjectRef{"refs": {oldRef, newRef}})
	if _, err := env.log.AppendSystem(ctx, legacySubjectStream("l1"), eventlog.Any, []eventlog.EventData{
		{Type: eventSubjectReferenced, Data: one}, {Type: eventSubjectReferenced, Data: two}}); err != nil {
		t.Fatal(err)
	}
	x, err := svc.Export(ctx, pDPO, "l1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range x.Events {
		got = append(got, e.Stream)
	}
	if !slices.Equal(got, []string{"old", "new"}) {
		t.Errorf("Export events = %v, want [old new]", got)
	}
}
