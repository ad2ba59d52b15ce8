package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

// The clients --client chooses between.
const (
	clientRaw     = "raw"
	clientNetHTTP = "net/http"
)

type options struct {
	piivault      string
	duration      time.Duration
	maxEvents     int64
	clients       int
	batchClients  int
	readClients   int
	runs          int
	cpuprofile    string
	clientProfile string
	clientProcs   int
	client        string
	keep          bool
	skip          string
	ceilingListen string

	eraseLogEvents int64
	eraseCount     int
	eraseClients   int
	eraseDuration  time.Duration
	sidecarLog     string
	logLevel       string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "ceiling-server" {
		return ceilingServer(ctx, stdout)
	}
	var o options
	fs := flag.NewFlagSet("piivault-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.piivault, "piivault", "", "path of the piivault binary (default: go build ./cmd/piivault into a temp folder)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "time bound of each scenario run")
	fs.Int64Var(&o.maxEvents, "max-events", 2_000_000, "count bound of each scenario run (events or requests)")
	fs.IntVar(&o.clients, "clients", 64, "concurrent clients of append-1 and ceiling")
	fs.IntVar(&o.batchClients, "batch-clients", 8, "concurrent clients of append-100")
	fs.IntVar(&o.readClients, "read-clients", 16, "concurrent clients of read-100")
	fs.IntVar(&o.runs, "runs", 3, "runs of each scenario; the report gives the median")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write the sidecar's CPU profile here and print its top functions")
	fs.StringVar(&o.clientProfile, "client-cpuprofile", "", "write this load tool's own CPU profile (the client side of every scenario) here")
	fs.IntVar(&o.clientProcs, "client-procs", 1, "GOMAXPROCS of this load tool during the scenarios (0: Go's default); one P spends less CPU per request on waking threads, and the sidecar and the ceiling keep theirs")
	fs.StringVar(&o.client, "client", clientRaw, "HTTP client of the scenarios: raw (a minimal HTTP/1.1 keep-alive client, least CPU per request) or net/http")
	fs.BoolVar(&o.keep, "keep", false, "keep the data folder")
	fs.StringVar(&o.skip, "skip", "", "comma-separated scenarios to skip")
	fs.Int64Var(&o.eraseLogEvents, "erase-log-events", 0, "run the erase scenario: fill the log with this many events, then time erasures (0: off)")
	fs.IntVar(&o.eraseCount, "erase-count", 200, "erasures per run of the erase scenario (distinct subjects)")
	fs.IntVar(&o.eraseClients, "erase-clients", 1, "concurrent clients of the erase scenario's erasures")
	fs.StringVar(&o.sidecarLog, "sidecar-log", "", "append the sidecar's output (its log) to this file")
	fs.StringVar(&o.logLevel, "log-level", "warn", "PIIVAULT_LOG_LEVEL of the sidecar")
	fs.DurationVar(&o.eraseDuration, "erase-duration", 10*time.Minute, "time bound of the whole erase scenario (fill and all runs)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.runs < 1 || o.clients < 1 || o.batchClients < 1 || o.readClients < 1 || o.eraseClients < 1 || o.eraseCount < 1 {
		return errors.New("--runs, --erase-count and the client counts must be at least 1")
	}
	if o.client != clientRaw && o.client != clientNetHTTP {
		return fmt.Errorf("--client %q: want %s or %s", o.client, clientRaw, clientNetHTTP)
	}
	if o.eraseLogEvents < 0 {
		return errors.New("--erase-log-events must not be negative")
	}
	if err := checkErase(o); err != nil {
		return err
	}
	return bench(ctx, o, stdout, stderr)
}

// ceilingServer serves a trivial gin JSON handler: the most a gin server
// can answer on this machine.
func ceilingServer(ctx context.Context, stdout io.Writer) error {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/ping", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: e}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// child is a server process of the bench.
type child struct {
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
	done chan error
}

var listenRE = regexp.MustCompile(`listening on +http://(127\.0\.0\.1:\d+)`)

// startChild starts a server process; tee, if not nil, gets its output too.
func startChild(name string, tee io.Writer, env []string, args ...string) (*child, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	out := &bytes.Buffer{}
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, out: out, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		sent := false
		for sc.Scan() {
			mu.Lock()
			out.Write(sc.Bytes())
			out.WriteByte('\n')
			mu.Unlock()
			if tee != nil {
				fmt.Fprintf(tee, "%s\n", sc.Bytes())
			}
			if m := listenRE.FindSubmatch(sc.Bytes()); m != nil && !sent {
				addr <- string(m[1])
				sent = true
			}
		}
	}()
	go func() { err := cmd.Wait(); _ = pw.Close(); c.done <- err }()
	select {
	case c.addr = <-addr:
		return c, nil
	case err := <-c.done:
		return nil, fmt.Errorf("%s exited: %v\n%s", name, err, out.String())
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start within 2 minutes", name)
	}
}

func (c *child) stop() error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		return err
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		return errors.New("did not stop within 60 s of SIGTERM")
	}
}

// procCPU returns the user+system CPU time a process has used so far, from
// /proc/<pid>/stat (Linux; 0 elsewhere).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name: state is field 3, utime
	// 14 and stime 15 (1-based), in clock ticks of 1/100 s.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU returns this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// result is one scenario run.
type result struct {
	events   int64
	requests int64
	errors   int64
	elapsed  time.Duration
	lat      []time.Duration // per request
	srvCPU   time.Duration   // CPU time of the server process during the run
	cliCPU   time.Duration   // CPU time of this (client) process during the run
}

// perEvent returns server and client CPU microseconds per event.
func (r result) perEvent() (srv, cli float64) {
	if r.events == 0 {
		return 0, 0
	}
	return float64(r.srvCPU.Microseconds()) / float64(r.events), float64(r.cliCPU.Microseconds()) / float64(r.events)
}

func (r result) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat)-1) * p)
	return r.lat[i]
}

// load runs clients goroutines calling do until the time or count bound.
// do returns how many events one request carried.
func load(ctx context.Context, clients int, d time.Duration, maxCount int64, do func(ctx context.Context, client int, rnd *rand.Rand) (int, error)) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var events, reqs, errs atomic.Int64
	lats := make([][]time.Duration, clients)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for ctx.Err() == nil && events.Load() < maxCount {
				t0 := time.Now()
				n, err := do(ctx, i, rnd)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				lats[i] = append(lats[i], time.Since(t0))
				reqs.Add(1)
				events.Add(int64(n))
			}
		}()
	}
	wg.Wait()
	r := result{events: events.Load(), requests: reqs.Load(), errors: errs.Load(), elapsed: time.Since(start)}
	for _, l := range lats {
		r.lat = append(r.lat, l...)
	}
	slices.Sort(r.lat)
	if e, ok := firstErr.Load().(error); ok {
		fmt.Fprintf(os.Stderr, "  first error: %v\n", e)
	}
	return r
}

// httpClient is tuned for many concurrent keep-alive connections. The
// sidecar never compresses, so the client does not ask for gzip either.
func httpClient(conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns * 2
	tr.MaxConnsPerHost = 0
	tr.DisableCompression = true
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// requester sends requests of one shape, over and over, with as little
// client CPU per request as net/http allows, because the client shares the
// machine's cores with the server it measures: the request, its URL and
// headers are built once and reused (net/http allows that once the previous
// answer's body is closed), it goes to the transport directly (no
// per-request timer of http.Client.Timeout; the run's context bounds it),
// and the answer is read into a buffer the requester keeps. One requester
// serves one client goroutine of one run.
type requester struct {
	tr   http.RoundTripper
	ctx  context.Context
	req  *http.Request
	want int
	buf  []byte
	raw  *rawConn // set: requests go over it instead of net/http
}

func newRequester(ctx context.Context, hc *http.Client, method, rawURL, token, purpose string, want int) (*requester, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if method == http.MethodPost || method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if purpose != "" {
		req.Header.Set("X-Purpose", purpose)
	}
	tr := hc.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	return &requester{tr: tr, ctx: ctx, req: req, want: want, buf: make([]byte, 0, 4<<10)}, nil
}

// newRawRequester is newRequester over a rawConn instead of net/http.
func newRawRequester(ctx context.Context, method, rawURL, token, purpose string, want int) (*requester, error) {
	r, err := newRequester(ctx, &http.Client{}, method, rawURL, token, purpose, want)
	if err != nil {
		return nil, err
	}
	r.raw = newRawConn(ctx, r.req)
	return r, nil
}

// do sends the request with body (nil: none) to path (empty: the path given
// at construction) and returns the whole answer, valid until the next call.
// An answer of another status than the requester's is an error.
func (r *requester) do(path string, body []byte) ([]byte, error) {
	if r.raw != nil {
		status, b, err := r.raw.do(path, body)
		if err != nil {
			return nil, err
		}
		if status != r.want {
			return nil, fmt.Errorf("%s %s: %d %s", r.req.Method, cmp.Or(path, r.raw.path), status, truncate(b, 300))
		}
		return b, nil
	}
	req := r.req
	if path != "" {
		req.URL.Path = path
	}
	req.Body, req.ContentLength = nil, 0
	if body != nil && len(body) == 0 {
		req.Body = http.NoBody // a zero length that net/http does not take for unknown
	} else if body != nil {
		// io.NopCloser over a *bytes.Reader is a body net/http knows to be
		// in memory: it sends headers and body in one write, where any
		// other reader gets the headers flushed on their own first.
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	resp, err := r.tr.RoundTrip(req)
	if err != nil {
		r.renew()
		return nil, err
	}
	b := r.buf[:0]
	if n := resp.ContentLength; n > int64(cap(b)) {
		b = make([]byte, 0, n+512)
	}
	b, err = readAll(resp.Body, b)
	resp.Body.Close()
	if err != nil {
		r.renew()
		return nil, err
	}
	r.buf = b
	if resp.StatusCode != r.want {
		r.renew()
		return nil, fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, truncate(b, 300))
	}
	return b, nil
}

// renew replaces the request after a failed call: the transport may not be
// done with it (an answer that came before the whole body was sent).
func (r *requester) renew() { r.req = r.req.Clone(r.ctx) }

// rawConn is a minimal HTTP/1.1 client on one keep-alive connection, for
// one client goroutine: the request line and headers are built once, a
// request is one write (writev of head and body) and its answer is read in
// the calling goroutine. net/http's client spends two goroutine hand-offs
// (its write and read loops), a header map and a response per request;
// on two cores shared with the server that is CPU the server does not get.
// It reads answers with a Content-Length, chunked ones and ones that end
// with the connection, honours "Connection: close", and redials after any
// error; the run's context deadline is the connection's deadline, so a
// request the end of a run cuts off fails like a cancelled one.
type rawConn struct {
	ctx    context.Context
	addr   string
	method string
	path   string // when do is given none
	query  string
	head   []byte // the headers after the request line, CRLF included
	conn   net.Conn
	br     *bufio.Reader
	line   []byte
	body   []byte
}

func newRawConn(ctx context.Context, req *http.Request) *rawConn {
	c := &rawConn{ctx: ctx, addr: req.URL.Host, method: req.Method, path: req.URL.Path, query: req.URL.RawQuery}
	c.head = fmt.Appendf(nil, "Host: %s\r\n", req.URL.Host)
	for _, k := range slices.Sorted(maps.Keys(req.Header)) {
		for _, v := range req.Header[k] {
			c.head = fmt.Appendf(c.head, "%s: %s\r\n", k, v)
		}
	}
	return c
}

// do sends one request for path (with the query given at construction)
// and returns the status and the whole answer body, valid until the next
// call.
func (c *rawConn) do(path string, body []byte) (int, []byte, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(c.ctx, "tcp", c.addr)
		if err != nil {
			return 0, nil, err
		}
		if dl, ok := c.ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	status, b, err := c.roundTrip(path, body)
	if err != nil {
		c.close()
		if dl, ok := c.ctx.Deadline(); ok && !time.Now().Before(dl) {
			// The connection's deadline is the run's: let the context
			// catch up, so the caller sees a cut-off request, not an error.
			<-c.ctx.Done()
		}
		return 0, nil, err
	}
	return status, b, nil
}

func (c *rawConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

func (c *rawConn) roundTrip(path string, body []byte) (int, []byte, error) {
	if path == "" {
		path = c.path
	}
	l := append(c.line[:0], c.method...)
	l = append(l, ' ')
	l = append(l, path...)
	if c.query != "" {
		l = append(l, '?')
		l = append(l, c.query...)
	}
	l = append(l, " HTTP/1.1\r\n"...)
	l = append(l, c.head...)
	if body != nil {
		l = append(l, "Content-Length: "...)
		l = strconv.AppendInt(l, int64(len(body)), 10)
		l = append(l, "\r\n"...)
	}
	l = append(l, "\r\n"...)
	c.line = l
	bufs := net.Buffers{l, body}
	if _, err := bufs.WriteTo(c.conn); err != nil {
		return 0, nil, err
	}

	// Status line and headers.
	sl, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(sl) < 12 || !bytes.HasPrefix(sl, []byte("HTTP/1.")) {
		return 0, nil, fmt.Errorf("bad status line %q", truncate(sl, 60))
	}
	status, err := strconv.Atoi(string(sl[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("bad status line %q", truncate(sl, 60))
	}
	length, chunked, closing := int64(-1), false, false
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, nil, fmt.Errorf("bad header line %q", truncate(h, 60))
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(v), 10, 64); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}

	// Body.
	b := c.body[:0]
	switch {
	case status < 200 || status == http.StatusNoContent || status == http.StatusNotModified || c.method == http.MethodHead:
	case chunked:
		for {
			sz, err := c.br.ReadSlice('\n')
			if err != nil {
				return 0, nil, err
			}
			sz, _, _ = bytes.Cut(bytes.TrimRight(sz, "\r\n"), []byte(";"))
			n, err := strconv.ParseInt(string(bytes.TrimSpace(sz)), 16, 64)
			if err != nil || n < 0 {
				return 0, nil, fmt.Errorf("bad chunk size %q", sz)
			}
			if n == 0 {
				// Trailers, up to the empty line.
				for {
					t, err := c.br.ReadSlice('\n')
					if err != nil {
						return 0, nil, err
					}
					if len(bytes.TrimRight(t, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			b = slices.Grow(b, int(n))
			if _, err := io.ReadFull(c.br, b[len(b):len(b)+int(n)]); err != nil {
				return 0, nil, err
			}
			b = b[:len(b)+int(n)]
			if _, err := c.br.Discard(2); err != nil { // CRLF
				return 0, nil, err
			}
		}
	case length >= 0:
		b = slices.Grow(b, int(length))[:length]
		if _, err := io.ReadFull(c.br, b); err != nil {
			return 0, nil, err
		}
	default: // until the server closes
		if b, err = readAll(c.br, b); err != nil {
			return 0, nil, err
		}
		closing = true
	}
	c.body = b
	if closing {
		c.close()
	}
	return status, b, nil
}

// readAll is io.ReadAll into b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// requesters keeps one requester per client goroutine and rebuilds it for
// each run (a run has a context of its own).
type requesters struct {
	mu   sync.Mutex
	all  []*requester
	make func(ctx context.Context) (*requester, error)
}

func newRequesters(clients int, mk func(ctx context.Context) (*requester, error)) *requesters {
	return &requesters{all: make([]*requester, clients), make: mk}
}

// get returns client c's requester for the run of ctx.
func (rs *requesters) get(ctx context.Context, c int) (*requester, error) {
	rs.mu.Lock()
	r := rs.all[c]
	rs.mu.Unlock()
	if r != nil && r.ctx == ctx {
		return r, nil
	}
	r, err := rs.make(ctx)
	if err != nil {
		return nil, err
	}
	rs.mu.Lock()
	rs.all[c] = r
	rs.mu.Unlock()
	return r, nil
}

// call sends one request and checks the status.
func call(ctx context.Context, hc *http.Client, method, url, token, purpose string, body []byte, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if purpose != "" {
		req.Header.Set("X-Purpose", purpose)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, truncate(b, 300))
	}
	return b, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// padding makes an event about 1 KiB; it is plain words, so no leak
// detector takes it for personal data.
var padding = strings.Repeat("lorem ipsum dolor sit amet consectetur ", 22)

func eventJSON(subject string, i int) []byte { return appendEventJSON(nil, subject, i) }

// appendEventJSON appends the event's data: what json.Marshal makes of
// {"customerId": subject, "email": ..., "name": ..., "phone": ..., "plan":
// "pro", "seats": i%50, "notes": padding} (keys sorted; a test compares),
// without its reflection and map, because append-100 builds 100 per
// request on the cores it measures. subject must need no JSON escaping.
func appendEventJSON(b []byte, subject string, i int) []byte {
	b = append(b, `{"customerId":"`...)
	b = append(b, subject...)
	b = append(b, `","email":"user`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, '.')
	b = append(b, subject...)
	b = append(b, `@example.com","name":"Person `...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, " of "...)
	b = append(b, subject...)
	b = append(b, `","notes":"`...)
	b = append(b, padding...)
	b = append(b, `","phone":"+49 151 `...)
	b = fmt.Appendf(b, "%08d", i)
	b = append(b, `","plan":"pro","seats":`...)
	b = strconv.AppendInt(b, int64(i%50), 10)
	return append(b, '}')
}

func appendBody(subject string, first, n int) []byte {
	return appendBodyTo(make([]byte, 0, n*1100+16), subject, first, n)
}

// appendBodyTo appends the body of an append of n events of subject.
func appendBodyTo(b []byte, subject string, first, n int) []byte {
	b = append(b, `{"events":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"CustomerUpdated","data":`...)
		b = appendEventJSON(b, subject, first+i)
		b = append(b, '}')
	}
	return append(b, `]}`...)
}

// countPage counts the events of a read page and their revealed and masked
// PII fields in one fast pass, not a JSON decode, because the client shares
// the cores with the server it measures: '[' is rare in a page (the events
// array and each event's "pii" list; the bench's event data has none), so
// IndexByte jumps from list to list and only the short lists are read.
func countPage(b []byte) (events, revealed, masked int) {
	for {
		i := bytes.IndexByte(b, '[')
		if i < 0 {
			return
		}
		pii := bytes.HasSuffix(b[:i], []byte(`"pii":`))
		b = b[i+1:]
		if !pii {
			continue
		}
		j := bytes.IndexByte(b, ']')
		if j < 0 {
			return
		}
		events++
		revealed += bytes.Count(b[:j], []byte(`"state":"revealed"`))
		masked += bytes.Count(b[:j], []byte(`"state":"masked"`))
		b = b[j+1:]
	}
}

// The sidecar's counters the bench checks its own counts against.
const (
	metricAppended = "piivault_events_appended_total"
	metricRead     = "piivault_events_read_total"
)

// crossCheck compares the events the bench counted with the sidecar's own
// counters on /metrics: the sidecar may have committed a few more (requests
// the end of a run cut off, at most cutOff), never fewer. A count outside
// that range means the bench measures wrongly, and is an error.
func crossCheck(ctx context.Context, hc *http.Client, base string, counted, cutOff map[string]int64, stdout io.Writer) error {
	if len(counted) == 0 {
		return nil
	}
	b, err := call(ctx, hc, "GET", base+"/metrics", "", "", nil, 200)
	if err != nil {
		return fmt.Errorf("cross-check: %w", err)
	}
	server := map[string]int64{}
	for line := range strings.Lines(string(b)) {
		name, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if _, want := counted[name]; want && ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("cross-check: %s %q: %w", name, v, err)
			}
			server[name] = int64(f)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(counted)) {
		n, srv := counted[name], server[name]
		fmt.Fprintf(stdout, "cross-check %s: sidecar %d, bench %d (+ at most %d cut off at run ends)\n", name, srv, n, cutOff[name])
		if srv < n || srv > n+cutOff[name] {
			return fmt.Errorf("cross-check %s: the sidecar counted %d events, the bench %d: the bench does not measure what the sidecar did", name, srv, n)
		}
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func bench(ctx context.Context, o options, stdout, stderr io.Writer) error {
	tmp, err := os.MkdirTemp("", "piivault-bench")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(tmp)
	}
	bin := o.piivault
	if bin == "" {
		bin = filepath.Join(tmp, "piivault")
		fmt.Fprintln(stderr, "building cmd/piivault ...")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/piivault/piivault/cmd/piivault").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	data := filepath.Join(tmp, "data")
	tokens := map[string]string{}
	for _, role := range []string{"admin", "service", "support", "dpo"} {
		out, err := exec.CommandContext(ctx, bin, "token", "create", "--data", data, "--principal", "bench-"+role, "--roles", role).Output()
		if err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		tokens[role] = strings.TrimSpace(string(out))
	}
	env := []string{"PIIVAULT_LOG_LEVEL=" + o.logLevel}
	var tee io.Writer
	if o.sidecarLog != "" {
		f, err := os.OpenFile(o.sidecarLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		tee = f
	}
	if o.cpuprofile != "" {
		env = append(env, "PIIVAULT_CPUPROFILE="+o.cpuprofile)
	}
	pv, err := startChild(bin, tee, env, "serve", "--listen", "127.0.0.1:0", "--data", data)
	if err != nil {
		return err
	}
	pvStopped := false
	defer func() {
		if !pvStopped {
			_ = pv.stop()
		}
	}()
	skip := map[string]bool{}
	for _, s := range strings.Split(o.skip, ",") {
		skip[strings.TrimSpace(s)] = true
	}
	// The ceiling is this program again, in a process of its own.
	ceil := &child{addr: "(skipped)", cmd: &exec.Cmd{Process: &os.Process{Pid: os.Getpid()}}}
	if !skip["ceiling"] {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		if ceil, err = startChild(self, nil, nil, "ceiling-server"); err != nil {
			return err
		}
		defer func() { _ = ceil.stop() }()
	}

	base := "http://" + pv.addr
	hc := httpClient(max(o.clients, o.readClients, o.batchClients))
	schema := []byte(`{"subject":"/customerId","fields":[{"path":"/email","class":"email"},{"path":"/name","class":"name"},{"path":"/phone","class":"phone"}]}`)
	if _, err := call(ctx, hc, "PUT", base+"/v1/schemas/CustomerUpdated", tokens["admin"], "", schema, 200); err != nil {
		if _, err2 := call(ctx, hc, "PUT", base+"/v1/schemas/CustomerUpdated", tokens["admin"], "", schema, 201); err2 != nil {
			return fmt.Errorf("put schema: %w", err)
		}
	}
	fmt.Fprintf(stdout, "piivault-bench: sidecar %s (embedded vault, durable), ceiling %s, %d runs x %s per scenario, GOMAXPROCS of the sidecar: default, client %s with GOMAXPROCS %d\n",
		pv.addr, ceil.addr, o.runs, o.duration, o.client, o.clientProcs)
	fmt.Fprintf(stdout, "event: %d bytes of JSON, 3 PII fields (email, name, phone)\n\n", len(eventJSON("bench-s-000", 1)))

	type scenario struct {
		name    string
		clients int
		pid     int // the server process of the scenario
		unit    string
		do      func(ctx context.Context, client int, rnd *rand.Rand) (int, error)
		// metric is the sidecar's counter of the scenario's events, and
		// batch the events of one request, for the cross-check.
		metric string
		batch  int
	}
	var seq atomic.Int64
	// Streams written by append-100, read by read-100.
	var streamList []string
	var streamMu sync.Mutex
	single := make([][]byte, o.clients)
	for i := range single {
		single[i] = appendBody(fmt.Sprintf("bench-s-%03d", i), i, 1)
	}
	mk := func(ctx context.Context, method, rawURL, token, purpose string, want int) (*requester, error) {
		if o.client == clientRaw {
			return newRawRequester(ctx, method, rawURL, token, purpose, want)
		}
		return newRequester(ctx, hc, method, rawURL, token, purpose, want)
	}
	ceilReq := newRequesters(o.clients, func(ctx context.Context) (*requester, error) {
		return mk(ctx, "GET", "http://"+ceil.addr+"/ping", "", "", 200)
	})
	appendReq := newRequesters(max(o.clients, o.batchClients), func(ctx context.Context) (*requester, error) {
		return mk(ctx, "POST", base+"/v1/streams/x/events", tokens["service"], "", 201)
	})
	readReq := newRequesters(o.readClients, func(ctx context.Context) (*requester, error) {
		return mk(ctx, "GET", base+"/v1/streams/x/events?limit=100", tokens["support"], "support", 200)
	})
	singlePath := make([]string, o.clients)
	for i := range singlePath {
		singlePath[i] = fmt.Sprintf("/v1/streams/bench-s-%03d/events", i)
	}
	batchBody := make([][]byte, o.batchClients)
	scenarios := []scenario{
		{"ceiling", o.clients, ceil.cmd.Process.Pid, "req", func(ctx context.Context, c int, _ *rand.Rand) (int, error) {
			r, err := ceilReq.get(ctx, c)
			if err != nil {
				return 0, err
			}
			_, err = r.do("", nil)
			return 1, err
		}, "", 0},
		{"append-1", o.clients, pv.cmd.Process.Pid, "ev", func(ctx context.Context, c int, _ *rand.Rand) (int, error) {
			r, err := appendReq.get(ctx, c)
			if err != nil {
				return 0, err
			}
			_, err = r.do(singlePath[c], single[c])
			return 1, err
		}, metricAppended, 1},
		{"append-100", o.batchClients, pv.cmd.Process.Pid, "ev", func(ctx context.Context, c int, _ *rand.Rand) (int, error) {
			r, err := appendReq.get(ctx, c)
			if err != nil {
				return 0, err
			}
			subject := "bench-b-" + strconv.FormatInt(seq.Add(1), 10)
			batchBody[c] = appendBodyTo(batchBody[c][:0], subject, 0, 100)
			if _, err := r.do("/v1/streams/"+subject+"/events", batchBody[c]); err != nil {
				return 0, err
			}
			streamMu.Lock()
			streamList = append(streamList, subject)
			streamMu.Unlock()
			return 100, nil
		}, metricAppended, 100},
		{"read-100", o.readClients, pv.cmd.Process.Pid, "ev", func(ctx context.Context, c int, rnd *rand.Rand) (int, error) {
			streamMu.Lock()
			if len(streamList) == 0 {
				streamMu.Unlock()
				return 0, errors.New("no streams to read: append-100 did not run")
			}
			s := streamList[rnd.IntN(len(streamList))]
			streamMu.Unlock()
			r, err := readReq.get(ctx, c)
			if err != nil {
				return 0, err
			}
			b, err := r.do("/v1/streams/"+s+"/events", nil)
			if err != nil {
				return 0, err
			}
			// Under the shipped policy support reads names and e-mails
			// revealed and phones masked.
			n, rv, mk := countPage(b)
			if n != 100 || rv != 2*n || mk != n {
				return 0, fmt.Errorf("read %s: %d events, %d fields revealed and %d masked, want 100, 200 and 100", s, n, rv, mk)
			}
			return n, nil
		}, metricRead, 100},
	}
	type row struct {
		name             string
		rates, p50s, p99 []float64
		reqRates         []float64 // requests/s
		srv, cli, proj   []float64
		errs             int64
		unit             string
		clients          int
	}
	var rows []row
	if o.clientProcs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.clientProcs))
	}
	if o.clientProfile != "" {
		f, err := os.Create(o.clientProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// What the bench counted, and how many events may have been committed
	// by requests the end of a run cut off, per sidecar counter.
	counted, cutOff := map[string]int64{}, map[string]int64{}
	for _, sc := range scenarios {
		if skip[sc.name] {
			continue
		}
		r := row{name: sc.name, unit: sc.unit, clients: sc.clients}
		for i := range o.runs {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s0, c0 := procCPU(sc.pid), selfCPU()
			res := load(ctx, sc.clients, o.duration, o.maxEvents, sc.do)
			res.srvCPU, res.cliCPU = procCPU(sc.pid)-s0, selfCPU()-c0
			if sc.metric != "" {
				counted[sc.metric] += res.events
				cutOff[sc.metric] += int64(sc.clients * sc.batch)
			}
			srv, cli := res.perEvent()
			// What 2 dedicated cores would do if they ran only this server
			// and this client: the machine is shared, so the measured rate
			// is bounded by the CPU share the scheduler gave us.
			proj := 0.0
			if srv+cli > 0 {
				proj = 2e6 / (srv + cli)
			}
			fmt.Fprintf(stdout, "%-11s run %d: %9.0f %s/s  p50 %7.2f ms  p99 %7.2f ms  (%d %s in %d requests, %d errors, %s)  cpu/%s: server %.0f us, client %.0f us\n",
				sc.name, i+1, res.rate(), sc.unit, ms(res.pct(0.50)), ms(res.pct(0.99)), res.events, sc.unit, res.requests, res.errors, res.elapsed.Round(time.Millisecond), sc.unit, srv, cli)
			r.srv = append(r.srv, srv)
			r.cli = append(r.cli, cli)
			r.proj = append(r.proj, proj)
			r.rates = append(r.rates, res.rate())
			r.reqRates = append(r.reqRates, float64(res.requests)/res.elapsed.Seconds())
			r.p50s = append(r.p50s, ms(res.pct(0.50)))
			r.p99 = append(r.p99, ms(res.pct(0.99)))
			r.errs += res.errors
		}
		rows = append(rows, r)
	}
	if len(rows) > 0 {
		fmt.Fprintf(stdout, "\nmedians of %d runs:\n", o.runs)
		fmt.Fprintf(stdout, "%-11s %8s %14s %9s %9s %7s %13s %13s %16s\n", "scenario", "clients", "rate", "p50 ms", "p99 ms", "errors", "srv cpu us/u", "cli cpu us/u", "cpu-bound 2 cores")
		for _, r := range rows {
			fmt.Fprintf(stdout, "%-11s %8d %10.0f %s/s %9.2f %9.2f %7d %13.1f %13.1f %12.0f %s/s\n", r.name, r.clients, median(r.rates), r.unit, median(r.p50s), median(r.p99), r.errs, median(r.srv), median(r.cli), median(r.proj), r.unit)
		}
		fmt.Fprintln(stdout, "(cpu-bound 2 cores = 2 CPU-seconds / (server + client CPU per unit): the rate if both processes had the machine's two cores to themselves)")
		var ceil float64
		for _, r := range rows {
			if r.name == "ceiling" {
				ceil = median(r.reqRates)
			}
		}
		if ceil > 0 && len(rows) > 1 {
			var shares []string
			for _, r := range rows {
				if r.name != "ceiling" {
					shares = append(shares, fmt.Sprintf("%s %.1f %%", r.name, 100*median(r.reqRates)/ceil))
				}
			}
			// On a shared host whose speed drifts between sessions, the share
			// moves less than the rate: compare sessions by it.
			fmt.Fprintf(stdout, "requests/s as a share of the ceiling's: %s\n", strings.Join(shares, ", "))
		}
		if err := crossCheck(ctx, hc, base, counted, cutOff, stdout); err != nil {
			return err
		}
	}
	if o.eraseLogEvents > 0 && !skip["erase"] {
		if err := eraseScenario(ctx, o, hc, base, tokens["service"], tokens["dpo"], stdout, stderr); err != nil {
			return err
		}
	}

	pvStopped = true
	if err := pv.stop(); err != nil {
		return fmt.Errorf("stop piivault: %w", err)
	}
	if o.cpuprofile != "" {
		fmt.Fprintf(stdout, "\nsidecar CPU profile %s (go tool pprof -top -nodecount=30):\n", o.cpuprofile)
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=30", bin, o.cpuprofile).CombinedOutput()
		if err != nil {
			fmt.Fprintf(stdout, "pprof failed: %v\n", err)
		}
		stdout.Write(out)
		out, _ = exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=40", bin, o.cpuprofile).CombinedOutput()
		fmt.Fprintf(stdout, "\ncumulative:\n%s", out)
		if o.eraseLogEvents > 0 && !skip["erase"] {
			eraseProfile(ctx, stdout, bin, o.cpuprofile)
		}
	}
	return nil
}
