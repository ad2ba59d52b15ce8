package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

const (
	// DEKSize is the size of a data key: AES-256.
	DEKSize = 32
	// sealVersion is the first byte of every sealed value.
	sealVersion = 0x01
	nonceSize   = 12
	tagSize     = 16
	// SealOverhead is how many bytes Seal adds to a plaintext.
	SealOverhead = 1 + nonceSize + tagSize
	// aadDomain separates this use of AES-GCM from any other.
	aadDomain = "piivault/value/v1"
)

// DEK is one subject's data key, ready to seal and open values. It is safe
// for concurrent use.
type DEK struct {
	raw  []byte
	aead cipher.AEAD
}

// NewDEK returns a fresh random data key.
func NewDEK() (*DEK, error) {
	raw := make([]byte, DEKSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("new dek: %w", err)
	}
	return newDEK(raw)
}

// ParseDEK returns the data key held in raw (DEKSize bytes, as Bytes returns
// and KeyProvider.Unwrap gives back). raw is copied.
func ParseDEK(raw []byte) (*DEK, error) {
	if len(raw) != DEKSize {
		return nil, fmt.Errorf("parse dek: %d bytes, want %d: %w", len(raw), DEKSize, ErrTampered)
	}
	return newDEK(append([]byte(nil), raw...))
}

func newDEK(raw []byte) (*DEK, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("new dek: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new dek: %w", err)
	}
	return &DEK{raw: raw, aead: aead}, nil
}

// Bytes returns the raw key, to be wrapped by a KeyProvider. The slice is
// the DEK's own; do not modify it.
func (k *DEK) Bytes() []byte { return k.raw }

// Destroy zeroes the raw key bytes. The DEK must not be used afterwards.
// See the package caveats: this is hygiene, not the erasure guarantee.
func (k *DEK) Destroy() { clear(k.raw) }

// Seal encrypts plaintext for the value named by tok, of the given subject
// and class. The additional data binds all three, so the sealed bytes only
// open for the same (subject, token, class).
func (k *DEK) Seal(subject string, tok Token, class string, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, SealOverhead+len(plaintext))
	out[0] = sealVersion
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		return nil, fmt.Errorf("seal value: %w", err)
	}
	var buf [512]byte
	aad := appendAAD(buf[:0], subject, tok, class)
	return k.aead.Seal(out, out[1:1+nonceSize], plaintext, aad), nil
}

// Open decrypts what Seal returned. It fails with ErrTampered (wrapped) if
// the bytes were altered or belong to another subject, token or class.
func (k *DEK) Open(subject string, tok Token, class string, sealed []byte) ([]byte, error) {
	var buf [512]byte
	o := Opener{aad: buf[:0]}
	return o.AppendOpen(nil, k, subject, tok, class, sealed)
}

// An Opener opens many values with one buffer for the additional data,
// which Open allocates per call. The zero value is ready; an Opener is not
// safe for concurrent use.
type Opener struct{ aad []byte }

// AppendOpen is k.Open that appends the plaintext to dst and returns the
// extended slice (dst unchanged on error), so that a caller opening many
// values can decrypt them into one buffer.
func (o *Opener) AppendOpen(dst []byte, k *DEK, subject string, tok Token, class string, sealed []byte) ([]byte, error) {
	if len(sealed) < SealOverhead || sealed[0] != sealVersion {
		return dst, fmt.Errorf("open value: malformed: %w", ErrTampered)
	}
	o.aad = appendAAD(o.aad[:0], subject, tok, class)
	out, err := k.aead.Open(dst, sealed[1:1+nonceSize], sealed[1+nonceSize:], o.aad)
	if err != nil {
		return dst, fmt.Errorf("open value: %w", ErrTampered)
	}
	return out, nil
}

// appendAAD appends the additional data: a domain string and the
// length-prefixed subject, token and class, so no two different triples
// share an encoding.
func appendAAD(b []byte, subject string, tok Token, class string) []byte {
	b = append(b, aadDomain...)
	for _, s := range [...]string{subject, string(tok), class} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return b
}
