package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// canary stands for personal data that reaches the engine by a path it
// should never echo: principal attributes (free-form, operator-defined).
const canary = "CANARY-jane.doe@example.com"

func TestDecisionLogHoldsNoValue(t *testing.T) {
	ctx := context.Background()
	var (
		mu   sync.Mutex
		recs []DecisionRecord
		logs bytes.Buffer
	)
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := DefaultOptions()
	opts.Watch = false
	opts.Now = func() time.Time { return fixed }
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.DecisionLog = func(r DecisionRecord) {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, r)
	}
	// An operator rule that reads an attribute, so attributes are part of
	// the evaluation (and of the cache key), yet must not be logged.
	opts.PolicyDir = t.TempDir()
	writeFile(t, filepath.Join(opts.PolicyDir, "attr.rego"), `package piivault.authz
request_deny contains "blocked team" if input.principal.attributes.team == "blocked"`)
	e := newEngine(t, opts)

	p := Principal{ID: "agent-7", Roles: []string{"support"}, Attributes: map[string]string{"email": canary, "team": "eu"}}
	in := Input{Principal: p, Action: ActionRead, Purpose: "support",
		Resource: Resource{Stream: "order-1", EventType: "OrderPlaced", Subject: "cust-42", Path: "/email", Class: "email"}}
	for range 2 {
		if _, err := e.Authorize(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Field(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	bad := in
	bad.Action = "steal"
	_, _ = e.Field(ctx, bad)

	if len(recs) != 5 {
		t.Fatalf("got %d records, want 5", len(recs))
	}
	want := DecisionRecord{Time: fixed, Kind: KindField, Principal: "agent-7", Roles: []string{"support"}, Action: ActionRead, Purpose: "support",
		Resource: in.Resource, Decision: Decision{Allow: true, Effect: EffectReveal, Reason: "role support, purpose support: reveal email"},
		Revision: e.Revision()}
	got := recs[1]
	if got.Duration <= 0 {
		t.Errorf("uncached record has no duration")
	}
	got.Duration = 0
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("record\n got %s\nwant %s", gj, wj)
	}
	if !recs[2].Cached || !recs[3].Cached || recs[0].Cached || recs[1].Cached {
		t.Errorf("cached flags = %v %v %v %v, want false false true true", recs[0].Cached, recs[1].Cached, recs[2].Cached, recs[3].Cached)
	}
	if recs[4].Error == "" || recs[4].Decision.Allow {
		t.Errorf("invalid input record = %+v, want an error and a deny", recs[4])
	}
	all, _ := json.Marshal(recs)
	for name, s := range map[string]string{"decision records": string(all), "logs": logs.String(), "record text": strings.Join(func() []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.Decision.Reason, r.Error)
		}
		return out
	}(), "|")} {
		if strings.Contains(s, "CANARY") {
			t.Errorf("%s carry the canary: %s", name, s)
		}
	}
}
