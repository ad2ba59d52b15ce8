package hashicorp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/hashicorp/hashicorptest"
	"github.com/piivault/piivault/vault/keys"
	"github.com/piivault/piivault/vault/vaulttest"
)

// testTransitKey is the Transit key the shared-Vault tests wrap DEKs with.
const testTransitKey = "piivault-test"

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// open returns a store on c under prefix and closes it at the end.
func open(t testing.TB, c *api.Client, opts Options) *Store {
	t.Helper()
	if opts.TransitKey == "" {
		opts.TransitKey = testTransitKey
	}
	s, err := New(ctxT(t), c, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	c := hashicorptest.Client(t)
	prefix := "piivault-test-" + hashicorptest.Random()
	opts := Options{Prefix: prefix}
	vaulttest.RunWith(t, vaulttest.Harness{
		Open: func(t *testing.T) vault.Store { return open(t, c, opts) },
		SwapCiphertexts: func(t *testing.T, vs vault.Store, a, b vault.Token) {
			swapCiphertexts(t, vs.(*Store), a, b)
		},
		Reopen: func(t *testing.T, vs vault.Store) vault.Store {
			if err := vs.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return open(t, c, opts)
		},
	})
}

// swapCiphertexts exchanges the sealed bytes of two tokens of one subject in
// the record in Vault, and drops the store's caches.
func swapCiphertexts(t *testing.T, s *Store, a, b vault.Token) {
	t.Helper()
	sub, ida, err := vault.SplitToken(a)
	if err != nil {
		t.Fatal(err)
	}
	_, idb, err := vault.SplitToken(b)
	if err != nil {
		t.Fatal(err)
	}
	r, v, err := s.kv.readSubject(ctxT(t), sub)
	if err != nil || r == nil {
		t.Fatalf("read record: %v", err)
	}
	ka, kb := tokenIDString(ida), tokenIDString(idb)
	va, vb := r.Values[ka], r.Values[kb]
	va.Data, vb.Data = vb.Data, va.Data
	r.Values[ka], r.Values[kb] = va, vb
	if _, err := s.kv.writeSubject(ctxT(t), sub, r, v); err != nil {
		t.Fatalf("write record: %v", err)
	}
	s.recs.clear()
	s.deks.Clear()
}

// TestTwoInstancesErase: an erasure through instance A is seen by instance B
// within the cache TTL, even though B had the subject cached, and B refuses
// new values for the subject at once.
func TestTwoInstancesErase(t *testing.T) {
	t.Parallel() // slow (waits on TTLs or a restart); independent of the others
	c := hashicorptest.Client(t)
	prefix := "piivault-test-" + hashicorptest.Random()
	const ttl = 2 * time.Second // the default
	a := open(t, c, Options{Prefix: prefix})
	cb := hashicorptest.NewClient(t, c.Address(), c.Token())
	b := open(t, cb, Options{Prefix: prefix})

	sub := vaulttest.Subject("shared")
	entries := []vault.Entry{
		{Subject: sub, Class: "email", Value: vaulttest.Value("e")},
		{Subject: sub, Class: "phone", Value: vaulttest.Value("p")},
	}
	toks, err := a.Put(ctxT(t), entries)
	if err != nil {
		t.Fatalf("A.Put: %v", err)
	}
	res, err := b.Resolve(ctxT(t), toks) // B now has the record and DEK cached
	if err != nil || res[0].State != vault.Found || string(res[0].Value.Reveal()) != string(entries[0].Value.Reveal()) {
		t.Fatalf("B.Resolve before erasure = %+v, %v; want Found", res, err)
	}
	// C too: it will write against the version it cached before the erasure.
	cc := open(t, hashicorptest.NewClient(t, c.Address(), c.Token()), Options{Prefix: prefix})
	if _, err := cc.Resolve(ctxT(t), toks); err != nil {
		t.Fatalf("C.Resolve: %v", err)
	}

	start := time.Now()
	if _, err := a.Erase(ctxT(t), sub, "erase-via-a"); err != nil {
		t.Fatalf("A.Erase: %v", err)
	}
	if r, err := a.Resolve(ctxT(t), toks[:1]); err != nil || r[0].State != vault.Erased {
		t.Fatalf("A.Resolve right after A.Erase = %+v, %v; want Erased", r, err)
	}
	if _, err := cc.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: vaulttest.Value("late")}}); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("C.Put with a record cached before A.Erase: error = %v, want ErrErased", err)
	}
	var seen time.Duration
	for {
		r, err := b.Resolve(ctxT(t), toks)
		if err != nil {
			t.Fatalf("B.Resolve: %v", err)
		}
		if r[0].State == vault.Erased && r[1].State == vault.Erased {
			seen = time.Since(start)
			break
		}
		if r[0].State != vault.Found {
			t.Fatalf("B.Resolve = state %v, want Found (stale, within TTL) or Erased", r[0].State)
		}
		if time.Since(start) > ttl+2*time.Second { // the TTL plus request latency on a busy machine
			t.Fatalf("B still resolves the erased subject %v after A.Erase (TTL %v)", time.Since(start), ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := b.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: vaulttest.Value("late")}}); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("B.Put after A.Erase error = %v, want ErrErased", err)
	}
	t.Logf("B saw the erasure after %v (TTL %v)", seen.Round(time.Millisecond), ttl)
	info, err := b.Describe(ctxT(t), sub)
	if err != nil || !info.Erased || info.ErasureID != "erase-via-a" {
		t.Fatalf("B.Describe = %+v, %v; want erased by erase-via-a", info, err)
	}
}

// TestVaultStoppedMidTest kills a private Vault while Puts are running:
// every failure is ErrUnavailable, nothing is half-written, no value comes
// back while Vault is down, and the same store works once Vault is back.
func TestVaultStoppedMidTest(t *testing.T) {
	t.Parallel() // slow (waits on TTLs or a restart); independent of the others
	srv := hashicorptest.Start(t)
	c := srv.Client(t)
	s := open(t, c, Options{Prefix: "stop", CacheTTL: -1, RequestTimeout: 3 * time.Second})

	// Before: some acknowledged values.
	before := vaulttest.Subject("before")
	beforeEntries := []vault.Entry{{Subject: before, Class: "email", Value: vaulttest.Value("b")}}
	beforeToks, err := s.Put(ctxT(t), beforeEntries)
	if err != nil {
		t.Fatalf("Put before the stop: %v", err)
	}

	// Writers: each Put stores 3 values of one subject under one class
	// ("p<n>"), so a half-written Put would show as a class with 1 or 2
	// values.
	type acked struct {
		entries []vault.Entry
		toks    []vault.Token
	}
	const writers = 4
	subjects := make([]string, writers)
	for i := range subjects {
		subjects[i] = vaulttest.Subject(fmt.Sprintf("w%d", i))
	}
	var mu sync.Mutex
	var ok []acked
	var failures, wrongErrors []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				class := fmt.Sprintf("p%d-%d", w, n)
				es := []vault.Entry{
					{Subject: subjects[w], Class: class, Value: vaulttest.Value("x")},
					{Subject: subjects[w], Class: class, Value: vaulttest.Value("y")},
					{Subject: subjects[w], Class: class, Value: vaulttest.Value("z")},
				}
				toks, err := s.Put(context.Background(), es)
				mu.Lock()
				switch {
				case err == nil:
					ok = append(ok, acked{es, toks})
				case errors.Is(err, vault.ErrUnavailable):
					failures = append(failures, err)
				default:
					wrongErrors = append(wrongErrors, err)
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}(w)
	}
	time.Sleep(300 * time.Millisecond)
	srv.Kill()
	killed := time.Now()

	// While Vault is down: typed errors, no values.
	if res, err := s.Resolve(ctxT(t), beforeToks); !errors.Is(err, vault.ErrUnavailable) || res != nil {
		t.Fatalf("Resolve with Vault down = %+v, %v; want nil, ErrUnavailable", res, err)
	}
	if _, err := s.Erase(ctxT(t), before, "down"); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Erase with Vault down error = %v, want ErrUnavailable", err)
	}
	if _, err := s.Export(ctxT(t), before); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Export with Vault down error = %v, want ErrUnavailable", err)
	}
	if _, err := s.Describe(ctxT(t), before); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Describe with Vault down error = %v, want ErrUnavailable", err)
	}
	if err := s.Delete(ctxT(t), beforeToks); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("Delete with Vault down error = %v, want ErrUnavailable", err)
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	firstFailures := append([]error(nil), failures...)
	mu.Unlock()
	if len(firstFailures) == 0 {
		t.Fatalf("no Put failed in %v with Vault down", time.Since(killed))
	}
	for _, err := range firstFailures[:1] {
		if strings.Contains(err.Error(), base64.RawURLEncoding.EncodeToString([]byte(subjects[0]))) {
			t.Fatalf("error names a subject path: %v", err)
		}
	}

	srv.Restart(t)
	time.Sleep(200 * time.Millisecond) // a few Puts succeed again
	close(stop)
	wg.Wait()
	if len(wrongErrors) > 0 {
		t.Fatalf("%d Puts failed with an error that is not ErrUnavailable, first: %v", len(wrongErrors), wrongErrors[0])
	}
	t.Logf("%d Puts acknowledged, %d failed with ErrUnavailable", len(ok), len(failures))

	// After: every acknowledged value is there, and no Put is half there.
	res, err := s.Resolve(ctxT(t), beforeToks)
	if err != nil || res[0].State != vault.Found || string(res[0].Value.Reveal()) != string(beforeEntries[0].Value.Reveal()) {
		t.Fatalf("Resolve after restart = %+v, %v; want Found", res, err)
	}
	for _, a := range ok {
		res, err := s.Resolve(ctxT(t), a.toks)
		if err != nil {
			t.Fatalf("Resolve acknowledged tokens after restart: %v", err)
		}
		for i, r := range res {
			if r.State != vault.Found || string(r.Value.Reveal()) != string(a.entries[i].Value.Reveal()) {
				t.Fatalf("acknowledged token %d after restart: state %v, want Found with its value", i, r.State)
			}
		}
	}
	for _, sub := range subjects {
		info, err := s.Describe(ctxT(t), sub)
		if err != nil {
			t.Fatalf("Describe after restart: %v", err)
		}
		perClass := map[string]int{}
		for _, ti := range info.Tokens {
			perClass[ti.Class]++
		}
		for class, n := range perClass {
			if n != 3 {
				t.Fatalf("subject %s class %s holds %d of the Put's 3 values: half-written", sub, class, n)
			}
		}
	}
	// And the store works as before: write, erase, refuse.
	toks, err := s.Put(ctxT(t), []vault.Entry{{Subject: before, Class: "email", Value: vaulttest.Value("after")}})
	if err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	if _, err := s.Erase(ctxT(t), before, "after-restart"); err != nil {
		t.Fatalf("Erase after restart: %v", err)
	}
	if r, err := s.Resolve(ctxT(t), append(toks, beforeToks...)); err != nil || r[0].State != vault.Erased || r[1].State != vault.Erased {
		t.Fatalf("Resolve after erase = %+v, %v; want Erased", r, err)
	}
}

// TestNewWithVaultDown: New fails with ErrUnavailable, not a panic.
func TestNewWithVaultDown(t *testing.T) {
	c := hashicorptest.NewClient(t, "http://127.0.0.1:1", "whatever")
	_, err := New(ctxT(t), c, Options{})
	if !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("New with no Vault error = %v, want ErrUnavailable", err)
	}
	if _, err := New(ctxT(t), nil, Options{}); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("New(nil client) error = %v, want ErrInvalid", err)
	}
}

// TestAppRole logs in with AppRole under a policy limited to piivault's
// paths, keeps working while the token is renewed and replaced at its max
// TTL, and is refused with bad credentials.
func TestAppRole(t *testing.T) {
	t.Parallel() // slow (waits on TTLs or a restart); independent of the others
	root := hashicorptest.Client(t)
	prefix := "piivault-test-" + hashicorptest.Random()
	role := "piivault-" + hashicorptest.Random()
	tr, err := keys.NewTransit(root, "transit", testTransitKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.EnsureKey(ctxT(t)); err != nil {
		t.Fatalf("EnsureKey: %v", err)
	}
	roleID, secretID := hashicorptest.EnableAppRole(t, root, role, "secret", prefix, "transit", testTransitKey, 4*time.Second, 8*time.Second)

	c := hashicorptest.NewClient(t, root.Address(), "")
	s := open(t, c, Options{Prefix: prefix, Auth: AuthAppRole, RoleID: roleID, SecretID: secretID, CacheTTL: -1})
	if st := s.AuthStats(); st.Logins != 1 {
		t.Fatalf("AuthStats after New = %+v, want 1 login", st)
	}
	if c.Token() == "" || c.Token() == root.Token() {
		t.Fatal("the client has no AppRole token")
	}
	sub := vaulttest.Subject("approle")
	deadline := time.Now().Add(10 * time.Second) // beyond the 8 s max TTL
	for i := 0; time.Now().Before(deadline); i++ {
		e := vault.Entry{Subject: sub, Class: "email", Value: vaulttest.Value("a")}
		toks, err := s.Put(ctxT(t), []vault.Entry{e})
		if err != nil {
			t.Fatalf("Put %d with AppRole (after %v): %v", i, time.Until(deadline), err)
		}
		res, err := s.Resolve(ctxT(t), toks)
		if err != nil || res[0].State != vault.Found {
			t.Fatalf("Resolve %d with AppRole = %+v, %v", i, res, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	st := s.AuthStats()
	t.Logf("AuthStats after 10 s with token_ttl=4s, token_max_ttl=8s: %+v", st)
	if st.Renewals < 1 || st.Logins < 2 {
		t.Fatalf("AuthStats = %+v, want at least 1 renewal and 2 logins", st)
	}
	if _, err := s.Erase(ctxT(t), sub, "approle-erase"); err != nil {
		t.Fatalf("Erase with AppRole: %v", err)
	}

	// Bad credentials: typed error from New.
	bad := hashicorptest.NewClient(t, root.Address(), "")
	if _, err := New(ctxT(t), bad, Options{Prefix: prefix, Auth: AuthAppRole, RoleID: roleID, SecretID: "wrong"}); !errors.Is(err, vault.ErrUnavailable) {
		t.Fatalf("New with a wrong secret ID error = %v, want ErrUnavailable", err)
	}
	if _, err := New(ctxT(t), bad, Options{Auth: AuthAppRole}); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("New with AppRole and no credentials error = %v, want ErrInvalid", err)
	}
}

// TestTokenRenewal: with token auth and a renewable token of short TTL,
// the store keeps the token alive past its first TTL.
func TestTokenRenewal(t *testing.T) {
	t.Parallel() // slow (waits on TTLs or a restart); independent of the others
	root := hashicorptest.Client(t)
	sec, err := root.Auth().Token().CreateWithContext(ctxT(t), &api.TokenCreateRequest{
		Policies: []string{"root"}, TTL: "3s", Renewable: boolPtr(true), NoParent: true,
	})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	c := hashicorptest.NewClient(t, root.Address(), sec.Auth.ClientToken)
	s := open(t, c, Options{Prefix: "piivault-test-" + hashicorptest.Random(), CacheTTL: -1})
	sub := vaulttest.Subject("renew")
	deadline := time.Now().Add(6 * time.Second) // twice the TTL
	for time.Now().Before(deadline) {
		if _, err := s.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: vaulttest.Value("r")}}); err != nil {
			t.Fatalf("Put with a renewed token: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if st := s.AuthStats(); st.Renewals < 1 || st.Logins != 0 {
		t.Fatalf("AuthStats = %+v, want renewals and no logins", st)
	}
}

func boolPtr(b bool) *bool { return &b }

// TestRotateKEKOnline rotates the Transit key while readers run: no read
// fails, and afterwards every stored DEK is wrapped by the newest version.
func TestRotateKEKOnline(t *testing.T) {
	c := hashicorptest.Client(t)
	key := "piivault-rotate-" + hashicorptest.Random()
	s := open(t, c, Options{Prefix: "piivault-test-" + hashicorptest.Random(), TransitKey: key, CacheTTL: -1})
	var entries []vault.Entry
	for i := 0; i < 30; i++ {
		entries = append(entries, vault.Entry{Subject: vaulttest.Subject("rot"), Class: "email", Value: vaulttest.Value("r")})
	}
	toks, err := s.Put(ctxT(t), entries)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	stop := make(chan struct{})
	errc := make(chan error, 1)
	var reads int
	go func() {
		defer close(errc)
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := s.Resolve(context.Background(), toks)
			if err != nil {
				errc <- err
				return
			}
			for i, r := range res {
				if r.State != vault.Found || string(r.Value.Reveal()) != string(entries[i].Value.Reveal()) {
					errc <- fmt.Errorf("token %d: state %v during rotation", i, r.State)
					return
				}
			}
			reads++
		}
	}()
	for round := 0; round < 2; round++ {
		rep, err := s.RotateKEK(ctxT(t))
		if err != nil {
			t.Fatalf("RotateKEK: %v", err)
		}
		if rep.Rewrapped+rep.Skipped != 30 || rep.Subjects != 30 {
			t.Fatalf("RotateKEK report = %+v, want 30 subjects rewrapped", rep)
		}
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatalf("Resolve during rotation: %v", err)
	}
	t.Logf("%d batch reads of 30 tokens during two rotations", reads)
	tr, _ := keys.NewTransit(c, "transit", key)
	latest, err := tr.LatestVersion(ctxT(t))
	if err != nil || latest != 3 {
		t.Fatalf("LatestVersion = %d, %v; want 3", latest, err)
	}
	for _, e := range entries {
		r, _, err := s.kv.readSubject(ctxT(t), e.Subject)
		if err != nil || r == nil {
			t.Fatalf("read record: %v", err)
		}
		w, _ := base64.StdEncoding.DecodeString(r.DEK)
		if v, err := keys.WrappedVersion(w); err != nil || v != latest {
			t.Fatalf("stored DEK wrapped by version %d, %v; want %d", v, err, latest)
		}
	}
	res, err := s.Resolve(ctxT(t), toks)
	if err != nil || res[0].State != vault.Found {
		t.Fatalf("Resolve after rotation = %v", err)
	}
}

// TestStoredBytesHoldNoPlaintext reads the raw KV record: no value, no DEK.
func TestStoredBytesHoldNoPlaintext(t *testing.T) {
	c := hashicorptest.Client(t)
	s := open(t, c, Options{Prefix: "piivault-test-" + hashicorptest.Random()})
	sub := vaulttest.Subject("raw")
	v := vaulttest.Value("canary")
	if _, err := s.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: v}}); err != nil {
		t.Fatal(err)
	}
	sec, err := c.Logical().ReadWithContext(ctxT(t), s.kv.subjectData(sub))
	if err != nil || sec == nil {
		t.Fatalf("raw read: %v", err)
	}
	raw := fmt.Sprint(sec.Data)
	if strings.Contains(raw, strings.Trim(string(v.Reveal()), `"`)) {
		t.Fatal("the KV record holds the plaintext value")
	}
	k, ok := s.deks.Get(sub)
	if !ok {
		t.Fatal("DEK not cached after Put")
	}
	for _, enc := range []string{base64.StdEncoding.EncodeToString(k.Bytes()), string(k.Bytes())} {
		if strings.Contains(raw, enc) {
			t.Fatal("the KV record holds the unwrapped DEK")
		}
	}
	// After erasure, every version but the marker is destroyed.
	if _, err := s.Erase(ctxT(t), sub, "raw"); err != nil {
		t.Fatal(err)
	}
	meta, err := c.Logical().ReadWithContext(ctxT(t), s.kv.subjectMeta(sub))
	if err != nil || meta == nil {
		t.Fatalf("read metadata: %v", err)
	}
	current := fmt.Sprint(meta.Data["current_version"])
	versions, _ := meta.Data["versions"].(map[string]interface{})
	if len(versions) < 2 {
		t.Fatalf("record has %d versions, want the value's and the marker's: %v", len(versions), meta.Data)
	}
	for v, m := range versions {
		destroyed, _ := m.(map[string]interface{})["destroyed"].(bool)
		if v != current && !destroyed {
			t.Fatalf("version %s of the erased record is not destroyed", v)
		}
		if v == current {
			continue
		}
		old, err := c.Logical().ReadWithDataWithContext(ctxT(t), s.kv.subjectData(sub), map[string][]string{"version": {v}})
		if err != nil {
			t.Fatalf("read version %s: %v", v, err)
		}
		if old != nil && old.Data["data"] != nil {
			t.Fatalf("destroyed version %s still has data", v)
		}
	}
	if d := rawRecord(t, c, s.kv.subjectData(sub)); d["dek"] != nil || d["vals"] != nil || d["erased"] == nil {
		t.Fatalf("erased record = %v, want only the marker", d)
	}
}

// rawRecord reads a subject record from Vault with the plain client and
// decodes its envelope.
func rawRecord(t *testing.T, c *api.Client, path string) map[string]interface{} {
	t.Helper()
	sec, err := c.Logical().ReadWithContext(ctxT(t), path)
	if err != nil || sec == nil {
		t.Fatalf("raw read: %v", err)
	}
	d, _ := sec.Data["data"].(map[string]interface{})
	r, _ := d["r"].(string)
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(r), &m); err != nil {
		t.Fatalf("raw record %q: %v", r, err)
	}
	return m
}

// TestFreshInstanceReadsItsOwnWrites: on fresh instances, against a Vault
// that already holds the subject, a value is found right after its Put
// returned, while Deletes of other subjects (the sidecar retires its
// pending markers so) run beside it. A Delete's cache drop used to make the
// Put's cache update be ignored and leave the record read before the write
// cached: the new value read as missing for a TTL.
func TestFreshInstanceReadsItsOwnWrites(t *testing.T) {
	c := hashicorptest.Client(t)
	prefix := "piivault-test-" + hashicorptest.Random()
	a := open(t, c, Options{Prefix: prefix})
	sub := vaulttest.Subject("known")
	first, err := a.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: vaulttest.Value("first")}})
	if err != nil {
		t.Fatalf("A.Put: %v", err)
	}
	for round := range 10 {
		b := open(t, hashicorptest.NewClient(t, c.Address(), c.Token()), Options{Prefix: prefix})
		if _, err := b.Resolve(ctxT(t), first); err != nil { // B caches the record
			t.Fatalf("round %d: B.Resolve: %v", round, err)
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			other := vaulttest.Subject("marker")
			for {
				select {
				case <-stop:
					return
				default:
				}
				toks, err := b.Put(context.Background(), []vault.Entry{{Subject: other, Class: "email", Value: vaulttest.Value("m")}})
				if err == nil {
					_ = b.Delete(context.Background(), toks)
				}
			}
		}()
		for i := range 5 {
			toks, err := b.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: vaulttest.Value("v")}})
			if err != nil {
				t.Fatalf("round %d: B.Put: %v", round, err)
			}
			res, err := b.Resolve(ctxT(t), toks)
			if err != nil || res[0].State != vault.Found {
				t.Errorf("round %d, put %d: B.Resolve right after B.Put = %+v, %v; want Found", round, i, res, err)
			}
		}
		close(stop)
		<-done
	}
}
