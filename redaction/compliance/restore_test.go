package compliance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
)

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.RemoveAll(to); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v: %s", from, to, err, out)
	}
}

// TestRestoreSafety: back up the vault folder, erase a subject, put the old
// vault folder back, start. The subject is erased again before any read,
// its canaries (values, and its blind-index digests, which the control scan
// proves the scanner can see) are gone from disk after the purge, and a log
// line says how many erasures were re-applied.
func TestRestoreSafety(t *testing.T) {
	ctx := context.Background()
	key := []byte(strings.Repeat("k", 32))
	e := newEnv(t, Options{BlindIndexKey: key})
	e.putSchema("CustomerRegistered", customerSchema)
	const (
		email1 = "canary.restore.one@example.com"
		name1  = "Canary Restoreone"
		email2 = "keeper.restore.two@example.com"
	)
	e.appendCustomer("customer-1", "c1", email1, "+44 20 7946 0011", name1)
	e.appendCustomer("customer-2", "c2", email2, "+44 20 7946 0022", "Keeper Restoretwo")
	if n, err := e.comp.IndexBlind(ctx); err != nil || n != 4 {
		t.Fatalf("IndexBlind = %d, %v; want 4 entries", n, err)
	}
	dig1 := string(BlindDigest(key, ClassEmail, email1))
	dig2 := string(BlindDigest(key, ClassEmail, email2))
	canaries1 := []string{email1, name1, dig1}
	vaultDir := filepath.Join(e.dir, "vault")
	backup := filepath.Join(t.TempDir(), "vault-backup")

	e.close()
	copyDir(t, vaultDir, backup)
	e.open()
	// Control: the scanner sees c1's digest on disk.
	if found := scanDir(t, e.dir, dig1); len(found) == 0 {
		t.Fatal("control scan: c1's blind-index digest not found on disk before the erasure: the scan proves nothing")
	}

	er, err := e.comp.Request(ctx, pDPO, "c1", redaction.ErasureRequest{RequestID: "rq-restore"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.comp.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	if found := scanDir(t, e.dir, canaries1...); len(found) > 0 {
		t.Fatalf("after erasure and purge, on disk: %v", found)
	}
	if subs, err := e.comp.FindSubjects(ctx, pDPO, ClassEmail, vault.NewPII([]byte(email1))); err != nil || len(subs) != 0 {
		t.Errorf("FindSubjects(erased email) = %v, %v", subs, err)
	}

	// Restore the old vault folder.
	e.close()
	copyDir(t, backup, vaultDir)
	os.RemoveAll(backup)
	e.open()
	if found := scanDir(t, e.dir, dig1); len(found) == 0 {
		t.Fatal("control scan: the restored vault does not hold c1's digest: the restore did not restore")
	}
	n, err := e.comp.Reapply(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Reapply = %d, %v; want 1", n, err)
	}
	if !strings.Contains(e.out.String(), `"msg":"erasures re-applied to the vault","count":1`) {
		t.Errorf("no log line with the count of re-applied erasures")
	}
	if st, _ := readField(t, e.svc, "customer-1", "/email"); st != redaction.StateErased {
		t.Errorf("c1 after restore: %s, want erased", st)
	}
	if st, _ := readField(t, e.svc, "customer-2", "/email"); st != redaction.StateRevealed && st != redaction.StateMasked {
		t.Errorf("c2 after restore: %s, want readable", st)
	}
	if found := scanDir(t, e.dir, canaries1...); len(found) > 0 {
		t.Fatalf("after restore and re-application, on disk: %v", found)
	}
	if found := scanDir(t, e.dir, dig2); len(found) == 0 {
		t.Errorf("control scan: c2's digest is gone too")
	}
	if subs, err := e.comp.FindSubjects(ctx, pDPO, ClassEmail, vault.NewPII([]byte(" Keeper.Restore.Two@Example.com "))); err != nil || len(subs) != 1 || subs[0] != "c2" {
		t.Errorf("FindSubjects(c2's email, other case) = %v, %v", subs, err)
	}
	// The workflow state survived the restore (it is in the log).
	if got, err := e.comp.Get(ctx, pDPO, er.ID); err != nil || got.Status != StatusCompleted {
		t.Errorf("Get after restore = %+v, %v", got.Status, err)
	}
	checkNoLeaks(t, e, canaries1...)
}

// checkNoLeaks scans everything but the vault: the log folder, the service
// logs and decision log, and the audit, erasures, holds and retention
// streams.
func checkNoLeaks(t *testing.T, e *env, canaries ...string) {
	t.Helper()
	if found := scanDir(t, filepath.Join(e.dir, "log"), canaries...); len(found) > 0 {
		t.Errorf("event log folder holds: %v", found)
	}
	for _, c := range canaries {
		if strings.Contains(e.out.String(), c) {
			t.Errorf("logs hold canary %q", c)
		}
		for _, s := range []string{streamAudit, StreamErasures, StreamHolds, StreamRetention} {
			if strings.Contains(streamText(t, e.log, s), c) {
				t.Errorf("%s holds canary %q", s, c)
			}
		}
	}
}

func TestBlindIndexNormalisation(t *testing.T) {
	tests := []struct{ class, in, want string }{
		{ClassEmail, " Jane.Doe+tag@Example.COM ", "jane.doe+tag@example.com"},
		{ClassEmail, "a@b.", "a@b"},
		{ClassPhone, "+44 (0)20 7946-0011", "+4402079460011"},
		{ClassPhone, "0044 20 7946 0011", "+442079460011"},
		{ClassPhone, "020 7946 0011", "+442079460011"},
		{ClassPhone, "+1 415.555.0199", "+14155550199"},
	}
	s := &Service{opts: Options{DefaultCallingCode: "44"}}
	for _, tc := range tests {
		got, err := s.normalise(tc.class, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normalise(%s, %q) = %q, %v; want %q", tc.class, tc.in, got, err, tc.want)
		}
	}
	for _, bad := range [][2]string{{ClassEmail, "no-at"}, {ClassEmail, "a@@b"}, {ClassEmail, "a b@c"}, {ClassPhone, "12"}, {ClassPhone, "call me"}} {
		if _, err := s.normalise(bad[0], bad[1]); err == nil {
			t.Errorf("normalise(%s, %q) succeeded", bad[0], bad[1])
		}
	}
	k := []byte(strings.Repeat("x", 32))
	if string(BlindDigest(k, ClassEmail, "a@b")) == string(BlindDigest(k, ClassPhone, "a@b")) {
		t.Error("digest does not depend on the class")
	}
	if len(BlindDigest(k, ClassEmail, "a@b")) != 32 {
		t.Error("digest is not 32 bytes")
	}
}

func FuzzNormalise(f *testing.F) {
	for _, s := range []string{"Jane@Example.com", "+44 20 7946 0011", "0044-20", "a@b.", "(0)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, n := range []func(string) (string, error){NormaliseEmail, func(s string) (string, error) { return NormalisePhone(s, "44") }} {
			out, err := n(in)
			if err != nil {
				continue
			}
			again, err := n(out)
			if err != nil || again != out {
				t.Fatalf("normalise not idempotent: %q -> %q -> %q, %v", in, out, again, err)
			}
		}
	})
}
