package redaction

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
)

// canaries are unique random values per class, so a scan can tell any leak.
type canaries map[Class]string

func newCanaries(t testing.TB, tag string) canaries {
	t.Helper()
	r := func() string {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(b)
	}
	return canaries{
		ClassEmail:       "cnry" + r() + "@example.com",
		ClassPhone:       "+44 20 7946 " + fmt.Sprint(1000+int(r()[0])),
		ClassName:        "Cnry" + r() + " Zed",
		ClassAddress:     r() + " Canary Street",
		ClassDateOfBirth: "1987-" + tag + "-2" + r()[:1],
		ClassNationalID:  "NI-" + r(),
		ClassIPAddress:   "ip-" + r(),
		ClassFreeText:    "note " + r(),
		ClassDetected:    "cnry" + r() + "@leak.example.org",
	}
}

// unique returns the part of a canary that is random (what a scan looks for).
func (c canaries) needles() []string {
	var out []string
	for cl, v := range c {
		switch cl {
		case ClassPhone, ClassDateOfBirth:
			continue // not random enough to be sure; covered by the others
		}
		out = append(out, v)
	}
	return out
}

const matrixSchema = `{"subject":"/customerId","leakGuard":"tokenize","fields":[
	{"path":"/email","class":"email"},
	{"path":"/phone","class":"phone"},
	{"path":"/name","class":"name"},
	{"path":"/address","class":"address"},
	{"path":"/dob","class":"date_of_birth"},
	{"path":"/nid","class":"national_id"},
	{"path":"/ip","class":"ip_address"},
	{"path":"/note","class":"free_text"}]}`

func matrixEvent(subject string, c canaries) string {
	b, _ := json.Marshal(map[string]any{"customerId": subject, "email": c[ClassEmail], "phone": c[ClassPhone],
		"name": c[ClassName], "address": c[ClassAddress], "dob": c[ClassDateOfBirth], "nid": c[ClassNationalID],
		"ip": c[ClassIPAddress], "note": c[ClassFreeText], "contact": c[ClassDetected], "plan": "gold", "ref": "ctl-" + c[ClassNationalID][3:]})
	return string(b)
}

// pathClass maps the matrix event's paths to classes.
var pathClass = map[string]Class{"/email": ClassEmail, "/phone": ClassPhone, "/name": ClassName, "/address": ClassAddress,
	"/dob": ClassDateOfBirth, "/nid": ClassNationalID, "/ip": ClassIPAddress, "/note": ClassFreeText, "/contact": ClassDetected}

// expectedEffect mirrors the shipped default policy (policy/default).
func expectedEffect(role, purpose string, c Class) (allowed bool, effect string) {
	switch role {
	case "root":
		return true, "reveal"
	case "service":
		return true, "tokenize"
	case "analytics":
		return purpose == "analytics", "tokenize"
	case "support":
		if purpose != "support" {
			return false, ""
		}
		switch c {
		case ClassName, ClassEmail:
			return true, "reveal"
		case ClassPhone:
			return true, "mask"
		}
		return true, "deny"
	case "billing":
		if purpose != "billing" {
			return false, ""
		}
		if c == ClassAddress {
			return true, "reveal"
		}
		return true, "deny"
	}
	return false, ""
}

func TestMatrix(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{embedded: true})
	svc := env.svc
	mustPutSchema(t, svc, "CustomerRegistered", matrixSchema)
	live, gone := newCanaries(t, "01"), newCanaries(t, "02")
	for _, s := range []struct {
		subj string
		c    canaries
	}{{"cust-live", live}, {"cust-gone", gone}} {
		if _, err := svc.Append(ctx, pService, "customer-"+s.subj, NoStream,
			[]EventInput{{Type: "CustomerRegistered", Data: json.RawMessage(matrixEvent(s.subj, s.c))}}); err != nil {
			t.Fatalf("Append = %v", err)
		}
	}
	if _, err := svc.Erase(ctx, pDPO, "cust-gone", ErasureRequest{Reason: "matrix"}); err != nil {
		t.Fatal(err)
	}
	var errs []string
	roles := []string{"root", "service", "support", "billing", "analytics", "dpo", "intern"}
	purposes := []string{"support", "billing", "analytics", ""}
	for _, role := range roles {
		for _, purpose := range purposes {
			for _, erased := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/erased=%v", role, purpose, erased)
				t.Run(name, func(t *testing.T) {
					a := Access{Principal: principalFor(role), Purpose: purpose}
					subj, c := "cust-live", live
					if erased {
						subj, c = "cust-gone", gone
					}
					evs, err := svc.ReadStream(ctx, a, "customer-"+subj, 1, 10, Forward)
					allowed, _ := expectedEffect(role, purpose, "")
					if role == "support" || role == "billing" || role == "analytics" {
						allowed, _ = expectedEffect(role, purpose, ClassEmail)
					}
					if !allowed {
						if !errors.Is(err, ErrDenied) {
							t.Fatalf("ReadStream = %v, want ErrDenied", err)
						}
						errs = append(errs, err.Error())
						return
					}
					if err != nil {
						t.Fatalf("ReadStream = %v", err)
					}
					var data map[string]any
					if err := json.Unmarshal(evs[0].Data, &data); err != nil {
						t.Fatal(err)
					}
					if len(evs[0].PII) != len(pathClass) {
						t.Fatalf("PII list has %d fields, want %d: %+v", len(evs[0].PII), len(pathClass), evs[0].PII)
					}
					for _, f := range evs[0].PII {
						cl := pathClass[f.Path]
						if f.Class != cl || f.Subject != subj {
							t.Errorf("field %s = %+v", f.Path, f)
						}
						_, eff := expectedEffect(role, purpose, cl)
						want := map[string]State{"reveal": StateRevealed, "mask": StateMasked, "tokenize": StateTokenized, "deny": StateDenied}[eff]
						if erased && (eff == "reveal" || eff == "mask") {
							want = StateErased
						}
						if f.State != want {
							t.Errorf("%s %s: state %s, want %s", f.Path, cl, f.State, want)
						}
						v := data[strings.TrimPrefix(f.Path, "/")]
						switch want {
						case StateRevealed:
							if v != c[cl] {
								t.Errorf("%s revealed = %v, want the value", f.Path, v)
							}
						case StateMasked:
							if v != Mask(cl, mustJSON(c[cl])) {
								t.Errorf("%s masked = %v", f.Path, v)
							}
						case StateTokenized:
							if s, _ := v.(string); !strings.HasPrefix(s, "pv1.") {
								t.Errorf("%s tokenized = %v", f.Path, v)
							}
						case StateErased:
							if v != DefaultPlaceholder {
								t.Errorf("%s erased = %v", f.Path, v)
							}
						case StateDenied:
							if v != nil {
								t.Errorf("%s denied = %v, want null", f.Path, v)
							}
						}
						if want != StateRevealed && strings.Contains(string(evs[0].Data), c[cl]) {
							t.Errorf("%s (%s) leaks its value", f.Path, want)
						}
					}
				})
			}
		}
	}
	// Nothing but the data itself may carry a canary: logs, decision logs,
	// errors, audit records.
	auditRaw := readStreamRaw(t, env.log, StreamAudit)
	erasRaw := readStreamRaw(t, env.log, StreamErasures)
	for _, c := range []canaries{live, gone} {
		for _, n := range c.needles() {
			if strings.Contains(env.out.String(), n) {
				t.Errorf("a canary reached the logs or decision log")
			}
			if strings.Contains(strings.Join(errs, "\n"), n) {
				t.Errorf("a canary reached an error")
			}
			if strings.Contains(auditRaw, n) || strings.Contains(erasRaw, n) {
				t.Errorf("a canary reached the audit trail or $erasures")
			}
		}
	}
	if !strings.Contains(auditRaw, `"state":"revealed"`) || !strings.Contains(auditRaw, `"state":"denied"`) || !strings.Contains(auditRaw, `"state":"erased"`) {
		t.Errorf("audit trail lacks reveal/deny/erased records")
	}
	if strings.Contains(auditRaw, `"state":"tokenized"`) {
		t.Errorf("tokenized reads should not be audited as PII access")
	}
	// Canary scan of the event log's folder, with a positive control: a
	// random non-PII marker of the same events must be found, which shows
	// the scan sees event bytes at all.
	if err := env.log.Close(); err != nil {
		t.Fatal(err)
	}
	control := "ctl-" + live[ClassNationalID][3:]
	if found := scanDir(t, filepath.Join(env.dir, "log"), []string{control}); len(found) != 1 {
		t.Fatalf("positive control not found on disk: the scan cannot see event bytes")
	}
	if found := scanDir(t, filepath.Join(env.dir, "log"), append(live.needles(), gone.needles()...)); len(found) > 0 {
		t.Errorf("%d canaries found in the event log folder", len(found))
	}
}

func principalFor(role string) policyPrincipal {
	if role == "root" {
		return pRoot.Principal
	}
	return policyPrincipal{ID: role + "-1", Roles: []string{role}}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func readStreamRaw(t testing.TB, l *eventlog.Log, stream string) string {
	t.Helper()
	evs, err := l.ReadStream(context.Background(), stream, 1, 100000, eventlog.Forward)
	if err != nil && !errors.Is(err, eventlog.ErrStreamNotFound) {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range evs {
		b.Write(e.Data)
		b.Write(e.Metadata)
		b.WriteByte('\n')
	}
	return b.String()
}

// scanDir reads every file under dir and returns the needles found.
func scanDir(t testing.TB, dir string, needles []string) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, n := range needles {
			if strings.Contains(string(b), n) {
				found[n] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no files under %s", dir)
	}
	return found
}

type policyPrincipal = policy.Principal
