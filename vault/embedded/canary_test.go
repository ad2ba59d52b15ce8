package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/vault"
)

// canarySubject is what the canary test knows about one subject: the
// secrets that must vanish from disk when it is erased.
type canarySubject struct {
	id       string
	canaries []string
	entries  []vault.Entry
	toks     []vault.Token
	dek      []byte   // raw DEK
	wrapped  []byte   // wrapped DEK as stored
	sealed   [][]byte // ciphertexts as stored
	digest   []byte   // blind-index digest
}

// needles returns the byte strings whose presence on disk would mean the
// subject's data or key survived.
func (c *canarySubject) needles() map[string][]byte {
	m := map[string][]byte{"dek": c.dek, "wrapped dek": c.wrapped, "blind digest": c.digest}
	for i, s := range c.canaries {
		m[fmt.Sprintf("canary %d", i)] = []byte(s)
	}
	for i, s := range c.sealed {
		m[fmt.Sprintf("ciphertext %d", i)] = s
	}
	return m
}

// TestCanaryScan writes unique random canaries for 100 subjects, erases 50,
// purges, closes, and scans every byte of every file under the data folder
// for the erased subjects' canaries, DEKs, wrapped DEKs, ciphertexts and
// blind-index digests. It
// runs with Badger's encryption at rest off, where the scan can see
// anything that is left, and on, the production setting. With encryption
// off, a control scan before the purge must find the erased subjects'
// wrapped DEKs and ciphertexts, and the final scan must find the kept
// subjects' ones, so an empty result means "gone", not "scanner blind".
//
// It purges as Purge does on demand (the whole queue at once) and, with
// encryption at rest off, also as the background purge does (purgeChunk
// subjects per DropPrefix call).
func TestCanaryScan(t *testing.T) {
	for _, tc := range []struct {
		encrypted, chunked bool
	}{{false, false}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("encryptionAtRest=%v/chunked=%v", tc.encrypted, tc.chunked), func(t *testing.T) {
			testCanaryScan(t, tc.encrypted, tc.chunked)
		})
	}
}

func testCanaryScan(t *testing.T, encrypted, chunked bool) {
	ctx := context.Background()
	opts := testOptions()
	opts.DisableEncryptionAtRest = !encrypted
	opts.PurgeDelay = -1 // purge on demand only, so the control scan sees the state before it
	f := newFixture(t, opts)
	s := f.open(t)

	const n, valuesPer = 100, 3
	subjects := make([]*canarySubject, n)
	for i := range subjects {
		c := &canarySubject{id: fmt.Sprintf("canary-subject-%03d", i)}
		for j := 0; j < valuesPer; j++ {
			var b [16]byte
			if _, err := rand.Read(b[:]); err != nil {
				t.Fatal(err)
			}
			canary := "CANARY" + hex.EncodeToString(b[:])
			c.canaries = append(c.canaries, canary)
			c.entries = append(c.entries, vault.Entry{Subject: c.id, Class: "email", Value: vault.NewPII([]byte(`"` + canary + `@example.com"`))})
		}
		toks, err := s.Put(ctx, c.entries)
		if err != nil {
			t.Fatal(err)
		}
		c.toks = toks
		c.digest = make([]byte, 32)
		if _, err := rand.Read(c.digest); err != nil {
			t.Fatal(err)
		}
		if err := s.PutBlindIndex(ctx, c.id, "email", c.digest); err != nil {
			t.Fatal(err)
		}
		subjects[i] = c
		readSecrets(t, s, c)
		if i == n/2-1 {
			// The first half goes to tables (flushed by a reopen, then
			// compacted), the second half stays in the memtable and its
			// log, so the purge has to handle both.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = f.open(t)
			if err := s.db.Flatten(1); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Erase every other subject: half of them on tables, half in memory.
	var erased, kept []*canarySubject
	for i, c := range subjects {
		if i%2 == 0 {
			erased = append(erased, c)
		} else {
			kept = append(kept, c)
		}
	}
	for _, c := range erased {
		if _, err := s.Erase(ctx, c.id, "erasure-"+c.id); err != nil {
			t.Fatal(err)
		}
	}

	dataDir := f.dir
	if !encrypted {
		// Control, with the store open: before the purge the deleted bytes
		// are still on disk, in tables and in the memtable's log.
		found := scanDir(t, dataDir, erased)
		if len(found) < len(erased)*(valuesPer+2) {
			t.Fatalf("control scan before purge found %d secrets of erased subjects, want at least %d (wrapped DEKs, ciphertexts, blind digests): the scan cannot see the store's bytes",
				len(found), len(erased)*(valuesPer+2))
		}
		t.Logf("control scan before purge: %d secrets of erased subjects on disk (expected)", len(found))
	} else {
		// With Badger's encryption at rest on, not even the deleted-but-
		// not-purged bytes are readable on disk: this shows it is on.
		if found := scanDir(t, dataDir, subjects); len(found) > 0 {
			t.Fatalf("encryption at rest on, yet %d stored secrets appear in clear on disk, first: %s", len(found), found[0])
		}
	}

	var rep vault.PurgeReport
	var err error
	if chunked {
		chunks := 1
		rep, _, err = s.runPurge(ctx, func() bool { chunks++; return true })
		if want := (n/2 + purgeChunk - 1) / purgeChunk; err == nil && chunks != want {
			t.Fatalf("chunked purge of %d subjects took %d chunks, want %d", n/2, chunks, want)
		}
	} else {
		rep, err = s.Purge(ctx)
	}
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if rep.Subjects != n/2 {
		t.Fatalf("Purge report %+v, want %d subjects", rep, n/2)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if found := scanDir(t, dataDir, erased); len(found) > 0 {
		for _, hit := range found[:min(len(found), 10)] {
			t.Errorf("after purge: %s", hit)
		}
		t.Fatalf("after purge, %d secrets of erased subjects are still on disk", len(found))
	}
	if !encrypted {
		if found := scanDir(t, dataDir, kept); len(found) == 0 {
			t.Fatal("final scan found nothing of the kept subjects either: the scan cannot see the store's bytes")
		}
	}

	s = f.open(t)
	for _, c := range kept {
		res, err := s.Resolve(ctx, c.toks)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.State != vault.Found || !bytes.Equal(r.Value.Reveal(), c.entries[i].Value.Reveal()) {
				t.Fatalf("kept subject %s token %d: state %v after purge, want Found with its value", c.id, i, r.State)
			}
		}
	}
	for _, c := range kept {
		if got, err := s.LookupBlindIndex(ctx, "email", c.digest); err != nil || len(got) != 1 || got[0] != c.id {
			t.Fatalf("kept subject %s: blind-index lookup = %q, %v", c.id, got, err)
		}
	}
	for _, c := range erased {
		if got, err := s.LookupBlindIndex(ctx, "email", c.digest); err != nil || len(got) != 0 {
			t.Fatalf("erased subject %s: blind-index lookup = %q, %v; want none", c.id, got, err)
		}
		res, err := s.Resolve(ctx, c.toks)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.State != vault.Erased {
				t.Fatalf("erased subject %s: state %v, want Erased", c.id, r.State)
			}
		}
	}
}

// readSecrets records the subject's DEK, wrapped DEK and ciphertexts as
// the store holds them.
func readSecrets(t *testing.T, s *Store, c *canarySubject) {
	t.Helper()
	err := s.db.View(func(txn *badger.Txn) error {
		v, err := getCopy(txn, dekKey(c.id))
		if err != nil {
			return err
		}
		rec, err := parseDEKRecord(v)
		if err != nil {
			return err
		}
		c.wrapped = rec.wrapped
		for _, tok := range c.toks {
			v, err := getCopy(txn, tokenKey(t, tok))
			if err != nil {
				return err
			}
			vr, err := parseValueRecord(v)
			if err != nil {
				return err
			}
			c.sealed = append(c.sealed, vr.sealed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dek, err := s.kp.Unwrap(context.Background(), c.wrapped)
	if err != nil {
		t.Fatal(err)
	}
	c.dek = dek
}

// scanDir reads every byte of every file under dir and reports each needle
// of the given subjects it finds. It indexes needles by their first 8
// bytes, so one pass over the data is enough.
func scanDir(t *testing.T, dir string, subjects []*canarySubject) []string {
	t.Helper()
	type needle struct {
		what string
		b    []byte
	}
	index := map[uint64][]needle{}
	for _, c := range subjects {
		for what, b := range c.needles() {
			if len(b) < 8 {
				t.Fatalf("needle %s of %s is shorter than 8 bytes", what, c.id)
			}
			k := binary.LittleEndian.Uint64(b)
			index[k] = append(index[k], needle{c.id + " " + what, b})
		}
	}
	var found []string
	files := 0
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		total += int64(len(data))
		for i := 0; i+8 <= len(data); i++ {
			cands, ok := index[binary.LittleEndian.Uint64(data[i:])]
			if !ok {
				continue
			}
			for _, nd := range cands {
				if bytes.HasPrefix(data[i:], nd.b) {
					found = append(found, fmt.Sprintf("%s at %s+%d", nd.what, filepath.Base(path), i))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("scan found no files")
	}
	t.Logf("scanned %d files, %d bytes", files, total)
	return found
}
