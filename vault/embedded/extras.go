package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/vault"
)

// expireBatch bounds the tokens expired per transaction.
const expireBatch = 1024

// Expire destroys the values of the given tokens for a retention rule and
// leaves a per-token expiry record, so that Resolve reports vault.Expired
// for them. Tokens that are malformed, unknown, already expired or of an
// erased subject are skipped; it returns how many values it destroyed.
// Erase removes the expiry records with the subject.
//
// Caveat: an expired value is deleted like any Badger key; its bytes leave
// the disk when compaction rewrites the tables holding them, not at a
// Purge (a purge drops whole subjects). They stay sealed under the
// subject's DEK meanwhile. The canary scan covers erasure, not expiry.
func (s *Store) Expire(ctx context.Context, toks []vault.Token) (int, error) {
	if err := s.begin(); err != nil {
		return 0, err
	}
	defer s.end()
	type ref struct {
		subject string
		id      [vault.TokenIDSize]byte
	}
	var refs []ref
	for _, tok := range toks {
		if sub, id, err := vault.SplitToken(tok); err == nil {
			refs = append(refs, ref{sub, id})
		}
	}
	total := 0
	for len(refs) > 0 {
		chunk := refs[:min(len(refs), expireBatch)]
		refs = refs[len(chunk):]
		var n int
		err := s.update(ctx, func(txn *badger.Txn) error {
			n = 0
			erased := map[string]bool{}
			for _, r := range chunk {
				e, ok := erased[r.subject]
				if !ok {
					var err error
					if e, err = isErased(txn, r.subject); err != nil {
						return err
					}
					erased[r.subject] = e
				}
				if e {
					continue
				}
				k := valueKey(r.subject, r.id)
				item, err := txn.Get(k)
				if errors.Is(err, badger.ErrKeyNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				var class string
				if err := item.Value(func(v []byte) error {
					rec, err := parseValueRecord(v)
					class = string([]byte(rec.class))
					return err
				}); err != nil {
					return err
				}
				if err := txn.Delete(k); err != nil {
					return err
				}
				if err := txn.Set(expiredKey(r.subject, r.id), expiryRecord{expiredAt: s.opts.Now(), class: class}.encode()); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("expire tokens: %w", storageErr(err))
		}
		total += n
	}
	return total, nil
}

// PutBlindIndex records that subject has a value of class whose keyed
// digest (computed by the caller, at most 64 bytes) is digest, so that
// LookupBlindIndex can find the subject without the value being stored.
// It is idempotent and fails with vault.ErrErased for an erased subject.
// Erase deletes the entry; the purge after it removes it from disk.
func (s *Store) PutBlindIndex(ctx context.Context, subject, class string, digest []byte) error {
	if err := validateBlind(class, digest); err != nil {
		return fmt.Errorf("put blind index: %w", err)
	}
	if err := vault.ValidateSubject(subject); err != nil {
		return fmt.Errorf("put blind index: %w", err)
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	err := s.commitLocked(ctx, func(txn *badger.Txn) error {
		erased, err := isErased(txn, subject)
		if err != nil {
			return err
		}
		if erased {
			return vault.ErrErased
		}
		if err := txn.Set(blindEntryKey(subject, class, digest), nil); err != nil {
			return err
		}
		return txn.Set(blindLookupKey(class, digest, subject, blindEntry), nil)
	})
	if err == nil {
		err = s.gsync.wait()
	}
	if err != nil {
		return fmt.Errorf("put blind index: %w", storageErr(err))
	}
	return nil
}

// LookupBlindIndex returns the subjects, not erased, indexed under (class,
// digest), sorted. Never values.
func (s *Store) LookupBlindIndex(ctx context.Context, class string, digest []byte) ([]string, error) {
	if err := validateBlind(class, digest); err != nil {
		return nil, fmt.Errorf("lookup blind index: %w", err)
	}
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	subjects := []string{}
	err := s.db.View(func(txn *badger.Txn) error {
		prefix := blindLookupPrefix(class, digest)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k, err := parseKey(it.Item().Key())
			if err != nil {
				return fmt.Errorf("lookup blind index: %w", err)
			}
			if k.kind != blindEntry {
				continue
			}
			erased, err := isErased(txn, k.subject)
			if err != nil {
				return err
			}
			if !erased {
				subjects = append(subjects, k.subject)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lookup blind index: %w", storageErr(err))
	}
	slices.Sort(subjects)
	return subjects, nil
}

func validateBlind(class string, digest []byte) error {
	if err := vault.ValidateClass(class); err != nil {
		return err
	}
	if len(digest) == 0 || len(digest) > maxDigestLen {
		return fmt.Errorf("digest is %d bytes, want 1..%d: %w", len(digest), maxDigestLen, vault.ErrInvalid)
	}
	return nil
}
