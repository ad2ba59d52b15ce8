package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/sdk"
)

// Test tokens. Only their digests go into the Authenticator.
const (
	rootToken   = "root-token-for-tests"
	writerToken = "writer-token-for-tests" // roles: writer
	readerToken = "reader-token-for-tests" // roles: reader
)

// rolePolicy is a stand-in policy for the HTTP tests: root passes, writer
// may append and admin, reader may read and subscribe.
type rolePolicy struct{}

func (rolePolicy) Authorize(_ context.Context, in policy.Input) (policy.Decision, error) {
	if in.Principal.Root {
		return policy.Decision{Allow: true, Reason: "root"}, nil
	}
	allowed := map[string][]policy.Action{
		"writer": {policy.ActionAppend, policy.ActionAdmin, policy.ActionRead},
		"reader": {policy.ActionRead, policy.ActionSubscribe},
	}
	for _, r := range in.Principal.Roles {
		if slices.Contains(allowed[r], in.Action) {
			return policy.Decision{Allow: true, Reason: "role " + r}, nil
		}
	}
	return policy.Decision{Allow: false, Reason: "no role of the principal allows " + string(in.Action)}, nil
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	srv  *Server
	ts   *httptest.Server
	logs *syncBuffer
}

func testAuth(t testing.TB) *Authenticator {
	t.Helper()
	a, err := NewAuthenticator(AuthConfig{
		Tokens: []TokenEntry{
			{SHA256: HashToken(writerToken), Principal: "writer-1", Roles: []string{"writer"}},
			{SHA256: "sha256:" + HashToken(readerToken), Principal: "reader-1", Roles: []string{"reader"}},
		},
		RootTokenSHA256: HashToken(rootToken),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newEnv(t testing.TB, core service, pol authorizer, opts Options) *testEnv {
	t.Helper()
	logs := &syncBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Auth == nil {
		opts.Auth = testAuth(t)
	}
	if f, ok := core.(*fakeCore); ok && f.pol == nil {
		f.pol = pol
	}
	srv := newServer(core, opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testEnv{srv: srv, ts: ts, logs: logs}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) problem(t testing.TB) sdk.Problem {
	t.Helper()
	var p sdk.Problem
	if ct := r.header.Get("Content-Type"); ct != sdk.ContentTypeProblem {
		t.Fatalf("Content-Type = %q, want %q (status %d, body %s)", ct, sdk.ContentTypeProblem, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", r.body, err)
	}
	if p.Status != r.status || p.Code == "" || p.Title == "" {
		t.Fatalf("problem %+v: want status %d, a code and a title", p, r.status)
	}
	return p
}

// do sends one request. token "" sends no Authorization header.
func (e *testEnv) do(t testing.TB, method, path, token string, body io.Reader, hdr ...string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *testEnv) doJSON(t testing.TB, method, path, token string, v any, out any) reply {
	t.Helper()
	var body io.Reader
	if v != nil {
		switch v := v.(type) {
		case string:
			body = strings.NewReader(v)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			body = bytes.NewReader(b)
		}
	}
	r := e.do(t, method, path, token, body)
	if out != nil && r.status < 300 {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
	return r
}
