package hashicorp

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/piivault/piivault/vault"
)

// Expire destroys the values of the given tokens for a retention rule and
// leaves a per-token expiry note in the subject's record, so that Resolve
// reports vault.Expired for them (not Unknown). It is idempotent: tokens
// already expired, unknown, or of an erased subject are skipped. It
// destroys the record's older versions, so the sealed values are gone from
// Vault's storage, and returns how many values it destroyed. A malformed
// token fails the call with vault.ErrInvalid before anything changes.
func (s *Store) Expire(ctx context.Context, tokens []vault.Token) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	bySubject := map[string][]string{}
	var subjects []string
	for _, tok := range tokens {
		sub, id, err := vault.SplitToken(tok)
		if err != nil {
			return 0, fmt.Errorf("expire: %w", err)
		}
		if _, ok := bySubject[sub]; !ok {
			subjects = append(subjects, sub)
		}
		bySubject[sub] = append(bySubject[sub], tokenIDString(id))
	}
	var total atomic.Int64
	err := s.parallel(ctx, len(subjects), func(ctx context.Context, i int) error {
		n, err := s.expireIDs(ctx, subjects[i], bySubject[subjects[i]])
		total.Add(int64(n))
		if err != nil {
			return fmt.Errorf("expire: %w", err)
		}
		return nil
	})
	return int(total.Load()), err
}

func (s *Store) expireIDs(ctx context.Context, subject string, ids []string) (int, error) {
	defer s.recs.drop(subject)
	for attempt := 0; attempt < s.opts.Retries; attempt++ {
		st, err := s.load(ctx, subject, false)
		if err != nil {
			return 0, err
		}
		if !st.live() {
			return 0, nil
		}
		next := st.rec.clone()
		now := s.opts.Now().UnixNano()
		n := 0
		for _, id := range ids {
			v, ok := next.Values[id]
			if !ok {
				continue
			}
			delete(next.Values, id)
			if next.Expired == nil {
				next.Expired = map[string]expired{}
			}
			next.Expired[id] = expired{Class: v.Class, At: now}
			n++
		}
		if n == 0 {
			return 0, nil
		}
		rctx, cancel := s.reqCtx(ctx)
		v, err := s.kv.writeSubject(rctx, subject, next, st.version)
		cancel()
		if errors.Is(err, errCAS) {
			casBackoff(ctx, attempt)
			continue
		}
		if err != nil {
			return 0, err
		}
		rctx, cancel = s.reqCtx(ctx)
		defer cancel()
		if err := s.kv.destroyOlder(rctx, subject, v); err != nil {
			return n, err
		}
		return n, nil
	}
	return 0, fmt.Errorf("%d check-and-set conflicts in a row: %w", s.opts.Retries, vault.ErrUnavailable)
}
