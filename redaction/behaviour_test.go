package redaction

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/vault"
)

func ev(typ, data string) EventInput { return EventInput{Type: typ, Data: json.RawMessage(data)} }

// heldValues counts what the vault holds for the subjects.
func heldValues(t testing.TB, st vault.Store, subjects ...string) int {
	t.Helper()
	n := 0
	for _, s := range subjects {
		info, err := st.Describe(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		n += len(info.Tokens)
	}
	return n
}

// TestAllOrNothingEmbedded injects a log failure with the real embedded
// vault: the values it got are deleted again.
func TestAllOrNothingEmbedded(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{embedded: true, opts: Options{SweepInterval: -1}})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	batch := []EventInput{
		ev("CustomerRegistered", `{"customerId":"c1","email":"a@example.com","name":"A"}`),
		ev("CustomerRegistered", `{"customerId":"c2","email":"b@example.com","name":"B"}`),
	}
	env.flaky.setFailAppend(true)
	_, err := svc.Append(ctx, pService, "s1", Any, batch)
	env.flaky.setFailAppend(false)
	if !errors.Is(err, errInjected) {
		t.Fatalf("Append = %v, want the injected error", err)
	}
	if n := heldValues(t, env.store, "c1", "c2"); n != 0 {
		t.Errorf("vault holds %d values after a failed append, want 0", n)
	}
	if _, err := env.log.StreamInfo(ctx, "s1"); !errors.Is(err, eventlog.ErrStreamNotFound) {
		t.Errorf("stream exists after a failed append: %v", err)
	}
	if _, err := svc.Append(ctx, pService, "s1", Any, batch); err != nil {
		t.Fatal(err)
	}
	if n := heldValues(t, env.store, "c1", "c2"); n != 4 {
		t.Errorf("vault holds %d values after a good append, want 4", n)
	}
	// Conflict: the log refuses, the values go.
	if _, err := svc.Append(ctx, pService, "s1", NoStream, batch); !errors.Is(err, eventlog.ErrConflict) {
		t.Fatalf("Append = %v, want ErrConflict", err)
	}
	if n := heldValues(t, env.store, "c1", "c2"); n != 4 {
		t.Errorf("vault holds %d values after a conflict, want 4", n)
	}
	// An outage of the real vault (closed) reads as unavailable, never a value.
	if err := env.emb.Close(); err != nil {
		t.Fatal(err)
	}
	evs, err := svc.ReadStream(ctx, pSupport, "s1", 1, 10, Forward)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if strings.Contains(string(e.Data), "example.com") {
			t.Errorf("read with a closed vault = %s", e.Data)
		}
		for _, f := range e.PII {
			if f.State != StateUnavailable {
				t.Errorf("%s = %s, want unavailable", f.Path, f.State)
			}
		}
	}
}

func TestAllOrNothing(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{opts: Options{SweepInterval: -1}})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	batch := []EventInput{
		ev("CustomerRegistered", `{"customerId":"c1","email":"a@example.com","name":"A"}`),
		ev("CustomerRegistered", `{"customerId":"c2","email":"b@example.com","name":"B"}`),
	}

	t.Run("log failure deletes the new values", func(t *testing.T) {
		env.flaky.setFailAppend(true)
		defer env.flaky.setFailAppend(false)
		_, err := svc.Append(ctx, pService, "s1", Any, batch)
		if !errors.Is(err, errInjected) {
			t.Fatalf("Append = %v, want the injected error", err)
		}
		if n := env.mem.count(); n != 0 {
			t.Errorf("vault holds %d values after a failed append, want 0", n)
		}
		if _, err := env.log.StreamInfo(ctx, "s1"); !errors.Is(err, eventlog.ErrStreamNotFound) {
			t.Errorf("stream exists after a failed append: %v", err)
		}
	})
	t.Run("failed clean-up is swept", func(t *testing.T) {
		env.flaky.setFailAppend(true)
		env.mem.failDel = true
		_, err := svc.Append(ctx, pService, "s1", Any, batch)
		env.flaky.setFailAppend(false)
		if err == nil {
			t.Fatal("Append succeeded")
		}
		if n := env.mem.count(); n != 4 {
			t.Fatalf("vault holds %d values, want the 4 orphans", n)
		}
		if o := svc.OrphanedValues(); o != 4 {
			t.Fatalf("Pending orphans = %d, want 4", o)
		}
		if err := svc.Sweep(ctx); err == nil {
			t.Error("Sweep with a failing vault reported success")
		}
		env.mem.failDel = false
		if err := svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if n := env.mem.count(); n != 0 {
			t.Errorf("vault holds %d values after the sweep", n)
		}
	})
	t.Run("vault failure appends nothing", func(t *testing.T) {
		env.mem.setDown(true)
		_, err := svc.Append(ctx, pService, "s2", Any, batch)
		env.mem.setDown(false)
		if !errors.Is(err, ErrVaultUnavailable) {
			t.Fatalf("Append = %v, want ErrVaultUnavailable", err)
		}
		if _, err := env.log.StreamInfo(ctx, "s2"); !errors.Is(err, eventlog.ErrStreamNotFound) {
			t.Errorf("stream exists after a failed vault write")
		}
	})
	t.Run("conflict deletes the new values", func(t *testing.T) {
		if _, err := svc.Append(ctx, pService, "s3", NoStream, batch[:1]); err != nil {
			t.Fatal(err)
		}
		before := env.mem.count()
		_, err := svc.Append(ctx, pService, "s3", NoStream, batch[1:])
		if !errors.Is(err, eventlog.ErrConflict) {
			t.Fatalf("Append = %v, want ErrConflict", err)
		}
		if n := env.mem.count(); n != before {
			t.Errorf("vault holds %d values, want %d", n, before)
		}
	})
	t.Run("idempotent retry leaves no orphans", func(t *testing.T) {
		id := uuid.New()
		e := batch[0]
		e.ID = id
		r1, err := svc.Append(ctx, pService, "s4", Any, []EventInput{e})
		if err != nil {
			t.Fatal(err)
		}
		before := env.mem.count()
		r2, err := svc.Append(ctx, pService, "s4", Any, []EventInput{e})
		if err != nil || r2 != r1 {
			t.Fatalf("retry = %+v, %v; want %+v", r2, err, r1)
		}
		if n := env.mem.count(); n != before {
			t.Errorf("vault holds %d values after a retry, want %d", n, before)
		}
		evs, err := svc.ReadStream(ctx, pRoot, "s4", 1, 10, Forward)
		if err != nil || len(evs) != 1 || !strings.Contains(string(evs[0].Data), "a@example.com") {
			t.Fatalf("read after retry = %v, %v", evs, err)
		}
	})
}

func TestValidationAndLeakGuard(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	mustPutSchema(t, svc, "Tolerant", `{"subject":"/customerId","fields":[],"leakGuard":"allow"}`)
	mustPutSchema(t, svc, "Catching", `{"subject":"/customerId","fields":[],"leakGuard":"tokenize"}`)
	secret := "4111 1111 1111 1111"
	tests := []struct {
		name    string
		in      EventInput
		wantErr error
		path    string
	}{
		{"no subject", ev("CustomerRegistered", `{"email":"a@example.com"}`), ErrInvalidEvent, "/customerId"},
		{"empty subject", ev("CustomerRegistered", `{"customerId":"","email":"a@example.com"}`), ErrInvalidEvent, "/customerId"},
		{"numeric subject", ev("CustomerRegistered", `{"customerId":7}`), ErrInvalidEvent, "/customerId"},
		{"data not an object", ev("CustomerRegistered", `[1]`), ErrInvalidEvent, ""},
		{"bad json", ev("CustomerRegistered", `{"customerId":`), ErrInvalidEvent, ""},
		{"card in undeclared field", ev("CustomerRegistered", `{"customerId":"c","memo":{"cc":"`+secret+`"}}`), ErrLeak, "/memo/cc"},
		{"email in metadata", EventInput{Type: "CustomerRegistered", Data: json.RawMessage(`{"customerId":"c"}`), Metadata: json.RawMessage(`{"by":"x@example.com"}`)}, ErrLeak, "/by"},
		{"reserved metadata", EventInput{Type: "CustomerRegistered", Data: json.RawMessage(`{"customerId":"c"}`), Metadata: json.RawMessage(`{"$piivault":{}}`)}, ErrInvalidEvent, "/$piivault"},
		{"metadata not an object", EventInput{Type: "CustomerRegistered", Data: json.RawMessage(`{"customerId":"c"}`), Metadata: json.RawMessage(`"x"`)}, ErrInvalidEvent, ""},
		{"duplicate subject key", ev("CustomerRegistered", `{"customerId":"c3","customerId":"c4","email":"a@example.com"}`), ErrInvalidEvent, ""},
		{"duplicate plain key", ev("CustomerRegistered", `{"customerId":"c","plan":"a","plan":"b"}`), ErrInvalidEvent, ""},
		{"duplicate key", ev("CustomerRegistered", `{"customerId":"c","email":"a@example.com","email":"b@example.com"}`), ErrInvalidEvent, "/email"},
		{"no schema, IBAN", ev("Unknown", `{"iban":"DE89370400440532013000"}`), ErrLeak, "/iban"},
		{"no schema, clean", ev("Unknown", `{"id":"550e8400-e29b-41d4-a716-446655440000","at":"2024-01-31T12:00:00Z"}`), nil, ""},
		{"allow", ev("Tolerant", `{"customerId":"c","cc":"`+secret+`"}`), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Append(ctx, pService, "v-"+strings.ReplaceAll(tt.name, " ", "-"), Any, []EventInput{tt.in})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Append = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Append = %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "4111") || strings.Contains(err.Error(), "example.com") || strings.Contains(err.Error(), "DE89") {
				t.Errorf("error carries the value: %v", err)
			}
			var le *LeakError
			var ee *EventError
			switch {
			case errors.As(err, &le):
				if le.Path != tt.path {
					t.Errorf("LeakError.Path = %q, want %q", le.Path, tt.path)
				}
			case errors.As(err, &ee):
				if ee.Path != tt.path {
					t.Errorf("EventError.Path = %q, want %q", ee.Path, tt.path)
				}
			}
		})
	}
	t.Run("tokenize detected", func(t *testing.T) {
		_, err := svc.Append(ctx, pService, "tok", Any, []EventInput{{Type: "Catching",
			Data: json.RawMessage(`{"customerId":"c9","memo":"call +44 20 7946 0958"}`), Metadata: json.RawMessage(`{"ip":"203.0.113.9","k":1}`)}})
		if err != nil {
			t.Fatal(err)
		}
		raw := readStreamRaw(t, env.log, "tok")
		if strings.Contains(raw, "7946") || strings.Contains(raw, "203.0.113.9") {
			t.Fatalf("detected values reached the log: %s", raw)
		}
		evs, err := svc.ReadStream(ctx, pRoot, "tok", 1, 1, Forward)
		if err != nil {
			t.Fatal(err)
		}
		if string(evs[0].Data) != `{"customerId":"c9","memo":"call +44 20 7946 0958"}` || string(evs[0].Metadata) != `{"ip":"203.0.113.9","k":1}` {
			t.Errorf("root read = %s %s", evs[0].Data, evs[0].Metadata)
		}
		if len(evs[0].PII) != 2 || evs[0].PII[1].Class != ClassDetected || !evs[0].PII[1].Metadata || evs[0].PII[1].Path != "/ip" {
			t.Errorf("PII = %+v", evs[0].PII)
		}
	})
}

func TestAuditFailureFailsRead(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	if _, err := svc.Append(ctx, pService, "a1", Any, []EventInput{ev("CustomerRegistered", `{"customerId":"c1","email":"x@example.com"}`)}); err != nil {
		t.Fatal(err)
	}
	env.flaky.setFailSystem(func(s string) bool { return s == StreamAudit })
	evs, err := svc.ReadStream(ctx, pSupport, "a1", 1, 10, Forward)
	if !errors.Is(err, ErrAudit) || evs != nil {
		t.Fatalf("ReadStream with a broken audit = %v, %v; want ErrAudit and no events", evs, err)
	}
	// Tokens only: nothing to audit, the read succeeds.
	if _, err := svc.ReadStream(ctx, pService, "a1", 1, 10, Forward); err != nil {
		t.Fatalf("tokenized read = %v", err)
	}
	env.flaky.setFailSystem(nil)
	if _, err := svc.ReadStream(ctx, pSupport, "a1", 1, 10, Forward); err != nil {
		t.Fatal(err)
	}
	page, err := svc.Audit(ctx, pDPO, AuditQuery{Subject: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || page.Records[0].Principal != "sup-1" || page.Records[0].Purpose != "support" ||
		page.Records[0].State != StateRevealed || page.Records[0].Version != 1 || page.Records[0].Paths[0] != "/email" {
		t.Errorf("Audit = %+v", page.Records)
	}
	if _, err := svc.Audit(ctx, pSupport, AuditQuery{}); !errors.Is(err, ErrDenied) {
		t.Errorf("Audit by support = %v, want ErrDenied", err)
	}
}

func TestVaultOutageReadsUnavailable(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	if _, err := svc.Append(ctx, pService, "o1", Any, []EventInput{ev("CustomerRegistered", `{"customerId":"c1","email":"x@example.com","phone":"+1 415 555 0100"}`)}); err != nil {
		t.Fatal(err)
	}
	env.mem.setDown(true)
	defer env.mem.setDown(false)
	evs, err := svc.ReadStream(ctx, pSupport, "o1", 1, 10, Forward)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(evs[0].Data), "x@example.com") || !strings.Contains(string(evs[0].Data), `"email":null`) {
		t.Errorf("read during outage = %s", evs[0].Data)
	}
	for _, f := range evs[0].PII {
		if f.State != StateUnavailable {
			t.Errorf("%s = %s, want unavailable", f.Path, f.State)
		}
	}
}

func TestOneResolvePerPage(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	var batch []EventInput
	for i := 0; i < 50; i++ {
		batch = append(batch, ev("CustomerRegistered", `{"customerId":"c`+string(rune('a'+i%26))+`","email":"x@example.com","name":"N M","phone":"+1 415 555 0100"}`))
	}
	env.mem.puts = 0
	if _, err := svc.Append(ctx, pService, "p1", Any, batch); err != nil {
		t.Fatal(err)
	}
	if env.mem.puts != 1 {
		t.Errorf("Append of 50 events made %d vault Puts, want 1", env.mem.puts)
	}
	env.mem.resolves = 0
	if _, err := svc.ReadStream(ctx, pSupport, "p1", 1, 50, Forward); err != nil {
		t.Fatal(err)
	}
	if env.mem.resolves != 1 {
		t.Errorf("reading 50 events made %d vault Resolves, want 1", env.mem.resolves)
	}
	evs, err := svc.ReadAll(ctx, pRoot, 0, 1000, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if hidden(e.Stream) {
			t.Fatalf("ReadAll returned %s", e.Stream)
		}
	}
}

func TestSchemasPersistAndVersion(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	if _, err := svc.PutSchema(ctx, pService, "T", []byte(`{"subject":"/id","fields":[]}`)); !errors.Is(err, ErrDenied) {
		t.Fatalf("PutSchema by service = %v, want ErrDenied", err)
	}
	s1 := mustPutSchema(t, svc, "T", `{"subject":"/id","fields":[{"path":"/email","class":"email"}]}`)
	same := mustPutSchema(t, svc, "T", `{"subject":"/id","fields":[{"path":"/email","class":"email"}]}`)
	if s1.Version != 1 || same.Version != 1 {
		t.Fatalf("versions = %d, %d; want 1, 1", s1.Version, same.Version)
	}
	if _, err := svc.Append(ctx, pService, "t1", Any, []EventInput{ev("T", `{"id":"c1","email":"a@example.com","name":"Old"}`)}); err == nil {
		// "Old" is not PII-looking; the event is fine under v1
	} else {
		t.Fatal(err)
	}
	s2 := mustPutSchema(t, svc, "T", `{"subject":"/id","fields":[{"path":"/email","class":"email"},{"path":"/name","class":"name"}]}`)
	if s2.Version != 2 {
		t.Fatalf("second version = %d", s2.Version)
	}
	if _, err := svc.Append(ctx, pService, "t1", Any, []EventInput{ev("T", `{"id":"c1","email":"a@example.com","name":"New"}`)}); err != nil {
		t.Fatal(err)
	}
	evs, err := svc.ReadStream(ctx, pRoot, "t1", 1, 10, Forward)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].SchemaVersion != 1 || evs[1].SchemaVersion != 2 || len(evs[0].PII) != 1 || len(evs[1].PII) != 2 {
		t.Errorf("schema versions %d/%d, pii %d/%d", evs[0].SchemaVersion, evs[1].SchemaVersion, len(evs[0].PII), len(evs[1].PII))
	}
	// A second service over the same log sees the same schemas.
	svc2, err := newService(ctx, env.log, env.store, env.pol, Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc2.GetSchema(ctx, "T")
	if err != nil || got.Version != 2 || len(got.Fields) != 2 {
		t.Fatalf("GetSchema after restart = %+v, %v", got, err)
	}
	if v1, err := svc2.GetSchemaVersion(ctx, "T", 1); err != nil || len(v1.Fields) != 1 {
		t.Fatalf("GetSchemaVersion(1) = %+v, %v", v1, err)
	}
	if _, err := svc2.GetSchema(ctx, "Nope"); !errors.Is(err, ErrSchemaNotFound) {
		t.Errorf("GetSchema(Nope) = %v", err)
	}
}

func TestExportEraseReapply(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	mustPutSchema(t, svc, "OrderPlaced", `{"subject":"/buyer","fields":[{"path":"/ship/*/street","class":"address"},{"path":"/gift/email","class":"email","subject":"/gift/for"}]}`)
	if _, err := svc.Append(ctx, pService, "c-1", Any, []EventInput{ev("CustomerRegistered", `{"customerId":"c1","email":"one@example.com"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Append(ctx, pService, "o-1", Any, []EventInput{ev("OrderPlaced", `{"buyer":"c1","ship":[{"street":"Elm 1"}],"gift":{"for":"c2","email":"two@example.com"}}`)}); err != nil {
		t.Fatal(err)
	}
	x, err := svc.Export(ctx, pDPO, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Values) != 2 || len(x.Events) != 2 || x.Erased {
		t.Fatalf("Export = %+v", x)
	}
	var b []byte
	for _, v := range x.Values {
		b = append(b, v.Value.Reveal()...)
	}
	if !strings.Contains(string(b), "one@example.com") || !strings.Contains(string(b), "Elm 1") || strings.Contains(string(b), "two@example.com") {
		t.Errorf("export document = %s", b)
	}
	if x.Events[1].Stream != "o-1" || x.Events[1].Paths[0] != "/ship/0/street" {
		t.Errorf("export events = %+v", x.Events)
	}
	if _, err := svc.Export(ctx, pSupport, "c1"); !errors.Is(err, ErrDenied) {
		t.Errorf("Export by support = %v", err)
	}
	if _, err := svc.Erase(ctx, pDPO, "c1", ErasureRequest{Reason: "mail me at x@example.com"}); !errors.Is(err, ErrLeak) {
		t.Errorf("Erase with PII in the reason = %v, want ErrLeak", err)
	}
	e1, err := svc.Erase(ctx, pDPO, "c1", ErasureRequest{RequestID: "req-9"})
	if err != nil {
		t.Fatal(err)
	}
	e2, err := svc.Erase(ctx, pDPO, "c1", ErasureRequest{RequestID: "req-9"})
	if err != nil || e2.ErasureID != e1.ErasureID || !e2.AlreadyErased {
		t.Errorf("repeated Erase = %+v, %v", e2, err)
	}
	x, err = svc.Export(ctx, pDPO, "c1")
	if err != nil || !x.Erased || len(x.Events) != 2 || len(x.Values) != 2 || x.Values[0].State != StateErased {
		t.Fatalf("Export after erasure = %+v, %v", x, err)
	}
	// c2's gift email survives c1's erasure.
	evs, err := svc.ReadStream(ctx, pRoot, "o-1", 1, 1, Forward)
	if err != nil || !strings.Contains(string(evs[0].Data), "two@example.com") || !strings.Contains(string(evs[0].Data), DefaultPlaceholder) {
		t.Fatalf("read = %s, %v", evs[0].Data, err)
	}
	// Subscribers see the erasure events.
	all, err := svc.ReadAll(ctx, pService, 0, 1000, Filter{Types: []string{EventSubjectErased}})
	if err != nil || len(all) != 2 {
		t.Fatalf("ReadAll(SubjectErased) = %d events, %v", len(all), err)
	}
}

func TestSnapshotsAndSubscribe(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerState", `{"subject":"/id","fields":[{"path":"/email","class":"email"}]}`)
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	if _, err := svc.Append(ctx, pService, "c-1", Any, []EventInput{ev("CustomerRegistered", `{"customerId":"c1","email":"one@example.com"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SaveSnapshot(ctx, pService, "c-1", 1, "CustomerState", json.RawMessage(`{"id":"c1","email":"snap@example.com","n":1}`)); err != nil {
		t.Fatal(err)
	}
	snaps, err := env.log.LoadSnapshot(ctx, "c-1")
	if err != nil || strings.Contains(string(snaps.Data), "snap@example.com") {
		t.Fatalf("stored snapshot = %s, %v", snaps.Data, err)
	}
	s, err := svc.LoadSnapshot(ctx, pSupport, "c-1")
	if err != nil || string(s.Data) != `{"id":"c1","email":"snap@example.com","n":1}` || s.PII[0].State != StateRevealed {
		t.Fatalf("LoadSnapshot = %+v, %v", s, err)
	}
	s, err = svc.LoadSnapshot(ctx, pService, "c-1")
	if err != nil || strings.Contains(string(s.Data), "snap@") || s.PII[0].State != StateTokenized {
		t.Fatalf("LoadSnapshot(service) = %s, %v", s.Data, err)
	}

	sub, err := svc.Subscribe(ctx, pSupport, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	seen := 0
	for seen < 1 {
		e, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if e.Stream == "c-1" {
			if !strings.Contains(string(e.Data), "one@example.com") {
				t.Errorf("subscribed event = %s", e.Data)
			}
			seen++
		}
	}
	// Live: an append after the subscriber caught up arrives.
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = svc.Append(ctx, pService, "c-2", Any, []EventInput{ev("CustomerRegistered", `{"customerId":"c2","email":"live@example.com"}`)})
	}()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		e, err := sub.Next(tctx)
		if err != nil {
			t.Fatal(err)
		}
		if e.Stream == "c-2" {
			if !strings.Contains(string(e.Data), "live@example.com") {
				t.Errorf("live event = %s", e.Data)
			}
			break
		}
	}
	done := make(chan error, 1)
	go func() { _, err := sub.Next(ctx); done <- err }()
	time.Sleep(20 * time.Millisecond)
	sub.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Next")
	}
	if _, err := svc.Subscribe(ctx, pNobody, 0); !errors.Is(err, ErrDenied) {
		t.Errorf("Subscribe by nobody = %v", err)
	}
	_ = vault.Token("")
}

func TestEraseAndHead(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	er, err := svc.Erase(ctx, pDPO, "c1", ErasureRequest{RequestID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := svc.Head(ctx); err != nil || er.LogPosition == 0 || h < er.LogPosition {
		t.Errorf("Head = %d, %v", h, err)
	}
	_, err = DecodeSchema("T", []byte(`{"subject":"/id","fields":[{"path":"x","class":"email"}]}`))
	if !errors.Is(err, ErrInvalidPointer) || !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("bad pointer schema error = %v, want both ErrInvalidSchema and ErrInvalidPointer", err)
	}
}

func TestEventTokens(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	if _, err := svc.Append(ctx, pService, "et", Any, []EventInput{ev("CustomerRegistered", `{"customerId":"c1","email":"x@example.com","addresses":[{"street":"a"},{"street":"b"}]}`)}); err != nil {
		t.Fatal(err)
	}
	raw, err := env.log.ReadStream(ctx, "et", 1, 1, eventlog.Forward)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := EventTokens(raw[0])
	if err != nil || len(refs) != 3 {
		t.Fatalf("EventTokens = %+v, %v", refs, err)
	}
	if refs[1].Path != "/addresses/0/street" || refs[1].Class != ClassAddress || refs[1].Subject != "c1" || !strings.HasPrefix(string(refs[1].Token), vault.TokenPrefix) {
		t.Errorf("EventTokens[1] = %+v", refs[1])
	}
	if ErasureID("c1", "r") != ErasureID("c1", "r") || ErasureID("c1", "r") == ErasureID("c2", "r") {
		t.Error("ErasureID is not a function of (subject, request ID)")
	}
}

// TestDenialsAreAudited: a request the policy refuses leaves an audit record
// naming who, what and why, and no value.
func TestDenialsAreAudited(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	if _, err := svc.ReadStream(ctx, pNobody, "customer-1", 1, 10, Forward); !errors.Is(err, ErrDenied) {
		t.Fatalf("ReadStream by intern = %v", err)
	}
	if _, err := svc.Export(ctx, pSupport, "cust-9"); !errors.Is(err, ErrDenied) {
		t.Fatalf("Export by support = %v", err)
	}
	page, err := svc.Audit(ctx, pDPO, AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var read, export bool
	for _, r := range page.Records {
		if r.State != StateDenied {
			continue
		}
		if r.Principal == "nobody" && r.Action == "read" && r.Stream == "customer-1" && r.Reason != "" {
			read = true
		}
		if r.Principal == "sup-1" && r.Action == "export" && r.Subject == "cust-9" {
			export = true
		}
	}
	if !read || !export {
		t.Errorf("denials not audited (read %v, export %v): %+v", read, export, page.Records)
	}
	if only, err := svc.Audit(ctx, pDPO, AuditQuery{Principal: "sup-1"}); err != nil || len(only.Records) != 1 {
		t.Errorf("Audit(principal sup-1) = %d records, %v", len(only.Records), err)
	}
}
