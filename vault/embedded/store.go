package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/piivault/piivault/internal/badgerrecover"
	"github.com/piivault/piivault/vault"
)

// maxErasureIDLen bounds the erasure ID kept in a tombstone.
const maxErasureIDLen = 256

// Store is the embedded vault backend. It is safe for concurrent use.
type Store struct {
	dir    string
	dbPath string
	gsync  *groupSync
	db     *badger.DB
	kp     vault.KeyProvider
	opts   Options
	log    *slog.Logger
	cache  *vault.DEKCache
	// commitErr is the last batch commit's failure, nil once one succeeds.
	commitErr atomic.Pointer[error]

	// life is held shared by every operation and exclusively by Close, so
	// Close waits for operations in flight.
	life   sync.RWMutex
	closed atomic.Bool

	// creators is held by every commit that can add keys under a
	// subject's prefix (the Put committer, PutBlindIndex) and by Erase's
	// tombstone-and-destroy commit; see Erase.
	creators sync.Mutex

	commits       chan *putReq
	committerDone chan struct{}
	maxTxnBytes   int
	// live holds subjects that the Put committer found without a
	// tombstone while tombstones was liveEpoch, so that its next commits
	// skip their tombstone lookups (a Badger read through every memtable
	// and level, twice per single-event append). tombstones counts the
	// tombstone commits; Erase raises it inside the transaction that
	// writes its tombstone, which runs holding creators, as does the
	// committer: a committer that finds the count unchanged knows that no
	// tombstone was committed since it filled the set. All three are
	// guarded by creators. (eraseEpoch cannot serve: Erase raises it
	// before it waits for creators, so a committer could fill the set
	// after the raise and before the tombstone.)
	live       map[string]struct{}
	liveEpoch  uint64
	tombstones uint64

	stats stats
	// erasing counts Erase calls in flight. While it is zero, Resolve
	// trusts a cached DEK to mean "not erased" and skips the tombstone
	// lookup: Erase raises it before its tombstone and lowers it only
	// after dropping the cached DEK, and a DEK is never cached again
	// once dropped (DEKCache generations).
	erasing atomic.Int64
	// eraseEpoch counts Erase calls begun, so that a Resolve that trusted
	// the cache can tell whether an erasure began while it ran.
	eraseEpoch atomic.Uint64
	// resolving counts Resolve calls in flight: a batch is split between
	// goroutines only while fewer calls than processors run, so that
	// concurrent readers do not pay for parallelism they already have.
	resolving atomic.Int32

	memLogs memLogList // see syncWAL

	purgeMu   sync.Mutex
	purgeKick chan struct{}
	stop      chan struct{}
	bgDone    chan struct{}
	lastPurge atomic.Pointer[vault.PurgeReport]
}

var _ vault.Store = (*Store)(nil)

// Open opens (creating if needed) the embedded vault in dir. kp wraps the
// subjects' DEKs and Badger's own encryption key.
func Open(dir string, kp vault.KeyProvider, opts Options) (*Store, error) {
	if kp == nil {
		return nil, fmt.Errorf("open embedded vault: nil key provider: %w", vault.ErrInvalid)
	}
	opts = opts.withDefaults()
	dbDir := filepath.Join(dir, "db")
	// Badger makes its folder without an fsync of the parent: a power cut
	// could take the whole store.
	if err := badgerrecover.CreateDir(dbDir, 0o700); err != nil {
		return nil, fmt.Errorf("open embedded vault: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bo := badger.DefaultOptions(dbDir).
		WithLogger(badgerLogger{opts.Logger}).
		WithSyncWrites(false).         // groupSync makes commits durable, see groupsync.go
		WithCompression(options.None). // values are ciphertext: nothing to gain
		WithIndexCacheSize(opts.IndexCacheSize).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithMemTableSize(opts.MemTableSize).
		WithValueLogFileSize(opts.ValueLogFileSize).
		WithNumVersionsToKeep(1).
		// Every record stays in the LSM tree, none in the value log: a
		// purge then only has tables to rewrite.
		WithValueThreshold(int64(opts.MaxValueSize) + 4096)
	if !opts.DisableEncryptionAtRest {
		key, err := loadDBKey(ctx, dir, dbDir, kp)
		if err != nil {
			return nil, err
		}
		defer clear(key)
		bo = bo.WithEncryptionKey(key)
	} else if _, err := os.Stat(filepath.Join(dir, dbKeyFile)); err == nil {
		return nil, fmt.Errorf("open embedded vault: %s exists, the database is encrypted at rest; refusing to open it with encryption off: %w", filepath.Join(dir, dbKeyFile), vault.ErrInvalid)
	}
	// A kill -9 between Badger's creation and truncation of a memtable file
	// leaves an empty one that Badger refuses to open; it holds nothing.
	removed, err := badgerrecover.RemoveEmptyMemtables(bo.Dir)
	if err != nil {
		return nil, fmt.Errorf("open embedded vault: %w", err)
	}
	if len(removed) > 0 && opts.Logger != nil {
		opts.Logger.Warn("removed empty memtable files left by a crash", "files", removed)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open embedded vault: %w", err)
	}
	s := &Store{
		dir:           dir,
		dbPath:        dbDir,
		db:            db,
		kp:            kp,
		opts:          opts,
		log:           opts.Logger,
		cache:         vault.NewDEKCache(opts.DEKCacheTTL, opts.DEKCacheSize, opts.Now),
		commits:       make(chan *putReq, 256),
		committerDone: make(chan struct{}),
		maxTxnBytes:   int(opts.MemTableSize * 15 / 100 / 2),
		purgeKick:     make(chan struct{}, 1),
		stop:          make(chan struct{}),
		bgDone:        make(chan struct{}),
	}
	s.gsync = newGroupSync(s.syncWAL)
	go s.committer()
	go s.background()
	// Finish erasures a crash interrupted between the tombstone and the
	// deletion, and queue their purge.
	queued, err := s.purgeQueue()
	if err == nil {
		for _, sub := range queued {
			if _, err = s.destroy(ctx, sub); err != nil {
				break
			}
		}
	}
	if err == nil && len(queued) > 0 {
		err = s.gsync.wait()
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open embedded vault: recover erasures: %w", err)
	}
	if len(queued) > 0 {
		s.kickPurge()
	}
	return s, nil
}

// Close stops the background purge, waits for operations in flight and
// closes the database. A second Close returns nil.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stop)
	<-s.bgDone
	s.life.Lock()
	defer s.life.Unlock()
	close(s.commits)
	<-s.committerDone
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close embedded vault: %w", err)
	}
	return nil
}

func (s *Store) begin() error {
	s.life.RLock()
	if s.closed.Load() {
		s.life.RUnlock()
		return vault.ErrClosed
	}
	return nil
}

func (s *Store) end() { s.life.RUnlock() }

// storageErr marks Badger failures as ErrUnavailable and lets the vault's
// own errors and context errors through.
func storageErr(err error) error {
	if err == nil {
		return nil
	}
	for _, keep := range []error{vault.ErrErased, vault.ErrInvalid, vault.ErrTampered, vault.ErrUnavailable,
		vault.ErrClosed, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, keep) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", vault.ErrUnavailable, err)
}

// retryable reports errors after which a write transaction is simply run
// again: a conflict with a concurrent writer, or writes blocked by a purge.
func retryable(err error) bool {
	return errors.Is(err, badger.ErrConflict) || errors.Is(err, badger.ErrBlockedWrites)
}

// backoff sleeps before retry n, or returns the context's error.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(1<<min(n, 6)) * time.Millisecond // 1 ms .. 64 ms
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// update runs fn in a read-write transaction, again after conflicts and
// while a purge blocks writes, and returns once the commit is durable.
func (s *Store) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := s.commit(ctx, fn); err != nil {
		return err
	}
	return s.gsync.wait()
}

// commitLocked is commit holding s.creators, which serializes it with
// every transaction that can create keys under a subject's prefix.
func (s *Store) commitLocked(ctx context.Context, fn func(txn *badger.Txn) error) error {
	return s.commit(ctx, fn, &s.creators)
}

// commit is update without waiting for durability: the commit is visible
// at once and durable with the next group fsync. A later commit's fsync
// covers it too, since the memtable log is replayed in order and stops at
// the first gap.
func (s *Store) commit(ctx context.Context, fn func(txn *badger.Txn) error, lock ...sync.Locker) error {
	for n := 0; ; n++ {
		for _, l := range lock {
			l.Lock()
		}
		err := s.db.Update(fn)
		for _, l := range lock {
			l.Unlock()
		}
		if !retryable(err) {
			return err
		}
		if err := backoff(ctx, n); err != nil {
			return err
		}
	}
}

// Resolve implements vault.Store.
func (s *Store) Resolve(ctx context.Context, toks []vault.Token) ([]vault.Resolved, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	s.resolving.Add(1)
	defer s.resolving.Add(-1)
	epoch := s.eraseEpoch.Load()
	trust := s.erasing.Load() == 0
	out, err := s.resolve(ctx, toks, trust)
	if err == nil && trust && s.eraseEpoch.Load() != epoch {
		// An erasure began meanwhile: the cached DEKs proved nothing.
		out, err = s.resolve(ctx, toks, false)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve tokens: %w", storageErr(err))
	}
	return out, nil
}

// resolveExpired marks r Expired if the value was destroyed by Expire.
func resolveExpired(txn *badger.Txn, subject string, id [vault.TokenIDSize]byte, r *vault.Resolved) error {
	item, err := txn.Get(expiredKey(subject, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return item.Value(func(v []byte) error {
		rec, err := parseExpiryRecord(v)
		if err != nil {
			return fmt.Errorf("resolve: %w", vault.ErrTampered)
		}
		r.State, r.Class = vault.Expired, rec.class
		return nil
	})
}

func getPurgeRecord(txn *badger.Txn, subject string) (purgeRecord, bool, error) {
	item, err := txn.Get(purgeKey(subject))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return purgeRecord{}, false, nil
	}
	if err != nil {
		return purgeRecord{}, false, err
	}
	var rec purgeRecord
	err = item.Value(func(v []byte) error {
		var err error
		rec, err = parsePurgeRecord(v)
		return err
	})
	return rec, true, err
}

func isErased(txn *badger.Txn, subject string) (bool, error) {
	return hasKey(txn, tombKey(subject))
}

// hasKey reports whether txn sees key.
func hasKey(txn *badger.Txn, key []byte) (bool, error) {
	_, err := txn.Get(key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	default:
		return false, err
	}
}

func getTomb(txn *badger.Txn, subject string) (tombRecord, bool, error) {
	item, err := txn.Get(tombKey(subject))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return tombRecord{}, false, nil
	}
	if err != nil {
		return tombRecord{}, false, err
	}
	var rec tombRecord
	err = item.Value(func(v []byte) error {
		var err error
		rec, err = parseTombRecord(v)
		rec.erasureID = string([]byte(rec.erasureID)) // detach from v
		return err
	})
	return rec, true, err
}

// loadDEK returns the subject's DEK from the cache or the store, or nil if
// the subject has none. gen is the cache generation read before txn began:
// read later, it could postdate an erasure the txn's snapshot predates, and
// the DEK read from that snapshot would be cached again after the erasure
// dropped it.
func (s *Store) loadDEK(ctx context.Context, txn *badger.Txn, subject string, gen uint64) (*vault.DEK, error) {
	if k, ok := s.cache.Get(subject); ok {
		return k, nil
	}
	item, err := txn.Get(dekKey(subject))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	k, err := s.unwrapDEK(ctx, item)
	if err != nil {
		return nil, err
	}
	s.cache.Add(subject, k, gen)
	return k, nil
}

// unwrapDEK unwraps the DEK of item, a subject's DEK record.
func (s *Store) unwrapDEK(ctx context.Context, item *badger.Item) (*vault.DEK, error) {
	var wrapped []byte
	if err := item.Value(func(v []byte) error {
		rec, err := parseDEKRecord(v)
		if err != nil {
			return fmt.Errorf("load dek: %w", vault.ErrTampered)
		}
		wrapped = append([]byte(nil), rec.wrapped...)
		return nil
	}); err != nil {
		return nil, err
	}
	return vault.UnwrapDEK(ctx, s.kp, wrapped)
}

// Delete implements vault.Store. Tokens that do not parse or name nothing
// are ignored.
func (s *Store) Delete(ctx context.Context, toks []vault.Token) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	// Keys by subject, so that a subject's tombstone is read once.
	bySubject := make(map[string][][]byte)
	var subjects []string
	memo := make(map[string]string)
	for _, tok := range toks {
		sub, id, err := vault.SplitTokenMemo(tok, memo)
		if err != nil {
			continue
		}
		if _, ok := bySubject[sub]; !ok {
			subjects = append(subjects, sub)
		}
		bySubject[sub] = append(bySubject[sub], valueKey(sub, id))
	}
	if len(subjects) == 0 {
		return nil
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		for _, sub := range subjects {
			// Blind deletes, but none under an erased subject: they would
			// leave markers under its prefix, maybe after its purge. An
			// Erase committing after this read conflicts with the
			// transaction, which then runs again and sees the tombstone.
			if erased, err := isErased(txn, sub); err != nil {
				return err
			} else if erased {
				continue
			}
			for _, k := range bySubject[sub] {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete tokens: %w", storageErr(err))
	}
	return nil
}

// Erase implements vault.Store.
func (s *Store) Erase(ctx context.Context, subject, erasureID string) (vault.EraseResult, error) {
	if err := vault.ValidateSubject(subject); err != nil {
		return vault.EraseResult{}, fmt.Errorf("erase subject: %w", err)
	}
	if erasureID == "" || len(erasureID) > maxErasureIDLen || !utf8.ValidString(erasureID) {
		return vault.EraseResult{}, fmt.Errorf("erase subject: erasure ID must be 1..%d bytes of UTF-8: %w", maxErasureIDLen, vault.ErrInvalid)
	}
	if err := s.begin(); err != nil {
		return vault.EraseResult{}, err
	}
	defer s.end()
	s.eraseEpoch.Add(1)
	s.erasing.Add(1)
	defer s.erasing.Add(-1) // after step 3, see Store.erasing
	var tomb tombRecord
	var already bool
	var d destroyed
	// Steps 1 and 2 in one commit: the tombstone, and the DEK and values
	// (the first destroyBatch keys; a bigger subject continues below, when
	// the tombstone already stops new keys). Readers see Erased and the
	// values gone at the same instant. The commit holds s.creators, so no
	// Put (nor blind-index write) can add a key the transaction's snapshot
	// missed: a creator either committed before the snapshot, and its keys
	// are deleted here, or commits after, and finds the tombstone.
	err := s.commitLocked(ctx, func(txn *badger.Txn) error {
		rec, ok, err := getTomb(txn, subject)
		if err != nil {
			return err
		}
		if ok {
			tomb, already, d = rec, true, destroyed{}
			return nil
		}
		tomb, already = tombRecord{erasedAt: s.opts.Now(), erasureID: erasureID}, false
		if err := txn.Set(tombKey(subject), tomb.encode()); err != nil {
			return err
		}
		s.tombstones++ // under creators, see Store.live
		if err := txn.Set(purgeKey(subject), nil); err != nil {
			return err
		}
		d, err = destroyInTxn(txn, subject)
		return err
	})
	if err == nil && (already || d.more) {
		// The rest of a big subject, or what a crash left of an earlier
		// erasure of this one.
		var rest destroyed
		rest, err = s.destroy(ctx, subject)
		d.add(rest)
	}
	if err == nil {
		err = s.gsync.wait()
	}
	// Step 3: the cached DEK, whatever steps 1 and 2 did.
	s.cache.Drop(subject)
	if !already || d.keys > 0 || err != nil {
		// The purge also finishes a destroy that failed here.
		s.kickPurge()
	}
	if err != nil {
		return vault.EraseResult{}, fmt.Errorf("erase subject: %w", storageErr(err))
	}
	n, dekGone := d.values, d.dek
	s.log.LogAttrs(ctx, slog.LevelInfo, "vault subject erased",
		slog.String(attrErasureID, tomb.erasureID), slog.Int(attrValues, n))
	return vault.EraseResult{
		Subject:       subject,
		ErasureID:     tomb.erasureID,
		ErasedAt:      tomb.erasedAt,
		ValuesDeleted: n,
		DEKDestroyed:  dekGone,
		AlreadyErased: already,
	}, nil
}

// destroyBatch bounds the keys deleted per transaction.
const destroyBatch = 4096

// destroyed is what one destroy transaction deleted.
type destroyed struct {
	values int  // value keys
	keys   int  // keys of any kind
	dek    bool // the DEK
	more   bool // keys left for another transaction
}

func (d *destroyed) add(o destroyed) {
	d.values += o.values
	d.keys += o.keys
	d.dek = d.dek || o.dek
	d.more = o.more
}

// destroy deletes everything under the subject's prefix (DEK and values)
// and leaves the purge-pending marker, so that DropPrefix will see the
// prefix. The caller waits for durability.
func (s *Store) destroy(ctx context.Context, subject string) (destroyed, error) {
	var total destroyed
	for {
		var d destroyed
		err := s.commit(ctx, func(txn *badger.Txn) error {
			var err error
			d, err = destroyInTxn(txn, subject)
			return err
		})
		if err != nil {
			return total, err
		}
		total.add(d)
		if !d.more {
			return total, nil
		}
	}
}

// destroyInTxn deletes up to destroyBatch keys under the subject's prefix
// in txn, with the blind-index lookup entries they name.
func destroyInTxn(txn *badger.Txn, subject string) (destroyed, error) {
	var d destroyed
	prefix := subjectPrefix(subject)
	var found [][]byte
	func() {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if len(found) == destroyBatch {
				d.more = true
				return
			}
			k := it.Item().KeyCopy(nil)
			switch k[len(prefix)] {
			case kindMarker:
				continue
			case kindDEK:
				d.dek = true
			case kindValue:
				d.values++
			}
			found = append(found, k)
		}
	}()
	if len(found) == 0 {
		return d, nil
	}
	d.keys = len(found)
	var extra [][]byte
	for _, k := range found {
		if err := txn.Delete(k); err != nil {
			return d, err
		}
		if k[len(prefix)] != kindBlind {
			continue
		}
		// The lookup side lives outside the subject's prefix: delete it,
		// leave a live marker for DropPrefix, and queue its prefix for the
		// purge.
		bk, err := parseKey(k)
		if err != nil {
			return d, fmt.Errorf("destroy: %w", err)
		}
		digest := []byte(bk.digest)
		if err := txn.Delete(blindLookupKey(bk.class, digest, subject, blindEntry)); err != nil {
			return d, err
		}
		if err := txn.Set(blindLookupKey(bk.class, digest, subject, blindMarker), nil); err != nil {
			return d, err
		}
		extra = append(extra, blindSubjectPrefix(bk.class, digest, subject))
	}
	if len(extra) > 0 {
		rec, _, err := getPurgeRecord(txn, subject)
		if err != nil {
			return d, err
		}
		rec.prefixes = append(rec.prefixes, extra...)
		if err := txn.Set(purgeKey(subject), rec.encode()); err != nil {
			return d, err
		}
	}
	return d, txn.Set(markerKey(subject), nil)
}

// Export implements vault.Store. An erased subject has nothing to export.
func (s *Store) Export(ctx context.Context, subject string) ([]vault.Record, error) {
	if err := vault.ValidateSubject(subject); err != nil {
		return nil, fmt.Errorf("export subject: %w", err)
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	recs := []vault.Record{}
	gen := s.cache.Generation() // before the snapshot, see loadDEK
	err := s.db.View(func(txn *badger.Txn) error {
		erased, err := isErased(txn, subject)
		if err != nil || erased {
			return err
		}
		dek, err := s.loadDEK(ctx, txn, subject, gen)
		if err != nil || dek == nil {
			return err
		}
		return s.eachValue(txn, subject, func(tok vault.Token, rec valueRecord) error {
			pt, err := dek.Open(subject, tok, rec.class, rec.sealed)
			if err != nil {
				return err
			}
			recs = append(recs, vault.Record{Token: tok, Class: rec.class, Value: vault.NewPII(pt), CreatedAt: rec.createdAt})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("export subject: %w", storageErr(err))
	}
	slices.SortFunc(recs, func(a, b vault.Record) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Token, b.Token))
	})
	return recs, nil
}

// eachValue calls fn for every value record of subject; rec aliases
// Badger's buffer only for the duration of the call.
func (s *Store) eachValue(txn *badger.Txn, subject string, fn func(vault.Token, valueRecord) error) error {
	prefix := valuesPrefix(subject)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k, err := parseKey(item.Key())
		if err != nil || k.kind != kindValue {
			return fmt.Errorf("read values: %w", vault.ErrTampered)
		}
		tok := vault.FormatToken(subject, k.id)
		if err := item.Value(func(v []byte) error {
			rec, err := parseValueRecord(v)
			if err != nil {
				return fmt.Errorf("read values: %w", vault.ErrTampered)
			}
			return fn(tok, rec)
		}); err != nil {
			return err
		}
	}
	return nil
}

// Describe implements vault.Store.
func (s *Store) Describe(ctx context.Context, subject string) (vault.SubjectInfo, error) {
	if err := vault.ValidateSubject(subject); err != nil {
		return vault.SubjectInfo{}, fmt.Errorf("describe subject: %w", err)
	}
	if err := s.begin(); err != nil {
		return vault.SubjectInfo{}, err
	}
	defer s.end()
	info := vault.SubjectInfo{Subject: subject}
	err := s.db.View(func(txn *badger.Txn) error {
		tomb, erased, err := getTomb(txn, subject)
		if err != nil {
			return err
		}
		if erased {
			info.Erased, info.ErasedAt, info.ErasureID = true, tomb.erasedAt, tomb.erasureID
			return nil
		}
		return s.eachValue(txn, subject, func(tok vault.Token, rec valueRecord) error {
			info.Tokens = append(info.Tokens, vault.TokenInfo{Token: tok, Class: rec.class, CreatedAt: rec.createdAt})
			return nil
		})
	})
	if err != nil {
		return vault.SubjectInfo{}, fmt.Errorf("describe subject: %w", storageErr(err))
	}
	slices.SortFunc(info.Tokens, func(a, b vault.TokenInfo) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Token, b.Token))
	})
	return info, nil
}

// badgerLogger forwards Badger's warnings and errors to slog and drops its
// info and debug chatter (which names keys, hence subject IDs).
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error("badger", slog.String("detail", fmt.Sprintf(f, a...)))
}
func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn("badger", slog.String("detail", fmt.Sprintf(f, a...)))
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
