package embedded

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/vault"
)

// errStaleDEK tells a Put that the DEK it sealed with is not the subject's
// stored DEK (another Put created one first): seal again.
var errStaleDEK = errors.New("embedded: stale dek")

// putReq is one Put call, sealed and ready for the committer.
type putReq struct {
	subjects []subjectPut
	keys     [][]byte // every subject's value keys
	vals     [][]byte // their records
	bytes    int
	done     chan error
}

// subjectPut is what one Put writes for one subject besides its values.
type subjectPut struct {
	subject string
	dek     *vault.DEK
	gen     uint64 // cache generation read before the DEK was loaded
	newDEK  []byte // DEK record, set when this Put created the DEK
}

// Put implements vault.Store: all entries or none, durable on return.
func (s *Store) Put(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	return s.put(ctx, entries, true)
}

// PutUnsynced is Put that returns once the values are committed, before
// they are durable: a crash may lose them until a Sync that started after
// PutUnsynced returned has returned. It lets a caller share one Sync among
// many Puts and order it before its own durable write (the event log syncs
// the vault just before it commits a group of events that refer to such
// values, so an event is never durable before its values). Reads see the
// values at once.
func (s *Store) PutUnsynced(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	return s.put(ctx, entries, false)
}

// Sync returns once every value committed before the call is durable. One
// fsync serves every concurrent caller (and concurrent Puts). A failed
// fsync is sticky: every later Sync, and every write, fails too.
func (s *Store) Sync() error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	if err := s.gsync.wait(); err != nil {
		return fmt.Errorf("sync vault: %w", storageErr(err))
	}
	return nil
}

func (s *Store) put(ctx context.Context, entries []vault.Entry, durable bool) ([]vault.Token, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	for i, e := range entries {
		if err := vault.ValidateSubject(e.Subject); err != nil {
			return nil, fmt.Errorf("put entry %d: %w", i, err)
		}
		if err := vault.ValidateClass(e.Class); err != nil {
			return nil, fmt.Errorf("put entry %d: %w", i, err)
		}
		if e.Value.IsZero() {
			return nil, fmt.Errorf("put entry %d: empty value: %w", i, vault.ErrInvalid)
		}
		if n := len(e.Value.Reveal()); n > s.opts.MaxValueSize {
			return nil, fmt.Errorf("put entry %d: value is %d bytes, at most %d allowed: %w", i, n, s.opts.MaxValueSize, vault.ErrInvalid)
		}
	}
	if len(entries) == 0 {
		return []vault.Token{}, nil
	}
	for n := 0; ; n++ {
		req, toks, err := s.preparePut(ctx, entries)
		if err != nil {
			return nil, fmt.Errorf("put values: %w", storageErr(err))
		}
		select {
		case s.commits <- req:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// Wait for the outcome even if ctx ends meanwhile: the caller must
		// not be told "failed" for values that were stored.
		err = <-req.done
		if errors.Is(err, errStaleDEK) && n < 10 {
			for _, sp := range req.subjects {
				s.cache.Drop(sp.subject)
			}
			continue
		}
		if err == nil && durable {
			// Committed; durable once an fsync that started after the
			// commit is done. Callers of a batch share that fsync, and the
			// committer goes on with the next batch meanwhile.
			err = s.gsync.wait()
		}
		if err != nil {
			return nil, fmt.Errorf("put values: %w", storageErr(err))
		}
		for _, sp := range req.subjects {
			if sp.newDEK != nil {
				s.cache.Add(sp.subject, sp.dek, sp.gen)
			}
		}
		return toks, nil
	}
}

// Parts of a Put's work that run on several goroutines: at least this
// many items per goroutine, below which starting one costs more than it
// saves (sealing a value takes about 2 us, creating or unwrapping a DEK
// about 5 us).
const (
	sealPart = 32
	dekPart  = 8
)

// preparePut finds or creates each subject's DEK and seals the values. It
// runs in the caller's goroutine, and a big Put (from 2*sealPart entries)
// spreads its sealing, and DEK creation, over up to GOMAXPROCS goroutines:
// a single appender's batch would otherwise seal on one core while the
// others wait.
func (s *Store) preparePut(ctx context.Context, entries []vault.Entry) (*putReq, []vault.Token, error) {
	req := &putReq{
		done: make(chan error, 1),
		keys: make([][]byte, len(entries)),
		vals: make([][]byte, len(entries)),
	}
	// subj[i] is the index in req.subjects of entry i's subject.
	subj := make([]int32, len(entries))
	idx := make(map[string]int32, 4)
	for i, e := range entries {
		j, ok := idx[e.Subject]
		if !ok {
			j = int32(len(req.subjects))
			idx[e.Subject] = j
			req.subjects = append(req.subjects, subjectPut{subject: e.Subject})
		}
		subj[i] = j
	}
	if err := s.deksForPut(ctx, req.subjects); err != nil {
		return nil, nil, err
	}
	now := s.opts.Now()
	ids, err := newTokenIDs(len(entries), now)
	if err != nil {
		return nil, nil, err
	}
	toks := make([]vault.Token, len(entries))
	err = inParallel(len(entries), sealPart, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			e := entries[i]
			id := [vault.TokenIDSize]byte(ids[i*vault.TokenIDSize:])
			tok := vault.FormatToken(e.Subject, id)
			sealed, err := req.subjects[subj[i]].dek.Seal(e.Subject, tok, e.Class, e.Value.Reveal())
			if err != nil {
				return err
			}
			toks[i] = tok
			req.keys[i] = valueKey(e.Subject, id)
			req.vals[i] = valueRecord{createdAt: now, class: e.Class, sealed: sealed}.encode()
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for i := range entries {
		req.bytes += len(req.keys[i]) + len(req.vals[i]) + 64
	}
	for _, sp := range req.subjects {
		req.bytes += len(sp.newDEK) + 64
	}
	return req, toks, nil
}

// deksForPut sets each subject's DEK: cached, stored, or new (then newDEK
// holds the record to write). The stored DEKs of subjects the cache misses
// are read in one transaction (by up to GOMAXPROCS goroutines, which also
// unwrap or create the DEKs). It does not look for a tombstone: the
// committer does, in the transaction that writes, which is the check that
// counts; an erased subject has no DEK, so its Put only wastes a fresh one.
func (s *Store) deksForPut(ctx context.Context, subjects []subjectPut) error {
	var missed []int
	for j := range subjects {
		if k, ok := s.cache.Get(subjects[j].subject); ok {
			subjects[j].dek = k
		} else {
			missed = append(missed, j)
		}
	}
	if len(missed) == 0 {
		return nil
	}
	gen := s.cache.Generation() // before the snapshot, see loadDEK
	now := s.opts.Now()
	return s.db.View(func(txn *badger.Txn) error {
		return inParallel(len(missed), dekPart, func(lo, hi int) error {
			for _, j := range missed[lo:hi] {
				if err := s.dekForPut(ctx, txn, &subjects[j], gen, now); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// dekForPut sets sp's DEK from the store, or creates one. It may run on
// several goroutines sharing txn.
func (s *Store) dekForPut(ctx context.Context, txn *badger.Txn, sp *subjectPut, gen uint64, now time.Time) error {
	sp.gen = gen
	item, err := txn.Get(dekKey(sp.subject))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		if sp.dek, err = vault.NewDEK(); err != nil {
			return err
		}
		wrapped, err := vault.WrapDEK(ctx, s.kp, sp.dek)
		if err != nil {
			return err
		}
		sp.newDEK = dekRecord{createdAt: now, wrapped: wrapped}.encode()
		return nil
	case err != nil:
		return err
	}
	if sp.dek, err = s.unwrapDEK(ctx, item); err != nil {
		return err
	}
	s.cache.Add(sp.subject, sp.dek, gen)
	return nil
}

// inParallel calls fn on the parts of [0, n), on up to GOMAXPROCS
// goroutines (the caller's one of them) when n holds at least 2*minPart
// items, and returns an error of fn if any. The goroutines take parts of
// minPart/4 items in turn rather than a fixed share each: on a busy
// machine a helper may start late or be descheduled, and the caller then
// does its share instead of waiting for it.
func inParallel(n, minPart int, fn func(lo, hi int) error) error {
	w := min(runtime.GOMAXPROCS(0), n/minPart)
	if w <= 1 {
		return fn(0, n)
	}
	part := max(1, minPart/4)
	var next atomic.Int64
	var failed atomic.Pointer[error]
	work := func() {
		for failed.Load() == nil {
			hi := int(next.Add(int64(part)))
			lo := hi - part
			if lo >= n {
				return
			}
			if err := fn(lo, min(hi, n)); err != nil {
				failed.CompareAndSwap(nil, &err)
				return
			}
		}
	}
	var wg sync.WaitGroup
	for range w - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
	if err := failed.Load(); err != nil {
		return *err
	}
	return nil
}

// committer packs waiting Puts into one transaction and one fsync.
func (s *Store) committer() {
	defer close(s.committerDone)
	for req := range s.commits {
		batch := []*putReq{req}
		size := req.bytes
	collect:
		for len(batch) < s.opts.MaxBatchPuts && size < s.maxTxnBytes {
			select {
			case r, ok := <-s.commits:
				if !ok {
					break collect
				}
				batch = append(batch, r)
				size += r.bytes
			default:
				break collect
			}
		}
		t0 := time.Now()
		s.commitBatch(batch)
		s.stats.groupCommits.Add(1)
		s.stats.commitNanos.Add(int64(time.Since(t0)))
		s.stats.committedPuts.Add(int64(len(batch)))
	}
}

// stats are counters for Stats.
type stats struct {
	groupCommits  atomic.Int64
	committedPuts atomic.Int64
	commitNanos   atomic.Int64
}

// Stats are counters of a Store since Open.
type Stats struct {
	// GroupCommits is how many transactions (and fsyncs) Puts took.
	GroupCommits int64
	// CommittedPuts is how many Put calls those transactions held.
	CommittedPuts int64
	// CommitTime is the total time spent committing them.
	CommitTime time.Duration
	// Syncs is how many group fsyncs ran, for every kind of write.
	Syncs uint64
	// SyncTime is the total time spent in them.
	SyncTime time.Duration
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	n, d := s.gsync.stats()
	return Stats{
		Syncs:         n,
		SyncTime:      d,
		GroupCommits:  s.stats.groupCommits.Load(),
		CommittedPuts: s.stats.committedPuts.Load(),
		CommitTime:    time.Duration(s.stats.commitNanos.Load()),
	}
}

// KEKVersion returns the key-encryption key version new data keys are
// wrapped with, if the key provider tells it (keys.Local does); ok is false
// otherwise.
func (s *Store) KEKVersion() (v uint32, ok bool) {
	if kv, is := s.kp.(interface{ Version() uint32 }); is {
		return kv.Version(), true
	}
	return 0, false
}

// WriteErr says why the store cannot write, nil if it can: the sticky
// fsync error (lasts until the store is reopened), else the error of the
// last batch commit if it failed (cleared by the next one that succeeds).
// A readiness probe asks it.
func (s *Store) WriteErr() error {
	if err := s.gsync.failed(); err != nil {
		return fmt.Errorf("vault sync failed: %w", err)
	}
	if p := s.commitErr.Load(); p != nil {
		return fmt.Errorf("vault commit failed: %w", *p)
	}
	return nil
}

// commitBatch commits a batch and tells every caller its outcome.
func (s *Store) commitBatch(batch []*putReq) {
	// The committer has no caller context; a purge blocking writes for
	// longer than this is reported as unavailable.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for n := 0; ; n++ {
		outcome, err := s.tryCommit(batch)
		switch {
		case err == nil:
			s.commitErr.Store(nil)
			for i, r := range batch {
				r.done <- outcome[i]
			}
			return
		case errors.Is(err, badger.ErrTxnTooBig) && len(batch) > 1:
			for _, r := range batch {
				s.commitBatch([]*putReq{r})
			}
			return
		case retryable(err):
			if berr := backoff(ctx, n); berr == nil {
				continue
			}
		}
		if !errors.Is(err, badger.ErrTxnTooBig) && !retryable(err) {
			s.commitErr.Store(&err)
		}
		for _, r := range batch {
			r.done <- err
		}
		return
	}
}

// subjectCheck is what the committer reads of one subject of a batch.
type subjectCheck struct {
	subject string
	live    bool // in Store.live: no tombstone, no need to look
	newDEK  bool // a Put of the batch creates the subject's DEK
	erased  bool
	hasDEK  bool // read only where newDEK
}

// checkPart is the fewest subjects a committer's goroutine checks.
const checkPart = 32

// maxLive bounds Store.live; past it the set starts again.
const maxLive = 1 << 16

// tryCommit writes the batch in one transaction. Requests whose subject was
// erased, or whose DEK lost a creation race, get their own error and write
// nothing; the others commit together.
func (s *Store) tryCommit(batch []*putReq) ([]error, error) {
	s.creators.Lock() // see Erase
	defer s.creators.Unlock()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	// Every subject's tombstone, and whether a DEK exists where a Put
	// creates one, read on up to GOMAXPROCS goroutines sharing txn (Badger
	// allows concurrent reads in a transaction): a batch of one big Put
	// would otherwise read them one by one while the caller waits.
	idx := make(map[string]int)
	var checks []subjectCheck
	for _, r := range batch {
		for _, sp := range r.subjects {
			c, ok := idx[sp.subject]
			if !ok {
				c = len(checks)
				idx[sp.subject] = c
				checks = append(checks, subjectCheck{subject: sp.subject})
			}
			checks[c].newDEK = checks[c].newDEK || sp.newDEK != nil
		}
	}
	if s.live == nil || s.tombstones != s.liveEpoch || len(s.live) > maxLive {
		s.live, s.liveEpoch = make(map[string]struct{}), s.tombstones
	}
	for i := range checks {
		_, checks[i].live = s.live[checks[i].subject]
	}
	err := inParallel(len(checks), checkPart, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			c := &checks[i]
			var err error
			if !c.live {
				if c.erased, err = isErased(txn, c.subject); err != nil {
					return err
				}
			}
			if c.erased || !c.newDEK {
				// A DEK that came from the store or the cache exists
				// unless the subject was erased.
				continue
			}
			if c.hasDEK, err = hasKey(txn, dekKey(c.subject)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	outcome := make([]error, len(batch))
	writes := 0
	for i, r := range batch {
		for _, sp := range r.subjects {
			c := &checks[idx[sp.subject]]
			if c.erased {
				outcome[i] = vault.ErrErased
				break
			}
			if sp.newDEK != nil && c.hasDEK {
				// Another Put created the subject's DEK first.
				outcome[i] = errStaleDEK
				break
			}
		}
		if outcome[i] != nil {
			continue
		}
		for _, sp := range r.subjects {
			if sp.newDEK != nil {
				if err := txn.Set(dekKey(sp.subject), sp.newDEK); err != nil {
					return nil, err
				}
				checks[idx[sp.subject]].hasDEK = true
			}
		}
		for j := range r.keys {
			if err := txn.Set(r.keys[j], r.vals[j]); err != nil {
				return nil, err
			}
		}
		writes++
	}
	if writes == 0 {
		return outcome, nil
	}
	if err := txn.Commit(); err != nil {
		return nil, err
	}
	for _, c := range checks {
		if !c.erased {
			s.live[c.subject] = struct{}{}
		}
	}
	return outcome, nil
}
