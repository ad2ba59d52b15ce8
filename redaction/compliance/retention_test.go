package compliance

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
)

// plainStore is a vault without its optional capabilities (Expire, blind
// index): it lists none, and answers vault.ErrNotSupported for them.
type plainStore struct{ vault.Store }

func (plainStore) Capabilities() vault.Capabilities { return 0 }

func (plainStore) Expire(ctx context.Context, toks []vault.Token) (int, error) {
	return vault.Unsupported{}.Expire(ctx, toks)
}

func (plainStore) PutBlindIndex(ctx context.Context, subject, class string, digest []byte) error {
	return vault.Unsupported{}.PutBlindIndex(ctx, subject, class, digest)
}

func (plainStore) LookupBlindIndex(ctx context.Context, class string, digest []byte) ([]string, error) {
	return vault.Unsupported{}.LookupBlindIndex(ctx, class, digest)
}

func (e *env) appendWithIP(stream, subject, email, ip, name string) {
	e.t.Helper()
	data, _ := json.Marshal(map[string]string{"customerId": subject, "email": email, "ip": ip, "name": name})
	if _, err := e.svc.Append(context.Background(), pService, stream, redaction.Any,
		[]redaction.EventInput{{Type: "CustomerRegistered", Data: data}}); err != nil {
		e.t.Fatalf("Append = %v", err)
	}
}

func TestRetention(t *testing.T) {
	for _, tc := range []struct {
		name      string
		plain     bool
		wantState redaction.State
		wantMode  string
	}{
		{"vault expires", false, redaction.StateExpired, "expired"},
		{"vault without Expire deletes", true, redaction.StateUnavailable, "deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testRetention(t, tc.plain, tc.wantState, tc.wantMode)
		})
	}
}

func testRetention(t *testing.T, plain bool, wantState redaction.State, wantMode string) {
	ctx := context.Background()
	day := 24 * time.Hour
	e := &env{}
	opts := Options{Retention: []RetentionRule{
		{Class: "ip_address", Period: 90 * day},
		{EventType: "CustomerRegistered", Class: "name", Period: 365 * day},
		{EventType: "OtherType", Period: day},
	}}
	if plain {
		e = newEnvWrapped(t, opts, func(s vault.Store) vault.Store { return plainStore{s} })
	} else {
		e = newEnv(t, opts)
	}
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendWithIP("customer-1", "t1", "keep.t1@example.com", "203.0.113.77", "Retained Name")
	e.appendWithIP("customer-2", "t2", "keep.t2@example.com", "203.0.113.78", "Other Name")
	e.appendWithIP("customer-3", "t3", "gone.t3@example.com", "203.0.113.79", "Erased Name")
	if _, err := e.comp.Request(ctx, pDPO, "t3", redaction.ErasureRequest{RequestID: "rq-t3"}); err != nil {
		t.Fatal(err)
	}

	run := func(want int) RetentionReport {
		t.Helper()
		rep, err := e.comp.RunRetention(ctx)
		if err != nil {
			t.Fatalf("RunRetention = %v", err)
		}
		if rep.Expired != want {
			t.Fatalf("RunRetention = %+v, want %d expired", rep, want)
		}
		return rep
	}
	run(0)
	e.clock.Add(89 * day)
	run(0)
	e.clock.Add(2 * day)
	rep := run(2) // t1's and t2's ip; t3 is erased
	if rep.Mode != wantMode || rep.Records != 2 {
		t.Errorf("RunRetention = %+v, want mode %s, 2 records", rep, wantMode)
	}
	for _, s := range []string{"customer-1", "customer-2"} {
		if st, v := readField(t, e.svc, s, "/ip"); st != wantState {
			t.Errorf("%s /ip = %s %s, want %s", s, st, v, wantState)
		} else if st == redaction.StateExpired && v != `"`+redaction.DefaultExpiredPlaceholder+`"` {
			t.Errorf("%s /ip = %s, want the expiry placeholder", s, v)
		}
		if st, _ := readField(t, e.svc, s, "/email"); st != redaction.StateRevealed && st != redaction.StateMasked {
			t.Errorf("%s /email = %s, want kept", s, st)
		}
		if st, _ := readField(t, e.svc, s, "/name"); st != redaction.StateRevealed && st != redaction.StateMasked {
			t.Errorf("%s /name = %s, want kept until 365 days", s, st)
		}
	}
	if st, _ := readField(t, e.svc, "customer-3", "/ip"); st != redaction.StateErased {
		t.Errorf("erased subject's ip = %s, want erased", st)
	}
	run(0) // idempotent
	recs, err := e.comp.Expiries(ctx, "t1")
	if err != nil || len(recs) != 1 {
		t.Fatalf("Expiries(t1) = %+v, %v", recs, err)
	}
	if r := recs[0]; r.Stream != "customer-1" || r.Version != 1 || r.Paths[0] != "/ip" || r.Classes[0] != "ip_address" ||
		r.Retention != (90*day).String() || r.Mode != wantMode || !r.ExpiredAt.Equal(e.clock.Now().UTC()) {
		t.Errorf("expiry record = %+v", r)
	}
	// A restart keeps the cursor; the name rule fires after a year.
	e.reopen()
	run(0)
	e.clock.Add(275 * day)
	run(2)
	for _, s := range []string{"customer-1", "customer-2"} {
		if st, _ := readField(t, e.svc, s, "/name"); st != wantState {
			t.Errorf("%s /name = %s, want %s", s, st, wantState)
		}
	}
	run(0)
	checkNoLeaks(t, e, "203.0.113.77", "Retained Name", "keep.t1@example.com")
}

func newEnvWrapped(t testing.TB, opts Options, wrap func(vault.Store) vault.Store) *env {
	t.Helper()
	e := newEnv(t, opts)
	e.wrap = wrap
	e.reopen()
	return e
}

// #16 item 18: the retention job runs at start (a sidecar restarted more
// often than its interval expired nothing), and its default interval fits
// the shortest rule (it was an hour whatever the rules).
func TestRetentionRunsAtStartAndFitsTheShortestRule(t *testing.T) {
	for _, tc := range []struct {
		rules []time.Duration
		want  time.Duration
	}{
		{[]time.Duration{10 * time.Second}, 5 * time.Second},
		{[]time.Duration{90 * 24 * time.Hour, 10 * time.Minute}, 5 * time.Minute},
		{[]time.Duration{90 * 24 * time.Hour}, DefaultRetentionInterval},
		{[]time.Duration{time.Second}, MinRetentionInterval},
		{nil, DefaultRetentionInterval},
	} {
		var o Options
		for _, p := range tc.rules {
			o.Retention = append(o.Retention, RetentionRule{Class: "phone", Period: p})
		}
		if got := o.withDefaults().RetentionInterval; got != tc.want {
			t.Errorf("rules %v: RetentionInterval = %v, want %v", tc.rules, got, tc.want)
		}
	}

	day := 24 * time.Hour
	e := newEnv(t, Options{Retention: []RetentionRule{{Class: "ip_address", Period: day}}, RetentionInterval: time.Hour})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendWithIP("customer-s", "ts", "keep.ts@example.com", "203.0.113.90", "Start Name")
	e.close()
	e.clock.Add(2 * day)
	e.open() // the job's next tick is an hour away: only a run at start expires the ip
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := readField(t, e.svc, "customer-s", "/ip")
		if st == redaction.StateExpired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ip = %s 10 s after a start with an expired value, want expired by the run at start", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
