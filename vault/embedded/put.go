package embedded

import (
	"context"
	"errors"
	"fmt"
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
	bytes    int
	done     chan error
}

// subjectPut is what one Put writes for one subject.
type subjectPut struct {
	subject string
	dek     *vault.DEK
	gen     uint64 // cache generation read before the DEK was loaded
	newDEK  []byte // DEK record, set when this Put created the DEK
	keys    [][]byte
	vals    [][]byte
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

// preparePut finds or creates each subject's DEK and seals the values. It
// runs in the caller's goroutine, so sealing is parallel.
func (s *Store) preparePut(ctx context.Context, entries []vault.Entry) (*putReq, []vault.Token, error) {
	req := &putReq{done: make(chan error, 1)}
	idx := make(map[string]int, 2)
	toks := make([]vault.Token, len(entries))
	now := s.opts.Now()
	for i, e := range entries {
		j, ok := idx[e.Subject]
		if !ok {
			sp, err := s.dekForPut(ctx, e.Subject)
			if err != nil {
				return nil, nil, err
			}
			j = len(req.subjects)
			idx[e.Subject] = j
			req.subjects = append(req.subjects, sp)
			req.bytes += len(sp.newDEK) + 64
		}
		sp := &req.subjects[j]
		id, err := vault.NewTokenID()
		if err != nil {
			return nil, nil, err
		}
		tok := vault.FormatToken(e.Subject, id)
		sealed, err := sp.dek.Seal(e.Subject, tok, e.Class, e.Value.Reveal())
		if err != nil {
			return nil, nil, err
		}
		k := valueKey(e.Subject, id)
		v := valueRecord{createdAt: now, class: e.Class, sealed: sealed}.encode()
		sp.keys = append(sp.keys, k)
		sp.vals = append(sp.vals, v)
		req.bytes += len(k) + len(v) + 64
		toks[i] = tok
	}
	return req, toks, nil
}

// dekForPut returns the subject's DEK: cached, stored, or new (then
// newDEK holds the record to write). It does not look for a tombstone:
// the committer does, in the transaction that writes, which is the check
// that counts; an erased subject has no DEK, so its Put only wastes a
// fresh one.
func (s *Store) dekForPut(ctx context.Context, subject string) (subjectPut, error) {
	sp := subjectPut{subject: subject}
	if k, ok := s.cache.Get(subject); ok {
		sp.dek = k
		return sp, nil
	}
	sp.gen = s.cache.Generation()
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		sp.dek, err = s.loadDEK(ctx, txn, subject, sp.gen)
		return err
	})
	if err != nil {
		return sp, err
	}
	if sp.dek != nil {
		return sp, nil
	}
	if sp.dek, err = vault.NewDEK(); err != nil {
		return sp, err
	}
	wrapped, err := vault.WrapDEK(ctx, s.kp, sp.dek)
	if err != nil {
		return sp, err
	}
	sp.newDEK = dekRecord{createdAt: s.opts.Now(), wrapped: wrapped}.encode()
	return sp, nil
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
		for _, r := range batch {
			r.done <- err
		}
		return
	}
}

// tryCommit writes the batch in one transaction. Requests whose subject was
// erased, or whose DEK lost a creation race, get their own error and write
// nothing; the others commit together.
func (s *Store) tryCommit(batch []*putReq) ([]error, error) {
	s.creators.Lock() // see Erase
	defer s.creators.Unlock()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	outcome := make([]error, len(batch))
	erased := make(map[string]bool)
	hasDEK := make(map[string]bool)
	writes := 0
	for i, r := range batch {
		for _, sp := range r.subjects {
			e, ok := erased[sp.subject]
			if !ok {
				var err error
				if e, err = isErased(txn, sp.subject); err != nil {
					return nil, err
				}
				erased[sp.subject] = e
			}
			if e {
				outcome[i] = vault.ErrErased
				break
			}
			if sp.newDEK == nil {
				// The DEK came from the store or the cache: it exists
				// unless the subject was erased, which the tombstone
				// check above answered.
				continue
			}
			d, ok := hasDEK[sp.subject]
			if !ok {
				_, err := txn.Get(dekKey(sp.subject))
				switch {
				case err == nil:
					d = true
				case !errors.Is(err, badger.ErrKeyNotFound):
					return nil, err
				}
				hasDEK[sp.subject] = d
			}
			if d {
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
				hasDEK[sp.subject] = true
			}
			for j := range sp.keys {
				if err := txn.Set(sp.keys[j], sp.vals[j]); err != nil {
					return nil, err
				}
			}
			writes++
		}
	}
	if writes == 0 {
		return outcome, nil
	}
	if err := txn.Commit(); err != nil {
		return nil, err
	}
	return outcome, nil
}
