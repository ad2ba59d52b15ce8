package compliance

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// ReceiptType is the "type" of every erasure receipt.
const ReceiptType = "piivault.erasure-receipt.v1"

// SignatureAlgorithm is the only signature algorithm of receipts.
const SignatureAlgorithm = "Ed25519"

// signingContext is prepended to the canonical receipt before signing, so a
// receipt signature can never be mistaken for a signature of anything else
// the key might sign.
const signingContext = "piivault erasure receipt v1\x00"

// Receipt is the signed proof of one erasure. It holds identifiers, counts
// and times, never a personal value.
type Receipt struct {
	Type      string `json:"type"`
	ErasureID string `json:"erasureId"`
	Subject   string `json:"subject"`
	RequestID string `json:"requestId,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Requester string `json:"requester,omitempty"`
	Ticket    string `json:"ticket,omitempty"`
	Principal string `json:"principal,omitempty"`

	// What was destroyed.
	ValuesDestroyed int  `json:"valuesDestroyed"`
	DEKDestroyed    bool `json:"dekDestroyed"`
	// AlreadyErased says the vault had erased the subject before this
	// request (an earlier erasure or a re-application).
	AlreadyErased bool `json:"alreadyErased,omitempty"`
	PurgeDone     bool `json:"purgeDone"`

	// Events lists every event that referred to the subject.
	Events []ReceiptEvent `json:"events"`
	// LogHead is the event log's head when the receipt was made.
	LogHead LogHead `json:"logHead"`

	RequestedAt time.Time `json:"requestedAt"`
	ErasedAt    time.Time `json:"erasedAt"`
	PurgedAt    time.Time `json:"purgedAt"`
	IssuedAt    time.Time `json:"issuedAt"`
	DueAt       time.Time `json:"dueAt"`
}

// ReceiptEvent names one event that referred to the subject: where it is and
// which paths held the subject's values, never the values.
type ReceiptEvent struct {
	Stream   string   `json:"stream"`
	Version  uint64   `json:"version"`
	Position uint64   `json:"position"`
	Type     string   `json:"type"`
	Paths    []string `json:"paths"`
}

// LogHead is a log position and the hash-chain hash of the record there.
type LogHead struct {
	Position uint64 `json:"position"`
	// Hash is the lowercase hex of the record's SHA-256 chain hash.
	Hash string `json:"hash"`
	// Verified says the chain was walked and found intact up to Position.
	Verified bool `json:"verified"`
}

// ReceiptSignature is the signature member of a receipt document.
type ReceiptSignature struct {
	Algorithm string `json:"alg"`
	// KeyID is KeyID(publicKey): 16 hex characters.
	KeyID string `json:"keyId"`
	// PublicKey is the signer's public key, base64 (standard, padded). It
	// is a hint: VerifyReceipt checks against the key it is given (and
	// refuses a document whose hint names another key).
	PublicKey string `json:"publicKey"`
	// Value is the Ed25519 signature, base64 (standard, padded), of
	// signingContext || Canonical(receipt).
	Value string `json:"value"`
}

// ReceiptDocument is the JSON document handed out and stored:
//
//	{"receipt": {...}, "signature": {"alg":"Ed25519","keyId":..,"publicKey":..,"value":..}}
type ReceiptDocument struct {
	Receipt   json.RawMessage  `json:"receipt"`
	Signature ReceiptSignature `json:"signature"`
}

// KeyID returns a short name of a public key: the first 8 bytes of its
// SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// SignReceipt signs r and returns the receipt document.
func SignReceipt(r *Receipt, key ed25519.PrivateKey) ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("sign receipt: %w", err)
	}
	canon, err := Canonical(body)
	if err != nil {
		return nil, fmt.Errorf("sign receipt: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	sig := ed25519.Sign(key, append([]byte(signingContext), canon...))
	doc := ReceiptDocument{Receipt: canon, Signature: ReceiptSignature{Algorithm: SignatureAlgorithm, KeyID: KeyID(pub),
		PublicKey: base64.StdEncoding.EncodeToString(pub), Value: base64.StdEncoding.EncodeToString(sig)}}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("sign receipt: %w", err)
	}
	return out, nil
}

// VerifyReceipt checks a receipt document against a trusted public key and
// returns the receipt it proves. It needs nothing but the document and the
// key, so it works offline. Any change to the receipt's content, the
// signature or the algorithm makes it fail with ErrBadReceipt; changes of
// whitespace or member order do not (the signature covers the canonical
// form, see Canonical).
func VerifyReceipt(doc []byte, pub ed25519.PublicKey) (*Receipt, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key must be %d bytes", ErrBadReceipt, ed25519.PublicKeySize)
	}
	var d ReceiptDocument
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReceipt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data", ErrBadReceipt)
	}
	if d.Signature.Algorithm != SignatureAlgorithm {
		return nil, fmt.Errorf("%w: algorithm %q", ErrBadReceipt, d.Signature.Algorithm)
	}
	// The embedded key and key ID are hints, but a document whose hints
	// name another key is not this key's receipt.
	if d.Signature.KeyID != KeyID(pub) || d.Signature.PublicKey != base64.StdEncoding.EncodeToString(pub) {
		return nil, fmt.Errorf("%w: signed by key %q, not by key %s", ErrBadReceipt, d.Signature.KeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(d.Signature.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: malformed signature", ErrBadReceipt)
	}
	canon, err := Canonical(d.Receipt)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReceipt, err)
	}
	if !ed25519.Verify(pub, append([]byte(signingContext), canon...), sig) {
		return nil, fmt.Errorf("%w: signature does not match (key %s)", ErrBadReceipt, KeyID(pub))
	}
	var r Receipt
	rd := json.NewDecoder(bytes.NewReader(canon))
	rd.DisallowUnknownFields()
	if err := rd.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReceipt, err)
	}
	if r.Type != ReceiptType {
		return nil, fmt.Errorf("%w: type %q", ErrBadReceipt, r.Type)
	}
	return &r, nil
}

// Canonical returns the canonical encoding of a JSON document, the bytes a
// receipt signature covers ("piivault c14n v1"):
//
//   - objects have their members sorted by key (byte order of the UTF-8
//     key), no duplicate keys;
//   - no insignificant whitespace;
//   - strings are encoded as Go's encoding/json encodes them with HTML
//     escaping off (\" \\ \n \r \t, \u00XX for other control characters,
//     \u2028 and \u2029; invalid UTF-8 reads as U+FFFD, so a receipt
//     holding it never verifies);
//   - numbers must be integers (receipts hold only counts and positions) and
//     are written in shortest decimal form without exponent;
//   - true, false, null as themselves.
//
// A verifier in another language reproduces it with any JSON library that
// sorts keys (for example Python's json.dumps(obj, sort_keys=True,
// separators=(",", ":"), ensure_ascii=False) for receipts, whose strings
// hold no control characters).
func Canonical(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := canonValue(dec)
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("canonical json: trailing data")
	}
	var buf bytes.Buffer
	if err := writeCanon(&buf, v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return buf.Bytes(), nil
}

type canonMember struct {
	key string
	val any
}

// canonValue decodes one value, keeping object members as a list so that
// duplicates can be refused.
func canonValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var ms []canonMember
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				if seen[k] {
					return nil, fmt.Errorf("duplicate key %q", k)
				}
				seen[k] = true
				v, err := canonValue(dec)
				if err != nil {
					return nil, err
				}
				ms = append(ms, canonMember{k, v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			slices.SortFunc(ms, func(a, b canonMember) int {
				switch {
				case a.key < b.key:
					return -1
				case a.key > b.key:
					return 1
				}
				return 0
			})
			return ms, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := canonValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		for i, c := range []byte(t) {
			if (c < '0' || c > '9') && !(i == 0 && c == '-') {
				return nil, fmt.Errorf("number %s is not an integer", t)
			}
		}
		return t, nil
	default:
		return t, nil // string, bool, nil
	}
}

func writeCanon(buf *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case []canonMember:
		buf.WriteByte('{')
		for i, m := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeString(buf, m.key); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := writeCanon(buf, m.val); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanon(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case json.Number:
		s := string(t)
		// Shortest form: no leading zeros, no "-0".
		neg := s[0] == '-'
		if neg {
			s = s[1:]
		}
		for len(s) > 1 && s[0] == '0' {
			s = s[1:]
		}
		if neg && s != "0" {
			buf.WriteByte('-')
		}
		buf.WriteString(s)
	case string:
		return writeString(buf, t)
	case bool:
		if t {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case nil:
		buf.WriteString("null")
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}
