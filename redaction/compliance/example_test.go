package compliance_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/piivault/piivault/redaction/compliance"
)

// The receipt of an erasure verifies offline with the sidecar's public key;
// a changed receipt does not.
func ExampleVerifyReceipt() {
	dir, _ := os.MkdirTemp("", "receipt-example")
	defer os.RemoveAll(dir)
	key, _ := compliance.LoadOrCreateSigningKey(filepath.Join(dir, compliance.SigningKeyFile))
	pubPEM := compliance.MarshalPublicKey(key.Public().(ed25519.PublicKey)) // what the sidecar serves

	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	doc, _ := compliance.SignReceipt(&compliance.Receipt{Type: compliance.ReceiptType, ErasureID: "e-1", Subject: "cust-42",
		ValuesDestroyed: 3, DEKDestroyed: true, PurgeDone: true, RequestedAt: t0, ErasedAt: t0, PurgedAt: t0, IssuedAt: t0}, key)

	pub, _ := compliance.ParsePublicKey(pubPEM)
	r, err := compliance.VerifyReceipt(doc, pub)
	fmt.Println(r.Subject, r.ValuesDestroyed, err)

	doc[len(doc)/3] ^= 1
	_, err = compliance.VerifyReceipt(doc, pub)
	fmt.Println(errors.Is(err, compliance.ErrBadReceipt))
	// Output:
	// cust-42 3 <nil>
	// true
}
