package jsonvalid

import (
	"encoding/json"
	"strings"
	"testing"
)

var jsonCases = []string{
	``, ` `, `{}`, `[]`, `{"a":1}`, `{"a":1,}`, `[1,2,]`, `[,]`, `{"a"}`, `{"a":}`, `{1:2}`,
	` {"a" : [ true , false , null , -0.5e+10 , "x\u00e9\n" ] } `, `"\u12"`, `"\x"`, "\"a\tb\"",
	`01`, `-`, `-0`, `1.`, `.5`, `1e`, `1e+`, `1E5`, `tru`, `nulll`, `{"a":1}{}`, `[1] x`, `"\ud800"`,
	"\"\xff\xfe\"", `{"a":{"b":[{"c":[]}]}}`, `[[[[[[]]]]]]`, `[[[[[[]]]]]`, `}`, `]`, `"abc`, `"abc\"`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, c := range jsonCases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%.40q) = %v, json.Valid = %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range jsonCases {
		if len(c) < 200 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid = %v", b, got, want)
		}
	})
}

// event1KiB is an event body of 1 KiB, mostly one string, as the log's
// benchmarks append.
var event1KiB = []byte(`{"customerId":"cust-42","note":"` + strings.Repeat("x", 1024-40) + `"}`)

func BenchmarkValidJSON(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(event1KiB)))
		for b.Loop() {
			Valid(event1KiB)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(event1KiB)))
		for b.Loop() {
			json.Valid(event1KiB)
		}
	})
}
