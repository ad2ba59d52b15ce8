package embedded

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/piivault/piivault/vault"
)

// resolveWalk is how many keys resolve steps over with Next to reach the
// next wanted value of a subject before it seeks instead. A step costs a
// fraction of a seek, which searches every memtable and level; reading a
// stream of one subject wants most of its values, and steps of one or two
// reach each. Once a walk of a subject misses, its other values are sought.
const resolveWalk = 3

// parallelTokens is the fewest tokens per goroutine for which resolve
// splits a batch: below it, starting a goroutine costs more than it saves.
// A batch is split in at most GOMAXPROCS / (Resolve calls in flight).
const parallelTokens = 64

// arenaChunk is the size of the buffers resolve decrypts values into; one
// per few dozen values instead of one allocation per value.
const arenaChunk = 8 << 10

// maxInterned bounds the class names a resolve shares among its values.
const maxInterned = 16

// wanted is one well-formed token of a Resolve batch. Its ID is held as
// two big-endian halves, so that sorting compares integers.
type wanted struct {
	sub    int32 // index into the batch's subjects
	i      int32 // index into the tokens and the results
	hi, lo uint64
}

func (w *wanted) id() (id [vault.TokenIDSize]byte) {
	binary.BigEndian.PutUint64(id[:8], w.hi)
	binary.BigEndian.PutUint64(id[8:], w.lo)
	return id
}

// resolveSubject is what a resolve learned of one subject of its batch.
type resolveSubject struct {
	name   string
	erased bool
	dek    *vault.DEK
}

// resolve resolves toks in one read transaction: the tokens are grouped by
// subject and sorted by key, and each subject's values are read with one
// iterator, by a seek to the first and steps to the next where they are
// close (a point lookup searches every level for each key). With
// trustCache, a subject whose DEK is cached is taken as not erased without
// reading its tombstone; see Store.erasing for when that holds.
func (s *Store) resolve(ctx context.Context, toks []vault.Token, trustCache bool) ([]vault.Resolved, error) {
	out := make([]vault.Resolved, len(toks))
	memo := make(map[string]string)
	index := make(map[string]int32)
	var subs []resolveSubject
	ws := make([]wanted, 0, len(toks))
	last := int32(-1)
	for i, tok := range toks {
		out[i] = vault.Resolved{Token: tok, State: vault.Unknown}
		sub, id, err := vault.SplitTokenMemo(tok, memo)
		if err != nil {
			continue
		}
		// Tokens of a subject tend to come together (the fields of one
		// event); memoized subjects share their string.
		if last < 0 || subs[last].name != sub {
			n, ok := index[sub]
			if !ok {
				n = int32(len(subs))
				index[sub] = n
				subs = append(subs, resolveSubject{name: sub})
			}
			last = n
		}
		out[i].Subject = subs[last].name
		ws = append(ws, wanted{sub: last, i: int32(i), hi: binary.BigEndian.Uint64(id[:8]), lo: binary.BigEndian.Uint64(id[8:])})
	}
	if len(ws) == 0 {
		return out, nil
	}
	slices.SortFunc(ws, func(a, b wanted) int {
		if a.sub != b.sub {
			return cmp.Compare(a.sub, b.sub)
		}
		if a.hi != b.hi {
			return cmp.Compare(a.hi, b.hi)
		}
		return cmp.Compare(a.lo, b.lo)
	})
	gen := s.cache.Generation() // before the snapshot, see loadDEK
	// One snapshot for the batch. A big batch is split between goroutines
	// at a subject boundary, each with its own iterator on the shared
	// read-only transaction: Badger's NewIterator, Get and Close touch only
	// atomics and the DB's own locks for those, and a transaction costs
	// two trips to Badger's watermark goroutine.
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	parts := min(runtime.GOMAXPROCS(0)/max(1, int(s.resolving.Load())), len(ws)/parallelTokens)
	if parts < 2 {
		if err := s.resolveGroups(ctx, txn, ws, subs, toks, out, trustCache, gen); err != nil {
			return nil, err
		}
		return out, nil
	}
	errs := make(chan error, parts-1)
	started := 0
	rest := ws
	for p := parts; p > 1; p-- {
		cut := len(rest) - len(rest)/p
		for cut < len(rest) && rest[cut].sub == rest[cut-1].sub {
			cut++
		}
		if cut == len(rest) {
			continue // one subject: its values are read in order
		}
		part := rest[cut:]
		rest = rest[:cut]
		started++
		go func() { errs <- s.resolveGroups(ctx, txn, part, subs, toks, out, trustCache, gen) }()
	}
	err := s.resolveGroups(ctx, txn, rest, subs, toks, out, trustCache, gen)
	for range started {
		err = cmp.Or(err, <-errs)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// resolveGroups resolves ws, sorted by subject and ID, in the read-only
// txn, writing the results of their tokens into out. Goroutines given
// distinct subjects may run it at once.
func (s *Store) resolveGroups(ctx context.Context, txn *badger.Txn, ws []wanted, subs []resolveSubject, toks []vault.Token,
	out []vault.Resolved, trustCache bool, gen uint64) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixData}})
	defer it.Close()
	r := resolver{txn: txn, it: it}
	for start := 0; start < len(ws); {
		end := start + 1
		for end < len(ws) && ws[end].sub == ws[start].sub {
			end++
		}
		st := &subs[ws[start].sub]
		var err error
		if k, ok := s.cache.Get(st.name); ok && trustCache {
			st.dek = k
		} else if st.erased, err = isErased(txn, st.name); err != nil {
			return err
		} else if !st.erased {
			if st.dek, err = s.loadDEK(ctx, txn, st.name, gen); err != nil {
				return err
			}
		}
		group := ws[start:end]
		start = end
		switch {
		case st.erased:
			for _, w := range group {
				out[w.i].State = vault.Erased
			}
			continue
		case st.dek == nil:
			continue // Unknown
		}
		if err := r.subject(st, group, toks, out); err != nil {
			return err
		}
	}
	return nil
}

// resolver reads the values of one resolve, subject by subject.
type resolver struct {
	txn     *badger.Txn
	it      *badger.Iterator
	key     []byte
	arena   []byte
	opener  vault.Opener
	classes []string
}

// subject reads the values of group, the wanted tokens of st sorted by ID.
func (r *resolver) subject(st *resolveSubject, group []wanted, toks []vault.Token, out []vault.Resolved) error {
	r.key = append(appendSubject(r.key[:0], prefixData, st.name), kindValue)
	plen := len(r.key)
	walk := -1 // steps allowed from the iterator's key; -1: seek
	for j, w := range group {
		r.key = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(r.key[:plen], w.hi), w.lo)
		if !r.walk(walk) {
			walk = -1
			r.it.Seek(r.key)
		}
		if r.it.Valid() && bytes.Equal(r.it.Item().Key(), r.key) {
			if err := r.open(st, toks[w.i], &out[w.i]); err != nil {
				return err
			}
		} else if err := resolveExpired(r.txn, st.name, w.id(), &out[w.i]); err != nil {
			return err
		}
		if j == 0 {
			walk = resolveWalk
		}
	}
	return nil
}

// walk steps the iterator, at a key of the same subject at or before
// r.key, forward to r.key in at most n steps, and reports whether it
// arrived at r.key or past it. n < 0 means do not try.
func (r *resolver) walk(n int) bool {
	if n < 0 {
		return false
	}
	for it := r.it; it.Valid(); it.Next() {
		if bytes.Compare(it.Item().Key(), r.key) >= 0 {
			return true
		}
		if n == 0 {
			return false
		}
		n--
	}
	return true // past the last key: nothing more to find
}

// open decrypts the value under the iterator into res.
func (r *resolver) open(st *resolveSubject, tok vault.Token, res *vault.Resolved) error {
	return r.it.Item().Value(func(v []byte) error {
		class, sealed, err := parseValueRecordView(v)
		if err != nil {
			return fmt.Errorf("resolve: %w", vault.ErrTampered)
		}
		cl := r.intern(class)
		if cap(r.arena)-len(r.arena) < len(sealed) {
			r.arena = make([]byte, 0, max(arenaChunk, len(sealed)))
		}
		n := len(r.arena)
		r.arena, err = r.opener.AppendOpen(r.arena, st.dek, st.name, tok, cl, sealed)
		if err != nil {
			return fmt.Errorf("resolve: %w", err)
		}
		res.Class = cl
		res.Value = vault.NewPII(r.arena[n:len(r.arena):len(r.arena)])
		res.State = vault.Found
		return nil
	})
}

// intern returns class as a string shared with earlier values of the
// resolve.
func (r *resolver) intern(class []byte) string {
	for _, c := range r.classes {
		if c == string(class) {
			return c
		}
	}
	c := string(class)
	if len(r.classes) < maxInterned {
		r.classes = append(r.classes, c)
	}
	return c
}
