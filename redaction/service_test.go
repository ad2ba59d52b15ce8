package redaction

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/embedded"
	"github.com/piivault/piivault/vault/keys"
)

// Principals of the shipped default policy.
var (
	pService   = Access{Principal: policy.Principal{ID: "svc", Roles: []string{"service"}}}
	pAdmin     = Access{Principal: policy.Principal{ID: "adm", Roles: []string{"admin"}}}
	pDPO       = Access{Principal: policy.Principal{ID: "dpo-1", Roles: []string{"dpo"}}}
	pSupport   = Access{Principal: policy.Principal{ID: "sup-1", Roles: []string{"support"}}, Purpose: "support"}
	pBilling   = Access{Principal: policy.Principal{ID: "bil-1", Roles: []string{"billing"}}, Purpose: "billing"}
	pAnalytics = Access{Principal: policy.Principal{ID: "ana-1", Roles: []string{"analytics"}}, Purpose: "analytics"}
	pRoot      = Access{Principal: policy.Principal{ID: "root", Root: true}}
	pNobody    = Access{Principal: policy.Principal{ID: "nobody", Roles: []string{"intern"}}, Purpose: "curiosity"}
)

// capture collects everything that leaves the service other than data: its
// logs, the policy's logs and decision log.
type capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}
func (c *capture) String() string { c.mu.Lock(); defer c.mu.Unlock(); return c.buf.String() }

type testEnv struct {
	svc   *Service
	log   *eventlog.Log
	flaky *flakyLog
	store vault.Store
	mem   *memStore
	emb   *embedded.Store
	pol   *policy.Engine
	out   *capture
	dir   string
}

type envConfig struct {
	embedded bool        // the real embedded vault (else a memStore)
	quiet    bool        // no decision log hook (benchmarks)
	store    vault.Store // overrides both
	opts     Options
}

// openEmbedded opens the real embedded vault with a local key file.
func openEmbedded(t testing.TB, dir string, lg *slog.Logger) *embedded.Store {
	t.Helper()
	kp, err := keys.OpenLocal(filepath.Join(dir, "kek"), true)
	if err != nil {
		t.Fatal(err)
	}
	o := embedded.DefaultOptions()
	o.Logger = lg
	st, err := embedded.Open(filepath.Join(dir, "vault"), kp, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func newEnv(t testing.TB, cfg envConfig) *testEnv {
	t.Helper()
	ctx := context.Background()
	out := &capture{}
	lg := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	lo := eventlog.DefaultOptions()
	lo.Logger = lg
	l, err := eventlog.Open(dir+"/log", lo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	po := policy.DefaultOptions()
	po.Watch = false
	po.Logger = lg
	if !cfg.quiet {
		po.DecisionLog = func(r policy.DecisionRecord) {
			b, _ := json.Marshal(r)
			_, _ = out.Write(append(b, '\n'))
		}
	}
	pol, err := policy.New(ctx, po)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pol.Close() })
	env := &testEnv{log: l, pol: pol, out: out, dir: dir}
	env.store = cfg.store
	if env.store == nil && cfg.embedded {
		env.emb = openEmbedded(t, dir, lg)
		env.store = env.emb
	}
	if env.store == nil {
		env.mem = newMemStore()
		env.store = env.mem
	}
	opts := cfg.opts
	opts.Logger = lg
	env.flaky = &flakyLog{eventLog: l}
	svc, err := newService(ctx, env.flaky, env.store, pol, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	env.svc = svc
	return env
}

const customerSchema = `{"subject":"/customerId","fields":[
	{"path":"/email","class":"email"},
	{"path":"/phone","class":"phone"},
	{"path":"/name","class":"name"},
	{"path":"/addresses/*/street","class":"address"},
	{"path":"/dob","class":"date_of_birth"},
	{"path":"/ssn","class":"national_id"},
	{"path":"/ip","class":"ip_address"},
	{"path":"/note","class":"free_text"}]}`

func mustPutSchema(t testing.TB, svc *Service, typ, doc string) *Schema {
	t.Helper()
	sc, err := svc.PutSchema(context.Background(), pAdmin, typ, []byte(doc))
	if err != nil {
		t.Fatalf("PutSchema(%s) = %v", typ, err)
	}
	return sc
}

func TestAppendReadRoundTrip(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{embedded: true})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", customerSchema)
	data := `{"customerId":"cust-42","email":"jane.doe@example.com","phone":"+1 415-555-0199","name":"Jane Doe",
		"addresses":[{"street":"1 Canary Row","city":"Springfield"},{"street":"2 Canary Lane"}],"dob":"1990-05-17","plan":"gold","n":3}`
	res, err := svc.Append(ctx, pService, "customer-42", NoStream, []EventInput{{Type: "CustomerRegistered", Data: json.RawMessage(data), Metadata: json.RawMessage(`{"source":"web"}`)}})
	if err != nil {
		t.Fatalf("Append = %v", err)
	}
	if res.FirstVersion != 1 || res.LastVersion != 1 {
		t.Fatalf("Append = %+v", res)
	}
	// The log holds tokens only.
	raw, err := env.log.ReadStream(ctx, "customer-42", 1, 10, eventlog.Forward)
	if err != nil || len(raw) != 1 {
		t.Fatal(err)
	}
	for _, canary := range []string{"jane.doe", "555-0199", "Jane Doe", "Canary", "1990-05-17"} {
		if bytes.Contains(raw[0].Data, []byte(canary)) || bytes.Contains(raw[0].Metadata, []byte(canary)) {
			t.Errorf("stored event holds %q: %s", canary, raw[0].Data)
		}
	}
	if !bytes.Contains(raw[0].Data, []byte(`"plan":"gold"`)) || !bytes.Contains(raw[0].Metadata, []byte(ReservedMetadataKey)) {
		t.Errorf("stored event lost its other fields: %s %s", raw[0].Data, raw[0].Metadata)
	}

	// Root sees everything exactly as appended.
	evs, err := svc.ReadStream(ctx, pRoot, "customer-42", 1, 10, Forward)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(evs[0].Data); got != data {
		t.Errorf("root read = %s\nwant %s", got, data)
	}
	if string(evs[0].Metadata) != `{"source":"web"}` {
		t.Errorf("root read metadata = %s", evs[0].Metadata)
	}
	if evs[0].SchemaVersion != 1 {
		t.Errorf("SchemaVersion = %d", evs[0].SchemaVersion)
	}

	// Support: name and email revealed, phone masked, the rest denied.
	evs, err = svc.ReadStream(ctx, pSupport, "customer-42", 1, 10, Forward)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(evs[0].Data, &got); err != nil {
		t.Fatal(err)
	}
	if got["email"] != "jane.doe@example.com" || got["name"] != "Jane Doe" || got["phone"] != "***-***-0199" || got["dob"] != nil {
		t.Errorf("support read = %s", evs[0].Data)
	}
	states := map[string]State{}
	for _, f := range evs[0].PII {
		states[f.Path] = f.State
		if f.Subject != "cust-42" {
			t.Errorf("field %s subject = %q", f.Path, f.Subject)
		}
	}
	want := map[string]State{"/email": StateRevealed, "/name": StateRevealed, "/phone": StateMasked,
		"/addresses/0/street": StateDenied, "/addresses/1/street": StateDenied, "/dob": StateDenied}
	for p, st := range want {
		if states[p] != st {
			t.Errorf("support state of %s = %q, want %q", p, states[p], st)
		}
	}

	// Erase: every read shows the placeholder.
	if _, err := svc.Erase(ctx, pSupport, "cust-42", ErasureRequest{}); !errors.Is(err, ErrDenied) {
		t.Fatalf("Erase by support = %v, want ErrDenied", err)
	}
	er, err := svc.Erase(ctx, pDPO, "cust-42", ErasureRequest{RequestID: "r-1", Reason: "Art. 17 request", Ticket: "GDPR-7"})
	if err != nil || er.Status != ErasureErased {
		t.Fatalf("Erase = %+v, %v", er, err)
	}
	evs, err = svc.ReadStream(ctx, pRoot, "customer-42", 1, 10, Forward)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(evs[0].Data), `"email":"[deleted under GDPR]"`) || strings.Contains(string(evs[0].Data), "jane") {
		t.Errorf("read after erasure = %s", evs[0].Data)
	}
	for _, f := range evs[0].PII {
		if f.State != StateErased {
			t.Errorf("after erasure %s = %s", f.Path, f.State)
		}
	}
	// A new append for the erased subject is refused.
	if _, err := svc.Append(ctx, pService, "customer-42", Any, []EventInput{{Type: "CustomerRegistered", Data: json.RawMessage(data)}}); !errors.Is(err, vault.ErrErased) {
		t.Errorf("Append for an erased subject = %v, want vault.ErrErased", err)
	}
}
