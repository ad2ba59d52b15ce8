package jsonvalid

import (
	"bytes"
	"encoding/json"
)

// UniqueKeys reports whether no object in b, which must be valid JSON
// (Valid), names a member twice. RFC 8259 leaves the meaning of a
// duplicated name to the parser: encoding/json keeps the last, others the
// first, so a document with one can mean two things (two subjects, say) to
// two readers. Keys are compared as decoded, so "a" and "\u0061" are the
// same name.
func UniqueKeys(b []byte) bool {
	type object struct {
		keys [][]byte
		set  map[string]struct{} // past linearMax keys
	}
	const linearMax = 32
	var stack []*object // nil for an array
	var free []*object
	expectKey := false
	for i := 0; i < len(b); {
		switch c := b[i]; c {
		case '{':
			var o *object
			if n := len(free); n > 0 {
				o, free = free[n-1], free[:n-1]
				o.keys, o.set = o.keys[:0], nil
			} else {
				o = &object{}
			}
			stack = append(stack, o)
			expectKey = true
			i++
		case '[':
			stack = append(stack, nil)
			expectKey = false
			i++
		case '}', ']':
			if n := len(stack); n > 0 {
				if o := stack[n-1]; o != nil {
					free = append(free, o)
				}
				stack = stack[:n-1]
			}
			expectKey = false
			i++
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] != nil
			i++
		case '"':
			end, ok := scanString(b, i)
			if !ok {
				return false
			}
			if expectKey && len(stack) > 0 {
				o := stack[len(stack)-1]
				key := b[i+1 : end-1]
				if bytes.IndexByte(key, '\\') >= 0 {
					var s string
					if json.Unmarshal(b[i:end], &s) != nil {
						return false
					}
					key = []byte(s)
				}
				switch {
				case o.set != nil:
					if _, dup := o.set[string(key)]; dup {
						return false
					}
					o.set[string(key)] = struct{}{}
				default:
					for _, k := range o.keys {
						if bytes.Equal(k, key) {
							return false
						}
					}
					o.keys = append(o.keys, key)
					if len(o.keys) > linearMax {
						o.set = make(map[string]struct{}, 2*linearMax)
						for _, k := range o.keys {
							o.set[string(k)] = struct{}{}
						}
					}
				}
				expectKey = false
			}
			i = end
		default:
			i++
		}
	}
	return true
}
