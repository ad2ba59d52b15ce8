package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/vault"
)

// dropChunk bounds the prefixes handed to one DropPrefix call.
const dropChunk = 512

// purgeChunk is how many subjects the background purge drops per
// DropPrefix call before it looks whether writers are waiting: each call
// stalls the store, and a call's cost grows with the tables it rewrites,
// so smaller chunks bound how long one writer can wait. Measured with the
// vault of a 1,000,000-event log on the shared 2-core box (erasures
// resumed 7 s after a pause, so that a purge was under way): chunks of 32
// held the first erasures up to 0.96-1.17 s, with 24-31 of 600 erasures
// over 50 ms; chunks of 8, 0.20-0.30 s and 10-11 of 600. A chunk of 8
// takes about 0.65 s there.
const purgeChunk = 8

// Purge implements vault.Store: it makes every queued erasure physical now
// ("purge now"). See the package documentation for the steps. Only one
// purge runs at a time.
func (s *Store) Purge(ctx context.Context) (vault.PurgeReport, error) {
	rep, _, err := s.runPurge(ctx, nil)
	return rep, err
}

// runPurge purges the queue. With goOn set, it purges purgeChunk subjects
// at a time and stops early when goOn says so between chunks, returning
// how many subjects it left queued.
func (s *Store) runPurge(ctx context.Context, goOn func() bool) (vault.PurgeReport, int, error) {
	if err := s.begin(); err != nil {
		return vault.PurgeReport{}, 0, err
	}
	defer s.end()
	s.purgeMu.Lock()
	defer s.purgeMu.Unlock()
	rep := vault.PurgeReport{StartedAt: s.opts.Now()}
	subjects, err := s.purgeQueue()
	if err != nil {
		return rep, 0, fmt.Errorf("purge: %w", storageErr(err))
	}
	chunk := len(subjects)
	if goOn != nil {
		chunk = purgeChunk
	}
	for len(subjects) > 0 {
		n := min(len(subjects), chunk)
		if err := s.purge(ctx, subjects[:n]); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "vault purge failed", slog.Int(attrSubjects, n), slog.String(attrErr, err.Error()))
			return rep, len(subjects), fmt.Errorf("purge: %w", storageErr(err))
		}
		rep.Subjects += n
		subjects = subjects[n:]
		if len(subjects) > 0 && goOn != nil && !goOn() {
			break
		}
	}
	rep.DoneAt = s.opts.Now()
	if rep.Subjects > 0 || len(subjects) == 0 {
		s.lastPurge.Store(&rep)
	}
	if rep.Subjects > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "vault purge done",
			slog.Int(attrSubjects, rep.Subjects), slog.Int(attrLeft, len(subjects)), slog.Duration(attrDuration, rep.DoneAt.Sub(rep.StartedAt)))
		if s.opts.OnPurge != nil {
			s.opts.OnPurge(rep)
		}
	}
	return rep, len(subjects), nil
}

func (s *Store) purge(ctx context.Context, subjects []string) error {
	// The logical deletion first, in case an erasure stopped after its
	// tombstone; this also makes sure each prefix holds its live marker,
	// without which DropPrefix would skip it.
	for _, sub := range subjects {
		if _, err := s.destroy(ctx, sub); err != nil {
			return err
		}
	}
	// Then what to drop: each subject's prefix and the blind-index lookup
	// prefixes its erasure recorded (read after the destroys, which may
	// have added some).
	prefixes := make([][]byte, 0, len(subjects))
	var plain [][]byte // queue entries that name nothing but the subject
	err := s.db.View(func(txn *badger.Txn) error {
		for _, sub := range subjects {
			rec, _, err := getPurgeRecord(txn, sub)
			if err != nil {
				return err
			}
			prefixes = append(prefixes, subjectPrefix(sub))
			if len(rec.prefixes) == 0 {
				plain = append(plain, purgeKey(sub))
				continue
			}
			// The queue entry last: it names the lookup prefixes, which
			// hold digests, so it must leave the disk with them, and it
			// must outlive them in case the purge stops half-way.
			prefixes = append(prefixes, rec.prefixes...)
			prefixes = append(prefixes, purgeKey(sub))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for len(prefixes) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(prefixes), dropChunk)
		// DropPrefix flushes the memtables without these keys (their log
		// files go with them) and rewrites every table holding them, at
		// every level, dropping all versions and deletion markers.
		if err := s.db.DropPrefix(prefixes[:n]...); err != nil {
			return fmt.Errorf("drop prefixes: %w", err)
		}
		prefixes = prefixes[n:]
	}
	// Values live in the LSM tree (below Badger's value threshold), so the
	// value log should hold nothing of them; collect it anyway until Badger
	// says there is nothing left to rewrite.
	for i := 0; i < 64; i++ {
		err := s.db.RunValueLogGC(0.01)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			break
		}
		if err != nil {
			return fmt.Errorf("value log gc: %w", err)
		}
	}
	// The other queue entries went with the dropped prefixes. These hold
	// only the subject ID, which the tombstone keeps anyway.
	return s.update(ctx, func(txn *badger.Txn) error {
		for _, k := range plain {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// purgeQueue lists the subjects erased but not yet purged.
func (s *Store) purgeQueue() ([]string, error) {
	var subjects []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixPurge}, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k, err := parseKey(it.Item().Key())
			if err != nil {
				return fmt.Errorf("read purge queue: %w", err)
			}
			subjects = append(subjects, k.subject)
		}
		return nil
	})
	return subjects, err
}

// PendingPurge returns how many erased subjects still wait for a purge.
func (s *Store) PendingPurge(ctx context.Context) (int, error) {
	if err := s.begin(); err != nil {
		return 0, err
	}
	defer s.end()
	subjects, err := s.purgeQueue()
	if err != nil {
		return 0, fmt.Errorf("pending purge: %w", storageErr(err))
	}
	return len(subjects), nil
}

// LastPurge returns the report of the last purge that ran, if any.
func (s *Store) LastPurge() (vault.PurgeReport, bool) {
	p := s.lastPurge.Load()
	if p == nil {
		return vault.PurgeReport{}, false
	}
	return *p, true
}

func (s *Store) kickPurge() {
	select {
	case s.purgeKick <- struct{}{}:
	default:
	}
}

// BackgroundPurge reports whether the store purges erased subjects by
// itself (Options.PurgeDelay not negative). Callers that need "purged" can
// then wait for AwaitsPurge to turn false instead of calling Purge, which
// stalls every write and read while it runs.
func (s *Store) BackgroundPurge() bool { return s.opts.PurgeDelay >= 0 }

// Capabilities returns every capability; vault.CapBackgroundPurge only
// when BackgroundPurge is true.
func (s *Store) Capabilities() vault.Capabilities {
	c := vault.CapUnsyncedPut | vault.CapExpire | vault.CapBlindIndex | vault.CapPurgeQueue
	if s.BackgroundPurge() {
		c |= vault.CapBackgroundPurge
	}
	return c
}

// AwaitsPurge reports whether the subject was erased and its purge has not
// run yet.
func (s *Store) AwaitsPurge(ctx context.Context, subject string) (bool, error) {
	if err := s.begin(); err != nil {
		return false, err
	}
	defer s.end()
	var queued bool
	err := s.db.View(func(txn *badger.Txn) (err error) {
		queued, err = hasKey(txn, purgeKey(subject))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("awaits purge: %w", storageErr(err))
	}
	return queued, nil
}

// commitTs is Badger's latest commit timestamp: it moves with every
// commit and only with commits.
func (s *Store) commitTs() uint64 {
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	return txn.ReadTs()
}

// quietPoll bounds how often waitQuiet looks at the commit timestamp.
const quietPoll = 100 * time.Millisecond

// waitQuiet returns true once no commit was made for PurgeDelay, or once
// PurgeMaxDelay has passed since kicked (if not negative), and false when
// the store closes first.
func (s *Store) waitQuiet(kicked time.Time) bool {
	poll := min(max(s.opts.PurgeDelay/4, time.Millisecond), quietPoll)
	last, quietSince := s.commitTs(), s.opts.Now()
	for {
		select {
		case <-s.stop:
			return false
		case <-timeAfter(poll):
		}
		now := s.opts.Now()
		if ts := s.commitTs(); ts != last {
			last, quietSince = ts, now
		}
		if now.Sub(quietSince) >= s.opts.PurgeDelay {
			return true
		}
		if s.opts.PurgeMaxDelay >= 0 && now.Sub(kicked) >= s.opts.PurgeMaxDelay {
			s.log.LogAttrs(context.Background(), slog.LevelInfo, "vault purge runs without waiting longer for a quiet moment",
				slog.Duration(attrDuration, now.Sub(kicked)))
			return true
		}
	}
}

// background runs a purge after erasures, once the store has been quiet
// (no commit) for PurgeDelay or at the latest PurgeMaxDelay after the
// first erasure it waits for, until Close. Between chunks it looks whether
// writers are back (a commit within yieldWindow) and, if so, waits for
// quiet again; once PurgeMaxDelay has passed, it goes on regardless,
// forcedPause after each chunk.
func (s *Store) background() {
	defer close(s.bgDone)
	if s.opts.PurgeDelay < 0 {
		<-s.stop
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-s.purgeKick:
		}
		kicked := s.opts.Now()
		for {
			if !s.waitQuiet(kicked) {
				return
			}
			forced := s.opts.PurgeMaxDelay >= 0 && s.opts.Now().Sub(kicked) >= s.opts.PurgeMaxDelay
			goOn := s.stillQuiet
			if forced {
				goOn = s.breather
			}
			_, left, err := s.runPurge(ctx, goOn)
			if err != nil {
				if !errors.Is(err, vault.ErrClosed) && ctx.Err() == nil {
					s.log.LogAttrs(ctx, slog.LevelWarn, "vault background purge failed", slog.String(attrErr, err.Error()))
				}
				break
			}
			if left == 0 {
				break
			}
		}
	}
}

// yieldWindow is how long the background purge looks for a commit
// between chunks: longer than the backoff of a writer that a chunk
// blocked (at most 64 ms), so that one waiting writer is seen.
const yieldWindow = 200 * time.Millisecond

// forcedPause is how long a purge that no longer waits for quiet
// (PurgeMaxDelay passed) leaves writers alone between chunks, so that a
// long queue stalls them for a chunk at a time, not for all of it.
const forcedPause = time.Second

// breather waits forcedPause and reports true, or false if the store
// closes first.
func (s *Store) breather() bool {
	select {
	case <-s.stop:
		return false
	case <-timeAfter(forcedPause):
		return true
	}
}

// stillQuiet reports whether no commit was made within yieldWindow.
func (s *Store) stillQuiet() bool {
	ts := s.commitTs()
	select {
	case <-s.stop:
		return false
	case <-timeAfter(min(yieldWindow, max(s.opts.PurgeDelay, time.Millisecond))):
	}
	return s.commitTs() == ts
}
