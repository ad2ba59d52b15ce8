package hashicorp

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/piivault/piivault/vault"
)

// BlindDigestSize is the size of a blind-index digest (HMAC-SHA256).
const BlindDigestSize = 32

// PutBlindIndex records that subject has a value of class whose keyed
// digest (computed by the caller) is digest, so LookupBlindIndex can find
// the subject without the value. It is idempotent and fails with
// vault.ErrErased for an erased subject. The entry is noted in the
// subject's record first (check-and-set, so an erasure cannot slip past),
// then written as its own key <prefix>/b/<class>/<digest hex>/<subject>;
// Erase deletes both.
func (s *Store) PutBlindIndex(ctx context.Context, subject, class string, digest []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := vault.ValidateSubject(subject); err != nil {
		return fmt.Errorf("put blind index: %w", err)
	}
	if err := vault.ValidateClass(class); err != nil {
		return fmt.Errorf("put blind index: %w", err)
	}
	if len(digest) != BlindDigestSize {
		return fmt.Errorf("put blind index: digest is %d bytes, want %d: %w", len(digest), BlindDigestSize, vault.ErrInvalid)
	}
	key := blindKey(class, digest)
	defer s.recs.drop(subject)
	for attempt := 0; attempt < s.opts.Retries; attempt++ {
		st, err := s.load(ctx, subject, false)
		if err != nil {
			return fmt.Errorf("put blind index: %w", err)
		}
		if st.erased() != nil {
			return fmt.Errorf("put blind index: %w", vault.ErrErased)
		}
		if !st.live() || !st.rec.Blind[key] {
			next := &record{Values: map[string]sealed{}}
			if st.live() {
				next = st.rec.clone()
			}
			if next.Blind == nil {
				next.Blind = map[string]bool{}
			}
			next.Blind[key] = true
			rctx, cancel := s.reqCtx(ctx)
			_, err := s.kv.writeSubject(rctx, subject, next, st.version)
			cancel()
			if errors.Is(err, errCAS) {
				casBackoff(ctx, attempt)
				continue
			}
			if err != nil {
				return fmt.Errorf("put blind index: %w", err)
			}
		}
		rctx, cancel := s.reqCtx(ctx)
		err = s.kv.writeBlind(rctx, key, subject)
		cancel()
		if err != nil {
			return fmt.Errorf("put blind index: %w", err)
		}
		return nil
	}
	return fmt.Errorf("put blind index: %d check-and-set conflicts in a row: %w", s.opts.Retries, vault.ErrUnavailable)
}

// LookupBlindIndex returns the subjects indexed under (class, digest),
// sorted, never values. Erased subjects are left out, even if an entry
// written concurrently with their erasure survived (it is deleted then).
func (s *Store) LookupBlindIndex(ctx context.Context, class string, digest []byte) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := vault.ValidateClass(class); err != nil {
		return nil, fmt.Errorf("lookup blind index: %w", err)
	}
	if len(digest) != BlindDigestSize {
		return nil, fmt.Errorf("lookup blind index: digest is %d bytes, want %d: %w", len(digest), BlindDigestSize, vault.ErrInvalid)
	}
	key := blindKey(class, digest)
	rctx, cancel := s.reqCtx(ctx)
	subjects, err := s.kv.listBlind(rctx, key)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("lookup blind index: %w", err)
	}
	keep := make([]bool, len(subjects))
	err = s.parallel(ctx, len(subjects), func(ctx context.Context, i int) error {
		st, err := s.load(ctx, subjects[i], true)
		if err != nil {
			return err
		}
		if st.live() && st.rec.Blind[key] {
			keep[i] = true
			return nil
		}
		if st.erased() != nil {
			// Written after the erasure deleted the entries: remove it.
			rctx, cancel := s.reqCtx(ctx)
			defer cancel()
			if err := s.kv.deleteBlind(rctx, key, subjects[i]); err != nil {
				s.opts.Logger.Warn("hashicorp vault: could not delete a stale blind-index entry", "err", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lookup blind index: %w", err)
	}
	var out []string
	for i, sub := range subjects {
		if keep[i] {
			out = append(out, sub)
		}
	}
	sort.Strings(out)
	return out, nil
}

// eraseBlind deletes the blind-index entries an erasure marker lists, then
// writes the marker again without them and destroys the version that
// listed them, so no digest of the subject stays in Vault.
func (s *Store) eraseBlind(ctx context.Context, subject string, marker *erasure, version int) error {
	for _, key := range marker.Blind {
		rctx, cancel := s.reqCtx(ctx)
		err := s.kv.deleteBlind(rctx, key, subject)
		cancel()
		if err != nil {
			return err
		}
	}
	done := *marker
	done.Blind = nil
	rctx, cancel := s.reqCtx(ctx)
	v, err := s.kv.writeSubject(rctx, subject, &record{Erased: &done}, version)
	cancel()
	if errors.Is(err, errCAS) {
		return nil // another Erase call finished it
	}
	if err != nil {
		return fmt.Errorf("rewrite tombstone: %w", err)
	}
	rctx, cancel = s.reqCtx(ctx)
	defer cancel()
	return s.kv.destroyOlder(rctx, subject, v)
}
