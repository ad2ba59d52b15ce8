package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/sdk"
	"github.com/piivault/piivault/vault"
	"github.com/piivault/piivault/vault/embedded"
	"github.com/piivault/piivault/vault/keys"
)

// The compliance workflow of issue 6 end to end: the real binary, driven
// through the SDK (and, where the SDK has no call, plain HTTP with the same
// tokens), each test ending with canary scans of the data folders, the
// server output, /metrics and the $audit stream. The receipt (valid and
// with a flipped byte) and the legal hold are covered by endToEnd in
// e2e_test.go.

// TestComplianceTwoSidecarsShareVault runs two sidecar processes, each with
// its own data folder and event log, on one HashiCorp Vault dev server. An
// erasure through sidecar A reaches sidecar B's reads within the vault
// record cache's TTL.
func TestComplianceTwoSidecarsShareVault(t *testing.T) {
	env := hashiCorpEnv(t, "piivault-comp-"+randHex(t, 6))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := newCompSidecar(t, "sidecar A", env...)
	b := newCompSidecar(t, "sidecar B", env...)
	a.start()
	b.start()
	cust := newCustomer(t, "shared")
	stream := "customer-" + cust.id
	for _, s := range []*compSidecar{a, b} {
		if _, err := s.as("admin", "").PutSchema(ctx, "CustomerRegistered", customerSchema); err != nil {
			t.Fatalf("%s PutSchema: %v", s.name, err)
		}
		// Each sidecar logs its own event of the subject; the values of
		// both live in the one vault under the one subject.
		if _, err := s.as("service", "").Append(ctx, stream, sdk.NoStream, cust.event(t)); err != nil {
			t.Fatalf("%s Append: %v", s.name, err)
		}
	}
	// B reads the values: revealed, and now in B's record cache.
	evs, err := readStream(t, b.as("support", "support"), stream)
	bReadAt := time.Now()
	if err != nil || len(evs) != 1 || field(t, evs[0], "email") != cust.email || states(evs[0])["/email"] != sdk.StateRevealed {
		t.Fatalf("B before the erasure: %d events, %v; want the e-mail revealed", len(evs), err)
	}

	// The shared vault holds the subject's record: sealed values and a
	// wrapped DEK, no plaintext.
	recs, cur := vaultRecords(t, ctx, cust.id)
	if rec := recs[cur]; !bytes.Contains(rec, []byte(`"dek"`)) {
		t.Errorf("Vault record of %s before the erasure (version %d) has no DEK: %s", cust.id, cur, rec)
	}
	for v, rec := range recs {
		scan(t, fmt.Sprintf("Vault record version %d", v), "", rec, cust.canaries())
	}

	er, err := a.as("dpo", "").Erase(ctx, cust.id, sdk.ErasureRequest{Reason: "customer request", Ticket: "GDPR-2sc"})
	if err != nil {
		t.Fatalf("Erase through A: %v", err)
	}
	erasedAt := time.Now() // the erasure is acknowledged: the vault holds it

	// A: the placeholder at once.
	evs, err = readStream(t, a.as("support", "support"), stream)
	if err != nil || len(evs) != 1 || field(t, evs[0], "email") != erasedPlaceholder || states(evs[0])["/email"] != sdk.StateErased {
		t.Errorf("A right after its erasure: %v, %v; want the placeholder, erased", evs, err)
	}

	// B: the placeholder within the cache TTL (vault/hashicorp
	// Options.CacheTTL, vault.DefaultDEKCacheTTL); poll until a deadline
	// well past it, then judge the measured delay. The slack covers one
	// read on a loaded 2-core machine.
	ttl := vault.DefaultDEKCacheTTL
	const slack = 1500 * time.Millisecond
	deadline := erasedAt.Add(ttl + 10*time.Second)
	var delay time.Duration
	polls := 0
	for {
		polls++
		evs, err = readStream(t, b.as("support", "support"), stream)
		if err != nil {
			t.Fatalf("B read: %v", err)
		}
		if len(evs) != 1 {
			t.Fatalf("B read %d events, want 1", len(evs))
		}
		v, st := field(t, evs[0], "email"), states(evs[0])
		if v == erasedPlaceholder {
			delay = time.Since(erasedAt)
			for _, k := range []string{"email", "name", "phone"} {
				if field(t, evs[0], k) != erasedPlaceholder || st["/"+k] != sdk.StateErased {
					t.Errorf("B after the erasure: %s = %q (%s), want the placeholder, erased", k, field(t, evs[0], k), st["/"+k])
				}
			}
			break
		}
		if v != cust.email {
			t.Fatalf("B read email %q (%s) while waiting: neither the value nor the placeholder", v, st["/email"])
		}
		if time.Now().After(deadline) {
			t.Fatalf("B still reads the value %s after A's erasure (cache TTL %s)", time.Since(erasedAt).Round(time.Millisecond), ttl)
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Logf("erasure propagation A -> B: %s after A acknowledged the erasure, %s after B's last read before it (cache TTL %s, %d reads of B)",
		delay.Round(time.Millisecond), (delay + erasedAt.Sub(bReadAt)).Round(time.Millisecond), ttl, polls)
	if delay > ttl+slack {
		t.Errorf("B read the placeholder %s after A's erasure; want within the cache TTL %s (+%s slack)", delay.Round(time.Millisecond), ttl, slack)
	}
	// B cannot store new values for the subject A erased.
	if _, err := b.as("service", "").Append(ctx, stream, sdk.Any, cust.event(t)); !errors.Is(err, sdk.ErrErased) {
		t.Errorf("B append for the subject A erased: err = %v, want ErrErased", err)
	}
	// A's workflow completes its erasure (purge, receipt).
	waitErasure(t, ctx, a.as("dpo", ""), er.ErasureID, sdk.ErasureCompleted, 30*time.Second)

	// In the shared vault only the erasure marker is left: the current
	// version holds neither DEK nor values, every older version is
	// destroyed (KV v2 destroy, not a soft delete).
	recs, cur = vaultRecords(t, ctx, cust.id)
	if rec := recs[cur]; !bytes.Contains(rec, []byte(`"erased"`)) || bytes.Contains(rec, []byte(`"dek":"`)) || bytes.Contains(rec, []byte(`"vals"`)) {
		t.Errorf("Vault record of %s after the erasure (version %d): %s; want only the erasure marker", cust.id, cur, rec)
	}
	for v, rec := range recs {
		if v != cur && rec != nil {
			t.Errorf("Vault record of %s version %d survives the erasure: %s", cust.id, v, rec)
		}
	}
	t.Logf("Vault KV record after the erasure: %d versions, current %d is the marker, the others destroyed", len(recs), cur)

	canaries := cust.canaries()
	for _, s := range []*compSidecar{a, b} {
		s.scanLive(ctx, canaries)
		s.stop()
		s.scanStopped(canaries)
	}
}

// TestComplianceRestoreReappliesErasures restores the vault folder from a
// backup taken before an erasure: on start the sidecar re-applies the
// erasure recorded in the log before it serves a read, says so in its log,
// and purges, so that the restored values are gone again.
func TestComplianceRestoreReappliesErasures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newCompSidecar(t, "sidecar")
	gone, kept := newCustomer(t, "gone"), newCustomer(t, "kept")

	// 1. Two subjects' PII.
	s.start()
	if _, err := s.as("admin", "").PutSchema(ctx, "CustomerRegistered", customerSchema); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	for _, c := range []customer{gone, kept} {
		if _, err := s.as("service", "").Append(ctx, "customer-"+c.id, sdk.NoStream, c.event(t)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	s.stop()

	// 2. Back up the vault folder.
	vaultPath := filepath.Join(s.data, vaultDir)
	backup := filepath.Join(t.TempDir(), "vault-backup")
	copyDir(t, vaultPath, backup)

	// 3. Erase one subject; let the workflow complete it (purged).
	s.start()
	er, err := s.as("dpo", "").Erase(ctx, gone.id, sdk.ErasureRequest{Reason: "customer request", Ticket: "GDPR-restore"})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	s.advance(ctx)
	waitErasure(t, ctx, s.as("dpo", ""), er.ErasureID, sdk.ErasureCompleted, 30*time.Second)
	s.stop()

	// 4. Put the old vault folder back. The backup really holds the
	// erased subject's values: opened offline with the key-encryption
	// key, it decrypts them.
	if err := os.RemoveAll(vaultPath); err != nil {
		t.Fatal(err)
	}
	copyDir(t, backup, vaultPath)
	got := offlineResolve(t, s.data, gone.id)
	t.Logf("offline resolve of the restored vault folder: %d values of %s", len(got), gone.id)
	if len(got) != 3 || !contains(got, gone.email) {
		t.Fatalf("the restored vault folder should hold %s's three values; offline resolve got %d", gone.id, len(got))
	}

	// 5. Start on the restored folder. The very first request is a read of
	// the erased subject: re-application ran before the listener opened.
	off := s.start()
	evs, err := readStream(t, s.as("support", "support"), "customer-"+gone.id)
	if err != nil || len(evs) != 1 {
		t.Fatalf("read after restore: %d events, %v", len(evs), err)
	}
	st := states(evs[0])
	for _, k := range []string{"email", "name", "phone"} {
		if v := field(t, evs[0], k); v != erasedPlaceholder || st["/"+k] != sdk.StateErased {
			t.Errorf("after restore %s = %q (%s), want the placeholder, erased", k, v, st["/"+k])
		}
	}
	evs, err = readStream(t, s.as("support", "support"), "customer-"+kept.id)
	if err != nil || len(evs) != 1 || field(t, evs[0], "email") != kept.email {
		t.Errorf("the other subject after restore: %v, %v; want its e-mail", evs, err)
	}
	// The log says how many erasures were re-applied, and that one of
	// them had to be written again (the restored vault lacked it).
	line := s.logLine(off, "re-applied recorded erasures to the vault")
	if n, ok := logCount(line, "erasures"); !ok || n != 1 {
		t.Errorf("serve log line %v: want erasures=1", line)
	}
	t.Logf("serve: %v %v erasures, took %v", line["msg"], line["erasures"], line["took"])
	line = s.logLine(off, "erasures re-applied to the vault")
	if n, ok := logCount(line, "written"); !ok || n != 1 {
		t.Errorf("compliance log line %v: want written=1 (the restored vault lacked the erasure)", line)
	}
	t.Logf("compliance: %v count=%v written=%v", line["msg"], line["count"], line["written"])
	if bytes.Index(s.out.Bytes()[off:], []byte("re-applied recorded erasures")) > bytes.Index(s.out.Bytes()[off:], []byte("piivault serving")) {
		t.Error("the re-application was logged after the server began serving")
	}

	// 6. The purge: Reapply purges before serving; the admin trigger
	// moves any open erasure on as well. Then scan.
	s.advance(ctx)
	s.scanLive(ctx, append(gone.canaries(), kept.canaries()...))
	s.stop()
	if got := offlineResolve(t, s.data, gone.id); len(got) != 0 {
		t.Errorf("after the re-applied erasure the vault still decrypts %d values of %s", len(got), gone.id)
	}
	// What this byte scan proves: the embedded vault encrypts every value
	// at rest (AES-GCM under the subject's DEK, itself wrapped by the KEK),
	// so the plaintext canaries would be absent from the vault's files
	// even before the purge. The scan proves that no plaintext reached any
	// other file of the data folder (event log, its value log and
	// manifests, signing key, tokens file) nor the server's output. That
	// the erased subject's ciphertext can no longer be decrypted (its DEK
	// destroyed) is what offlineResolve above checks, with the KEK in hand,
	// on the same folder.
	s.scanStopped(gone.canaries())
	s.scanStopped(kept.canaries())
}

// TestComplianceExport exports a subject as dpo before and after its
// erasure, as JSON through the SDK and as the CSV zip.
func TestComplianceExport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newCompSidecar(t, "sidecar")
	s.start()
	cust, other := newCustomer(t, "export"), newCustomer(t, "other")
	if _, err := s.as("admin", "").PutSchema(ctx, "CustomerRegistered", customerSchema); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	svc := s.as("service", "")
	// Two events of the subject in two streams, one of another subject.
	for _, st := range []string{"customer-" + cust.id, "crm-" + cust.id} {
		if _, err := svc.Append(ctx, st, sdk.NoStream, cust.event(t)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if _, err := svc.Append(ctx, "customer-"+other.id, sdk.NoStream, other.event(t)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	dpo := s.as("dpo", "")

	// A role without export is denied.
	if _, err := s.as("support", "support").Export(ctx, cust.id); !errors.Is(err, sdk.ErrDenied) {
		t.Errorf("support export: err = %v, want ErrDenied", err)
	}

	// Before erasure: every value, by class; both events.
	x, err := dpo.Export(ctx, cust.id)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	byClass := map[string][]string{}
	for _, v := range x.Values {
		var sv string
		_ = json.Unmarshal(v.Value, &sv)
		byClass[v.Class] = append(byClass[v.Class], sv)
	}
	for class, want := range map[string]string{"email": cust.email, "name": cust.name, "phone": cust.phone} {
		if !contains(byClass[class], want) {
			t.Errorf("export before erasure: class %s = %q, want %q", class, byClass[class], want)
		}
	}
	if x.Erased || x.Subject != cust.id {
		t.Errorf("export before erasure: subject %q erased %v", x.Subject, x.Erased)
	}
	checkEventRefs(t, "JSON before erasure", x.Events, cust.id)
	xb, _ := json.Marshal(x)
	if bytes.Contains(xb, []byte(other.email)) {
		t.Error("the export holds another subject's value")
	}

	// The CSV zip before erasure.
	files := exportZip(t, ctx, s, cust.id)
	vals := files["values.csv"]
	if len(vals) != 1+len(x.Values) || strings.Join(vals[0], ",") != "subject,class,value,state,createdAt" {
		t.Errorf("values.csv = %q, want a header and %d rows", vals, len(x.Values))
	}
	got := map[string]bool{}
	for _, r := range vals[1:] {
		if r[0] != cust.id {
			t.Errorf("values.csv row %q: subject %q", r, r[0])
		}
		got[r[1]+"="+r[2]] = true
	}
	// A cell that starts with + is written as text (a leading apostrophe,
	// against CSV formula injection): a phone number "+44..." is one.
	csvSafe := func(s string) string {
		if s != "" && strings.ContainsAny(s[:1], "=+-@\t\r") {
			return "'" + s
		}
		return s
	}
	for _, want := range []string{"email=" + csvSafe(cust.email), "name=" + csvSafe(cust.name), "phone=" + csvSafe(cust.phone)} {
		if !got[want] {
			t.Errorf("values.csv has no row %s: %q", want, vals)
		}
	}
	checkCSVEvents(t, files["events.csv"], cust.id)
	if sub := files["subject.csv"]; len(sub) != 2 || sub[1][0] != cust.id || sub[1][1] != "false" {
		t.Errorf("subject.csv = %q, want the subject, not erased", sub)
	}

	// Erase; export again: no value, placeholders at most; the events stay
	// listed (they are the record of what referred to the subject).
	er, err := dpo.Erase(ctx, cust.id, sdk.ErasureRequest{Reason: "customer request"})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	x, err = dpo.Export(ctx, cust.id)
	if err != nil {
		t.Fatalf("Export after erasure: %v", err)
	}
	if !x.Erased || x.ErasureID != er.ErasureID {
		t.Errorf("export after erasure: erased %v, erasure %q; want true, %q", x.Erased, x.ErasureID, er.ErasureID)
	}
	for _, v := range x.Values {
		var sv string
		_ = json.Unmarshal(v.Value, &sv)
		if sv != erasedPlaceholder || v.State != sdk.StateErased {
			t.Errorf("export after erasure: %s value %q (%s), want the placeholder, erased", v.Class, sv, v.State)
		}
	}
	checkEventRefs(t, "JSON after erasure", x.Events, cust.id)
	xb, _ = json.Marshal(x)
	scan(t, "JSON export after erasure", "", xb, cust.canaries())

	files = exportZip(t, ctx, s, cust.id)
	for _, r := range files["values.csv"][1:] {
		if r[2] != erasedPlaceholder || r[3] != sdk.StateErased {
			t.Errorf("values.csv after erasure: row %q, want the placeholder, erased", r)
		}
	}
	checkCSVEvents(t, files["events.csv"], cust.id)
	if sub := files["subject.csv"]; len(sub) != 2 || sub[1][1] != "true" || sub[1][2] != er.ErasureID {
		t.Errorf("subject.csv after erasure = %q, want erased with %s", sub, er.ErasureID)
	}
	var all []byte
	for _, rows := range files {
		for _, r := range rows {
			all = append(all, strings.Join(r, ",")+"\n"...)
		}
	}
	scan(t, "CSV export after erasure", "", all, cust.canaries())

	// Every export was audited, by dpo-1, for the subject.
	recs := s.scanLive(ctx, append(cust.canaries(), other.canaries()...))
	exports := 0
	for _, r := range recs {
		if r.Action == "export" && r.Principal == "dpo-1" && r.Subject == cust.id {
			exports++
		}
	}
	t.Logf("audit stream: %d records, %d exports of %s by dpo-1", len(recs), exports, cust.id)
	if exports < 4 {
		t.Errorf("audit holds %d export records of dpo-1 for %s, want 4 (2 JSON, 2 CSV)", exports, cust.id)
	}
	s.stop()
	s.scanStopped(append(cust.canaries(), other.canaries()...))
}

// TestComplianceRetentionExpiry runs the binary with a retention of a few
// seconds for one event type's e-mail addresses and triggers the
// retention job through the admin route once that time has passed.
// Retention counts from each event's recordedAt, so waiting out a short
// period is the test clock; the binary has no other clock hook.
func TestComplianceRetentionExpiry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const period = 2 * time.Second
	s := newCompSidecar(t, "sidecar", "PIIVAULT_RETENTION=NewsletterSignup/email="+period.String())
	s.start()
	cust := newCustomer(t, "retention")
	signupEmail := "canary-signup-" + randHex(t, 8) + "@example.com"
	admin := s.as("admin", "")
	if _, err := admin.PutSchema(ctx, "CustomerRegistered", customerSchema); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	if _, err := admin.PutSchema(ctx, "NewsletterSignup", sdk.Schema{Subject: "/customerId", Fields: []sdk.SchemaField{{Path: "/email", Class: "email"}}}); err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	stream := "customer-" + cust.id
	signup, _ := json.Marshal(map[string]string{"customerId": cust.id, "email": signupEmail, "list": "weekly"})
	res, err := s.as("service", "").Append(ctx, stream, sdk.NoStream, cust.event(t), sdk.EventInput{Type: "NewsletterSignup", Data: signup})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	appended := time.Now()
	support := s.as("support", "support")
	evs, err := readStream(t, support, stream)
	if err != nil || len(evs) != 2 || field(t, evs[1], "email") != signupEmail {
		t.Fatalf("read before expiry: %v, %v; want the signup e-mail", evs, err)
	}

	// A run before the period has passed expires nothing.
	// (On a machine so slow that the period has passed by now, the value
	// may expire in this run already; then the next run finds nothing.)
	early, err := admin.RunRetention(ctx)
	if err != nil {
		t.Fatalf("RunRetention: %v", err)
	}
	if early.Expired != 0 && time.Since(appended) < period {
		t.Errorf("retention run before the period = %+v, want nothing expired", early)
	}
	time.Sleep(time.Until(evs[1].RecordedAt.Add(period + 100*time.Millisecond)))
	rep, err := admin.RunRetention(ctx)
	if err != nil {
		t.Fatalf("RunRetention: %v", err)
	}
	t.Logf("retention run after %s: %+v", time.Since(appended).Round(time.Millisecond), rep)
	if rep.Expired+early.Expired != 1 || rep.Mode != "expired" {
		t.Errorf("retention runs before and after the period = %+v, %+v; want 1 value expired in all, mode expired", early, rep)
	}
	evs, err = readStream(t, support, stream)
	if err != nil || len(evs) != 2 {
		t.Fatalf("read after expiry: %d events, %v", len(evs), err)
	}
	if v, st := field(t, evs[1], "email"), states(evs[1])["/email"]; v != expiredPlaceholder || st != sdk.StateExpired {
		t.Errorf("expired e-mail reads %q (%s), want %q, expired", v, st, expiredPlaceholder)
	}
	// The rule names NewsletterSignup only: the registration keeps its
	// values, and the subject is not erased.
	if v, st := field(t, evs[0], "email"), states(evs[0])["/email"]; v != cust.email || st != sdk.StateRevealed {
		t.Errorf("CustomerRegistered e-mail after expiry = %q (%s), want revealed", v, st)
	}
	if evs[0].Position != res.FirstPosition || evs[1].Position != res.LastPosition {
		t.Errorf("positions changed: %d,%d want %d,%d (no event is rewritten)", evs[0].Position, evs[1].Position, res.FirstPosition, res.LastPosition)
	}
	// The export agrees: the expired value is not held any more.
	x, err := s.as("dpo", "").Export(ctx, cust.id)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	xb, _ := json.Marshal(x)
	if bytes.Contains(xb, []byte(signupEmail)) || !bytes.Contains(xb, []byte(cust.email)) {
		t.Errorf("export after expiry: want the registration e-mail and not the expired one: %s", xb)
	}

	canaries := append(cust.canaries(), signupEmail)
	s.scanLive(ctx, canaries)
	s.stop()
	// Note: the embedded vault removes expired values from disk at
	// compaction, not at a purge (redaction/compliance doc, caveats);
	// values are encrypted at rest either way, so this scan is about
	// plaintext outside the vault's ciphertext.
	s.scanStopped(canaries)
}

// checkEventRefs checks an export's event list: the subject's two events
// (customer- and crm- streams, version 1) with their PII paths.
func checkEventRefs(t *testing.T, what string, refs []sdk.ExportEventRef, subject string) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range refs {
		seen[r.Stream] = true
		if r.Version != 1 || r.Type != "CustomerRegistered" || r.RecordedAt.IsZero() || !contains(r.Paths, "/email") || !contains(r.Paths, "/phone") {
			t.Errorf("%s: event ref %+v", what, r)
		}
	}
	if len(refs) != 2 || !seen["customer-"+subject] || !seen["crm-"+subject] {
		t.Errorf("%s: %d event refs %v, want the two streams of %s", what, len(refs), seen, subject)
	}
}

func checkCSVEvents(t *testing.T, rows [][]string, subject string) {
	t.Helper()
	if len(rows) != 3 || strings.Join(rows[0], ",") != "stream,version,position,type,recordedAt,paths" {
		t.Errorf("events.csv = %q, want a header and 2 rows", rows)
		return
	}
	for _, r := range rows[1:] {
		if (r[0] != "customer-"+subject && r[0] != "crm-"+subject) || r[1] != "1" || r[3] != "CustomerRegistered" || !strings.Contains(r[5], "/email") {
			t.Errorf("events.csv row %q", r)
		}
	}
}

// exportZip fetches the CSV export of subject as dpo through the SDK and
// parses every CSV in it.
func exportZip(t *testing.T, ctx context.Context, s *compSidecar, subject string) map[string][][]string {
	t.Helper()
	b, err := s.as("dpo", "").ExportCSV(ctx, subject)
	if err != nil {
		t.Fatalf("ExportCSV: %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("CSV export is not a zip: %v", err)
	}
	out := map[string][][]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(rc).ReadAll()
		rc.Close()
		if err != nil {
			t.Fatalf("%s in the export zip: %v", f.Name, err)
		}
		out[f.Name] = rows
	}
	for _, n := range []string{"values.csv", "events.csv", "subject.csv"} {
		if len(out[n]) == 0 {
			t.Fatalf("the export zip has no %s (files %v)", n, zr.File)
		}
	}
	return out
}

// offlineResolve opens the stopped sidecar's embedded vault with its KEK
// and returns the plaintext values it can still decrypt for subject.
func offlineResolve(t *testing.T, data, subject string) []string {
	t.Helper()
	kp, err := keys.OpenLocal(filepath.Join(data, "kek.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(filepath.Join(data, vaultDir), kp, embedded.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	info, err := st.Describe(ctx, subject)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	toks := make([]vault.Token, 0, len(info.Tokens))
	for _, ti := range info.Tokens {
		toks = append(toks, ti.Token)
	}
	if len(toks) == 0 {
		return nil
	}
	res, err := st.Resolve(ctx, toks)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	var out []string
	for _, r := range res {
		if r.State == vault.Found {
			var s string
			if json.Unmarshal(r.Value.Reveal(), &s) != nil {
				s = string(r.Value.Reveal())
			}
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// copyDir copies the files of src to dst (created), keeping modes.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}
