package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/piivault/piivault/internal/testenv"
	"github.com/piivault/piivault/sdk"
)

// The end-to-end tests build the real binary, start it as a process on a
// free loopback port and drive it only through the SDK.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/piivault once per test run.
func binary(t *testing.T) string {
	t.Helper()
	testenv.SkipUnlessSlow(t) // every test that runs the built binary is end-to-end
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "piivault-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "piivault")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuffer is the name tests of this package still use for testenv.Buffer.
type syncBuffer = testenv.Buffer

// sidecar is one running piivault process.
type sidecar struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *testenv.Buffer // stdout and stderr: everything the process printed
	scheme string          // http or https
	addr   string
	done   chan error
}

var listenRE = regexp.MustCompile(`listening on +(https?)://(127\.0\.0\.1:\d+)`)

// start runs `piivault serve` with args and env and waits until it is
// ready. listen is host:port, port 0 for a free one.
func start(t *testing.T, out *testenv.Buffer, env []string, args ...string) *sidecar {
	t.Helper()
	offset := len(out.Bytes()) // out may hold an earlier run's output
	cmd := exec.Command(binary(t), append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sidecar{t: t, cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("piivault output:\n%s", out.Bytes())
		}
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for s.addr == "" {
		if m := listenRE.FindSubmatch(out.Bytes()[offset:]); m != nil {
			s.scheme, s.addr = string(m[1]), string(m[2])
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("piivault serve exited early: %v\n%s", err, out.Bytes())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("piivault serve did not print its address within 60 s:\n%s", out.Bytes())
		}
	}
	// Readiness only: the TLS test checks the certificate itself.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	c, _ := sdk.New(s.scheme+"://"+s.addr, sdk.WithRetry(sdk.RetryPolicy{Attempts: 1}), sdk.WithHTTPClient(insecure))
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ready(ctx)
		cancel()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("piivault not ready within 60 s: %v\n%s", err, out.Bytes())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and checks a clean exit.
func (s *sidecar) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("piivault exited with %v after SIGTERM:\n%s", err, s.out.Bytes())
		}
	case <-time.After(45 * time.Second):
		s.t.Fatalf("piivault did not stop within 45 s of SIGTERM:\n%s", s.out.Bytes())
	}
}

// cli runs a piivault command and returns its stdout.
func cli(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("piivault %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.String()
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// field returns the string at top-level key k of an event's data.
func field(t *testing.T, ev sdk.Event, k string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		t.Fatalf("event data %s: %v", ev.Data, err)
	}
	s, _ := m[k].(string)
	return s
}

func states(ev sdk.Event) map[string]string {
	m := map[string]string{}
	for _, f := range ev.PII {
		m[f.Path] = f.State
	}
	return m
}

func readStream(t *testing.T, c *sdk.Client, stream string) ([]sdk.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []sdk.Event
	for ev, err := range c.ReadStream(ctx, stream, sdk.ReadOptions{}) {
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// scan fails the test if any canary occurs in the bytes of any file under
// dir or in extra.
func scan(t *testing.T, what string, dir string, extra []byte, canaries []string) {
	t.Helper()
	check := func(where string, b []byte) {
		for _, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("canary %q found in %s", c, where)
			}
		}
	}
	if extra != nil {
		check(what, extra)
	}
	if dir == "" {
		return
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		check(p, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("scan of %s found no files", dir)
	}
}

// backend is how one e2e run reaches its vault.
type backend struct {
	name string
	env  []string // extra environment of the serve process
}

func TestEndToEndEmbedded(t *testing.T) {
	endToEnd(t, backend{name: "embedded"})
}

func TestEndToEndHashiCorp(t *testing.T) {
	addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("VAULT_ADDR and VAULT_TOKEN must be set in CI (.ci/devvault.sh starts a dev server)")
		}
		t.Skip("VAULT_ADDR/VAULT_TOKEN not set: no HashiCorp Vault dev server")
	}
	// A Transit key of its own per run: runs never see each other's data.
	endToEnd(t, backend{name: "hashicorp", env: []string{
		"PIIVAULT_VAULT_BACKEND=hashicorp",
		"PIIVAULT_HASHICORP_ADDR=" + addr,
		"PIIVAULT_HASHICORP_AUTH=token",
		"PIIVAULT_HASHICORP_TOKEN=" + token,
		"PIIVAULT_HASHICORP_TRANSIT_KEY=piivault-e2e-" + randHex(t, 6),
	}})
}

func endToEnd(t *testing.T, be backend) {
	data := t.TempDir()
	out := &testenv.Buffer{}
	env := append([]string{"PIIVAULT_LOG_LEVEL=debug", "PIIVAULT_SHUTDOWN_TIMEOUT=20s"}, be.env...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Tokens, made with the CLI before the server starts.
	tokens := map[string]string{}
	for _, role := range []string{"admin", "service", "support", "analytics", "billing", "dpo", "intern"} {
		// --force: "intern" is a role the policy does not know, on purpose.
		tokens[role] = strings.TrimSpace(cli(t, nil, "token", "create", "--data", data, "--principal", role+"-1", "--roles", role, "--force"))
	}

	s := start(t, out, env, "--listen", "127.0.0.1:0", "--data", data)
	base := "http://" + s.addr
	as := func(role, purpose string) *sdk.Client {
		c, err := sdk.New(base, sdk.WithToken(tokens[role]), sdk.WithPurpose(purpose))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Canaries: unique values that must never reach the log, the data
	// folder in plaintext, or the server's output.
	run := randHex(t, 8)
	subj := "cust-" + run
	email := "canary-" + run + "@example.com"
	name := "Canary Name " + run
	phone := "+49-555-" + run
	other := "cust-other-" + run
	otherEmail := "other-canary-" + run + "@example.com"
	canaries := []string{email, name, phone, otherEmail}

	// 1. Declare the schema as admin.
	if _, err := as("admin", "").PutSchema(ctx, "CustomerRegistered", sdk.Schema{
		Subject: "/customerId",
		Fields: []sdk.SchemaField{
			{Path: "/email", Class: "email"}, {Path: "/name", Class: "name"}, {Path: "/phone", Class: "phone"},
		},
	}); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}

	// Subscribe as the service from the start, across everything below.
	subCtx, subCancel := context.WithCancel(ctx)
	defer subCancel()
	got := make(chan sdk.Event, 1024)
	subErr := make(chan error, 1)
	go func() {
		for ev, err := range as("service", "").Subscribe(subCtx, sdk.SubscribeOptions{From: 1}) {
			if err != nil {
				subErr <- err
				return
			}
			got <- ev
		}
	}()

	// 2. Append PII events as the service.
	svc := as("service", "")
	stream := "customer-" + run
	mk := func(id, cust, em string) sdk.EventInput {
		d, _ := json.Marshal(map[string]string{"customerId": cust, "email": em, "name": name, "phone": phone, "plan": "pro"})
		return sdk.EventInput{ID: id, Type: "CustomerRegistered", Data: d}
	}
	res, err := svc.Append(ctx, stream, sdk.NoStream, mk("6a1f0000-0000-4000-8000-"+run[:12], subj, email))
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if res.FirstVersion != 1 {
		t.Errorf("first append version = %d, want 1", res.FirstVersion)
	}
	if _, err := svc.Append(ctx, "customer-"+other, sdk.NoStream, mk("", other, otherEmail)); err != nil {
		t.Fatalf("Append other: %v", err)
	}
	_, err = svc.Append(ctx, stream, sdk.NoStream, mk("", subj, email))
	var ae *sdk.APIError
	if !errors.Is(err, sdk.ErrConflict) || !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("Append at a stale version: err = %v, want 409 ErrConflict", err)
	}

	// 3. Read as support/support: revealed (phone masked by the policy).
	evs, err := readStream(t, as("support", "support"), stream)
	if err != nil || len(evs) != 1 {
		t.Fatalf("support read = %d events, %v", len(evs), err)
	}
	st := states(evs[0])
	if field(t, evs[0], "email") != email || st["/email"] != sdk.StateRevealed || field(t, evs[0], "name") != name {
		t.Errorf("support read: email %q (%s), want %q revealed", field(t, evs[0], "email"), st["/email"], email)
	}
	if p := field(t, evs[0], "phone"); p == phone || st["/phone"] != sdk.StateMasked {
		t.Errorf("support read: phone %q (%s), want masked", p, st["/phone"])
	}

	// As analytics/analytics: tokens only.
	evs, err = readStream(t, as("analytics", "analytics"), stream)
	if err != nil || len(evs) != 1 {
		t.Fatalf("analytics read = %d events, %v", len(evs), err)
	}
	st = states(evs[0])
	if e := field(t, evs[0], "email"); e == email || e == "" || st["/email"] != sdk.StateTokenized {
		t.Errorf("analytics read: email %q (%s), want a token", e, st["/email"])
	}

	// A role with no access: denied.
	if _, err := readStream(t, as("intern", "support"), stream); !errors.Is(err, sdk.ErrDenied) {
		t.Errorf("intern read: err = %v, want ErrDenied", err)
	}
	// Support reading for another purpose: denied.
	if _, err := readStream(t, as("support", "marketing"), stream); !errors.Is(err, sdk.ErrDenied) {
		t.Errorf("support read for marketing: err = %v, want ErrDenied", err)
	}
	// No token at all.
	if _, err := readStream(t, as("nobody", ""), stream); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Errorf("read without token: err = %v, want ErrUnauthenticated", err)
	}

	// The reveal was audited: who, for what purpose, which subject; no value.
	page, err := as("dpo", "").Audit(ctx, sdk.AuditQuery{Subject: subj, Limit: 100})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	found := false
	for _, r := range page.Records {
		if r.Principal == "support-1" && r.Purpose == "support" && r.Subject == subj {
			found = true
		}
	}
	if !found {
		t.Errorf("audit for %s has no record of support-1 reading for support: %+v", subj, page.Records)
	}
	auditJSON, _ := json.Marshal(page)
	scan(t, "audit records", "", auditJSON, canaries)

	// 4. Erase as dpo; read again: placeholder, state erased.
	if _, err := as("support", "").Erase(ctx, subj, sdk.ErasureRequest{Reason: "test"}); !errors.Is(err, sdk.ErrDenied) {
		t.Errorf("support erase: err = %v, want ErrDenied", err)
	}
	er, err := as("dpo", "").Erase(ctx, subj, sdk.ErasureRequest{Reason: "customer request", Ticket: "GDPR-" + run})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if er.ErasureID == "" {
		t.Errorf("Erase = %+v, want an erasure ID", er)
	}
	evs, err = readStream(t, as("support", "support"), stream)
	if err != nil || len(evs) != 1 {
		t.Fatalf("support read after erasure = %d events, %v", len(evs), err)
	}
	st = states(evs[0])
	for _, k := range []string{"email", "name", "phone"} {
		if v := field(t, evs[0], k); v != "[deleted under GDPR]" || st["/"+k] != sdk.StateErased {
			t.Errorf("after erasure %s = %q (%s), want the placeholder, erased", k, v, st["/"+k])
		}
	}
	// The other subject is untouched.
	evs, err = readStream(t, as("support", "support"), "customer-"+other)
	if err != nil || len(evs) != 1 || field(t, evs[0], "email") != otherEmail {
		t.Errorf("other subject after erasure: %v, %v", evs, err)
	}
	// A subject under legal hold cannot be erased; lifting the hold is
	// audited and erasure works again (not exercised: other stays).
	dpo := as("dpo", "")
	if _, err := dpo.PlaceHold(ctx, other, "litigation "+run); err != nil {
		t.Fatalf("PlaceHold: %v", err)
	}
	if _, err := dpo.Erase(ctx, other, sdk.ErasureRequest{Reason: "customer request"}); !errors.Is(err, sdk.ErrLegalHold) {
		t.Errorf("erasure under legal hold: err = %v, want ErrLegalHold", err)
	}
	if h, err := dpo.LiftHold(ctx, other, "settled"); err != nil || h.Active {
		t.Errorf("LiftHold = %+v, %v", h, err)
	}
	// Appending PII for the erased subject is refused.
	if _, err := svc.Append(ctx, stream, sdk.Any, mk("", subj, email)); !errors.Is(err, sdk.ErrErased) {
		t.Errorf("append for an erased subject: err = %v, want ErrErased", err)
	}

	// 5. Restart the server on the same address; the subscriber resumes.
	sub := &collector{got: got, errc: subErr}
	headBefore := sub.waitFor(t, 0, 2*time.Second)
	if headBefore < res.LastPosition {
		t.Errorf("subscriber saw up to position %d before the restart, want at least %d", headBefore, res.LastPosition)
	}
	s.stop()
	s2 := start(t, out, env, "--listen", s.addr, "--data", data)
	after, err := svc.Append(ctx, "after-restart-"+run, sdk.NoStream, sdk.EventInput{Type: "Restarted", Data: json.RawMessage(`{"ok":true}`)})
	if err != nil {
		t.Fatalf("Append after restart: %v", err)
	}
	headAfter := sub.waitFor(t, after.LastPosition, 30*time.Second)
	if headAfter < after.LastPosition || headAfter <= headBefore {
		t.Errorf("subscriber saw position %d after restart, want %d", headAfter, after.LastPosition)
	}
	if !sub.erasure {
		t.Error("the subscriber did not receive the SubjectErased event of $erasures")
	}
	// The workflow completes the erasure (purge, signed receipt) in the
	// background; read models learn it from ErasureCompleted.
	deadline := time.Now().Add(30 * time.Second)
	for !sub.done[subj] && time.Now().Before(deadline) {
		sub.waitFor(t, 0, 500*time.Millisecond)
	}
	if !sub.done[subj] {
		t.Errorf("no ErasureCompleted for %s within 30 s", subj)
	}
	if got, err := as("dpo", "").GetErasure(ctx, er.ErasureID); err != nil || got.Status != sdk.ErasureCompleted || len(got.Receipt) == 0 {
		t.Errorf("GetErasure = status %q, %d receipt bytes, %v; want completed with a receipt", got.Status, len(got.Receipt), err)
	}
	// Still erased after the restart.
	evs, err = readStream(t, as("support", "support"), stream)
	if err != nil || len(evs) != 1 || field(t, evs[0], "email") != "[deleted under GDPR]" {
		t.Errorf("after restart the erased subject reads %v, %v", evs, err)
	}
	// The workflow's CLI against the running sidecar.
	dpoEnv := []string{"PIIVAULT_ADDR=" + base, "PIIVAULT_TOKEN=" + tokens["dpo"]}
	status := cli(t, dpoEnv, "erasure", "status", er.ErasureID)
	if !strings.Contains(status, `"status": "completed"`) {
		t.Errorf("piivault erasure status = %s, want completed", status)
	}
	if l := cli(t, dpoEnv, "erasure", "list", "--subject", subj); !strings.Contains(l, er.ErasureID) {
		t.Errorf("piivault erasure list = %q, want %s", l, er.ErasureID)
	}
	pem, err := as("dpo", "").ReceiptPublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	keyFile := filepath.Join(tmp, "key.pem")
	receiptFile := filepath.Join(tmp, "erasure.json")
	_ = os.WriteFile(keyFile, pem, 0o600)
	_ = os.WriteFile(receiptFile, []byte(status), 0o600)
	if o := cli(t, nil, "erasure", "verify-receipt", receiptFile, "--public-key", keyFile); !strings.HasPrefix(o, "ok:") {
		t.Errorf("verify-receipt = %q", o)
	}
	// One flipped byte inside the receipt: no longer valid, exit 1.
	var answer struct{ Receipt json.RawMessage }
	_ = json.Unmarshal([]byte(status), &answer)
	flipped := bytes.Replace(answer.Receipt, []byte(subj), []byte(strings.ToUpper(subj[:1])+subj[1:]), 1)
	_ = os.WriteFile(receiptFile, flipped, 0o600)
	if _, _, code := runArgs(t, nil, "erasure", "verify-receipt", receiptFile, "--public-key", keyFile); code != exitFailure {
		t.Errorf("verify-receipt of a tampered receipt: exit %d, want 1", code)
	}
	cli(t, dpoEnv, "hold", "place", other, "--reason", "audit")
	if _, e, code := runArgs(t, map[string]string{"PIIVAULT_ADDR": base, "PIIVAULT_TOKEN": tokens["dpo"]}, "erase", other, "--reason", "x"); code != exitFailure || !strings.Contains(e, "legal_hold") {
		t.Errorf("piivault erase under hold: exit %d, %q", code, e)
	}
	cli(t, dpoEnv, "hold", "lift", other, "--reason", "done")
	exportFile := filepath.Join(tmp, "export.json")
	cli(t, dpoEnv, "export", other, "-o", exportFile)
	if b, _ := os.ReadFile(exportFile); !bytes.Contains(b, []byte(otherEmail)) {
		t.Errorf("export of %s does not hold its e-mail address", other)
	}

	vr, err := as("admin", "").Verify(ctx)
	if err != nil || !vr.OK || vr.HeadPosition < after.LastPosition {
		t.Errorf("Verify = %+v, %v; want ok at head >= %d", vr, err, after.LastPosition)
	}
	// Metrics: served, with vault and policy series, and scanned below.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"piivault_vault_operations_total", "piivault_policy_decisions_evaluated_total"} {
		if !bytes.Contains(metrics, []byte(m)) {
			t.Errorf("/metrics has no %s", m)
		}
	}
	scan(t, "/metrics", "", metrics, append(canaries, subj, other))
	subCancel()
	s2.stop()

	// 6. Offline verify with the CLI on the stopped data folder.
	if o := cli(t, nil, "verify", "--data", data); !strings.HasPrefix(o, "ok:") {
		t.Errorf("piivault verify = %q, want ok", o)
	}

	// 7. Canaries: never in the data folder (the log holds tokens, the
	// vault ciphertext) nor in anything the server printed.
	scan(t, "server output", data, out.Bytes(), canaries)
	if t.Failed() {
		t.Logf("server output:\n%s", out.Bytes())
	}
}

// collector follows a subscription's events, checking their order.
type collector struct {
	got     <-chan sdk.Event
	errc    <-chan error
	last    uint64
	erasure bool            // saw a SubjectErased event in $erasures
	done    map[string]bool // subjects whose ErasureCompleted arrived
}

// waitFor drains the subscription until it has seen position want, or,
// with want 0, until it is quiet for quiet. It returns the last position.
func (c *collector) waitFor(t *testing.T, want uint64, quiet time.Duration) uint64 {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev := <-c.got:
			if c.last != 0 && ev.Position <= c.last {
				t.Errorf("subscription: position %d after %d (duplicate or out of order)", ev.Position, c.last)
			}
			c.last = ev.Position
			if ev.Stream == "$erasures" && ev.Type == "SubjectErased" {
				c.erasure = true
			}
			if e, ok := sdk.ErasureCompletedOf(ev); ok {
				if c.done == nil {
					c.done = map[string]bool{}
				}
				c.done[e.Subject] = true
			}
			if want != 0 && c.last >= want {
				return c.last
			}
		case err := <-c.errc:
			t.Fatalf("subscription ended: %v", err)
		case <-time.After(quiet):
			if want == 0 {
				return c.last
			}
		case <-timeout:
			t.Fatalf("subscription: did not see position %d within 60 s (last %d)", want, c.last)
		}
	}
}

// TestMain removes the binary the end-to-end tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
