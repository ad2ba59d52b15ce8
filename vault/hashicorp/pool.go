package hashicorp

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"

	"github.com/piivault/piivault/vault"
)

// dekPool holds fresh DEKs that are already wrapped, so that a Put for a
// new subject does not wait for a key-provider round trip: DEKs are wrapped
// in batches (one Transit request for poolBatch keys) and handed out one
// by one. A pooled DEK belongs to no subject until a Put stores its wrapped
// form in a record; one that loses a check-and-set race is thrown away,
// never reused. flush empties the pool (after a KEK rotation).
type dekPool struct {
	s     *Store
	batch int

	mu        sync.Mutex
	items     []pooledDEK
	refill    chan struct{} // non-nil while a refill runs; closed when done
	refillErr error
}

type pooledDEK struct {
	dek     *vault.DEK
	wrapped string // base64 of the provider's wrapped DEK
}

func newDEKPool(s *Store, batch int) *dekPool {
	return &dekPool{s: s, batch: batch}
}

// take returns a fresh, wrapped DEK.
func (p *dekPool) take(ctx context.Context) (pooledDEK, error) {
	for {
		p.mu.Lock()
		if n := len(p.items); n > 0 {
			d := p.items[n-1]
			p.items[n-1] = pooledDEK{}
			p.items = p.items[:n-1]
			low := len(p.items) < p.batch/4 && p.refill == nil
			if low {
				p.startRefillLocked()
			}
			p.mu.Unlock()
			return d, nil
		}
		if p.refill == nil {
			p.startRefillLocked()
		}
		wait := p.refill
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return pooledDEK{}, unavailable(ctx.Err())
		}
		p.mu.Lock()
		err := p.refillErr
		empty := len(p.items) == 0
		p.mu.Unlock()
		if err != nil && empty {
			return pooledDEK{}, err
		}
	}
}

// startRefillLocked wraps a batch of new DEKs in the background.
func (p *dekPool) startRefillLocked() {
	done := make(chan struct{})
	p.refill = done
	go func() {
		items, err := p.s.wrapNew(context.Background(), p.batch)
		p.mu.Lock()
		p.items = append(p.items, items...)
		p.refillErr = err
		p.refill = nil
		p.mu.Unlock()
		close(done)
	}()
}

// flush throws the pooled DEKs away.
func (p *dekPool) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.items {
		d.dek.Destroy()
	}
	p.items = nil
}

// wrapNew makes n fresh DEKs and wraps them in one batch when the key
// provider can.
func (s *Store) wrapNew(ctx context.Context, n int) ([]pooledDEK, error) {
	deks := make([]*vault.DEK, n)
	raws := make([][]byte, n)
	for i := range deks {
		d, err := vault.NewDEK()
		if err != nil {
			return nil, err
		}
		deks[i], raws[i] = d, d.Bytes()
	}
	rctx, cancel := s.reqCtx(ctx)
	defer cancel()
	ws, err := vault.WrapAll(rctx, s.kp, raws)
	if err != nil {
		return nil, fmt.Errorf("wrap dek: %w", keyErr(err))
	}
	out := make([]pooledDEK, n)
	for i := range out {
		out[i] = pooledDEK{dek: deks[i], wrapped: base64.StdEncoding.EncodeToString(ws[i])}
	}
	return out, nil
}
