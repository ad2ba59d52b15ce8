package redaction

import (
	"fmt"
	"strconv"
	"strings"
)

// Wildcard is the pointer segment that matches every element of an array and
// every member of an object. RFC 6901 has no wildcard; a key literally named
// "*" therefore cannot be addressed by a schema pointer.
const Wildcard = "*"

// Pointer is a parsed JSON pointer (RFC 6901), optionally with "*" segments.
// The zero Pointer addresses the whole document.
type Pointer struct {
	raw  string
	segs []string
	idx  []int // per segment: its array index, -1 if it is not one
	wild int   // number of wildcard segments
}

// ParsePointer parses s as an RFC 6901 JSON pointer in which a segment that is
// exactly "*" is a wildcard. "~0" decodes to "~" and "~1" to "/"; any other
// use of "~" is an error, as is a pointer that does not start with "/".
func ParsePointer(s string) (Pointer, error) { return parsePointer(s, true) }

// ParseConcretePointer parses s like ParsePointer but treats "*" as an
// ordinary key: the result addresses exactly one location.
func ParseConcretePointer(s string) (Pointer, error) { return parsePointer(s, false) }

func parsePointer(s string, wildcards bool) (Pointer, error) {
	if s == "" {
		return Pointer{}, nil
	}
	if s[0] != '/' {
		return Pointer{}, fmt.Errorf("%w: must be empty or start with \"/\"", ErrInvalidPointer)
	}
	p := Pointer{raw: s}
	for _, part := range strings.Split(s[1:], "/") {
		seg, err := unescapeSegment(part)
		if err != nil {
			return Pointer{}, err
		}
		if wildcards && part == Wildcard {
			p.wild++
		}
		p.segs = append(p.segs, seg)
	}
	if !wildcards {
		p.wild = 0
	}
	p.idx = make([]int, len(p.segs))
	for i, seg := range p.segs {
		p.idx[i] = -1
		if n, ok := arrayIndex(seg); ok {
			p.idx[i] = n
		}
	}
	return p, nil
}

func unescapeSegment(part string) (string, error) {
	if !strings.Contains(part, "~") {
		return part, nil
	}
	var b strings.Builder
	for i := 0; i < len(part); i++ {
		c := part[i]
		if c != '~' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(part) {
			return "", fmt.Errorf("%w: dangling \"~\" at the end of a segment", ErrInvalidPointer)
		}
		switch part[i+1] {
		case '0':
			b.WriteByte('~')
		case '1':
			b.WriteByte('/')
		default:
			return "", fmt.Errorf("%w: \"~\" must be followed by 0 or 1", ErrInvalidPointer)
		}
		i++
	}
	return b.String(), nil
}

// EscapeSegment escapes one reference token for use in a pointer string.
func EscapeSegment(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// String returns the pointer in its RFC 6901 string form.
func (p Pointer) String() string {
	if p.raw != "" || len(p.segs) == 0 {
		return p.raw
	}
	return joinSegments(p.segs)
}

// Segments returns the decoded reference tokens; do not modify the result.
func (p Pointer) Segments() []string { return p.segs }

// IsRoot reports whether p addresses the whole document.
func (p Pointer) IsRoot() bool { return len(p.segs) == 0 }

// HasWildcard reports whether p contains a "*" segment.
func (p Pointer) HasWildcard() bool { return p.wild > 0 }

func (p Pointer) isWild(i int) bool { return p.wild > 0 && p.segs[i] == Wildcard }

// index returns segment i as an array index, if it is one.
func (p *Pointer) index(i int) (int, bool) {
	if p.idx != nil {
		n := p.idx[i]
		return n, n >= 0
	}
	return arrayIndex(p.segs[i])
}

func joinSegments(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(EscapeSegment(s))
	}
	return b.String()
}

// overlaps reports whether some location can be addressed by a prefix of one
// pointer and the whole of the other (one field would sit inside another).
func (p Pointer) overlaps(q Pointer) bool {
	n := min(len(p.segs), len(q.segs))
	for i := 0; i < n; i++ {
		if p.isWild(i) || q.isWild(i) {
			continue
		}
		if p.segs[i] != q.segs[i] {
			return false
		}
	}
	return true
}

// arrayIndex parses an RFC 6901 array index: "0" or a number without a
// leading zero.
func arrayIndex(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 || (len(seg) > 1 && seg[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(seg)
	return n, err == nil
}
