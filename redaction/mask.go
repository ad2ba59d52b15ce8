package redaction

import (
	"strings"
	"unicode/utf8"
)

// maskAll is what every class without a dedicated masker, and every value a
// masker cannot read, masks to.
const maskAll = "****"

// Mask returns the masked form of one value of class c, given as raw JSON.
// Maskers keep just enough to recognise a value (j***@example.com,
// ***-***-1234, J*** D**, the year of a date of birth) and are idempotent:
// masking a masked value gives it back unchanged.
func Mask(c Class, raw []byte) string {
	if len(raw) == 0 || raw[0] != '"' {
		return maskAll
	}
	s, err := decodeString(raw)
	if err != nil || s == "" {
		return maskAll
	}
	switch c {
	case ClassEmail:
		return maskEmail(s)
	case ClassPhone:
		return maskPhone(s)
	case ClassName:
		return maskName(s)
	case ClassDateOfBirth:
		return maskYear(s)
	}
	return maskAll
}

func maskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return maskAll
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + "***" + s[at:]
}

func maskPhone(s string) string {
	var last [4]byte
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			copy(last[:], last[1:])
			last[3] = c
			n++
		}
	}
	if n < 4 {
		return maskAll
	}
	return "***-***-" + string(last[:])
}

func maskName(s string) string {
	words := strings.Fields(s)
	if len(words) == 0 {
		return maskAll
	}
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		r, size := utf8.DecodeRuneInString(w)
		b.WriteRune(r)
		b.WriteString(strings.Repeat("*", utf8.RuneCountInString(w[size:])))
	}
	return b.String()
}

// maskYear keeps the first run of exactly four digits (1990-05-17,
// 17/05/1990, 1990).
func maskYear(s string) string {
	run := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		if run == 4 {
			return s[i-4 : i]
		}
		run = 0
	}
	return maskAll
}
