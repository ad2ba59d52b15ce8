package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/redaction/compliance"
)

// verify-receipt accepts every form of a signed receipt that the docs tell a
// DPO to archive, and refuses a tampered one in each form.
func TestVerifyReceiptAcceptsEveryDocumentedForm(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "receipt.pub.pem")
	if err := os.WriteFile(keyFile, compliance.MarshalPublicKey(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, err := compliance.SignReceipt(&compliance.Receipt{
		Type: compliance.ReceiptType, ErasureID: "er-1", Subject: "cust-7", ValuesDestroyed: 3, DEKDestroyed: true, PurgeDone: true,
		LogHead:     compliance.LogHead{Position: 42, Hash: strings.Repeat("ab", 32), Verified: true},
		RequestedAt: time.Unix(1700000000, 0).UTC(), ErasedAt: time.Unix(1700000001, 0).UTC(),
	}, priv)
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(key string, inner []byte) []byte {
		b, err := json.Marshal(map[string]any{key: json.RawMessage(inner), "erasureId": "er-1"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	forms := map[string][]byte{
		"document":          doc,
		"erasure status":    wrap("receipt", doc),
		"ErasureCompleted":  wrap("data", doc),
		"event with status": wrap("data", wrap("receipt", doc)),
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "r.json")
			if err := os.WriteFile(f, form, 0o600); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := runArgs(t, nil, "erasure", "verify-receipt", f, "--public-key", keyFile)
			if code != exitOK || !strings.HasPrefix(out, "ok:") {
				t.Fatalf("verify-receipt(%s): exit %d, %q %q", name, code, out, errOut)
			}
			if !strings.Contains(out, "log head at position 42, hash abab") || !strings.Contains(out, "verified") {
				t.Errorf("verify-receipt(%s) = %q, want the log head in words", name, out)
			}
			if strings.Contains(out, "{") {
				t.Errorf("verify-receipt(%s) = %q, prints a Go struct", name, out)
			}
			bad := []byte(strings.Replace(string(form), `"valuesDestroyed":3`, `"valuesDestroyed":0`, 1))
			if string(bad) == string(form) {
				t.Fatal("tampering changed nothing")
			}
			if err := os.WriteFile(f, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, errOut, code := runArgs(t, nil, "erasure", "verify-receipt", f, "--public-key", keyFile); code != exitFailure || !strings.Contains(errOut, "NOT valid") {
				t.Errorf("verify-receipt(%s, tampered): exit %d, %q; want 1 and NOT valid", name, code, errOut)
			}
		})
	}
}
