package jsonvalid

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestUniqueKeys(t *testing.T) {
	many := func(dup bool) string {
		var sb strings.Builder
		sb.WriteString("{")
		for i := range 100 {
			fmt.Fprintf(&sb, `"k%d":%d,`, i, i)
		}
		if dup {
			sb.WriteString(`"k7":0`)
		} else {
			sb.WriteString(`"last":0`)
		}
		sb.WriteString("}")
		return sb.String()
	}
	tests := []struct {
		in   string
		want bool
	}{
		{`{}`, true},
		{`{"a":1,"b":2}`, true},
		{`{"customerId":"cust-3","customerId":"cust-4"}`, false},
		{`{"a":1,"\u0061":2}`, false},
		{`{"a":{"b":1},"c":{"b":2}}`, true},
		{`{"a":{"b":1,"b":2}}`, false},
		{`[{"a":1},{"a":1}]`, true},
		{`{"a":["a","a"],"b":"a"}`, true},
		{`{"a":[{"x":1,"x":2}]}`, false},
		{`{"a":"b","c":"a"}`, true},
		{`"just a string"`, true},
		{many(false), true},
		{many(true), false},
	}
	for _, tt := range tests {
		if !Valid([]byte(tt.in)) {
			t.Fatalf("test input %q is not valid JSON", tt.in)
		}
		if got := UniqueKeys([]byte(tt.in)); got != tt.want {
			t.Errorf("UniqueKeys(%.60q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzUniqueKeys compares UniqueKeys with a decode that counts members.
func FuzzUniqueKeys(f *testing.F) {
	f.Add(`{"a":1,"a":2}`)
	f.Add(`{"a":{"b":[{"c":1,"d":2}]},"e":"\u0061"}`)
	f.Fuzz(func(t *testing.T, in string) {
		if !Valid([]byte(in)) {
			return
		}
		if got, want := UniqueKeys([]byte(in)), uniqueByDecoder(t, in); got != want {
			t.Errorf("UniqueKeys(%q) = %v, the decoder says %v", in, got, want)
		}
	})
}

// uniqueByDecoder walks the tokens of in with encoding/json.
func uniqueByDecoder(t *testing.T, in string) bool {
	dec := json.NewDecoder(strings.NewReader(in))
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // the next string is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: v == '{', keys: map[string]bool{}, key: v == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.obj && top.key {
				if top.keys[v] {
					return false
				}
				top.keys[v] = true
				top.key = false
				continue
			}
			if top != nil && top.obj {
				top.key = true
			}
		default:
			if top != nil && top.obj {
				top.key = true
			}
		}
	}
}
