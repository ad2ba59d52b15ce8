package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ExpectedVersion is the optimistic-concurrency condition of an append.
type ExpectedVersion int64

const (
	// Any appends whatever the stream's version.
	Any ExpectedVersion = -1
	// NoStream appends only if the stream does not exist yet.
	NoStream ExpectedVersion = 0
)

// Client calls one piivault sidecar. It is safe for concurrent use. Create it
// with New; WithToken and WithPurpose derive copies.
type Client struct {
	base    *url.URL
	hc      *http.Client
	token   string
	purpose string
	agent   string
	retry   RetryPolicy
	page    int
	sseWait time.Duration
}

// RetryPolicy says how safe calls are retried.
type RetryPolicy struct {
	// Attempts is the total number of tries, the first included; 1 disables
	// retries.
	Attempts int
	// Base is the first backoff; each retry doubles it, up to Max, with
	// jitter.
	Base, Max time.Duration
}

// DefaultRetryPolicy returns 4 attempts backing off from 50 ms to 2 s.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Attempts: 4, Base: 50 * time.Millisecond, Max: 2 * time.Second}
}

// Option configures a Client.
type Option func(*Client)

// WithToken sets the bearer token sent on every call.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithPurpose sets the default purpose of reads (the X-Purpose header).
func WithPurpose(purpose string) Option { return func(c *Client) { c.purpose = purpose } }

// WithHTTPClient sets the http.Client used for every call; by default a
// client with no overall timeout (calls are bounded by their ctx) and a pool
// of 64 idle connections per host.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetry sets the retry policy of safe calls.
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithPageSize sets how many events a read iterator asks for per page
// (default 100).
func WithPageSize(n int) Option { return func(c *Client) { c.page = n } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.agent = ua } }

// WithReconnectDelay sets the first delay before a subscription reconnects
// (default 200 ms, doubling up to 5 s).
func WithReconnectDelay(d time.Duration) Option { return func(c *Client) { c.sseWait = d } }

// New returns a client of the sidecar at baseURL, for example
// "http://127.0.0.1:8200".
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("sdk: parse base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("sdk: base URL %q: want http(s)://host[:port]", baseURL)
	}
	c := &Client{
		base:    u,
		retry:   DefaultRetryPolicy(),
		page:    100,
		agent:   "piivault-sdk-go",
		sseWait: 200 * time.Millisecond,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		c.hc = &http.Client{Transport: tr}
	}
	if c.retry.Attempts < 1 {
		c.retry.Attempts = 1
	}
	if c.page <= 0 {
		c.page = 100
	}
	return c, nil
}

// WithToken returns a copy of c that sends token.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// WithPurpose returns a copy of c whose reads state purpose.
func (c *Client) WithPurpose(purpose string) *Client {
	cp := *c
	cp.purpose = purpose
	return &cp
}

// request is one call to send.
type request struct {
	method string
	path   string // already escaped
	query  url.Values
	body   any
	header http.Header
	// safe calls are retried.
	safe bool
}

func (c *Client) url(path string, q url.Values) string {
	return strings.TrimRight(c.base.String(), "/") + path + query(q)
}

func query(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// do sends r, retrying when r.safe, and decodes a 2xx JSON answer into out
// (which may be nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	return c.exchange(ctx, r, func(resp *http.Response) error { return decode(resp, out) })
}

// fetch is do for an answer that is not JSON: it returns the body of a 2xx
// answer as it is, with its Content-Type.
func (c *Client) fetch(ctx context.Context, r request) (body []byte, contentType string, err error) {
	err = c.exchange(ctx, r, func(resp *http.Response) error {
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return problem(resp)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("sdk: read %d answer: %w", resp.StatusCode, err)
		}
		body, contentType = b, resp.Header.Get("Content-Type")
		return nil
	})
	return body, contentType, err
}

// exchange sends r, retrying when r.safe, and hands each answer to read,
// which closes its body and returns an *APIError for a failed one.
func (c *Client) exchange(ctx context.Context, r request, read func(*http.Response) error) error {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("sdk: encode request: %w", err)
		}
	}
	attempts := 1
	if r.safe {
		attempts = c.retry.Attempts
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if werr := sleep(ctx, c.backoff(i)); werr != nil {
				return err
			}
		}
		var resp *http.Response
		resp, err = c.send(ctx, r, body)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			continue // transport error: retry if safe
		}
		err = read(resp)
		if err == nil || !retryable(err) {
			return err
		}
	}
	return err
}

func (c *Client) send(ctx context.Context, r request, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.url(r.path, r.query), rd)
	if err != nil {
		return nil, fmt.Errorf("sdk: new request: %w", err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.purpose != "" && req.Header.Get(HeaderPurpose) == "" {
		req.Header.Set(HeaderPurpose, c.purpose)
	}
	if c.agent != "" {
		req.Header.Set("User-Agent", c.agent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL, and the path and query can hold
		// a subject ID or a looked-up value (FindSubjects): the error names
		// only the server, so that a logged transport error carries neither.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = c.base.Redacted()
		}
		return nil, fmt.Errorf("sdk: %s: %w", r.method, err)
	}
	return resp, nil
}

// decode reads resp into out on 2xx, or returns an *APIError.
func decode(resp *http.Response, out any) error {
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("sdk: decode %d answer: %w", resp.StatusCode, err)
		}
		return nil
	}
	return problem(resp)
}

// problem builds an *APIError from a non-2xx answer.
func problem(resp *http.Response) error {
	e := &APIError{Status: resp.StatusCode, RequestID: resp.Header.Get(HeaderRequestID)}
	var p Problem
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if json.Unmarshal(raw, &p) == nil {
		e.Code, e.Title, e.Detail, e.ActualVersion, e.Path = p.Code, p.Title, p.Detail, p.ActualVersion, p.Path
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

// retryable says whether a failed answer may succeed if sent again.
func retryable(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false // a decode error of a 2xx answer: not the server's fault to retry
	}
	return ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusBadGateway ||
		ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusGatewayTimeout
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.retry.Base << (attempt - 1)
	if d <= 0 || (c.retry.Max > 0 && d > c.retry.Max) {
		d = c.retry.Max
	}
	// Full jitter in [d/2, d): clients that failed together do not retry together.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func seg(s string) string { return url.PathEscape(s) }

// Append appends events to stream, all or nothing, if the stream is at the
// expected version (Any, NoStream, or an exact version N > 0). A conflict
// fails with an error matching ErrConflict whose *APIError carries the
// actual version. The call is retried on transient failures only when every
// event has an ID, since the log never appends the same ID twice.
func (c *Client) Append(ctx context.Context, stream string, expected ExpectedVersion, events ...EventInput) (AppendResult, error) {
	if len(events) == 0 {
		return AppendResult{}, fmt.Errorf("sdk: append to %q: no events", stream)
	}
	req := AppendRequest{Events: events}
	if expected >= 0 {
		v := uint64(expected)
		req.ExpectedVersion = &v
	}
	safe := true
	for _, e := range events {
		if e.ID == "" {
			safe = false
			break
		}
	}
	var res AppendResult
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/streams/" + seg(stream) + "/events", body: req, safe: safe}, &res)
	return res, err
}

// PutSchema declares which JSON pointers of eventType are PII. It is safe
// to repeat.
func (c *Client) PutSchema(ctx context.Context, eventType string, s Schema) (Schema, error) {
	var out Schema
	err := c.do(ctx, request{method: http.MethodPut, path: "/v1/schemas/" + seg(eventType), body: s, safe: true}, &out)
	return out, err
}

// GetSchema returns the current schema of eventType.
func (c *Client) GetSchema(ctx context.Context, eventType string) (Schema, error) {
	var out Schema
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/schemas/" + seg(eventType), safe: true}, &out)
	return out, err
}

// ListSchemas returns every declared schema.
func (c *Client) ListSchemas(ctx context.Context) ([]Schema, error) {
	var out SchemaList
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/schemas", safe: true}, &out)
	return out.Schemas, err
}

// Erase erases subject: its values and key are destroyed in the vault and
// every later read of its fields shows the placeholder. With a RequestID the
// call is idempotent and retried on transient failures.
func (c *Client) Erase(ctx context.Context, subject string, r ErasureRequest) (Erasure, error) {
	var out Erasure
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/subjects/" + seg(subject) + "/erasure", body: r, safe: r.RequestID != ""}, &out)
	return out, err
}

// GetErasure returns the status and receipt of an erasure.
func (c *Client) GetErasure(ctx context.Context, erasureID string) (Erasure, error) {
	var out Erasure
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/erasures/" + seg(erasureID), safe: true}, &out)
	return out, err
}

// Export returns everything held about subject (GDPR access and
// portability).
func (c *Client) Export(ctx context.Context, subject string) (SubjectExport, error) {
	var out SubjectExport
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/subjects/" + seg(subject) + "/export", safe: true}, &out)
	return out, err
}

// ExportCSV returns what Export returns, as the server's zip archive of
// CSV files (GET /v1/subjects/{subject}/export?format=csv): subject.csv
// (subject, erased, erasure), values.csv (one row per value, by class)
// and events.csv (the events that reference the subject, without values).
// Read it with archive/zip. Like Export it needs the export permission and
// is audited.
func (c *Client) ExportCSV(ctx context.Context, subject string) ([]byte, error) {
	b, ct, err := c.fetch(ctx, request{method: http.MethodGet, path: "/v1/subjects/" + seg(subject) + "/export",
		query: url.Values{"format": {"csv"}}, header: http.Header{"Accept": {"application/zip, application/problem+json"}}, safe: true})
	if err != nil {
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(ct); mt != "application/zip" {
		return nil, fmt.Errorf("sdk: CSV export answered %q, want application/zip", ct)
	}
	return b, nil
}

// AuditQuery filters the audit trail; zero fields do not filter.
type AuditQuery struct {
	Subject, Principal, Action, Purpose string
	// Since (inclusive) and Until (exclusive) bound the record's time.
	Since, Until time.Time
	From         uint64
	Limit        int
}

// Audit returns one page of audit records: who touched which subject's PII,
// when, and for what purpose.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("subject", q.Subject)
	set("principal", q.Principal)
	set("action", q.Action)
	set("purpose", q.Purpose)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.Format(time.RFC3339Nano))
	}
	if q.From > 0 {
		v.Set("from", strconv.FormatUint(q.From, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out AuditPage
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/audit", query: v, safe: true}, &out)
	return out, err
}

// Verify walks the log's hash chain on the server and reports its head and
// any break.
func (c *Client) Verify(ctx context.Context) (VerifyResult, error) {
	var out VerifyResult
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/log/verify", safe: true}, &out)
	return out, err
}

// PutSnapshot saves the state of stream at version. PII in it is tokenized
// by the schema of typ, if given.
func (c *Client) PutSnapshot(ctx context.Context, stream string, s SnapshotRequest) error {
	return c.do(ctx, request{method: http.MethodPut, path: "/v1/streams/" + seg(stream) + "/snapshot", body: s, safe: true}, nil)
}

// GetSnapshot returns the latest snapshot of stream, its PII resolved like
// an event's.
func (c *Client) GetSnapshot(ctx context.Context, stream string) (Snapshot, error) {
	var out Snapshot
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/streams/" + seg(stream) + "/snapshot", safe: true}, &out)
	return out, err
}

// Ready reports whether the sidecar is ready to serve (GET /readyz).
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodGet, path: "/readyz"}, nil)
}
