package console_test

// The console in a real browser: headless Chromium (Debian's chromium)
// driven by chromedp against the real piivault binary, serve --dev on a
// loopback port with a temporary data folder. It is a slow suite (see
// internal/testenv: CI, or PIIVAULT_SLOW_TESTS=1). In CI a browser that
// cannot start fails the test; elsewhere it skips with a message.
// PIIVAULT_UPDATE_SCREENSHOTS=1 also writes docs/console/*.png at 1280x800.

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/piivault/piivault/internal/testenv"
)

//go:embed testdata/axe/axe.min.js
var axeSource string

const (
	rootToken    = "console-test-root"
	canaryEmail  = "canary-5e1f9a@example.org"
	canaryPhone  = "+44 7700 900417"
	canaryName   = "Canary Q. Person"
	otherEmail   = "other-subject@example.org"
	otherPhone   = "+44 7700 900999"
	holdReason   = "litigation hold LH-2026-44"
	screenshotOn = "PIIVAULT_UPDATE_SCREENSHOTS"
)

// syncBuffer collects the server's output while it runs.
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

type sidecar struct {
	bin, data, url string
	log            *syncBuffer
	tokens         map[string]string // role -> bearer token
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startSidecar builds cmd/piivault, creates tokens for dpo, support and
// analytics, and serves --dev with a blind-index key (search by e-mail).
func startSidecar(t *testing.T, extra ...string) *sidecar {
	t.Helper()
	dir := t.TempDir()
	sc := &sidecar{bin: filepath.Join(dir, "piivault"), data: filepath.Join(dir, "data"), log: &syncBuffer{}, tokens: map[string]string{}}
	if out, err := exec.Command("go", "build", "-o", sc.bin, "../../cmd/piivault").CombinedOutput(); err != nil {
		t.Fatalf("build piivault: %v\n%s", err, out)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyFile := filepath.Join(dir, "blind.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"dpo", "support", "analytics"} {
		out, err := exec.Command(sc.bin, "token", "create", "--data", sc.data, "--principal", role+"-1", "--roles", role).Output()
		if err != nil {
			t.Fatalf("token create %s: %v", role, err)
		}
		sc.tokens[role] = strings.TrimSpace(string(out))
	}
	addr := freeAddr(t)
	sc.url = "http://" + addr
	cmd := exec.Command(sc.bin, append([]string{"serve", "--dev", "--data", sc.data, "--listen", addr, "--blind-index-key-file", keyFile}, extra...)...)
	cmd.Env = append(os.Environ(), "PIIVAULT_DEV_ROOT_TOKEN="+rootToken)
	cmd.Stdout, cmd.Stderr = sc.log, sc.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		r, err := http.Get(sc.url + "/readyz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		if i > 150 {
			t.Fatalf("sidecar not ready: %v\n%s", err, sc.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return sc
}

// call makes a /v1 call as root and returns the body; status must be 2xx.
func (sc *sidecar) call(t *testing.T, method, path string, body any) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, sc.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+rootToken)
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	out, _ := io.ReadAll(r.Body)
	if r.StatusCode/100 != 2 {
		t.Fatalf("%s %s = %d: %s", method, path, r.StatusCode, out)
	}
	return out
}

// newBrowser starts headless Chromium, or skips (fails in CI) if it cannot.
func newBrowser(t *testing.T, downloads string) context.Context {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("chromium not found (CI must install it: .ci/run): %v", err)
		}
		t.Skipf("skipping browser test: chromium not found (apt-get install chromium): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	allow := true
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 800),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, EventsEnabled: &allow})
			return chromedp.Void{}, err
		},
	); err != nil {
		if testenv.InCI() {
			t.Fatalf("chromium did not start: %v", err)
		}
		t.Skipf("skipping browser test: chromium did not start: %v", err)
	}
	return ctx
}

func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("evaluate %.60q: %v", expr, err)
	}
	return v
}

// textOf is the visible text of the first element matching sel.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return eval[string](t, ctx, fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e?e.innerText:""})()`, sel))
}

// waitText waits until sel's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	var got string
	for i := 0; i < 100; i++ {
		if got = textOf(t, ctx, sel); strings.Contains(got, want) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("text of %s = %q, want it to contain %q (alert %q, status %q)", sel, got, want, textOf(t, ctx, "#alert"), textOf(t, ctx, "#status"))
	return ""
}

func signIn(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	if eval[bool](t, ctx, `!document.getElementById("nav").hidden`) {
		run(t, ctx, chromedp.Click(chromedp.CSS("#signout")))
	}
	run(t, ctx,
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#view-erasures")),
	)
}

func showView(t *testing.T, ctx context.Context, view string) {
	t.Helper()
	run(t, ctx, chromedp.Click(chromedp.CSS(`nav button[data-view="`+view+`"]`)), chromedp.WaitVisible(chromedp.CSS("#view-"+view)))
}

// findSubject uses the subject form: kind is id, email or phone.
func findSubject(t *testing.T, ctx context.Context, kind, value, purpose string) {
	t.Helper()
	showView(t, ctx, "subject")
	eval[bool](t, ctx, fmt.Sprintf(`document.getElementById("find-kind").value = %q; document.getElementById("find-value").value = ""; document.getElementById("read-purpose").value = %q; true`, kind, purpose))
	run(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#find-value"), value),
		chromedp.Click(chromedp.CSS("#subject-find button[type=submit]")),
	)
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// axeCheck runs axe-core in the page (injected over the DevTools protocol,
// not served by piivault) and fails on serious or critical violations.
func axeCheck(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if eval[bool](t, ctx, `typeof axe === "undefined"`) {
		eval[bool](t, ctx, axeSource+"\n;true")
	}
	res := eval[[]axeViolation](t, ctx, `axe.run(document, {resultTypes: ["violations"]}).then(function (r) { return r.violations; })`, chromedp.EvalAwaitPromise)
	for _, v := range res {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("axe on %s: %s (%s): %s, nodes %v", name, v.ID, v.Impact, v.Help, v.Nodes)
		}
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv(screenshotOn) != "1" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("../../docs/console", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("../../docs/console", name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitErasure refreshes the erasure list and opens the request's timeline
// until its heading shows want, advancing the workflow as root meanwhile.
func waitErasure(t *testing.T, ctx context.Context, sc *sidecar, id, want string) string {
	t.Helper()
	var got string
	for i := 0; i < 60; i++ {
		sc.call(t, http.MethodPost, "/v1/admin/erasures/advance", nil)
		sc.call(t, http.MethodPost, "/v1/admin/erasures/purge", nil)
		showView(t, ctx, "erasures")
		btn := chromedp.CSS(fmt.Sprintf(`button[aria-label="Timeline of request %s"]`, id))
		run(t, ctx, chromedp.WaitVisible(btn), chromedp.Click(btn))
		time.Sleep(200 * time.Millisecond)
		if got = textOf(t, ctx, "#erasure-detail-h"); strings.Contains(got, want) {
			return got
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("erasure %s: %q, want %q", id, got, want)
	return ""
}

func TestConsoleInBrowser(t *testing.T) {
	testenv.SkipUnlessSlow(t)
	downloads := t.TempDir()
	ctx := newBrowser(t, downloads)
	sc := startSidecar(t)

	sc.call(t, http.MethodPut, "/v1/schemas/CustomerRegistered", map[string]any{
		"subject": "/customerId",
		"fields": []map[string]string{
			{"path": "/email", "class": "email"}, {"path": "/phone", "class": "phone"}, {"path": "/name", "class": "name"},
		},
	})
	for _, c := range []struct{ id, email, phone, name string }{
		{"cust-1", canaryEmail, canaryPhone, canaryName},
		{"cust-2", otherEmail, otherPhone, "Held Person"},
	} {
		sc.call(t, http.MethodPost, "/v1/streams/customer-"+c.id+"/events", map[string]any{
			"events": []map[string]any{{"type": "CustomerRegistered", "data": map[string]string{
				"customerId": c.id, "email": c.email, "phone": c.phone, "name": c.name, "plan": "pro"}}},
		})
	}

	// The blind index is fed from the log by a background worker (every
	// 10 s): wait until it knows both e-mails.
	for _, email := range []string{canaryEmail, otherEmail} {
		for i := 0; ; i++ {
			if strings.Contains(string(sc.call(t, http.MethodPost, "/v1/subjects/search", map[string]string{"email": email})), "cust-") {
				break
			}
			if i > 300 {
				t.Fatal("the blind index did not pick up the appended e-mails within 30 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	run(t, ctx, chromedp.Navigate(sc.url+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	axeCheck(t, ctx, "sign-in")
	screenshot(t, ctx, "signin")

	t.Log("DPO: find the subject by e-mail; fields revealed")
	signIn(t, ctx, sc.tokens["dpo"])
	findSubject(t, ctx, "email", canaryEmail, "")
	waitText(t, ctx, "#subject-title", "cust-1")
	vals := waitText(t, ctx, "#subject-values", canaryPhone)
	for _, want := range []string{canaryEmail, canaryName, "revealed"} {
		if !strings.Contains(vals, want) {
			t.Errorf("DPO export table = %q, want %q", vals, want)
		}
	}
	axeCheck(t, ctx, "subject")
	screenshot(t, ctx, "subject")

	t.Log("DPO: request an erasure and watch it reach completed")
	run(t, ctx, chromedp.SendKeys(chromedp.CSS("#erase-ticket"), "DSR-1001"), chromedp.Click(chromedp.CSS("#erase-form button[type=submit]")))
	status := waitText(t, ctx, "#status", "Erasure requested: ")
	id := strings.Fields(strings.TrimPrefix(status[strings.Index(status, "Erasure requested: "):], "Erasure requested: "))[0]
	waitErasure(t, ctx, sc, id, "completed")
	tl := textOf(t, ctx, "#erasure-timeline")
	for _, step := range []string{"requested: 20", "erased: 20", "purged: 20", "completed: 20"} {
		if !strings.Contains(tl, step) {
			t.Errorf("timeline = %q, want %q", tl, step)
		}
	}
	axeCheck(t, ctx, "erasures")
	screenshot(t, ctx, "erasures")

	t.Log("DPO: download the receipt and verify it offline")
	run(t, ctx, chromedp.Click(chromedp.CSS("#receipt-download")))
	receipt := filepath.Join(downloads, "receipt-"+id+".json")
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(receipt); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	keyFile := filepath.Join(t.TempDir(), "receipt-key.pem")
	r, err := http.Get(sc.url + "/v1/receipts/public-key")
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if err := os.WriteFile(keyFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sc.bin, "erasure", "verify-receipt", receipt, "--public-key", keyFile).CombinedOutput(); err != nil || !strings.Contains(string(out), "ok: receipt "+id) {
		t.Errorf("verify-receipt of the downloaded receipt: %v\n%s", err, out)
	}

	t.Log("DPO: after erasure the subject page shows no value")
	findSubject(t, ctx, "id", "cust-1", "")
	waitText(t, ctx, "#subject-summary", "Erased")
	body := eval[string](t, ctx, `document.documentElement.outerHTML`)
	for _, c := range []string{canaryEmail, canaryPhone, canaryName} {
		if strings.Contains(body, c) {
			t.Errorf("page after erasure holds %q", c)
		}
	}

	t.Log("DPO: place a hold; the erasure is rejected with its reason")
	findSubject(t, ctx, "id", "cust-2", "")
	waitText(t, ctx, "#hold-state", "No legal hold")
	run(t, ctx, chromedp.SendKeys(chromedp.CSS("#hold-reason"), holdReason), chromedp.Click(chromedp.CSS("#hold-place")))
	waitText(t, ctx, "#hold-state", "Legal hold active: "+holdReason)
	run(t, ctx, chromedp.Click(chromedp.CSS("#erase-form button[type=submit]")))
	waitText(t, ctx, "#alert", "Erasure rejected")
	waitText(t, ctx, "#alert", holdReason)
	waitText(t, ctx, "#erasure-table", "rejected")

	t.Log("audit, policy and health pages")
	showView(t, ctx, "audit")
	run(t, ctx, chromedp.SendKeys(chromedp.CSS("#audit-subject"), "cust-2"), chromedp.Click(chromedp.CSS("#audit-filter button[type=submit]")))
	waitText(t, ctx, "#audit-table tbody", "dpo-1")
	axeCheck(t, ctx, "audit")
	screenshot(t, ctx, "audit")
	showView(t, ctx, "health")
	health := waitText(t, ctx, "#health-list", "Hash chain")
	// The DPO may not verify the chain (action admin): the page says so.
	for _, want := range []string{"not checked: Forbidden", "Vault backend\nembedded", "Erasures awaiting purge", "Key version\nunknown: Forbidden"} {
		if !strings.Contains(health, want) {
			t.Errorf("health = %q, want %q", health, want)
		}
	}
	axeCheck(t, ctx, "health")
	showView(t, ctx, "policy")
	// Evaluated by the policy engine: support reads e-mail revealed and
	// phone masked for purpose support.
	pm := waitText(t, ctx, "#policy-matrix", "Export (access")
	if !strings.Contains(pm, "reveal") || !strings.Contains(pm, "mask") || !strings.Contains(pm, "tokenize") {
		t.Errorf("policy matrix = %q, want reveal, mask and tokenize cells", pm)
	}
	axeCheck(t, ctx, "policy")
	screenshot(t, ctx, "policy")

	t.Log("support: sees less (phone masked, no export)")
	signIn(t, ctx, sc.tokens["support"])
	findSubject(t, ctx, "id", "cust-2", "support")
	ev := waitText(t, ctx, "#subject-events tbody", "masked")
	if !strings.Contains(ev, otherEmail) || strings.Contains(ev, otherPhone) {
		t.Errorf("support's events = %q, want the e-mail revealed and the phone masked", ev)
	}
	waitText(t, ctx, "#subject-values", "Export refused")
	screenshot(t, ctx, "subject-support")

	t.Log("analytics: refused the subject page")
	signIn(t, ctx, sc.tokens["analytics"])
	findSubject(t, ctx, "email", otherEmail, "analytics")
	waitText(t, ctx, "#alert", "Refused")
	if vis := textOf(t, ctx, "#subject-panel"); strings.Contains(vis, otherEmail) {
		t.Errorf("analytics sees %q", vis)
	}

	t.Log("an operator's token (root in --dev) sees the hash chain verified")
	signIn(t, ctx, rootToken)
	showView(t, ctx, "health")
	waitText(t, ctx, "#health-list", "verified up to position")
	waitText(t, ctx, "#health-list", "KEK version 1") // the sidecar's fresh dev key file
	screenshot(t, ctx, "health")

	t.Log("no personal data in the URL history or the server log")
	var hist []*page.NavigationEntry
	run(t, ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		res, err := cdp.Call(ctx, tg, page.GetNavigationHistory, cdp.Empty{})
		hist = res.Entries
		return chromedp.Void{}, err
	})
	for _, e := range hist {
		for _, c := range []string{canaryEmail, canaryPhone, otherEmail, "cust-"} {
			if strings.Contains(e.URL, c) || strings.Contains(e.URL, strings.ReplaceAll(c, "@", "%40")) {
				t.Errorf("history entry %q holds %q", e.URL, c)
			}
		}
	}
	logText := sc.log.String()
	for _, c := range []string{canaryEmail, canaryPhone, canaryName, otherEmail, "canary-5e1f9a"} {
		if strings.Contains(logText, c) {
			t.Errorf("server log holds %q", c)
		}
	}
}

// TestConsoleOff: --ui=false serves no page at /ui/, and the API is unchanged.
func TestConsoleOff(t *testing.T) {
	testenv.SkipUnlessSlow(t)
	sc := startSidecar(t, "--ui=false")
	for path, want := range map[string]int{"/ui/": http.StatusNotFound, "/ui/app.js": http.StatusNotFound, "/readyz": http.StatusOK} {
		r, err := http.Get(sc.url + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, r.StatusCode, want)
		}
	}
}
