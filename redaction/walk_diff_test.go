package redaction

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"testing"
)

// FuzzWalkMatchesEncodingJSON checks the byte walker against encoding/json:
// for a valid document without duplicate keys and one pointer, the walker
// reports exactly the locations the pointer addresses, each with its value.
func FuzzWalkMatchesEncodingJSON(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":1},{"b":"x"},{"c":2}],"d":{"b":[true,null]}}`), "/a/*/b")
	f.Add([]byte(`{"a~b":{"c/d":"\u00e9"},"0":[0,[1,2]]}`), "/a~0b/c~1d")
	f.Add([]byte(`[[1,2],[3,{"k":4}]]`), "/*/*")
	f.Add([]byte(`{"x":{"y":{"z":1}}}`), "/*/*/z")
	f.Fuzz(func(t *testing.T, doc []byte, ptr string) {
		p, err := ParsePointer(ptr)
		if err != nil || !json.Valid(doc) || hasDuplicateKeys(doc) {
			return
		}
		var root any
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		if err := dec.Decode(&root); err != nil {
			return
		}
		want := map[string]string{}
		refLocate(root, p.Segments(), 0, p, "", want)
		got := map[string]string{}
		w := walker{b: doc, ptrs: []Pointer{p}, onMatch: func(_ int, path []seg, v span) error {
			got[pathString(path)] = canon(t, doc[v.start:v.end])
			return nil
		}}
		if err := w.run(); err != nil {
			t.Fatalf("walk of valid JSON failed: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("walk(%s, %q)\n got %v\nwant %v", doc, ptr, sortedKeys(got), sortedKeys(want))
		}
	})
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func canon(t *testing.T, raw []byte) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("span %q is not a JSON value: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func refLocate(v any, segs []string, depth int, p Pointer, path string, out map[string]string) {
	if depth == len(segs) {
		b, _ := json.Marshal(v)
		out[path] = string(b)
		return
	}
	s := segs[depth]
	switch c := v.(type) {
	case map[string]any:
		for k, child := range c {
			if p.isWild(depth) || k == s {
				refLocate(child, segs, depth+1, p, path+"/"+EscapeSegment(k), out)
			}
		}
	case []any:
		for i, child := range c {
			n, ok := arrayIndex(s)
			if p.isWild(depth) || (ok && n == i) {
				refLocate(child, segs, depth+1, p, path+"/"+itoa(i), out)
			}
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// hasDuplicateKeys reports whether some object of doc has a key twice.
func hasDuplicateKeys(doc []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := func() *frame {
			if len(stack) == 0 {
				return nil
			}
			return stack[len(stack)-1]
		}
		switch x := tok.(type) {
		case json.Delim:
			switch x {
			case '{', '[':
				if f := top(); f != nil && f.obj {
					f.key = true
				}
				stack = append(stack, &frame{obj: x == '{', seen: map[string]bool{}, key: x == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
		default:
			f := top()
			if f != nil && f.obj {
				if f.key {
					s, _ := x.(string)
					if f.seen[s] {
						return true
					}
					f.seen[s] = true
					f.key = false
				} else {
					f.key = true
				}
			}
		}
	}
}
