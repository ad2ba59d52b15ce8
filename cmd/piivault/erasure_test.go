package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
)

// TestErasurePurgeCLI runs `piivault erasure purge` against the real
// binary with the embedded vault, which purges an erased subject only
// after 5 s without a write: right after the erasure it is still erased,
// and the command completes it at once and says so. A token without the
// admin role gets exit 1 and one line on stderr.
func TestErasurePurgeCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := newCompSidecar(t, "sidecar")
	s.start()
	cust := newCustomer(t, "purge")
	if _, err := s.as("admin", "").PutSchema(ctx, "CustomerRegistered", customerSchema); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	if _, err := s.as("service", "").Append(ctx, "customer-"+cust.id, sdk.NoStream, cust.event(t)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	dpo := s.as("dpo", "")
	er, err := dpo.Erase(ctx, cust.id, sdk.ErasureRequest{Reason: "customer request"})
	erasedAt := time.Now()
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	as := func(role string) map[string]string {
		return map[string]string{"PIIVAULT_ADDR": s.base, "PIIVAULT_TOKEN": s.tokens[role]}
	}

	// Not admin: refused, one line, nothing purged.
	out, errOut, code := runArgs(t, as("dpo"), "erasure", "purge")
	if code != exitFailure || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "erasure purge:") || !strings.Contains(errOut, "403") {
		t.Errorf("erasure purge as dpo: exit %d, stdout %q, stderr %q; want exit 1 and one line naming the 403", code, out, errOut)
	}

	got, err := dpo.GetErasure(ctx, er.ErasureID)
	// The vault purges after 5 s of quiet; past 4 s the background purge
	// may have come first, and only the end state is certain.
	strict := time.Since(erasedAt) < 4*time.Second
	if strict && (err != nil || got.Status != sdk.ErasureErased) {
		t.Fatalf("GetErasure right after the erasure = %q, %v; want erased (the vault's purge waits)", got.Status, err)
	}
	out, errOut, code = runArgs(t, as("admin"), "erasure", "purge")
	if code != exitOK || errOut != "" {
		t.Fatalf("erasure purge as admin: exit %d, stderr %q", code, errOut)
	}
	re := regexp.MustCompile(`^purged (\d+), completed (\d+), still awaiting purge 0, erased on the way 0; took \S+\n$`)
	m := re.FindStringSubmatch(out)
	switch {
	case m == nil:
		t.Errorf("erasure purge printed %q, want %s", out, re)
	case strict && (m[1] != "1" || m[2] != "1"):
		t.Errorf("erasure purge printed %q, want 1 purged and 1 completed", out)
	}
	if !strict {
		t.Logf("%s passed between the erasure and the purge: the vault's own purge may have come first; checked the end state only", time.Since(erasedAt))
	}
	if got, err := dpo.GetErasure(ctx, er.ErasureID); err != nil || got.Status != sdk.ErasureCompleted || len(got.Receipt) == 0 {
		t.Errorf("GetErasure after erasure purge = %q with %d receipt bytes, %v; want completed with a receipt", got.Status, len(got.Receipt), err)
	}
	// Safe to repeat: nothing left.
	if out, _, code := runArgs(t, as("admin"), "erasure", "purge"); code != exitOK || !strings.HasPrefix(out, "purged 0, completed 0,") {
		t.Errorf("second erasure purge: exit %d, %q; want nothing purged", code, out)
	}
	scan(t, "erasure purge output", "", []byte(out+errOut), append(cust.canaries(), cust.id))
	s.stop()
}

// TestErasurePurgeUsage: --help prints the command's usage once, exit 0;
// a stray argument or a missing token is a usage error (exit 2), an
// unreachable sidecar a failure (exit 1), each one line on stderr.
func TestErasurePurgeUsage(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"help", nil, []string{"--help"}, exitOK, "usage: piivault erasure purge", ""},
		{"argument", map[string]string{"PIIVAULT_TOKEN": "t"}, []string{"now"}, exitUsage, "", `unexpected argument "now"`},
		{"no token", nil, nil, exitUsage, "", "no bearer token"},
		{"no sidecar", map[string]string{"PIIVAULT_TOKEN": "t", "PIIVAULT_ADDR": "http://127.0.0.1:1"}, nil, exitFailure, "", "erasure purge:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runArgs(t, tt.env, append([]string{"erasure", "purge"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out, tt.inStdout) || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("piivault erasure purge %v = exit %d, stdout %q, stderr %q; want exit %d, %q, %q",
					tt.args, code, out, errOut, tt.code, tt.inStdout, tt.inStderr)
			}
			if n := strings.Count(out, "usage: piivault erasure purge"); tt.code == exitOK && n != 1 {
				t.Errorf("--help printed the usage %d times, want once", n)
			}
			if tt.code != exitOK && strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr %q, want one line", errOut)
			}
		})
	}
}
