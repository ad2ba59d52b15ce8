package compliance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/embedded"
	"github.com/piivault/piivault/vault/keys"
)

// Principals of the shipped default policy.
var (
	pService = redaction.Access{Principal: policy.Principal{ID: "svc", Roles: []string{"service"}}}
	pAdmin   = redaction.Access{Principal: policy.Principal{ID: "adm", Roles: []string{"admin"}}}
	pDPO     = redaction.Access{Principal: policy.Principal{ID: "dpo-1", Roles: []string{"dpo"}}}
	pRoot    = redaction.Access{Principal: policy.Principal{ID: "root", Root: true}}
	pSupport = redaction.Access{Principal: policy.Principal{ID: "sup-1", Roles: []string{"support"}}, Purpose: "support"}
)

const customerSchema = `{"subject":"/customerId","fields":[
	{"path":"/email","class":"email"},
	{"path":"/phone","class":"phone"},
	{"path":"/name","class":"name"},
	{"path":"/ip","class":"ip_address"}]}`

// capture collects the service's logs and the policy's decision log.
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

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is the real stack: Badger event log, embedded vault (encryption at
// rest off, so that a canary scan proves something), shipped OPA policy,
// redaction service and the compliance service. It can be closed and
// reopened on the same folder.
type env struct {
	t     testing.TB
	dir   string
	out   *capture
	lg    *slog.Logger
	clock *testClock
	key   ed25519.PrivateKey
	opts  Options
	wrap  func(vault.Store) vault.Store

	log   *eventlog.Log
	emb   *embedded.Store
	store vault.Store
	pol   *policy.Engine
	svc   *redaction.Service
	comp  *Service
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), out: &capture{}, clock: &testClock{now: time.Now().UTC()}, opts: opts}
	e.lg = slog.New(slog.NewJSONHandler(e.out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	key, err := LoadOrCreateSigningKey(filepath.Join(e.dir, SigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	e.key = key
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	t := e.t
	t.Helper()
	ctx := context.Background()
	lo := eventlog.DefaultOptions()
	lo.Logger = e.lg
	l, err := eventlog.Open(filepath.Join(e.dir, "log"), lo)
	if err != nil {
		t.Fatal(err)
	}
	e.log = l
	po := policy.DefaultOptions()
	po.Watch = false
	po.Logger = e.lg
	po.DecisionLog = func(r policy.DecisionRecord) {
		b, _ := json.Marshal(r)
		_, _ = e.out.Write(append(b, '\n'))
	}
	if e.pol, err = policy.New(ctx, po); err != nil {
		t.Fatal(err)
	}
	kp, err := keys.OpenLocal(filepath.Join(e.dir, "kek"), true)
	if err != nil {
		t.Fatal(err)
	}
	vo := embedded.DefaultOptions()
	vo.Logger = e.lg
	vo.DisableEncryptionAtRest = true
	vo.PurgeDelay = -1
	vo.Now = e.clock.Now
	if e.emb, err = embedded.Open(filepath.Join(e.dir, "vault"), kp, vo); err != nil {
		t.Fatal(err)
	}
	e.store = e.emb
	if e.wrap != nil {
		e.store = e.wrap(e.emb)
	}
	ro := redaction.DefaultOptions()
	ro.Logger = e.lg
	ro.SweepInterval = -1
	ro.Now = e.clock.Now
	if e.svc, err = redaction.New(e.log, e.store, e.pol, ro); err != nil {
		t.Fatal(err)
	}
	o := e.opts
	o.Logger = e.lg
	o.Now = e.clock.Now
	o.SigningKey = e.key
	if o.AdvanceInterval == 0 {
		o.AdvanceInterval = -1
	}
	if o.RetentionInterval == 0 {
		o.RetentionInterval = -1
	}
	if e.comp, err = newService(ctx, e.svc, e.log, e.store, e.pol, o); err != nil {
		t.Fatal(err)
	}
}

func (e *env) close() {
	if e.comp == nil {
		return
	}
	_ = e.comp.Close()
	_ = e.svc.Close()
	_ = e.emb.Close()
	_ = e.pol.Close()
	_ = e.log.Close()
	e.comp = nil
}

func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open()
}

func (e *env) putSchema(typ, doc string) {
	e.t.Helper()
	if _, err := e.svc.PutSchema(context.Background(), pAdmin, typ, []byte(doc)); err != nil {
		e.t.Fatalf("PutSchema(%s) = %v", typ, err)
	}
}

func (e *env) appendCustomer(stream, subject, email, phone, name string) {
	e.t.Helper()
	data, _ := json.Marshal(map[string]string{"customerId": subject, "email": email, "phone": phone, "name": name, "plan": "gold"})
	if _, err := e.svc.Append(context.Background(), pService, stream, redaction.Any,
		[]redaction.EventInput{{Type: "CustomerRegistered", Data: data}}); err != nil {
		e.t.Fatalf("Append = %v", err)
	}
}

// scanDir reports which canaries appear in any file under dir.
func scanDir(t testing.TB, dir string, canaries ...string) []string {
	t.Helper()
	var found []string
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, c := range canaries {
			if !seen[c] && bytes.Contains(b, []byte(c)) {
				seen[c] = true
				found = append(found, c+" in "+strings.TrimPrefix(p, dir))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// streamText returns the raw bytes of every event of a system stream.
func streamText(t testing.TB, l *eventlog.Log, stream string) string {
	t.Helper()
	var b strings.Builder
	from := uint64(1)
	for {
		evs, err := l.ReadStream(context.Background(), stream, from, 1000, eventlog.Forward)
		if err != nil || len(evs) == 0 {
			return b.String()
		}
		for _, e := range evs {
			from = e.Version + 1
			b.Write(e.Data)
			b.Write(e.Metadata)
			b.WriteByte('\n')
		}
	}
}

// readField returns the read state and value of a field of the first event
// of a stream, as the root principal reads it (every class revealed while
// held).
func readField(t testing.TB, svc *redaction.Service, stream, path string) (redaction.State, string) {
	t.Helper()
	evs, err := svc.ReadStream(context.Background(), pRoot, stream, 1, 10, redaction.Forward)
	if err != nil {
		t.Fatalf("ReadStream(%s) = %v", stream, err)
	}
	if len(evs) == 0 {
		t.Fatalf("ReadStream(%s): no events", stream)
	}
	var data map[string]any
	if err := json.Unmarshal(evs[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	for _, f := range evs[0].PII {
		if f.Path == path {
			v, _ := json.Marshal(data[strings.TrimPrefix(path, "/")])
			return f.State, string(v)
		}
	}
	t.Fatalf("ReadStream(%s): no PII field %s", stream, path)
	return "", ""
}
