package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// ErasureQuery filters ListErasures; zero fields do not filter.
type ErasureQuery struct {
	// Status is requested, erased, purged, completed, rejected or open.
	Status       string
	Subject      string
	Overdue      bool
	NearDeadline bool
	// After is the erasure ID to continue after (paging).
	After string
	Limit int
}

// ListErasures lists erasure requests, for example the overdue ones.
func (c *Client) ListErasures(ctx context.Context, q ErasureQuery) ([]Erasure, error) {
	v := url.Values{}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Subject != "" {
		v.Set("subject", q.Subject)
	}
	if q.Overdue {
		v.Set("overdue", "true")
	}
	if q.NearDeadline {
		v.Set("nearDeadline", "true")
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out ErasureList
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/erasures", query: v, safe: true}, &out)
	return out.Erasures, err
}

// GetHold returns the legal hold of subject (ErrNotFound if it never had
// one).
func (c *Client) GetHold(ctx context.Context, subject string) (Hold, error) {
	var out Hold
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/subjects/" + seg(subject) + "/hold", safe: true}, &out)
	return out, err
}

// PlaceHold puts subject under a legal hold: erasures are rejected with
// ErrLegalHold until it is lifted. Placing is audited.
func (c *Client) PlaceHold(ctx context.Context, subject, reason string) (Hold, error) {
	var out Hold
	err := c.do(ctx, request{method: http.MethodPut, path: "/v1/subjects/" + seg(subject) + "/hold", body: HoldRequest{Reason: reason}, safe: true}, &out)
	return out, err
}

// LiftHold lifts subject's legal hold.
func (c *Client) LiftHold(ctx context.Context, subject, reason string) (Hold, error) {
	var out Hold
	err := c.do(ctx, request{method: http.MethodDelete, path: "/v1/subjects/" + seg(subject) + "/hold", body: HoldRequest{Reason: reason}, safe: true}, &out)
	return out, err
}

// FindSubjects returns the subjects that hold value in class ("email" or
// "phone"), through the server's blind index; never values. It fails with
// ErrNotImplemented when the server has no blind index.
func (c *Client) FindSubjects(ctx context.Context, class, value string) ([]string, error) {
	var q SubjectSearch
	switch class {
	case "email":
		q.Email = value
	case "phone":
		q.Phone = value
	default:
		return nil, fmt.Errorf("find subjects: class %q: want email or phone", class)
	}
	var out SubjectList
	// POST, with the value in the body: a lookup changes nothing, so it is
	// safe to retry.
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/subjects/search", body: q, safe: true}, &out)
	return out.Subjects, err
}

// ReceiptPublicKey returns the PEM-encoded Ed25519 public key that verifies
// the server's erasure receipts.
func (c *Client) ReceiptPublicKey(ctx context.Context) ([]byte, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/receipts/public-key"}, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, problem(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("sdk: read public key: %w", err)
	}
	return b, nil
}

// AdvanceErasures moves every open erasure as far as it goes now (admin):
// requested ones are erased in the vault, purged ones get their signed
// receipt and complete. The server's background worker does the same on
// its own; this is the trigger for operators and tests. With a vault that
// purges in the background (the embedded vault, once it is quiet),
// erasures it has not purged yet stay erased and count as AwaitingPurge.
func (c *Client) AdvanceErasures(ctx context.Context) (AdvanceReport, error) {
	var out AdvanceReport
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/erasures/advance", safe: true}, &out)
	return out, err
}

// PurgeErasures makes every erased subject physical in the server's vault
// now, then advances the workflow, so that erasures waiting for the
// vault's background purge (AwaitingPurge of AdvanceErasures) complete at
// once (admin). The embedded vault's purge stalls its writers and readers
// while it runs, which is why it otherwise waits for a quiet moment: call
// this when an erasure must be complete now, not on a schedule. It fails
// with ErrNotImplemented when the server has no erasure workflow.
//
// It is retried like a read: a purge is idempotent. A second one finds
// the vault's queue empty, or shorter if the first was cut off (then it
// goes on where that one stopped), and the workflow completes an erasure
// only once, so a retry after a lost answer repeats nothing but cheap
// work; its report then counts only what the retry itself did.
func (c *Client) PurgeErasures(ctx context.Context) (PurgeReport, error) {
	var out PurgeReport
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/erasures/purge", safe: true}, &out)
	return out, err
}

// RunRetention runs the server's retention job now (admin): values whose
// retention period has passed are destroyed and each expiry is recorded.
// It fails with ErrNotImplemented when the server has no erasure workflow.
func (c *Client) RunRetention(ctx context.Context) (RetentionReport, error) {
	var out RetentionReport
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/admin/retention/run", safe: true}, &out)
	return out, err
}

// ErasureCompletedOf reports whether ev is the completion of an erasure in
// $erasures, and returns it. A read model that subscribes to the log calls
// it on every event and, when it reports true, forgets the subject:
//
//	for ev, err := range c.Subscribe(ctx, sdk.SubscribeOptions{From: next}) {
//		if done, ok := sdk.ErasureCompletedOf(ev); ok {
//			projection.Forget(done.Subject)
//		}
//	}
func ErasureCompletedOf(ev Event) (ErasureCompletedEvent, bool) {
	if ev.Stream != StreamErasures || ev.Type != EventTypeErasureComplete {
		return ErasureCompletedEvent{}, false
	}
	var e ErasureCompletedEvent
	if err := json.Unmarshal(ev.Data, &e); err != nil || e.Subject == "" {
		return ErasureCompletedEvent{}, false
	}
	return e, true
}
