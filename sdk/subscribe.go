package sdk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// SubscribeOptions bound a subscription.
type SubscribeOptions struct {
	// From is the first global position to receive, inclusive; 0 is the
	// start of the log.
	From uint64
	// Purpose overrides the client's purpose.
	Purpose string
	// OnReconnect, if set, is called before each reconnection with the
	// error that ended the previous connection.
	OnReconnect func(err error)
}

// Subscribe yields every event of the log in global order from o.From, then
// live events as they are appended. It reconnects after a dropped
// connection, resuming after the last position it yielded, so each event is
// yielded once and in order. It yields an error and stops when ctx is done
// or the server refuses the subscription with a 4xx.
func (c *Client) Subscribe(ctx context.Context, o SubscribeOptions) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		var last uint64 // last position yielded
		if o.From > 0 {
			last = o.From - 1
		}
		wait := c.sseWait
		for {
			got, err := c.stream(ctx, o, last, func(ev Event) bool {
				if ev.Position <= last {
					return true // a duplicate across a reconnect
				}
				last = ev.Position
				return yield(ev, nil)
			})
			if errors.Is(err, errStopped) {
				return
			}
			if ctx.Err() != nil {
				yield(Event{}, ctx.Err())
				return
			}
			var ae *APIError
			if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusTooManyRequests {
				yield(Event{}, err)
				return
			}
			if got {
				wait = c.sseWait // the connection worked: start backing off anew
			}
			if o.OnReconnect != nil {
				o.OnReconnect(err)
			}
			if sleep(ctx, wait) != nil {
				yield(Event{}, ctx.Err())
				return
			}
			wait = min(wait*2, 5*time.Second)
		}
	}
}

var errStopped = errors.New("sdk: consumer stopped")

// sseErrorName is the "event:" field of the message a server sends before
// it ends a subscription because of an error; its data is a Problem.
const sseErrorName = "error"

// stream runs one SSE connection, calling fn for each event. It reports
// whether any event arrived and why the connection ended.
func (c *Client) stream(ctx context.Context, o SubscribeOptions, last uint64, fn func(Event) bool) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{}
	h := http.Header{"Accept": {"text/event-stream"}}
	if last > 0 {
		h.Set(HeaderLastEventID, strconv.FormatUint(last, 10))
		q.Set("from", strconv.FormatUint(last+1, 10))
	}
	if o.Purpose != "" {
		h.Set(HeaderPurpose, o.Purpose)
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/subscribe", query: q, header: h}, nil)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, decode(resp, nil)
	}
	got := false
	err = readSSE(resp.Body, func(name string, data []byte) error {
		switch name {
		case sseErrorName:
			// The server ends the stream with a problem: a 4xx one stops
			// the subscription, anything else is worth a reconnect.
			var p Problem
			_ = json.Unmarshal(data, &p)
			return &APIError{Status: p.Status, Code: p.Code, Title: p.Title, Detail: p.Detail}
		case "", SSEEventName:
			var ev Event
			if err := json.Unmarshal(data, &ev); err != nil {
				return fmt.Errorf("sdk: decode subscription event: %w", err)
			}
			got = true
			if !fn(ev) {
				return errStopped
			}
		}
		return nil
	})
	if err != nil {
		return got, err
	}
	return got, errors.New("sdk: subscription closed by the server")
}

// readSSE reads Server-Sent Events from r and calls fn with each message's
// event name and data (data lines joined by newlines). Comments and
// messages without data are skipped; an error from fn stops the read.
func readSSE(r io.Reader, fn func(name string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var name string
	var data bytes.Buffer
	hasData := false
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0: // end of a message
			if hasData {
				if err := fn(name, data.Bytes()); err != nil {
					return err
				}
			}
			name, hasData = "", false
			data.Reset()
		case line[0] == ':': // comment, heartbeat
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				name = string(value)
			case "data":
				if hasData {
					data.WriteByte('\n')
				}
				data.Write(value)
				hasData = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("sdk: subscription: %w", err)
	}
	return nil
}
