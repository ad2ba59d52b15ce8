package embedded

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/keys"
	"github.com/piivault/piivault/vault/vaulttest"
)

// testOptions keeps Badger small: many stores open in one test run.
func testOptions() Options {
	o := DefaultOptions()
	o.MemTableSize = 4 << 20
	o.BlockCacheSize = 8 << 20
	o.IndexCacheSize = 4 << 20
	o.ValueLogFileSize = 2 << 20
	return o
}

type fixture struct {
	dir  string
	kp   *keys.Local
	opts Options
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	kp, err := keys.OpenLocal(filepath.Join(dir, "kek"), true)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: filepath.Join(dir, "vault"), kp: kp, opts: opts}
}

func (f *fixture) open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(f.dir, f.kp, f.opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	opts := testOptions()
	opts.PurgeDelay = 20 * time.Millisecond // background purges race with the suite
	var mu sync.Mutex
	dirs := map[vault.Store]*fixture{}
	vaulttest.RunWith(t, vaulttest.Harness{
		Open: func(t *testing.T) vault.Store {
			f := newFixture(t, opts)
			s := f.open(t)
			mu.Lock()
			dirs[s] = f
			mu.Unlock()
			return s
		},
		SwapCiphertexts: func(t *testing.T, s vault.Store, a, b vault.Token) {
			swapCiphertexts(t, s.(*Store), a, b)
		},
		Reopen: func(t *testing.T, s vault.Store) vault.Store {
			mu.Lock()
			f := dirs[s]
			mu.Unlock()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return f.open(t)
		},
	})
}

// TestCapabilitiesWithoutBackgroundPurge runs the capability tests on a
// store that purges only when asked (PurgeDelay < 0): it has a purge queue
// but no background purge, and the queue empties only at Purge.
func TestCapabilitiesWithoutBackgroundPurge(t *testing.T) {
	opts := testOptions()
	opts.PurgeDelay = -1
	vaulttest.RunCapabilities(t, vaulttest.Harness{
		Open: func(t *testing.T) vault.Store {
			s := newFixture(t, opts).open(t)
			if c := s.Capabilities(); c.Has(vault.CapBackgroundPurge) || !c.Has(vault.CapPurgeQueue) {
				t.Fatalf("Capabilities with PurgeDelay -1 = %v, want a purge queue without background purge", c)
			}
			return s
		},
	})
}

// swapCiphertexts exchanges the sealed bytes of two values in Badger.
func swapCiphertexts(t *testing.T, s *Store, a, b vault.Token) {
	t.Helper()
	ka, kb := tokenKey(t, a), tokenKey(t, b)
	err := s.db.Update(func(txn *badger.Txn) error {
		va, err := getCopy(txn, ka)
		if err != nil {
			return err
		}
		vb, err := getCopy(txn, kb)
		if err != nil {
			return err
		}
		if err := txn.Set(ka, vb); err != nil {
			return err
		}
		return txn.Set(kb, va)
	})
	if err != nil {
		t.Fatalf("swap ciphertexts: %v", err)
	}
}

func tokenKey(t testing.TB, tok vault.Token) []byte {
	t.Helper()
	sub, id, err := vault.SplitToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return valueKey(sub, id)
}

func getCopy(txn *badger.Txn, k []byte) ([]byte, error) {
	item, err := txn.Get(k)
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func TestReopenWrongKEK(t *testing.T) {
	f := newFixture(t, testOptions())
	s := f.open(t)
	if _, err := s.Put(context.Background(), []vault.Entry{{Subject: "s", Class: "c", Value: vault.NewPII([]byte(`"v"`))}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	other, err := keys.OpenLocal(filepath.Join(t.TempDir(), "other"), true)
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(f.dir, other, f.opts); err == nil {
		s2.Close()
		t.Fatal("Open with another KEK succeeded")
	} else if !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("Open with another KEK error = %v, want ErrTampered", err)
	}
	// Without db.key the database cannot be read: a clear error, not a
	// fresh key.
	if err := os.Remove(filepath.Join(f.dir, dbKeyFile)); err != nil {
		t.Fatal(err)
	}
	if s3, err := Open(f.dir, f.kp, f.opts); err == nil {
		s3.Close()
		t.Fatal("Open without db.key succeeded")
	}
}

func TestEncryptionModeMismatch(t *testing.T) {
	f := newFixture(t, testOptions())
	f.open(t).Close()
	f.opts.DisableEncryptionAtRest = true
	if s, err := Open(f.dir, f.kp, f.opts); err == nil {
		s.Close()
		t.Fatal("Open with encryption off of an encrypted database succeeded")
	}
}

func TestRecoverInterruptedErasure(t *testing.T) {
	f := newFixture(t, testOptions())
	f.opts.PurgeDelay = -1
	s := f.open(t)
	ctx := context.Background()
	toks, err := s.Put(ctx, []vault.Entry{{Subject: "crash", Class: "c", Value: vault.NewPII([]byte(`"v"`))}})
	if err != nil {
		t.Fatal(err)
	}
	// A crash right after step 1 of Erase: tombstone and queue entry only.
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(tombKey("crash"), tombRecord{erasedAt: time.Now(), erasureID: "e"}.encode()); err != nil {
			return err
		}
		return txn.Set(purgeKey("crash"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = f.open(t)
	err = s.db.View(func(txn *badger.Txn) error {
		if _, err := txn.Get(dekKey("crash")); !errors.Is(err, badger.ErrKeyNotFound) {
			t.Errorf("after reopen, DEK of the erased subject: %v, want gone", err)
		}
		if _, err := txn.Get(tokenKey(t, toks[0])); !errors.Is(err, badger.ErrKeyNotFound) {
			t.Errorf("after reopen, value of the erased subject: %v, want gone", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.PendingPurge(ctx); n != 1 {
		t.Fatalf("PendingPurge = %d, want 1", n)
	}
	if rep, err := s.Purge(ctx); err != nil || rep.Subjects != 1 {
		t.Fatalf("Purge = %+v, %v; want 1 subject", rep, err)
	}
	if n, _ := s.PendingPurge(ctx); n != 0 {
		t.Fatalf("PendingPurge after Purge = %d, want 0", n)
	}
}

func TestBackgroundPurgeReports(t *testing.T) {
	f := newFixture(t, testOptions())
	reports := make(chan vault.PurgeReport, 4)
	f.opts.PurgeDelay = 10 * time.Millisecond
	f.opts.OnPurge = func(r vault.PurgeReport) { reports <- r }
	s := f.open(t)
	ctx := context.Background()
	if _, err := s.Put(ctx, []vault.Entry{{Subject: "bg", Class: "c", Value: vault.NewPII([]byte(`"v"`))}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(ctx, "bg", "e"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reports:
		if r.Subjects != 1 || r.DoneAt.Before(r.StartedAt) {
			t.Fatalf("background purge report = %+v, want 1 subject", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no background purge report within 30 s")
	}
	if r, ok := s.LastPurge(); !ok || r.Subjects != 1 {
		t.Fatalf("LastPurge = %+v, %v", r, ok)
	}
}

func TestPutDuringPurge(t *testing.T) {
	f := newFixture(t, testOptions())
	f.opts.PurgeDelay = -1
	s := f.open(t)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		sub := vaulttest.Subject("p")
		if _, err := s.Put(ctx, []vault.Entry{{Subject: sub, Class: "c", Value: vaulttest.Value("v")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Erase(ctx, sub, "e"); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Purge(ctx)
		done <- err
	}()
	// Writes while DropPrefix blocks them must wait, not fail.
	for i := 0; i < 50; i++ {
		if _, err := s.Put(ctx, []vault.Entry{{Subject: vaulttest.Subject("w"), Class: "c", Value: vaulttest.Value("v")}}); err != nil {
			t.Fatalf("Put during purge: %v", err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Purge: %v", err)
	}
}

func TestRotate(t *testing.T) {
	f := newFixture(t, testOptions())
	s := f.open(t)
	ctx := context.Background()
	var entries []vault.Entry
	for i := 0; i < 600; i++ { // more than one rewrap batch
		entries = append(entries, vault.Entry{Subject: vaulttest.Subject("r"), Class: "c", Value: vaulttest.Value("v")})
	}
	toks, err := s.Put(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(ctx, entries[0].Subject, "e"); err != nil {
		t.Fatal(err)
	}
	// Writes go on during the rotation.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Put(ctx, []vault.Entry{{Subject: vaulttest.Subject("during"), Class: "c", Value: vaulttest.Value("v")}}); err != nil {
				t.Errorf("Put during Rotate: %v", err)
				return
			}
		}
	}()
	n, err := s.Rotate(ctx)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if n < 599 {
		t.Fatalf("Rotate rewrapped %d DEKs, want at least 599", n)
	}
	// Every stored DEK is under version 2 now.
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixData}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k, _ := parseKey(it.Item().Key())
			if k.kind != kindDEK {
				continue
			}
			v, _ := it.Item().ValueCopy(nil)
			rec, _ := parseDEKRecord(v)
			if ver, _ := f.kp.WrappedVersion(rec.wrapped); ver != 2 {
				t.Errorf("DEK wrapped by version %d after Rotate, want 2", ver)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = f.open(t)
	res, err := s.Resolve(ctx, toks)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].State != vault.Erased {
		t.Fatalf("erased subject after Rotate = %v, want Erased", res[0].State)
	}
	for i, r := range res[1:] {
		if r.State != vault.Found || string(r.Value.Reveal()) != string(entries[i+1].Value.Reveal()) {
			t.Fatalf("Resolve after Rotate and reopen: %v", r.State)
		}
	}
}
