package redaction

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// This file walks the bytes of an event's data or metadata document once,
// without decoding it into maps, and reports the byte spans of the values
// that pointers address and of the scalar leaves outside them. Splicing
// replacements into those spans keeps every other byte of the document as
// the client sent it.

var errBadJSON = errors.New("malformed JSON")

// span is the byte range [start, end) of one value in a document.
type span struct{ start, end int }

// seg is one step of the walk's current path: an object key (the raw bytes
// between the quotes, escapes not decoded) or an array index (key nil).
// Keeping bytes, not strings, keeps the walk free of allocations; the
// pointer string is built only when a path is reported.
type seg struct {
	key []byte
	idx int
	esc bool // key holds a backslash escape
}

// pathString renders a walk path as an RFC 6901 pointer.
func pathString(path []seg) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		if p.key == nil {
			b.WriteString(strconv.Itoa(p.idx))
			continue
		}
		k := string(p.key)
		if p.esc {
			k, _ = decodeString(append(append([]byte{'"'}, p.key...), '"'))
		}
		b.WriteString(EscapeSegment(k))
	}
	return b.String()
}

// walker walks one document. onMatch is called for every value addressed by
// a pointer (the outermost wins: it is not descended into); onLeaf, if set,
// for every string or number leaf that no pointer addresses.
type walker struct {
	b       []byte
	ptrs    []Pointer
	path    []seg
	onMatch func(ptr int, path []seg, v span) error
	onLeaf  func(path []seg, v span, isString bool) error
	// onKey, if set, is called for every object key outside the values
	// pointers address, with the path of the object that holds it and the
	// key's bytes (quotes included).
	onKey func(path []seg, key span) error
	// concrete: the pointers have no wildcards, so each matches at most
	// once and the walk stops when all have matched (the rest of the
	// document is not looked at; only for reads of documents known valid).
	concrete bool
	left     int
	// spare slices for narrow, one per depth, reused across siblings
	spare [][]int
}

// errWalkDone stops a concrete walk early.
var errWalkDone = errors.New("walk done")

func (w *walker) run() error {
	all := make([]int, len(w.ptrs))
	for i := range all {
		all[i] = i
	}
	w.left = len(w.ptrs)
	i := skipWS(w.b, 0)
	end, err := w.value(i, all)
	if err == errWalkDone {
		return nil
	}
	if err != nil {
		return err
	}
	if skipWS(w.b, end) != len(w.b) {
		return errBadJSON
	}
	return nil
}

// value walks the value at i with the pointers in active, all of which matched
// the path so far; it returns the end of the value.
func (w *walker) value(i int, active []int) (int, error) {
	depth := len(w.path)
	for _, p := range active {
		if len(w.ptrs[p].segs) == depth {
			end, err := skipValue(w.b, i)
			if err != nil {
				return 0, err
			}
			if w.onMatch != nil {
				if err := w.onMatch(p, w.path, span{i, end}); err != nil {
					return 0, err
				}
			}
			if w.concrete {
				if w.left--; w.left == 0 {
					return end, errWalkDone
				}
			}
			return end, nil
		}
	}
	if len(active) == 0 && w.onLeaf == nil && w.onKey == nil {
		return skipValue(w.b, i)
	}
	if i >= len(w.b) {
		return 0, errBadJSON
	}
	switch w.b[i] {
	case '{':
		return w.object(i, active)
	case '[':
		return w.array(i, active)
	case '"':
		end, err := skipString(w.b, i)
		if err == nil && w.onLeaf != nil {
			err = w.onLeaf(w.path, span{i, end}, true)
		}
		return end, err
	default:
		end, err := skipValue(w.b, i)
		if err == nil && w.onLeaf != nil && w.b[i] != 't' && w.b[i] != 'f' && w.b[i] != 'n' {
			err = w.onLeaf(w.path, span{i, end}, false)
		}
		return end, err
	}
}

// narrow keeps the active pointers whose next segment matches the key (or
// index) of the current path step.
func (w *walker) narrow(active []int, key []byte, esc bool, idx int) []int {
	if len(active) == 0 {
		return nil
	}
	depth := len(w.path)
	for len(w.spare) <= depth {
		w.spare = append(w.spare, nil)
	}
	next := w.spare[depth][:0]
	var decoded string
	if esc {
		decoded, _ = decodeString(append(append([]byte{'"'}, key...), '"'))
	}
	for _, p := range active {
		ptr := &w.ptrs[p]
		if ptr.isWild(depth) {
			next = append(next, p)
			continue
		}
		want := ptr.segs[depth]
		switch {
		case key == nil:
			if n, ok := ptr.index(depth); ok && n == idx {
				next = append(next, p)
			}
		case esc:
			if want == decoded {
				next = append(next, p)
			}
		case want == string(key):
			next = append(next, p)
		}
	}
	w.spare[depth] = next
	return next
}

func (w *walker) object(i int, active []int) (int, error) {
	i = skipWS(w.b, i+1)
	if i < len(w.b) && w.b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(w.b) || w.b[i] != '"' {
			return 0, errBadJSON
		}
		kend, esc, err := scanString(w.b, i)
		if err != nil {
			return 0, err
		}
		key := w.b[i+1 : kend-1]
		if w.onKey != nil {
			if err := w.onKey(w.path, span{i, kend}); err != nil {
				return 0, err
			}
		}
		i = skipWS(w.b, kend)
		if i >= len(w.b) || w.b[i] != ':' {
			return 0, errBadJSON
		}
		i = skipWS(w.b, i+1)
		next := w.narrow(active, key, esc, -1)
		w.path = append(w.path, seg{key: key, esc: esc})
		i, err = w.value(i, next)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return 0, err
		}
		i = skipWS(w.b, i)
		if i >= len(w.b) {
			return 0, errBadJSON
		}
		if w.b[i] == '}' {
			return i + 1, nil
		}
		if w.b[i] != ',' {
			return 0, errBadJSON
		}
		i = skipWS(w.b, i+1)
	}
}

func (w *walker) array(i int, active []int) (int, error) {
	i = skipWS(w.b, i+1)
	if i < len(w.b) && w.b[i] == ']' {
		return i + 1, nil
	}
	for n := 0; ; n++ {
		next := w.narrow(active, nil, false, n)
		w.path = append(w.path, seg{idx: n})
		var err error
		i, err = w.value(i, next)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return 0, err
		}
		i = skipWS(w.b, i)
		if i >= len(w.b) {
			return 0, errBadJSON
		}
		if w.b[i] == ']' {
			return i + 1, nil
		}
		if w.b[i] != ',' {
			return 0, errBadJSON
		}
		i = skipWS(w.b, i+1)
	}
}

// scanString returns the end of the string starting at b[i] == '"' and
// whether it holds an escape.
func scanString(b []byte, i int) (int, bool, error) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc, nil
		}
	}
	return 0, false, errBadJSON
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the end of the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errBadJSON
}

// skipValue returns the end of the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errBadJSON
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errBadJSON
	default:
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			j++
		}
		if j == i {
			return 0, errBadJSON
		}
		return j, nil
	}
}

// decodeString decodes a JSON string literal including its quotes.
func decodeString(lit []byte) (string, error) {
	if len(lit) < 2 {
		return "", errBadJSON
	}
	inner := lit[1 : len(lit)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", errBadJSON
	}
	return s, nil
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			lit, _ := json.Marshal(s)
			return append(dst, lit...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// edit replaces one span of a document.
type edit struct {
	at   span
	with []byte
}

// splice applies edits (sorted by start, not overlapping) to doc.
func splice(doc []byte, edits []edit) []byte {
	if len(edits) == 0 {
		return doc
	}
	n := len(doc)
	for _, e := range edits {
		n += len(e.with) - (e.at.end - e.at.start)
	}
	out := make([]byte, 0, n)
	last := 0
	for _, e := range edits {
		out = append(out, doc[last:e.at.start]...)
		out = append(out, e.with...)
		last = e.at.end
	}
	return append(out, doc[last:]...)
}
