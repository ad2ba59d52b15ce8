package vault

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// TokenPrefix starts every token of format version 1.
	TokenPrefix = "pv1."
	// TokenIDSize is the number of random bytes in a token.
	TokenIDSize = 16
	// MaxSubjectLen is the longest subject ID, in bytes.
	MaxSubjectLen = 256
	// MaxClassLen is the longest class name, in bytes.
	MaxClassLen = 64
)

// tokenEncoding is unpadded base64url in strict mode, so that every token
// has exactly one spelling.
var tokenEncoding = base64.RawURLEncoding.Strict()

// idChars is the encoded length of a token ID.
var idChars = tokenEncoding.EncodedLen(TokenIDSize)

// NewToken returns a fresh token for subject with 128 random bits.
func NewToken(subject string) (Token, error) {
	if err := ValidateSubject(subject); err != nil {
		return "", err
	}
	id, err := NewTokenID()
	if err != nil {
		return "", err
	}
	return FormatToken(subject, id), nil
}

// FormatToken returns the token for subject and id. It does not validate the
// subject; use NewToken to mint tokens.
func FormatToken(subject string, id [TokenIDSize]byte) Token {
	n := tokenEncoding.EncodedLen(len(subject))
	b := make([]byte, len(TokenPrefix)+n+1+idChars)
	copy(b, TokenPrefix)
	tokenEncoding.Encode(b[len(TokenPrefix):], []byte(subject))
	b[len(TokenPrefix)+n] = '.'
	tokenEncoding.Encode(b[len(TokenPrefix)+n+1:], id[:])
	return Token(b)
}

// NewTokenID returns 128 random bits for a token.
func NewTokenID() ([TokenIDSize]byte, error) {
	var id [TokenIDSize]byte
	if _, err := rand.Read(id[:]); err != nil {
		return id, fmt.Errorf("new token: %w", err)
	}
	return id, nil
}

// ParseToken returns the subject a token names. It fails with ErrInvalid
// (wrapped) if tok is not a well-formed token. It does not say whether the
// vault holds anything for it.
func ParseToken(tok Token) (subject string, err error) {
	subject, _, err = SplitToken(tok)
	return subject, err
}

// SplitToken returns the subject and the random ID of a token.
func SplitToken(tok Token) (subject string, id [TokenIDSize]byte, err error) {
	s := string(tok)
	if !strings.HasPrefix(s, TokenPrefix) {
		return "", id, fmt.Errorf("parse token: missing %q prefix: %w", TokenPrefix, ErrInvalid)
	}
	s = s[len(TokenPrefix):]
	// The base64 decoder skips CR and LF; refuse them so that a token has
	// one spelling (found by FuzzParseToken).
	if strings.ContainsAny(s, "\r\n") {
		return "", id, fmt.Errorf("parse token: malformed: %w", ErrInvalid)
	}
	dot := strings.IndexByte(s, '.')
	if dot < 0 || len(s)-dot-1 != idChars {
		return "", id, fmt.Errorf("parse token: malformed: %w", ErrInvalid)
	}
	if dot == 0 || dot > tokenEncoding.EncodedLen(MaxSubjectLen) {
		return "", id, fmt.Errorf("parse token: bad subject length: %w", ErrInvalid)
	}
	var buf [MaxSubjectLen + 3]byte
	ns, err := tokenEncoding.Decode(buf[:], []byte(s[:dot]))
	if err != nil {
		return "", id, fmt.Errorf("parse token: subject: %w", ErrInvalid)
	}
	if !decodeTokenID(&id, s[dot+1:]) {
		return "", id, fmt.Errorf("parse token: id: %w", ErrInvalid)
	}
	subject = string(buf[:ns])
	if err := ValidateSubject(subject); err != nil {
		return "", id, fmt.Errorf("parse token: %w", err)
	}
	return subject, id, nil
}

// SplitTokenMemo is SplitToken for callers that split many tokens naming few
// subjects: memo, which the caller keeps for the batch, maps a subject as it
// is spelled in tokens to the subject SplitToken decoded and validated, so
// each subject is decoded once and its string shared. The results are
// SplitToken's.
func SplitTokenMemo(tok Token, memo map[string]string) (subject string, id [TokenIDSize]byte, err error) {
	s := string(tok)
	if rest, ok := strings.CutPrefix(s, TokenPrefix); ok {
		dot := strings.IndexByte(rest, '.')
		if dot > 0 && len(rest)-dot-1 == idChars {
			if sub, ok := memo[rest[:dot]]; ok && decodeTokenID(&id, rest[dot+1:]) {
				return sub, id, nil
			}
		}
	}
	subject, id, err = SplitToken(tok)
	if err == nil {
		rest := s[len(TokenPrefix):]
		memo[rest[:strings.IndexByte(rest, '.')]] = subject
	}
	return subject, id, err
}

// decodeTokenID decodes the ID part of a token, as SplitToken does.
func decodeTokenID(id *[TokenIDSize]byte, s string) bool {
	if len(s) != idChars || strings.ContainsAny(s, "\r\n") {
		return false
	}
	var buf [TokenIDSize + 2]byte
	n, err := tokenEncoding.Decode(buf[:], []byte(s))
	if err != nil || n != TokenIDSize {
		return false
	}
	copy(id[:], buf[:TokenIDSize])
	return true
}

// ValidateSubject reports, wrapping ErrInvalid, whether subject is not a
// usable subject ID: empty, longer than MaxSubjectLen bytes, not UTF-8, or
// holding control characters. The error never repeats the subject.
func ValidateSubject(subject string) error {
	return validateName("subject", subject, MaxSubjectLen)
}

// ValidateClass is ValidateSubject for class names (at most MaxClassLen).
func ValidateClass(class string) error {
	return validateName("class", class, MaxClassLen)
}

func validateName(what, s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty: %w", what, ErrInvalid)
	case len(s) > max:
		return fmt.Errorf("%s is %d bytes, at most %d allowed: %w", what, len(s), max, ErrInvalid)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8: %w", what, ErrInvalid)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s holds a control character: %w", what, ErrInvalid)
		}
	}
	return nil
}
