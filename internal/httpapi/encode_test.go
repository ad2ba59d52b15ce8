package httpapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/sdk"
)

func sampleEvents() []sdk.Event {
	at := time.Date(2026, 11, 26, 1, 2, 3, 4005, time.UTC)
	return []sdk.Event{
		{ID: "0b9f3c1e-8a53-4d8e-9a77-3c7d2f0e6a11", Stream: "customer-42", Version: 1, Position: 41, Type: "CustomerRegistered",
			Data: json.RawMessage(`{"email":"a@b.c","n":[1,2.5e3,null,true],"s":"<&>"}`), Metadata: json.RawMessage(`{"ip":"pv1.x"}`),
			RecordedAt: at, PII: []sdk.PIIField{{Path: "/email", Class: "email", Subject: "cust-42", State: sdk.StateRevealed}}},
		{ID: "x", Stream: "ström \"quoted\" \\ <tag> & \u2028 \x01", Version: 18446744073709551615, Position: 2, Type: "t",
			Data: json.RawMessage(`{}`), RecordedAt: at.In(time.FixedZone("x", 5400)), PII: []sdk.PIIField{}},
		{ID: "", Stream: "", Type: "", Data: nil, RecordedAt: time.Time{}, PII: nil},
	}
}

// TestAppendEventsPageMatchesEncodingJSON decodes the fast encoder's output
// and json.Marshal's and requires the same value.
func TestAppendEventsPageMatchesEncodingJSON(t *testing.T) {
	evs := sampleEvents()
	fast, err := appendEventsPage(nil, evs)
	if err != nil {
		t.Fatal(err)
	}
	std, err := json.Marshal(sdk.EventsPage{Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(fast) {
		t.Fatalf("fast encoding is not JSON: %s", fast)
	}
	var a, b any
	if err := json.Unmarshal(fast, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(std, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("fast encoding\n%s\ndiffers from encoding/json\n%s", fast, std)
	}
	var page sdk.EventsPage
	if err := json.Unmarshal(fast, &page); err != nil || len(page.Events) != 3 || !page.Events[1].RecordedAt.Equal(evs[1].RecordedAt) {
		t.Errorf("round trip: %v %+v", err, page)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"", "\\", "<>&", "\u2028\u2029", "\xff", "é", "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func BenchmarkEncodePage100(b *testing.B) {
	ev := sampleEvents()[0]
	ev.Data = json.RawMessage(`{"customerId":"cust-1","email":"u1@example.com","name":"Name 1","phone":"+44 7700 900 001","plan":"gold","notes":"` + pad + `"}`)
	evs := make([]sdk.Event, 100)
	for i := range evs {
		evs[i] = ev
	}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(sdk.EventsPage{Events: evs}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendEventsPage", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendEventsPage(buf[:0], evs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSSEEventIsOneMessage: data with line breaks (a client may append
// pretty-printed JSON) still travels as one data line.
func TestSSEEventIsOneMessage(t *testing.T) {
	ev := sampleEvents()[0]
	ev.Data = json.RawMessage("{\n  \"a\": \"x\",\r\n  \"b\": [1,\n2]\n}")
	var buf bytes.Buffer
	if err := writeSSEEvent(&buf, ev); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n\n"), "\n")
	if len(lines) != 3 || lines[0] != "id: 41" || lines[1] != "event: "+sdk.SSEEventName || !strings.HasPrefix(lines[2], "data: {") {
		t.Fatalf("SSE message = %q", buf.String())
	}
	var got sdk.Event
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[2], "data: ")), &got); err != nil || string(got.Data) != `{"a":"x","b":[1,2]}` {
		t.Fatalf("data line decodes to %+v, %v", got, err)
	}
}

func TestAppendAppendResultMatchesEncodingJSON(t *testing.T) {
	for _, r := range []sdk.AppendResult{{}, {FirstVersion: 1, LastVersion: 2, FirstPosition: 41, LastPosition: 42},
		{FirstVersion: 18446744073709551615, LastVersion: 18446744073709551615, FirstPosition: 1 << 63, LastPosition: 18446744073709551615}} {
		want, _ := json.Marshal(r)
		if got := appendAppendResult(nil, r); !bytes.Equal(got, want) {
			t.Errorf("appendAppendResult(%+v) = %s, want %s", r, got, want)
		}
	}
}

func TestRequestIDs(t *testing.T) {
	g := newRequestIDs()
	seen := map[string]bool{}
	for range 1000 {
		id := g.next()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 8 || u.Variant() != uuid.RFC4122 || !validRequestID(id) {
			t.Fatalf("next() = %q (%v, version %d, variant %v), want a valid version-8 UUID", id, err, u.Version(), u.Variant())
		}
		if seen[id] {
			t.Fatalf("next() = %q twice", id)
		}
		seen[id] = true
	}
	if a, b := newRequestIDs().next(), newRequestIDs().next(); a == b {
		t.Errorf("two servers' first IDs are both %q", a)
	}
}

// TestAppendRedactionPageMatchesWire requires the direct encoding of read
// events to be byte for byte the encoding of their wire form, and the same
// counts by state.
func TestAppendRedactionPageMatchesWire(t *testing.T) {
	at := time.Date(2026, 11, 26, 1, 2, 3, 4005, time.UTC)
	evs := []redaction.Event{
		{ID: uuid.MustParse("0b9f3c1e-8a53-4d8e-9a77-3c7d2f0e6a11"), Stream: "customer-42", Version: 1, Position: 41, Type: "CustomerRegistered",
			Data: json.RawMessage(`{"email":"a@b.c","n":[1,2.5e3,null,true],"s":"<&>"}`), Metadata: json.RawMessage(`{"ip":"[deleted under GDPR]"}`),
			RecordedAt: at, SchemaVersion: 3, PII: []redaction.PIIField{
				{Path: "/email", Class: "email", Subject: "cust-42", State: redaction.StateRevealed},
				{Path: "/ip", Class: "ip", Subject: "cust-42", State: redaction.StateErased, Metadata: true},
				{Path: "/n/0", Class: "other", Subject: "ström \"q\" <x>", State: "invented"},
				{Path: "/phone", Class: "phone", Subject: "cust-42", State: redaction.StateMasked}}},
		{ID: uuid.Nil, Stream: "ström \"quoted\" \\ <tag> & \u2028 \x01", Version: 18446744073709551615, Position: 2, Type: "t",
			Data: json.RawMessage(`{}`), RecordedAt: at.In(time.FixedZone("x", 5400)), PII: []redaction.PIIField{}},
		{Data: nil, RecordedAt: time.Time{}, PII: nil},
	}
	for _, page := range [][]redaction.Event{nil, evs[:1], evs} {
		var n stateCounts
		got, err := appendRedactionPage(nil, page, &n)
		if err != nil {
			t.Fatal(err)
		}
		wire := wireEvents(page)
		var want stateCounts
		for i := range wire {
			want.add(wire[i].PII)
			if wire[i].PII == nil {
				wire[i].PII = []sdk.PIIField{}
			}
		}
		std, err := appendEventsPage(nil, wire)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, std) {
			t.Errorf("appendRedactionPage =\n%s\nwant\n%s", got, std)
		}
		if n != want {
			t.Errorf("counts %v, want %v", n, want)
		}
	}
	bad := []redaction.Event{{RecordedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	if _, err := appendRedactionPage(nil, bad, new(stateCounts)); err == nil {
		t.Error("year 10000: no error")
	}
}

func BenchmarkAppendPage(b *testing.B) {
	at := time.Date(2026, 11, 26, 1, 2, 3, 4005, time.UTC)
	evs := make([]redaction.Event, 100)
	for i := range evs {
		evs[i] = redaction.Event{ID: uuid.New(), Stream: "bench-b-1", Version: uint64(i + 1), Position: uint64(i + 1000), Type: "CustomerUpdated",
			Data: json.RawMessage(`{"customerId":"bench-b-1","email":"user1.bench-b-1@example.com","name":"Person 1 of bench-b-1","notes":"` +
				strings.Repeat("lorem ipsum dolor sit amet consectetur ", 22) + `","phone":"+49 151 ********","plan":"pro","seats":1}`),
			RecordedAt: at, PII: []redaction.PIIField{
				{Path: "/email", Class: "email", Subject: "bench-b-1", State: redaction.StateRevealed},
				{Path: "/name", Class: "name", Subject: "bench-b-1", State: redaction.StateRevealed},
				{Path: "/phone", Class: "phone", Subject: "bench-b-1", State: redaction.StateMasked}}}
	}
	buf := make([]byte, 0, 256<<10)
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			wire := wireEvents(evs)
			var n stateCounts
			for i := range wire {
				n.add(wire[i].PII)
			}
			if _, err := appendEventsPage(buf[:0], wire); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n stateCounts
			if _, err := appendRedactionPage(buf[:0], evs, &n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
