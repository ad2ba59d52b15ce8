package httpapi

import (
	"unicode/utf8"

	"github.com/piivault/piivault/internal/jsonvalid"
	"github.com/piivault/piivault/sdk"
)

// decodeAppend decodes an append request body exactly as unmarshalStrict
// would, errors included, but without encoding/json for the bodies clients
// send: encoding/json scans every event's data twice with its byte-at-a-time
// state machine and then copies it into a json.RawMessage, and the data is
// nearly all of an append's bytes. The fast path takes the canonical form
// (the members of sdk.AppendRequest and sdk.EventInput spelled exactly, each
// at most once, strings without escapes, a plain unsigned expectedVersion)
// and validates each data and metadata value once with the shared fast
// validator; data and metadata then alias b, which the caller owns. Anything
// else (a key in other case, an escape, null where a string is wanted, an
// error of any kind) goes to unmarshalStrict, so that odd but valid input
// decodes as encoding/json decodes it and bad input gets encoding/json's
// error. FuzzDecodeAppend checks that the fast path never accepts what
// unmarshalStrict refuses and never decodes differently.
func decodeAppend(b []byte, req *sdk.AppendRequest) error {
	if fastDecodeAppend(b, req) {
		return nil
	}
	*req = sdk.AppendRequest{}
	return unmarshalStrict(b, req)
}

// maxDataDepth keeps the fast path below encoding/json's nesting limit of
// 10000, counted from the body's top level (the data sits at depth 3).
const maxDataDepth = 9000

// fastDecodeAppend reports whether b is a canonical append request, and if
// so fills req. It never fails with an error of its own: false means "ask
// encoding/json".
func fastDecodeAppend(b []byte, req *sdk.AppendRequest) bool {
	d := appendScanner{b: b}
	d.space()
	if !d.byte('{') {
		return false
	}
	var seenVersion, seenEvents bool
	d.space()
	if d.peek() == '}' {
		// {} decodes to no events; validateAppend refuses it.
		d.i++
		return d.end()
	}
	for {
		key, ok := d.member()
		if !ok {
			return false
		}
		switch string(key) {
		case "expectedVersion":
			if seenVersion {
				return false
			}
			seenVersion = true
			v, ok := d.uint()
			if !ok {
				return false
			}
			req.ExpectedVersion = &v
		case "events":
			if seenEvents {
				return false
			}
			seenEvents = true
			if !d.events(req) {
				return false
			}
		default:
			return false
		}
		if more, ok := d.after('}'); !more {
			return ok && d.end()
		}
	}
}

type appendScanner struct {
	b        []byte
	i        int
	lastType string
}

func (d *appendScanner) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *appendScanner) next() byte {
	if d.i < len(d.b) {
		c := d.b[d.i]
		d.i++
		return c
	}
	return 0
}

func (d *appendScanner) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// space skips JSON white space.
func (d *appendScanner) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// member reads the key of an object member and its colon, with the
// spaces around them. The key is not copied: a switch on string(key)
// does not allocate.
func (d *appendScanner) member() ([]byte, bool) {
	d.space()
	key, ok := d.plainBytes()
	if !ok {
		return nil, false
	}
	d.space()
	if !d.byte(':') {
		return nil, false
	}
	d.space()
	return key, true
}

// after reads what follows a member or an element: a comma (more), or
// closing, which ends the object or array (ok); anything else is neither.
func (d *appendScanner) after(closing byte) (more, ok bool) {
	d.space()
	switch d.next() {
	case ',':
		return true, true
	case closing:
		return false, true
	default:
		return false, false
	}
}

// end reports whether only white space is left.
func (d *appendScanner) end() bool {
	d.space()
	return d.i == len(d.b)
}

// plainString reads a string without escapes or control bytes, in valid
// UTF-8: one whose bytes are its value (encoding/json would replace
// invalid UTF-8).
func (d *appendScanner) plainString() (string, bool) {
	b, ok := d.plainBytes()
	return string(b), ok
}

// plainBytes is plainString without the copy.
func (d *appendScanner) plainBytes() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return nil, false
}

// uint reads a non-negative integer that fits in uint64, in JSON syntax.
func (d *appendScanner) uint() (uint64, bool) {
	start := d.i
	var v uint64
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c < '0' || c > '9' {
			break
		}
		if v > (1<<64-1)/10 || v*10 > 1<<64-1-uint64(c-'0') {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		d.i++
	}
	n := d.i - start
	if n == 0 || (n > 1 && d.b[start] == '0') {
		return 0, false
	}
	// A fraction or exponent makes it a float: encoding/json refuses it
	// for a uint64, and so does the slow path.
	switch d.peek() {
	case '.', 'e', 'E':
		return 0, false
	}
	return v, true
}

// events reads the events array.
func (d *appendScanner) events(req *sdk.AppendRequest) bool {
	if !d.byte('[') {
		return false // null or another type: encoding/json decides
	}
	d.space()
	if d.byte(']') {
		req.Events = []sdk.EventInput{}
		return true
	}
	req.Events = make([]sdk.EventInput, 0, 1)
	for {
		d.space()
		var ev sdk.EventInput
		if !d.event(&ev) {
			return false
		}
		req.Events = append(req.Events, ev)
		if more, ok := d.after(']'); !more {
			return ok
		}
	}
}

// event reads one event object.
func (d *appendScanner) event(ev *sdk.EventInput) bool {
	if !d.byte('{') {
		return false
	}
	var seen [4]bool
	d.space()
	if d.byte('}') {
		return true
	}
	for {
		key, ok := d.member()
		if !ok {
			return false
		}
		var k int
		switch string(key) {
		case "id":
			k = 0
			if ev.ID, ok = d.plainString(); !ok {
				return false
			}
		case "type":
			k = 1
			// The events of a batch mostly share their type: one string.
			t, ok := d.plainBytes()
			if !ok {
				return false
			}
			if string(t) != d.lastType {
				d.lastType = string(t)
			}
			ev.Type = d.lastType
		case "data":
			k = 2
			if ev.Data, ok = d.value(); !ok {
				return false
			}
		case "metadata":
			k = 3
			if ev.Metadata, ok = d.value(); !ok {
				return false
			}
		default:
			return false
		}
		if seen[k] {
			return false
		}
		seen[k] = true
		if more, ok := d.after('}'); !more {
			return ok
		}
	}
}

// value finds the extent of the JSON value at d.i by its brackets and
// strings, then has the shared validator check it: one fast pass to find
// it and one to validate it.
func (d *appendScanner) value() ([]byte, bool) {
	start := d.i
	depth := 0
	b := d.b
	i := d.i
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i++
			for i < len(b) {
				c := b[i]
				if c == '"' {
					break
				}
				if c == '\\' {
					i++
				}
				i++
			}
			if i >= len(b) {
				return nil, false
			}
			i++
		case '{', '[':
			depth++
			if depth > maxDataDepth {
				return nil, false
			}
			i++
		case '}', ']':
			if depth == 0 {
				goto done
			}
			depth--
			i++
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				goto done
			}
			i++
		default:
			i++
		}
		if depth == 0 && (b[i-1] == '"' || b[i-1] == '}' || b[i-1] == ']') {
			break
		}
	}
done:
	v := b[start:i]
	if len(v) == 0 || !jsonvalid.Valid(v) {
		return nil, false
	}
	d.i = i
	return v, true
}
