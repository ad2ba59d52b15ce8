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

func timeAfter(d time.Duration) <-chan time.Time { return time.After(d) }

// rewrapBatch bounds the DEKs rewrapped per transaction.
const rewrapBatch = 256

// Rotate rotates the key provider's KEK, then rewraps Badger's key and
// every stored DEK under the new version, while the store stays online
// (reads and writes go on; a DEK created meanwhile is wrapped by the new
// version already). It returns how many DEKs it rewrapped. Each batch is a
// transaction that rereads the DEKs it rewrites, so an erasure racing with
// the rewrap wins and no erased DEK comes back.
func (s *Store) Rotate(ctx context.Context) (int, error) {
	if err := s.begin(); err != nil {
		return 0, err
	}
	defer s.end()
	if err := s.kp.Rotate(ctx); err != nil {
		return 0, fmt.Errorf("rotate kek: %w", err)
	}
	if err := rewrapDBKey(ctx, s.dir, s.kp); err != nil {
		return 0, fmt.Errorf("rotate kek: rewrap db key: %w", err)
	}
	total := 0
	var after []byte // resume point: the last DEK key done
	for {
		subjects, err := s.nextDEKs(after, rewrapBatch)
		if err != nil {
			return total, fmt.Errorf("rotate kek: %w", storageErr(err))
		}
		if len(subjects) == 0 {
			break
		}
		var n int
		err = s.update(ctx, func(txn *badger.Txn) error {
			n = 0
			for _, sub := range subjects {
				item, err := txn.Get(dekKey(sub))
				if errors.Is(err, badger.ErrKeyNotFound) {
					continue // erased meanwhile
				}
				if err != nil {
					return err
				}
				var rec dekRecord
				if err := item.Value(func(v []byte) error {
					var err error
					rec, err = parseDEKRecord(v)
					rec.wrapped = append([]byte(nil), rec.wrapped...)
					return err
				}); err != nil {
					return err
				}
				re, err := vault.Rewrap(ctx, s.kp, rec.wrapped)
				if err != nil {
					return fmt.Errorf("rewrap dek: %w", err)
				}
				rec.wrapped = re
				if err := txn.Set(dekKey(sub), rec.encode()); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("rotate kek: %w", storageErr(err))
		}
		total += n
		after = dekKey(subjects[len(subjects)-1])
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "vault kek rotated", slog.Int(attrDEKs, total))
	return total, nil
}

// nextDEKs lists up to limit subjects holding a DEK, after the key after.
// It hops from subject to subject instead of reading every value key.
func (s *Store) nextDEKs(after []byte, limit int) ([]string, error) {
	var subjects []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixData}, PrefetchValues: false})
		defer it.Close()
		seek := []byte{prefixData}
		if after != nil {
			seek = append(append([]byte(nil), after...), 0)
		}
		for it.Seek(seek); it.Valid() && len(subjects) < limit; {
			k, err := parseKey(it.Item().Key())
			if err != nil {
				return fmt.Errorf("list deks: %w", err)
			}
			if k.kind == kindDEK {
				subjects = append(subjects, k.subject)
			}
			// Jump past this subject: 0xff sorts after every kind byte.
			it.Seek(append(subjectPrefix(k.subject), 0xff))
		}
		return nil
	})
	return subjects, err
}
