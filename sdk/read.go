package sdk

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// Direction is the order of a stream read.
type Direction string

const (
	// Forward reads from old to new (the default).
	Forward Direction = "forward"
	// Backward reads from new to old; From 0 starts at the end.
	Backward Direction = "backward"
)

// MaxPageSize is the largest page the server returns; larger page sizes are
// lowered to it.
const MaxPageSize = 1000

// ReadOptions bound a read. The zero value reads everything forward.
type ReadOptions struct {
	// From is the first version (ReadStream) or global position (ReadAll) to
	// return, inclusive; 0 means the start (or the end, reading Backward).
	From uint64
	// Max caps how many events the iterator yields in all; 0 is no cap.
	Max int
	// PageSize overrides the client's page size for this read.
	PageSize int
	// Direction of a stream read; ReadAll is always Forward.
	Direction Direction
	// Purpose overrides the client's purpose for this read.
	Purpose string
	// Types keeps only these event types (ReadAll only).
	Types []string
}

// ReadStreamPage reads one page of a stream.
func (c *Client) ReadStreamPage(ctx context.Context, stream string, from uint64, limit int, dir Direction, purpose string) ([]Event, error) {
	q := url.Values{}
	if from > 0 {
		q.Set("from", strconv.FormatUint(from, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if dir != "" {
		q.Set("direction", string(dir))
	}
	var page EventsPage
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/streams/" + seg(stream) + "/events", query: q, header: purposeHeader(purpose), safe: true}, &page)
	return page.Events, err
}

// ReadAllPage reads one page of all streams in global order.
func (c *Client) ReadAllPage(ctx context.Context, from uint64, limit int, types []string, purpose string) ([]Event, error) {
	q := url.Values{}
	if from > 0 {
		q.Set("from", strconv.FormatUint(from, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	for _, t := range types {
		q.Add("type", t)
	}
	var page EventsPage
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/events", query: q, header: purposeHeader(purpose), safe: true}, &page)
	return page.Events, err
}

func purposeHeader(p string) http.Header {
	if p == "" {
		return nil
	}
	return http.Header{HeaderPurpose: {p}}
}

// ReadStream yields the events of one stream, fetching pages as the loop
// asks for them. On an error it yields the error once and stops.
func (c *Client) ReadStream(ctx context.Context, stream string, o ReadOptions) iter.Seq2[Event, error] {
	return c.pages(o, func(from uint64, limit int) ([]Event, error) {
		return c.ReadStreamPage(ctx, stream, from, limit, o.Direction, o.Purpose)
	}, func(last Event) (uint64, bool) {
		if o.Direction == Backward {
			return last.Version - 1, last.Version > 1
		}
		return last.Version + 1, true
	})
}

// ReadAll yields the events of all streams in global order, from
// o.From (a position, inclusive), fetching pages as the loop asks.
func (c *Client) ReadAll(ctx context.Context, o ReadOptions) iter.Seq2[Event, error] {
	return c.pages(o, func(from uint64, limit int) ([]Event, error) {
		return c.ReadAllPage(ctx, from, limit, o.Types, o.Purpose)
	}, func(last Event) (uint64, bool) { return last.Position + 1, true })
}

// pages drives a paged read: fetch a page, yield it, continue after its last
// event until a short page, the cap, or the consumer stops.
func (c *Client) pages(o ReadOptions, fetch func(from uint64, limit int) ([]Event, error), next func(last Event) (uint64, bool)) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		size := o.PageSize
		if size <= 0 {
			size = c.page
		}
		// A short page ends the read, so never ask for more than the
		// server's largest page.
		size = min(size, MaxPageSize)
		from, yielded := o.From, 0
		for {
			limit := size
			if o.Max > 0 && o.Max-yielded < limit {
				limit = o.Max - yielded
			}
			evs, err := fetch(from, limit)
			if err != nil {
				yield(Event{}, err)
				return
			}
			for _, ev := range evs {
				if !yield(ev, nil) {
					return
				}
				yielded++
			}
			if len(evs) < limit || len(evs) == 0 || (o.Max > 0 && yielded >= o.Max) {
				return
			}
			var more bool
			if from, more = next(evs[len(evs)-1]); !more {
				return
			}
		}
	}
}
