package redaction

import (
	"context"
	"reflect"
	"testing"

	"github.com/piivault/piivault/eventlog"
)

func TestEncodeRefsRoundTrip(t *testing.T) {
	one := subjectRef{Stream: "s\"1", Version: 3, Position: 9, Type: "T", Paths: []string{"/a", "metadata/b~1c"}, Classes: []Class{ClassEmail, ClassName}}
	two := subjectRef{Stream: "s2", Version: 1, Position: 10, Type: "U", Paths: []string{"/x"}, Classes: []Class{ClassPhone}}
	tests := []struct {
		name string
		refs []subjectRef
	}{
		{"one", []subjectRef{one}},
		{"two", []subjectRef{one, two}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRefs(encodeRefs(tt.refs))
			if err != nil || !reflect.DeepEqual(got, tt.refs) {
				t.Errorf("decodeRefs(encodeRefs(%+v)) = %+v, %v", tt.refs, got, err)
			}
		})
	}
}

// TestIndexMergesAndDedups: the references of one subject queued together
// become one index event, and a reference written twice is listed once.
func TestIndexMergesAndDedups(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	batch := []EventInput{
		ev("CustomerRegistered", `{"customerId":"m1","email":"a@example.com"}`),
		ev("CustomerRegistered", `{"customerId":"m1","email":"b@example.com"}`),
		ev("CustomerRegistered", `{"customerId":"m1","email":"c@example.com"}`),
	}
	res, err := svc.Append(ctx, pService, "merge", eventlog.Any, batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.idx.sync(ctx); err != nil {
		t.Fatal(err)
	}
	idx, err := env.log.ReadStream(ctx, subjectStream("m1"), 1, 100, eventlog.Forward)
	if err != nil || len(idx) != 1 {
		t.Fatalf("index stream = %d events, %v; want 1", len(idx), err)
	}
	// A retry writes the same references again.
	refs := indexEntries("merge", res.FirstVersion, res.FirstPosition, nil)
	if refs != nil {
		t.Fatalf("indexEntries of nothing = %v", refs)
	}
	rs, err := decodeRefs(idx[0].Data)
	if err != nil || len(rs) != 3 {
		t.Fatalf("decodeRefs = %d refs, %v", len(rs), err)
	}
	if err := svc.writeIndex(ctx, subjectStream("m1"), rs[1:]); err != nil {
		t.Fatal(err)
	}
	x, err := svc.Export(ctx, pDPO, "m1")
	if err != nil || len(x.Events) != 3 {
		t.Fatalf("Export = %d events, %v; want 3", len(x.Events), err)
	}
	for i, e := range x.Events {
		if e.Stream != "merge" || e.Version != uint64(i+1) || e.Position != res.FirstPosition+uint64(i) {
			t.Errorf("Export event %d = %+v", i, e)
		}
	}
}
