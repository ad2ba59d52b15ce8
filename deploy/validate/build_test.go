package validate

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const mainModule = "../.."

// hasMainPackage reports whether dir holds Go files (cmd/piivault lands
// later in the session than deploy/; until then the build test skips).
func hasMainPackage(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			return true
		}
	}
	return false
}

// TestDockerfileBuildAndServe runs the Dockerfile's own `go build` line
// (same variables, same flags, CGO_ENABLED=0) on the main module, checks the
// result is a static binary (no ELF interpreter: it runs on distroless/static),
// starts it with `serve --dev` on a free loopback port and waits for GET
// /healthz. Then it runs the image's HEALTHCHECK command, and stops the
// server with SIGTERM as the container runtime would.
func TestDockerfileBuildAndServe(t *testing.T) {
	bin, df := dockerfileBinary(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), testBudget(t, 3*time.Minute))
	defer cancel()
	start := time.Now()

	port := freePort(t)
	listen := net.JoinHostPort("127.0.0.1", port)
	logs := new(syncBuffer)
	// The operator policies that deploy/ ships (compose, the Kubernetes
	// ConfigMap, the chart's example values) go in as --policy-dir: they must
	// compile together with the shipped default policy, or serve refuses to
	// start.
	policyDir := filepath.Join(tmp, "policy")
	writeDeployPolicies(t, policyDir)
	srv := exec.Command(bin, "serve", "--dev", "--listen", listen, "--data", filepath.Join(tmp, "data"), "--policy-dir", policyDir)
	srv.Dir = tmp
	srv.Env = cleanEnv("PIIVAULT_DEV_ROOT_TOKEN=deploy-validate-root")
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Process.Kill()
			<-exited
		}
	})

	url := "http://" + listen
	if err := waitHTTP(ctx, url+"/healthz", exited, 60*time.Second); err != nil {
		t.Fatalf("GET /healthz: %v\nserver output:\n%s", err, tail(logs.String(), 4000))
	}
	t.Logf("GET /healthz = 200 after %v", time.Since(start).Round(time.Millisecond))
	if err := waitHTTP(ctx, url+"/readyz", exited, 30*time.Second); err != nil {
		t.Errorf("GET /readyz: %v", err)
	}

	// The image's HEALTHCHECK, run as Docker would: exec form, the container's
	// environment (PIIVAULT_LISTEN), no shell.
	hc := healthcheckCommand(t, df)
	hc[0] = bin
	check := exec.CommandContext(ctx, hc[0], hc[1:]...)
	check.Env = cleanEnv("PIIVAULT_LISTEN=" + listen)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("HEALTHCHECK %q: %v\n%s", hc, err, out)
	}

	// docker stop / kubelet: SIGTERM, then SIGKILL after the grace period.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM\n%s", err, tail(logs.String(), 4000))
		}
	case <-time.After(30 * time.Second):
		t.Errorf("serve did not stop within 30 s of SIGTERM")
	}
	// The policy check has teeth: a broken policy in the folder stops serve.
	bad := filepath.Join(tmp, "bad-policy")
	writeDeployPolicies(t, bad)
	if err := os.WriteFile(filepath.Join(bad, "broken.rego"), []byte("package piivault.authz\nrequest_allow contains \"x\" if { input.action == }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCtx, badCancel := context.WithTimeout(ctx, 30*time.Second)
	defer badCancel()
	badSrv := exec.CommandContext(badCtx, bin, "serve", "--dev", "--listen", net.JoinHostPort("127.0.0.1", freePort(t)), "--data", filepath.Join(tmp, "data-bad"), "--policy-dir", bad)
	badSrv.Dir = tmp
	badSrv.Env = cleanEnv("PIIVAULT_DEV_ROOT_TOKEN=deploy-validate-root")
	if out, err := badSrv.CombinedOutput(); err == nil || badCtx.Err() != nil {
		t.Errorf("serve with a broken policy: err %v (ctx %v), want a prompt failure\n%s", err, badCtx.Err(), tail(string(out), 2000))
	}
	for _, canary := range []string{"deploy-validate-root"} {
		if strings.Contains(logs.String(), canary) {
			t.Errorf("the server's log contains the dev root token")
		}
	}
}

var built struct {
	once sync.Once
	dir  string
	bin  string
	df   *Dockerfile
	err  error
	took time.Duration
}

// TestMain removes the binary dockerfileBinary built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// dockerfileBinary runs the Dockerfile's own `go build` line (same
// variables, same flags, CGO_ENABLED=0) on the main module, once per test
// binary, checks the result is static, and returns it with the parsed
// Dockerfile.
func dockerfileBinary(t *testing.T) (string, *Dockerfile) {
	t.Helper()
	if !hasMainPackage(filepath.Join(mainModule, "cmd", "piivault")) {
		t.Fatal("../../cmd/piivault has no main package: this test builds it with the Dockerfile's go build and starts it")
	}
	df := parseDockerfileFile(t, dockerfilePath)
	built.once.Do(func() {
		env, args, err := df.GoBuild()
		if err != nil {
			built.err = err
			return
		}
		if env["CGO_ENABLED"] != "0" {
			built.err = fmt.Errorf("the Dockerfile's go build does not set CGO_ENABLED=0: %v", env)
			return
		}
		i := slices.Index(args, "-o")
		if i < 0 || i+1 >= len(args) {
			built.err = fmt.Errorf("the Dockerfile's go build has no -o: %q", args)
			return
		}
		if built.dir, err = os.MkdirTemp("", "deploy-validate-"); err != nil {
			built.err = err
			return
		}
		args = slices.Clone(args)
		args[i+1] = filepath.Join(built.dir, "piivault")
		ctx, cancel := context.WithTimeout(context.Background(), testBudget(t, 8*time.Minute))
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = mainModule
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("%s (in %s): %v\n%s", strings.Join(args, " "), mainModule, err, out)
			return
		}
		built.took = time.Since(start)
		built.bin = args[i+1]
		t.Logf("built with %v %q in %v", env, args, built.took.Round(time.Millisecond))
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	assertStatic(t, built.bin)
	return built.bin, df
}

// writeDeployPolicies copies every Rego policy deploy/ ships into dir.
func writeDeployPolicies(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, body := range deployPolicies(t) {
		n++
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n < 3 {
		t.Fatalf("found %d deploy policies, want the compose, Kubernetes and chart ones", n)
	}
}

// healthcheckCommand returns the exec-form HEALTHCHECK CMD of the final stage.
func healthcheckCommand(t *testing.T, df *Dockerfile) []string {
	t.Helper()
	final := df.Stages[len(df.Stages)-1]
	for _, n := range final.Nodes {
		if !strings.EqualFold(n.Value, "healthcheck") || n.Next == nil || !strings.EqualFold(n.Next.Value, "cmd") {
			continue
		}
		var cmd []string
		// BuildKit keeps exec form (JSON) as one node per word.
		for a := n.Next.Next; a != nil; a = a.Next {
			cmd = append(cmd, a.Value)
		}
		if len(cmd) > 0 {
			return cmd
		}
	}
	t.Fatal("no HEALTHCHECK CMD in the final stage")
	return nil
}

func assertStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Skipf("not an ELF binary (%v): static check skipped on this platform", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s has an ELF interpreter: it is dynamically linked and would not run on distroless/static", bin)
		}
	}
}

// cleanEnv is the test's environment without PIIVAULT_* and VAULT_*
// variables (CI exports VAULT_ADDR/VAULT_TOKEN for other tests), plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PIIVAULT_") || strings.HasPrefix(kv, "VAULT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func waitHTTP(ctx context.Context, url string, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited early: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not 200 within %v: %v", limit, last)
}

// testBudget is limit, or less if the test binary's -timeout ends sooner.
func testBudget(t *testing.T, limit time.Duration) time.Duration {
	if d, ok := t.Deadline(); ok {
		if left := time.Until(d) - 30*time.Second; left < limit {
			return max(left, time.Second)
		}
	}
	return limit
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
