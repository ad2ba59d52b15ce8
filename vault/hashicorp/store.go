package hashicorp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/keys"
)

// Store is the HashiCorp Vault backend of vault.Store. It is safe for
// concurrent use, and any number of Stores (in one process or many) may
// share one Vault and prefix.
type Store struct {
	kv     *kv
	kp     vault.KeyProvider
	opts   Options
	auth   *auth
	deks   *vault.DEKCache
	recs   *recordCache
	pool   *dekPool
	closed atomic.Bool
}

var _ vault.Store = (*Store)(nil)

// New returns a store on the Vault the client points at. It logs in with
// opts.Auth (token auth uses the client's token) and keeps the token
// renewed until Close. The client is used as is: its address, TLS, retries
// and timeout settings apply; the store changes its token only for AppRole
// and Kubernetes auth. New fails with vault.ErrUnavailable if Vault cannot
// be reached or refuses the credentials.
func New(ctx context.Context, client *api.Client, opts Options) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("new hashicorp store: nil client: %w", vault.ErrInvalid)
	}
	opts = opts.withDefaults()
	kp := opts.KeyProvider
	if kp == nil {
		t, err := keys.NewTransit(client, opts.TransitMount, opts.TransitKey)
		if err != nil {
			return nil, fmt.Errorf("new hashicorp store: %w", err)
		}
		kp = t
	}
	s := &Store{
		kv:   &kv{client: client, mount: trimSlashes(opts.KVMount), prefix: trimSlashes(opts.Prefix)},
		kp:   kp,
		opts: opts,
		auth: newAuth(client, opts),
		deks: vault.NewDEKCache(opts.CacheTTL, opts.CacheSize, opts.Now),
		recs: newRecordCache(opts.CacheTTL, opts.CacheSize, opts.Now),
	}
	s.pool = newDEKPool(s, opts.DEKBatch)
	if s.kv.mount == "" || s.kv.prefix == "" {
		return nil, fmt.Errorf("new hashicorp store: empty KV mount or prefix: %w", vault.ErrInvalid)
	}
	if err := s.auth.start(ctx); err != nil {
		return nil, fmt.Errorf("new hashicorp store: %w", err)
	}
	return s, nil
}

// AuthStats reports the logins and token renewals done so far.
func (s *Store) AuthStats() AuthStats { return s.auth.stats() }

// Close stops token renewal and drops cached keys. Later calls fail with
// vault.ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.auth.close()
	s.deks.Clear()
	s.recs.clear()
	s.pool.flush()
	return nil
}

func (s *Store) check() error {
	if s.closed.Load() {
		return vault.ErrClosed
	}
	return nil
}

// reqCtx bounds one request to Vault.
func (s *Store) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.RequestTimeout)
}

// subjectState is what the store knows about one subject during a call.
type subjectState struct {
	subject string
	rec     *record // nil: no record
	version int     // KV version of rec; 0 when there is none
	dek     *vault.DEK
	gen     uint64 // DEK cache generation read before loading
	rgen    uint64 // record cache generation read before loading
}

func (st *subjectState) erased() *erasure {
	if st.rec != nil {
		return st.rec.Erased
	}
	return nil
}

func (st *subjectState) live() bool { return st.rec != nil && st.rec.Erased == nil }

// load reads a subject's record, from the cache when allowed.
func (s *Store) load(ctx context.Context, subject string, useCache bool) (*subjectState, error) {
	st := &subjectState{subject: subject, gen: s.deks.Generation(), rgen: s.recs.generation()}
	if useCache {
		if r, v, ok := s.recs.get(subject); ok {
			st.rec, st.version = r, v
			if k, ok := s.deks.Get(subject); ok {
				st.dek = k
			}
			return st, nil
		}
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	r, v, err := s.kv.readSubject(rctx, subject)
	if err != nil {
		return nil, err
	}
	st.rec, st.version = r, v
	if r != nil {
		s.recs.add(subject, r, v, st.rgen)
	}
	if k, ok := s.deks.Get(subject); ok {
		st.dek = k
	}
	return st, nil
}

// unwrapDEKs sets the DEK of every live subject state that lacks one, with
// one batched unwrap when the key provider can.
func (s *Store) unwrapDEKs(ctx context.Context, states []*subjectState) error {
	var need []*subjectState
	var wrapped [][]byte
	for _, st := range states {
		if st.dek != nil || !st.live() || st.rec.DEK == "" {
			continue
		}
		w, err := base64.StdEncoding.DecodeString(st.rec.DEK)
		if err != nil || len(w) == 0 {
			return fmt.Errorf("unwrap dek: stored DEK malformed: %w", vault.ErrTampered)
		}
		need = append(need, st)
		wrapped = append(wrapped, w)
	}
	if len(need) == 0 {
		return nil
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	raws, err := vault.UnwrapAll(rctx, s.kp, wrapped)
	if err != nil {
		return fmt.Errorf("unwrap dek: %w", keyErr(err))
	}
	for i, st := range need {
		k, err := vault.ParseDEK(raws[i])
		clear(raws[i])
		if err != nil {
			return fmt.Errorf("unwrap dek: %w", err)
		}
		st.dek = k
		s.deks.Add(st.subject, k, st.gen)
	}
	return nil
}

// keyErr keeps ErrTampered and ErrUnavailable from a key provider and
// makes anything else ErrUnavailable.
func keyErr(err error) error {
	if errors.Is(err, vault.ErrTampered) || errors.Is(err, vault.ErrUnavailable) {
		return err
	}
	return unavailable(err)
}

// pending is one subject's part of a Put.
type pending struct {
	subject string
	idx     []int // entry indexes
	ids     []string
	written bool
	version int
}

// Put stores the entries, all or nothing, and returns one token per entry.
// Each subject's values go into its record with one check-and-set write;
// DEKs of new subjects are wrapped in one batch. If any subject is erased,
// nothing is written and the error wraps vault.ErrErased. If a write fails
// after others succeeded, the values already written are removed again
// before Put returns (see the caveats in doc.go for Vault failing during
// that).
func (s *Store) Put(ctx context.Context, entries []vault.Entry) ([]vault.Token, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, nil
	}
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
	}
	toks := make([]vault.Token, len(entries))
	bySubject := map[string]*pending{}
	var order []*pending
	for i, e := range entries {
		_, id, err := newTokenID(e.Subject)
		if err != nil {
			return nil, err
		}
		toks[i] = vault.FormatToken(e.Subject, id)
		p := bySubject[e.Subject]
		if p == nil {
			p = &pending{subject: e.Subject}
			bySubject[e.Subject] = p
			order = append(order, p)
		}
		p.idx = append(p.idx, i)
		p.ids = append(p.ids, tokenIDString(id))
	}

	now := s.opts.Now()
	err := s.parallel(ctx, len(order), func(ctx context.Context, i int) error {
		return s.putSubject(ctx, order[i], entries, toks, now)
	})
	if err != nil {
		s.rollback(order)
		return nil, err
	}
	return toks, nil
}

// putSubject writes one subject's new values, retrying on check-and-set
// conflicts.
func (s *Store) putSubject(ctx context.Context, p *pending, entries []vault.Entry, toks []vault.Token, now time.Time) error {
	useCache := true
	for attempt := 0; attempt < s.opts.Retries; attempt++ {
		if err := ctx.Err(); err != nil {
			return unavailable(err)
		}
		st, err := s.load(ctx, p.subject, useCache)
		if err != nil {
			return fmt.Errorf("put: %w", err)
		}
		useCache = false
		if st.rec != nil && st.rec.Erased != nil {
			return fmt.Errorf("put: %w", vault.ErrErased)
		}
		next := &record{Values: map[string]sealed{}}
		if st.live() {
			next = st.rec.clone()
		}
		if next.DEK != "" {
			if err := s.unwrapDEKs(ctx, []*subjectState{st}); err != nil {
				return fmt.Errorf("put: %w", err)
			}
		} else {
			d, err := s.pool.take(ctx)
			if err != nil {
				return fmt.Errorf("put: %w", err)
			}
			st.dek, next.DEK = d.dek, d.wrapped
		}
		for j, i := range p.idx {
			e := entries[i]
			ct, err := st.dek.Seal(e.Subject, toks[i], e.Class, e.Value.Reveal())
			if err != nil {
				return fmt.Errorf("put: %w", err)
			}
			next.Values[p.ids[j]] = sealed{Class: e.Class, Data: base64.StdEncoding.EncodeToString(ct), Created: now.UnixNano()}
		}
		// The write is not cancelled with ctx (another subject's failure
		// cancels it): a cancelled request may still be carried out by
		// Vault, after the rollback looked. It is bounded by the request
		// timeout instead, so its outcome is known.
		rctx, cancel := s.reqCtx(context.WithoutCancel(ctx))
		v, err := s.kv.writeSubject(rctx, p.subject, next, st.version)
		cancel()
		if errors.Is(err, errCAS) {
			casBackoff(ctx, attempt)
			continue
		}
		if err != nil {
			// A timed-out write may still have reached Vault: roll this
			// subject back too; removing IDs that are not there changes
			// nothing.
			p.written = true
			return fmt.Errorf("put: %w", err)
		}
		p.written, p.version = true, v
		s.recs.add(p.subject, next, v, st.rgen)
		s.deks.Add(p.subject, st.dek, st.gen)
		return nil
	}
	return fmt.Errorf("put: %d check-and-set conflicts in a row: %w", s.opts.Retries, vault.ErrUnavailable)
}

// rollback removes the values of a failed Put from the subjects where they
// were written. It is best effort: if Vault fails here too, those values
// stay under tokens that nobody was given.
func (s *Store) rollback(order []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*s.opts.RequestTimeout)
	defer cancel()
	for _, p := range order {
		if !p.written {
			continue
		}
		if err := s.removeIDs(ctx, p.subject, p.ids); err != nil {
			s.opts.Logger.Warn("hashicorp vault: rollback of a failed put left values under unissued tokens", "err", err, "values", len(p.ids))
		}
	}
}

// removeIDs deletes the given token IDs from a subject's record.
func (s *Store) removeIDs(ctx context.Context, subject string, ids []string) error {
	defer s.recs.drop(subject)
	for attempt := 0; attempt < s.opts.Retries; attempt++ {
		st, err := s.load(ctx, subject, false)
		if err != nil {
			return err
		}
		if !st.live() {
			return nil
		}
		next := st.rec.clone()
		n := len(next.Values)
		for _, id := range ids {
			delete(next.Values, id)
		}
		if len(next.Values) == n {
			return nil
		}
		rctx, cancel := s.reqCtx(ctx)
		v, err := s.kv.writeSubject(rctx, subject, next, st.version)
		cancel()
		if errors.Is(err, errCAS) {
			casBackoff(ctx, attempt)
			continue
		}
		if err != nil {
			return err
		}
		rctx, cancel = s.reqCtx(ctx)
		defer cancel()
		return s.kv.destroyOlder(rctx, subject, v)
	}
	return fmt.Errorf("%d check-and-set conflicts in a row: %w", s.opts.Retries, vault.ErrUnavailable)
}

// Resolve returns one result per token, in order. It reads each subject's
// record once (or takes it from the cache) and unwraps the missing DEKs in
// one batch. Malformed tokens are Unknown. If any value fails to
// authenticate the error wraps vault.ErrTampered; if Vault cannot answer it
// wraps vault.ErrUnavailable; in both cases no value is returned.
func (s *Store) Resolve(ctx context.Context, tokens []vault.Token) ([]vault.Resolved, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, nil
	}
	out := make([]vault.Resolved, len(tokens))
	ids := make([]string, len(tokens))
	idx := map[string]int{}
	var subjects []string
	for i, tok := range tokens {
		out[i] = vault.Resolved{Token: tok, State: vault.Unknown}
		sub, id, err := vault.SplitToken(tok)
		if err != nil {
			continue
		}
		out[i].Subject = sub
		ids[i] = tokenIDString(id)
		if _, ok := idx[sub]; !ok {
			idx[sub] = len(subjects)
			subjects = append(subjects, sub)
		}
	}
	states := make([]*subjectState, len(subjects))
	err := s.parallel(ctx, len(subjects), func(ctx context.Context, i int) error {
		st, err := s.load(ctx, subjects[i], true)
		states[i] = st
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	// Unwrap only DEKs of subjects that hold a requested value.
	var needDEK []*subjectState
	for i, r := range out {
		if r.Subject == "" {
			continue
		}
		st := states[idx[r.Subject]]
		if st.live() && st.dek == nil {
			if _, ok := st.rec.Values[ids[i]]; ok {
				needDEK = append(needDEK, st)
			}
		}
	}
	if err := s.unwrapDEKs(ctx, dedupe(needDEK)); err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	for i := range out {
		r := &out[i]
		if r.Subject == "" {
			continue
		}
		st := states[idx[r.Subject]]
		if st.erased() != nil {
			r.State = vault.Erased
			continue
		}
		if !st.live() {
			continue
		}
		v, ok := st.rec.Values[ids[i]]
		if !ok {
			if x, ok := st.rec.Expired[ids[i]]; ok {
				r.State, r.Class = vault.Expired, x.Class
			}
			continue
		}
		pt, err := openValue(st, r.Token, v)
		if err != nil {
			return nil, fmt.Errorf("resolve: %w", err)
		}
		r.State, r.Class, r.Value = vault.Found, v.Class, vault.NewPII(pt)
	}
	return out, nil
}

func openValue(st *subjectState, tok vault.Token, v sealed) ([]byte, error) {
	if st.dek == nil {
		return nil, fmt.Errorf("open value: record holds values but no DEK: %w", errCorrupt)
	}
	ct, err := base64.StdEncoding.DecodeString(v.Data)
	if err != nil {
		return nil, fmt.Errorf("open value: malformed: %w", vault.ErrTampered)
	}
	return st.dek.Open(st.subject, tok, v.Class, ct)
}

func dedupe(states []*subjectState) []*subjectState {
	seen := map[*subjectState]bool{}
	out := states[:0]
	for _, st := range states {
		if !seen[st] {
			seen[st] = true
			out = append(out, st)
		}
	}
	return out
}

// Delete removes the given tokens' values (orphans of a failed append). It
// is not erasure: the subject keeps its DEK and may get new values.
// Tokens that are not stored are ignored; a malformed token fails the call
// with vault.ErrInvalid before anything is deleted.
func (s *Store) Delete(ctx context.Context, tokens []vault.Token) error {
	if err := s.check(); err != nil {
		return err
	}
	bySubject := map[string][]string{}
	var subjects []string
	for _, tok := range tokens {
		sub, id, err := vault.SplitToken(tok)
		if err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if _, ok := bySubject[sub]; !ok {
			subjects = append(subjects, sub)
		}
		bySubject[sub] = append(bySubject[sub], tokenIDString(id))
	}
	return s.parallel(ctx, len(subjects), func(ctx context.Context, i int) error {
		if err := s.removeIDs(ctx, subjects[i], bySubject[subjects[i]]); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		return nil
	})
}

// Erase erases a subject. It first replaces the subject's record by the
// erasure marker (the tombstone) with check-and-set: from then on every
// reader sees Erased and no concurrent writer can succeed, since each
// writes against the version it read. Then it destroys every older version
// of the record, which removes the sealed values and the wrapped DEK from
// Vault's storage, and drops the cached DEK and record. It is idempotent: a
// second call reports AlreadyErased with the first erasure's ID and time,
// and finishes the destruction if an earlier call was interrupted.
func (s *Store) Erase(ctx context.Context, subject, erasureID string) (vault.EraseResult, error) {
	if err := s.check(); err != nil {
		return vault.EraseResult{}, err
	}
	if err := vault.ValidateSubject(subject); err != nil {
		return vault.EraseResult{}, fmt.Errorf("erase: %w", err)
	}
	if erasureID == "" {
		return vault.EraseResult{}, fmt.Errorf("erase: empty erasure ID: %w", vault.ErrInvalid)
	}
	s.deks.Drop(subject)
	s.recs.drop(subject)
	defer func() {
		s.deks.Drop(subject)
		s.recs.drop(subject)
	}()
	for attempt := 0; attempt < s.opts.Retries; attempt++ {
		st, err := s.load(ctx, subject, false)
		if err != nil {
			return vault.EraseResult{}, fmt.Errorf("erase: %w", err)
		}
		res := vault.EraseResult{Subject: subject}
		markerVersion := st.version
		var marker *erasure
		if e := st.erased(); e != nil {
			res.ErasureID, res.ErasedAt, res.AlreadyErased = e.ID, e.At, true
			marker = e
		} else {
			res.ErasureID, res.ErasedAt = erasureID, s.opts.Now().UTC()
			marker = &erasure{ID: res.ErasureID, At: res.ErasedAt}
			if st.live() {
				res.ValuesDeleted, res.DEKDestroyed = len(st.rec.Values), st.rec.DEK != ""
				for k := range st.rec.Blind {
					marker.Blind = append(marker.Blind, k)
				}
				sort.Strings(marker.Blind)
			}
			marker.Values, marker.HadDEK = res.ValuesDeleted, res.DEKDestroyed
			rctx, cancel := s.reqCtx(ctx)
			markerVersion, err = s.kv.writeSubject(rctx, subject, &record{Erased: marker}, st.version)
			cancel()
			if errors.Is(err, errCAS) {
				casBackoff(ctx, attempt)
				continue // a write landed since the read: erase that too
			}
			if err != nil {
				return vault.EraseResult{}, fmt.Errorf("erase: write tombstone: %w", err)
			}
		}
		// The subject reads as erased everywhere now. Destroy what the
		// older versions hold (again, if an earlier call was interrupted).
		rctx, cancel := s.reqCtx(ctx)
		err = s.kv.destroyOlder(rctx, subject, markerVersion)
		cancel()
		if err != nil {
			return vault.EraseResult{}, fmt.Errorf("erase: destroy values and DEK: %w", err)
		}
		if len(marker.Blind) > 0 {
			if err := s.eraseBlind(ctx, subject, marker, markerVersion); err != nil {
				return vault.EraseResult{}, fmt.Errorf("erase: %w", err)
			}
		}
		return res, nil
	}
	return vault.EraseResult{}, fmt.Errorf("erase: %d check-and-set conflicts in a row: %w", s.opts.Retries, vault.ErrUnavailable)
}

// Export returns every value held for the subject, oldest first. An
// unknown or erased subject has none.
func (s *Store) Export(ctx context.Context, subject string) ([]vault.Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := vault.ValidateSubject(subject); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	st, err := s.load(ctx, subject, false)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if !st.live() || len(st.rec.Values) == 0 {
		return nil, nil
	}
	if err := s.unwrapDEKs(ctx, []*subjectState{st}); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	out := make([]vault.Record, 0, len(st.rec.Values))
	for id, v := range st.rec.Values {
		tok, err := tokenFromID(subject, id)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		pt, err := openValue(st, tok, v)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		out = append(out, vault.Record{Token: tok, Class: v.Class, Value: vault.NewPII(pt), CreatedAt: time.Unix(0, v.Created)})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].Token < out[j].Token
	})
	return out, nil
}

// Describe lists what is held for a subject, without values.
func (s *Store) Describe(ctx context.Context, subject string) (vault.SubjectInfo, error) {
	if err := s.check(); err != nil {
		return vault.SubjectInfo{}, err
	}
	if err := vault.ValidateSubject(subject); err != nil {
		return vault.SubjectInfo{}, fmt.Errorf("describe: %w", err)
	}
	st, err := s.load(ctx, subject, false)
	if err != nil {
		return vault.SubjectInfo{}, fmt.Errorf("describe: %w", err)
	}
	info := vault.SubjectInfo{Subject: subject}
	if e := st.erased(); e != nil {
		info.Erased, info.ErasedAt, info.ErasureID = true, e.At, e.ID
		return info, nil
	}
	if !st.live() {
		return info, nil
	}
	for id, v := range st.rec.Values {
		tok, err := tokenFromID(subject, id)
		if err != nil {
			return vault.SubjectInfo{}, fmt.Errorf("describe: %w", err)
		}
		info.Tokens = append(info.Tokens, vault.TokenInfo{Token: tok, Class: v.Class, CreatedAt: time.Unix(0, v.Created)})
	}
	sort.Slice(info.Tokens, func(i, j int) bool {
		a, b := info.Tokens[i], info.Tokens[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.Token < b.Token
	})
	return info, nil
}

// Purge has nothing to do on this backend: Erase already destroyed every
// version that held a value or the DEK, in Vault's storage. It
// reports zero subjects. Whether Vault's own storage backend (Raft,
// Consul) reclaims the bytes on disk is the Vault operator's concern; see
// doc.go.
func (s *Store) Purge(ctx context.Context) (vault.PurgeReport, error) {
	if err := s.check(); err != nil {
		return vault.PurgeReport{}, err
	}
	now := s.opts.Now()
	return vault.PurgeReport{StartedAt: now, DoneAt: now}, nil
}

// RewrapReport says what Rewrap did.
type RewrapReport struct {
	Subjects  int // records looked at
	Rewrapped int // wrapped DEKs moved to the current KEK version
	Skipped   int // records that changed under the rewrap; the next run gets them
}

// RotateKEK makes a new KEK version current and then rewraps every stored
// DEK under it (Rewrap). The store stays online throughout: old versions
// still unwrap until the rewrap is done.
func (s *Store) RotateKEK(ctx context.Context) (RewrapReport, error) {
	if err := s.check(); err != nil {
		return RewrapReport{}, err
	}
	rctx, cancel := s.reqCtx(ctx)
	err := s.kp.Rotate(rctx)
	cancel()
	if err != nil {
		return RewrapReport{}, fmt.Errorf("rotate kek: %w", keyErr(err))
	}
	s.pool.flush() // pooled DEKs are wrapped by the old version
	return s.Rewrap(ctx)
}

// Rewrap moves every stored wrapped DEK to the key provider's current KEK
// version, in batches of 100 subjects, while the store stays in use. With
// Transit the DEKs never leave Vault (transit/rewrap). A record written by
// someone else during the rewrap is skipped, not overwritten.
func (s *Store) Rewrap(ctx context.Context) (RewrapReport, error) {
	if err := s.check(); err != nil {
		return RewrapReport{}, err
	}
	rctx, cancel := s.reqCtx(ctx)
	subjects, err := s.kv.listSubjects(rctx)
	cancel()
	if err != nil {
		return RewrapReport{}, fmt.Errorf("rewrap: %w", err)
	}
	var rep RewrapReport
	var mu sync.Mutex
	const batch = 100
	for start := 0; start < len(subjects); start += batch {
		part := subjects[start:min(start+batch, len(subjects))]
		states := make([]*subjectState, len(part))
		if err := s.parallel(ctx, len(part), func(ctx context.Context, i int) error {
			st, err := s.load(ctx, part[i], false)
			states[i] = st
			return err
		}); err != nil {
			return rep, fmt.Errorf("rewrap: %w", err)
		}
		var live []*subjectState
		var wrapped [][]byte
		for _, st := range states {
			rep.Subjects++
			if !st.live() || st.rec.DEK == "" {
				continue
			}
			w, err := base64.StdEncoding.DecodeString(st.rec.DEK)
			if err != nil {
				return rep, fmt.Errorf("rewrap: stored DEK malformed: %w", vault.ErrTampered)
			}
			live = append(live, st)
			wrapped = append(wrapped, w)
		}
		if len(live) == 0 {
			continue
		}
		rewrapped, err := s.rewrapBatch(ctx, wrapped)
		if err != nil {
			return rep, fmt.Errorf("rewrap: %w", err)
		}
		if err := s.parallel(ctx, len(live), func(ctx context.Context, i int) error {
			st := live[i]
			next := st.rec.clone()
			next.DEK = base64.StdEncoding.EncodeToString(rewrapped[i])
			rctx, cancel := s.reqCtx(ctx)
			_, err := s.kv.writeSubject(rctx, st.subject, next, st.version)
			cancel()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, errCAS):
				rep.Skipped++
				return nil
			case err != nil:
				return err
			}
			rep.Rewrapped++
			s.recs.drop(st.subject)
			return nil
		}); err != nil {
			return rep, fmt.Errorf("rewrap: %w", err)
		}
	}
	return rep, nil
}

func (s *Store) rewrapBatch(ctx context.Context, wrapped [][]byte) ([][]byte, error) {
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	out, err := vault.RewrapAll(rctx, s.kp, wrapped)
	if err != nil {
		return nil, keyErr(err)
	}
	return out, nil
}

// parallel runs fn for 0..n-1 with at most opts.Concurrency at once and
// returns the first error; it stops starting new calls after one fails.
func (s *Store) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, s.opts.Concurrency)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}(i)
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		// The caller's context ended, perhaps before every call started.
		return unavailable(ctx.Err())
	}
	return first
}

func trimSlashes(s string) string {
	for len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// newTokenID mints a token for subject and returns its random ID.
func newTokenID(subject string) (vault.Token, [vault.TokenIDSize]byte, error) {
	tok, err := vault.NewToken(subject)
	if err != nil {
		return "", [vault.TokenIDSize]byte{}, err
	}
	_, id, err := vault.SplitToken(tok)
	return tok, id, err
}

// tokenIDString is how a token ID names its value in a record: the same
// unpadded base64url as in the token.
func tokenIDString(id [vault.TokenIDSize]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func tokenFromID(subject, s string) (vault.Token, error) {
	var id [vault.TokenIDSize]byte
	n, err := base64.RawURLEncoding.Decode(id[:], []byte(s))
	if err != nil || n != vault.TokenIDSize || len(s) != base64.RawURLEncoding.EncodedLen(vault.TokenIDSize) {
		return "", fmt.Errorf("stored token ID malformed: %w", errCorrupt)
	}
	return vault.FormatToken(subject, id), nil
}

// casBackoff waits a random time that grows with the attempt before a
// check-and-set retry. Without it, writers contending for one subject's
// record retry in lockstep and can all lose Retries times in a row.
func casBackoff(ctx context.Context, attempt int) {
	ceiling := time.Millisecond << min(attempt, 6) // 1 ms .. 64 ms
	t := time.NewTimer(time.Duration(rand.Int64N(int64(ceiling))))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
