package redaction

import (
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Kinds of personal data the leak guard recognises in undeclared fields.
const (
	KindEmail       = "email"
	KindPhone       = "phone"
	KindPaymentCard = "payment_card"
	KindIBAN        = "iban"
	KindIPAddress   = "ip_address"
	KindNationalID  = "national_id"
)

// DetectPII reports what kind of personal data s looks like, or "" if none.
// It errs on the side of few false positives for identifiers that services
// carry everywhere (UUIDs, timestamps, dates, version strings): a phone
// number needs a leading "+" or the punctuation of a written number, a card
// number must pass the Luhn check and start like a card, an IBAN must pass
// its mod-97 check. The result names a kind, never the matched text.
//
// s is folded first (see foldForDetect), so that a fullwidth "＠", a
// zero-width space, a NUL or a stray invalid byte inside an address or a
// number does not hide it.
func DetectPII(s string) string {
	s = foldForDetect(s)
	var digits, colons, ats, dots int
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == ':':
			colons++
		case c == '@':
			ats++
		case c == '.':
			dots++
		}
	}
	if ats > 0 && hasEmail(s) {
		return KindEmail
	}
	if digits >= 6 {
		if k := detectNumeric(s); k != "" {
			return k
		}
		if hasIBAN(s) {
			return KindIBAN
		}
		if hasNINO(s) || hasDNI(s) {
			return KindNationalID
		}
	}
	if (dots >= 3 && digits >= 4) || colons >= 2 {
		if hasIP(s) {
			return KindIPAddress
		}
	}
	return ""
}

// detectNumber checks a JSON number literal: only a payment card is
// recognised, since numeric IDs and timestamps look like everything else.
func detectNumber(lit []byte) string {
	if len(lit) < 13 || len(lit) > 19 {
		return ""
	}
	for _, c := range lit {
		if c < '0' || c > '9' {
			return ""
		}
	}
	if isCard(string(lit)) {
		return KindPaymentCard
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hasEmail(s string) bool {
	for at := strings.IndexByte(s, '@'); at >= 0; {
		local := 0
		for i := at - 1; i >= 0; i-- {
			c := s[i]
			if isAlnum(c) || strings.IndexByte("._%+-'", c) >= 0 {
				local++
				continue
			}
			break
		}
		if local > 0 {
			// domain: labels of alnum and '-', separated by dots, TLD of 2+ letters
			j := at + 1
			labels, lastLen, lastAlpha := 0, 0, true
			cur, curAlpha := 0, true
			for ; j < len(s); j++ {
				c := s[j]
				if isAlnum(c) || c == '-' {
					cur++
					if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
						curAlpha = false
					}
					continue
				}
				if c == '.' && cur > 0 && j+1 < len(s) && isAlnum(s[j+1]) {
					labels++
					cur, curAlpha = 0, true
					continue
				}
				break
			}
			if cur > 0 {
				labels++
				lastLen, lastAlpha = cur, curAlpha
			}
			if labels >= 2 && lastLen >= 2 && lastAlpha {
				return true
			}
		}
		next := strings.IndexByte(s[at+1:], '@')
		if next < 0 {
			break
		}
		at += 1 + next
	}
	return false
}

// detectNumeric looks at each run of digits and number punctuation.
func detectNumeric(s string) string {
	for i := 0; i < len(s); {
		c := s[i]
		if !(isDigit(c) || c == '+' || c == '(') || (i > 0 && (isAlnum(s[i-1]) || s[i-1] == '_')) {
			i++
			continue
		}
		j := i
		for j < len(s) && (isDigit(s[j]) || strings.IndexByte(" -.()+", s[j]) >= 0) {
			j++
		}
		chunk := strings.TrimRight(s[i:j], " -.(+")
		if j < len(s) && (isAlnum(s[j]) || s[j] == '_') && len(chunk) == j-i {
			// glued to letters (a UUID, a hash, an order number): not a number
			i = j + 1
			continue
		}
		if k := classifyNumber(chunk); k != "" {
			return k
		}
		if j == i {
			j++
		}
		i = j
	}
	return ""
}

func classifyNumber(chunk string) string {
	var d []byte
	seps, dots, plus, paren, spacesDashes := 0, 0, 0, 0, 0
	for i := 0; i < len(chunk); i++ {
		switch c := chunk[i]; {
		case isDigit(c):
			d = append(d, c)
		case c == '.':
			dots++
			seps++
		case c == '+':
			plus++
		case c == '(' || c == ')':
			paren++
		default:
			spacesDashes++
			seps++
		}
	}
	n := len(d)
	if n < 7 {
		return ""
	}
	if isSSN(chunk) {
		return KindNationalID
	}
	if n >= 13 && n <= 19 && dots == 0 && plus == 0 && paren == 0 && isCard(string(d)) {
		return KindPaymentCard
	}
	if isDateLike(chunk) {
		return ""
	}
	if plus == 1 && chunk[0] == '+' && n >= 8 && n <= 15 {
		return KindPhone
	}
	if plus == 0 && n >= 10 && n <= 11 {
		if paren == 2 && strings.IndexByte(chunk, '(') < strings.IndexByte(chunk, ')') {
			return KindPhone
		}
		if paren == 0 && spacesDashes >= 2 && dots == 0 {
			return KindPhone
		}
		if paren == 0 && dots >= 2 && spacesDashes == 0 && dots <= 3 {
			return KindPhone
		}
	}
	return ""
}

// isDateLike recognises 2024-01-31, 31.01.2024, 2024-01-31 12 and the like.
func isDateLike(chunk string) bool {
	groups := strings.FieldsFunc(chunk, func(r rune) bool { return r == '-' || r == '.' || r == ' ' || r == '/' })
	if len(groups) < 3 {
		return false
	}
	g0, g1, g2 := len(groups[0]), len(groups[1]), len(groups[2])
	return (g0 == 4 && g1 <= 2 && g2 <= 2) || (g0 <= 2 && g1 <= 2 && g2 == 4)
}

func isSSN(chunk string) bool {
	if len(chunk) != 11 || chunk[3] != '-' || chunk[6] != '-' {
		return false
	}
	for i, c := range []byte(chunk) {
		if i == 3 || i == 6 {
			continue
		}
		if !isDigit(c) {
			return false
		}
	}
	area, group, serial := chunk[0:3], chunk[4:6], chunk[7:11]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// isCard checks the Luhn sum and a card-network prefix.
func isCard(d string) bool {
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	sum := 0
	for i := 0; i < len(d); i++ {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	if sum%10 != 0 {
		return false
	}
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch {
	case d[0] == '4': // Visa
		return true
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return true
	case p2 == 34 || p2 == 37: // Amex
		return true
	case p4 == 6011 || p2 == 65 || p2 == 62 || (p2 == 64 && d[2] >= '4'): // Discover, UnionPay
		return true
	case p2 == 35 || p2 == 36 || p2 == 30 || p2 == 38 || p2 == 39: // JCB, Diners
		return true
	case p2 == 50 || (p2 >= 56 && p2 <= 69): // Maestro
		return true
	}
	return false
}

// hasIBAN looks for CCdd followed by 11..30 letters or digits (optionally in
// groups of four separated by single spaces) whose mod-97 is 1.
func hasIBAN(s string) bool {
	for i := 0; i+15 <= len(s); i++ {
		if !(isUpper(s[i]) && isUpper(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3])) {
			continue
		}
		if i > 0 && isAlnum(s[i-1]) {
			continue
		}
		var compact []byte
		j := i
		for j < len(s) && len(compact) < 34 {
			c := s[j]
			if isDigit(c) || isUpper(c) {
				compact = append(compact, c)
				j++
				continue
			}
			if c == ' ' && j+1 < len(s) && (isDigit(s[j+1]) || isUpper(s[j+1])) {
				j++
				continue
			}
			break
		}
		if j < len(s) && isAlnum(s[j]) {
			continue
		}
		for l := len(compact); l >= 15; l-- {
			if ibanValid(compact[:l]) {
				return true
			}
		}
	}
	return false
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func ibanValid(c []byte) bool {
	rem := 0
	add := func(b byte) {
		if isDigit(b) {
			rem = (rem*10 + int(b-'0')) % 97
		} else {
			v := int(b-'A') + 10
			rem = (rem*100 + v) % 97
		}
	}
	for _, b := range c[4:] {
		add(b)
	}
	for _, b := range c[:4] {
		add(b)
	}
	return rem == 1
}

// hasNINO recognises a UK National Insurance number (AB123456C, with
// optional spaces between the pairs).
func hasNINO(s string) bool {
	var compact []byte
	start := -1
	flush := func(end int) bool {
		defer func() { compact = compact[:0]; start = -1 }()
		if len(compact) != 9 {
			return false
		}
		if start > 0 && isAlnum(s[start-1]) || end < len(s) && isAlnum(s[end]) {
			return false
		}
		c := compact
		if !isUpper(c[0]) || !isUpper(c[1]) || strings.IndexByte("DFIQUV", c[0]) >= 0 || strings.IndexByte("DFIQUVO", c[1]) >= 0 {
			return false
		}
		for _, d := range c[2:8] {
			if !isDigit(d) {
				return false
			}
		}
		return c[8] >= 'A' && c[8] <= 'D'
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnum(c) {
			if start < 0 {
				start = i
			}
			compact = append(compact, c)
			continue
		}
		if c == ' ' && start >= 0 && len(compact) < 9 && len(compact)%2 == 0 {
			continue
		}
		if start >= 0 && flush(i) {
			return true
		}
	}
	return start >= 0 && flush(len(s))
}

// hasDNI recognises a Spanish DNI: eight digits and the matching letter.
func hasDNI(s string) bool {
	const letters = "TRWAGMYFPDXBNJZSQVHLCKE"
	for i := 0; i+9 <= len(s); i++ {
		if i > 0 && isAlnum(s[i-1]) || i+9 < len(s) && isAlnum(s[i+9]) {
			continue
		}
		n := 0
		ok := true
		for _, c := range []byte(s[i : i+8]) {
			if !isDigit(c) {
				ok = false
				break
			}
			n = n*10 + int(c-'0')
		}
		if ok && s[i+8] == letters[n%23] {
			return true
		}
	}
	return false
}

// hasIP looks for an IPv4 or IPv6 address standing as a word of its own;
// loopback and unspecified addresses are not about a person.
func hasIP(s string) bool {
	isIPChar := func(c byte) bool {
		return isDigit(c) || c == '.' || c == ':' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	for i := 0; i < len(s); {
		if !isIPChar(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isIPChar(s[j]) {
			j++
		}
		boundary := (i == 0 || !isAlnum(s[i-1]) && s[i-1] != '_') && (j == len(s) || !isAlnum(s[j]) && s[j] != '_')
		if boundary {
			cand := strings.Trim(s[i:j], ".:")
			if strings.Count(s[i:j], "::") > 0 && !strings.HasPrefix(cand, s[i:j]) {
				cand = s[i:j] // keep a leading or trailing "::"
			}
			if a, err := netip.ParseAddr(cand); err == nil && !a.IsLoopback() && !a.IsUnspecified() {
				if a.Is4() || strings.Count(cand, ":") >= 2 {
					return true
				}
			}
		}
		i = j
	}
	return false
}

// foldForDetect returns s as the detectors should see it: invalid UTF-8
// bytes, control characters (Cc) and format characters (Cf: zero-width
// space and joiners, soft hyphen, BOM, bidi marks) dropped, then NFKC
// (fullwidth and other compatibility forms become ASCII: "＠" is "@",
// "４" is "4"), then every dash (Pd, U+2212 minus) becomes "-" and every
// decimal digit of another script becomes its ASCII digit. Printable ASCII
// is its own fold and is returned as it is, without allocating: the append
// hot path pays one pass over the bytes.
func foldForDetect(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for j := i; j < len(s); {
		r, size := utf8.DecodeRuneInString(s[j:])
		j += size
		if r == utf8.RuneError && size <= 1 || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		b.WriteRune(r)
	}
	folded := norm.NFKC.String(b.String())
	return strings.Map(func(r rune) rune {
		switch {
		case r < utf8.RuneSelf:
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		case unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r):
			return -1
		case r == '\u2212' || unicode.Is(unicode.Pd, r):
			return '-'
		case unicode.Is(unicode.Nd, r):
			return asciiDigit(r)
		}
		return r
	}, folded)
}

// asciiDigit maps a decimal digit of any script to "0".."9". Unicode keeps
// every script's decimal digits in contiguous runs of ten that start at
// zero, and unicode.Nd's ranges are unions of such runs.
func asciiDigit(r rune) rune {
	for _, rg := range unicode.Nd.R16 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return '0' + (r-rune(rg.Lo))%10
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if r >= rune(rg.Lo) && r <= rune(rg.Hi) {
			return '0' + (r-rune(rg.Lo))%10
		}
	}
	return r
}
