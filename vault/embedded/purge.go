package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/vault"
)

// dropChunk bounds the prefixes handed to one DropPrefix call.
const dropChunk = 512

// Purge implements vault.Store: it makes every queued erasure physical. See
// the package documentation for the steps. Only one purge runs at a time.
func (s *Store) Purge(ctx context.Context) (vault.PurgeReport, error) {
	if err := s.begin(); err != nil {
		return vault.PurgeReport{}, err
	}
	defer s.end()
	s.purgeMu.Lock()
	defer s.purgeMu.Unlock()
	rep := vault.PurgeReport{StartedAt: s.opts.Now()}
	subjects, err := s.purgeQueue()
	if err != nil {
		return rep, fmt.Errorf("purge: %w", storageErr(err))
	}
	if len(subjects) > 0 {
		if err := s.purge(ctx, subjects); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "vault purge failed", slog.Int(attrSubjects, len(subjects)), slog.String(attrErr, err.Error()))
			return rep, fmt.Errorf("purge: %w", storageErr(err))
		}
	}
	rep.Subjects = len(subjects)
	rep.DoneAt = s.opts.Now()
	s.lastPurge.Store(&rep)
	if len(subjects) > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "vault purge done",
			slog.Int(attrSubjects, rep.Subjects), slog.Duration(attrDuration, rep.DoneAt.Sub(rep.StartedAt)))
		if s.opts.OnPurge != nil {
			s.opts.OnPurge(rep)
		}
	}
	return rep, nil
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

// background runs a purge PurgeDelay after erasures, until Close.
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
		select {
		case <-s.stop:
			return
		case <-timeAfter(s.opts.PurgeDelay):
		}
		if _, err := s.Purge(ctx); err != nil && !errors.Is(err, vault.ErrClosed) && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "vault background purge failed", slog.String(attrErr, err.Error()))
		}
	}
}
