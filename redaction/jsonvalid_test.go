package redaction

import (
	"encoding/json"
	"strings"
	"testing"
)

var validJSONCases = []string{
	``, ` `, `{}`, `[]`, `{"a":1}`, `{"a":1,}`, `[1,2,]`, `[,]`, `{"a"}`, `{"a":}`, `{1:2}`,
	` {"a" : [ true , false , null , -0.5e+10 , "x\u00e9\n" ] } `, `"\u12"`, `"\x"`, "\"a\tb\"",
	`01`, `-`, `-0`, `1.`, `.5`, `1e`, `1e+`, `1E5`, `tru`, `nulll`, `{"a":1}{}`, `[1] x`, `"\ud800"`,
	"\"\xff\xfe\"", `{"a":{"b":[{"c":[]}]}}`, `[[[[[[]]]]]]`, `[[[[[[]]]]]`, `}`, `]`, `"abc`, `"abc\"`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, c := range validJSONCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.40q) = %v, json.Valid = %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validJSONCases {
		if len(c) < 200 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", b, got, want)
		}
	})
}
