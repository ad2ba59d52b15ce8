package compliance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/piivault/piivault/redaction"
)

func testReceipt() *Receipt {
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	return &Receipt{Type: ReceiptType, ErasureID: "e-1", Subject: "cust-42", Reason: "art17 <request> & more",
		ValuesDestroyed: 7, DEKDestroyed: true, PurgeDone: true,
		Events:      []ReceiptEvent{{Stream: "customer-42", Version: 1, Position: 41, Type: "CustomerRegistered", Paths: []string{"/email", "/name"}}},
		LogHead:     LogHead{Position: 99, Hash: strings.Repeat("ab", 32), Verified: true},
		RequestedAt: t0, ErasedAt: t0.Add(time.Second), PurgedAt: t0.Add(2 * time.Second), IssuedAt: t0.Add(3 * time.Second), DueAt: t0.Add(DefaultDeadline)}
}

func TestReceiptSignVerify(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	doc, err := SignReceipt(testReceipt(), key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := VerifyReceipt(doc, pub)
	if err != nil {
		t.Fatalf("VerifyReceipt = %v", err)
	}
	if r.Subject != "cust-42" || r.ValuesDestroyed != 7 || r.Reason != "art17 <request> & more" || !r.ErasedAt.Equal(testReceipt().ErasedAt) {
		t.Errorf("VerifyReceipt = %+v", r)
	}
	// Pretty-printed, the document still verifies.
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyReceipt(pretty.Bytes(), pub); err != nil {
		t.Errorf("VerifyReceipt(pretty) = %v", err)
	}
	if _, err := VerifyReceipt(doc, otherPub); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("VerifyReceipt(other key) = %v, want ErrBadReceipt", err)
	}
	// Every single flipped byte fails: either the JSON breaks, or the
	// content or signature changes.
	for i := range doc {
		bad := bytes.Clone(doc)
		bad[i] ^= 0x01
		if _, err := VerifyReceipt(bad, pub); err == nil {
			t.Fatalf("VerifyReceipt with byte %d (%q) flipped succeeded", i, doc[i])
		} else if !errors.Is(err, ErrBadReceipt) {
			t.Fatalf("VerifyReceipt with byte %d flipped = %v, want ErrBadReceipt", i, err)
		}
	}
	// Changing a value in the parsed document (re-encoded) fails too.
	var d map[string]any
	_ = json.Unmarshal(doc, &d)
	d["receipt"].(map[string]any)["valuesDestroyed"] = 8
	changed, _ := json.Marshal(d)
	if _, err := VerifyReceipt(changed, pub); !errors.Is(err, ErrBadReceipt) {
		t.Errorf("VerifyReceipt(changed count) = %v", err)
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":[true,false,null],"c":{"y":"<&>","x":-0}}`, `{"a":[true,false,null],"b":1,"c":{"x":0,"y":"<&>"}}`},
		{" { \"k\" : \"\\u00e9\\n\" } ", `{"k":"é\n"}`},
		{`[]`, `[]`},
		{`-0`, `0`},
	}
	for _, tc := range tests {
		got, err := Canonical([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `1.5`, `1e3`, `{"a":1} x`, `{`} {
		if _, err := Canonical([]byte(bad)); err == nil {
			t.Errorf("Canonical(%s) succeeded", bad)
		}
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":2}`, `[1,"x",{"z":null}]`, `"\u2028"`, `{"a":{"b":[]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Canonical(b)
		if err != nil {
			return
		}
		c2, err := Canonical(c)
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("Canonical not idempotent: %q -> %q -> %q, %v", b, c, c2, err)
		}
		if !json.Valid(c) {
			t.Fatalf("Canonical(%q) = %q, not JSON", b, c)
		}
	})
}

func FuzzVerifyReceipt(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	doc, _ := SignReceipt(testReceipt(), key)
	f.Add(doc)
	f.Add([]byte(`{"receipt":{},"signature":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := VerifyReceipt(b, pub)
		if err == nil && r.Type != ReceiptType {
			t.Fatalf("verified a receipt of type %q", r.Type)
		}
		if err != nil && !errors.Is(err, ErrBadReceipt) {
			t.Fatalf("VerifyReceipt = %v, want ErrBadReceipt", err)
		}
	})
}

func TestSigningKeyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", SigningKeyFile)
	k1, err := LoadOrCreateSigningKey(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	k2, err := LoadOrCreateSigningKey(p)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load = %v, same key %v", err, k1.Equal(k2))
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSigningKey(p); !errors.Is(err, ErrInvalid) {
		t.Errorf("load of a world-readable key = %v, want ErrInvalid", err)
	}
	pub := k1.Public().(ed25519.PublicKey)
	for _, enc := range [][]byte{MarshalPublicKey(pub), []byte(" " + KeyID(pub) + " ")} {
		got, err := ParsePublicKey(enc)
		if enc[0] == ' ' {
			if err == nil {
				t.Errorf("ParsePublicKey(key ID) succeeded")
			}
			continue
		}
		if err != nil || !got.Equal(pub) {
			t.Errorf("ParsePublicKey(%q) = %v", enc, err)
		}
	}
	var d ReceiptDocument
	doc, _ := SignReceipt(testReceipt(), k1)
	_ = json.Unmarshal(doc, &d)
	if got, err := ParsePublicKey([]byte(d.Signature.PublicKey)); err != nil || !got.Equal(pub) {
		t.Errorf("ParsePublicKey(document's publicKey) = %v", err)
	}
}

// TestReceiptEndToEnd: the receipt of a real erasure verifies offline with
// the served public key, and one with a flipped byte does not.
func TestReceiptEndToEnd(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Options{})
	e.putSchema("CustomerRegistered", customerSchema)
	e.appendCustomer("customer-r", "r1", "receipt.canary@example.com", "+1 415 555 0103", "Receipt Canary")
	er, err := e.comp.Request(ctx, pDPO, "r1", redaction.ErasureRequest{RequestID: "rq-r1", Reason: "art17"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.comp.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := e.comp.Get(ctx, pDPO, er.ID)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "receipt.json")
	if err := os.WriteFile(file, got.Receipt, 0o600); err != nil {
		t.Fatal(err)
	}
	pubPEM := MarshalPublicKey(e.comp.PublicKey())
	// Offline: only the file and the PEM.
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(file)
	if _, err := VerifyReceipt(doc, pub); err != nil {
		t.Fatalf("VerifyReceipt = %v", err)
	}
	i := bytes.Index(doc, []byte(`"valuesDestroyed":3`))
	if i < 0 {
		t.Fatalf("receipt has no valuesDestroyed 3: %s", doc)
	}
	doc[i+len(`"valuesDestroyed":`)] ^= 0x01 // 3 -> 2
	if _, err := VerifyReceipt(doc, pub); !errors.Is(err, ErrBadReceipt) {
		t.Fatalf("VerifyReceipt(flipped) = %v, want ErrBadReceipt", err)
	}
	if bytes.Contains(got.Receipt, []byte("receipt.canary")) || bytes.Contains(got.Receipt, []byte("Receipt Canary")) {
		t.Errorf("receipt holds a value: %s", got.Receipt)
	}
}
