package redaction

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeSchema(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantErr string // substring of the error; "" = valid
	}{
		{"minimal", `{"subject":"/customerId","fields":[{"path":"/email","class":"email"}]}`, ""},
		{"wildcard", `{"subject":"/customerId","fields":[{"path":"/addresses/*/street","class":"address"}]}`, ""},
		{"own subject", `{"subject":"/customerId","fields":[{"path":"/people/*/email","class":"email","subject":"/people/*/id"}]}`, ""},
		{"whole object", `{"subject":"/id","fields":[{"path":"/billing","class":"address"}],"leakGuard":"tokenize"}`, ""},
		{"no fields", `{"subject":"/id","fields":[]}`, ""},
		{"type matches", `{"eventType":"CustomerRegistered","subject":"/id","fields":[]}`, ""},
		{"type mismatch", `{"eventType":"Other","subject":"/id","fields":[]}`, "eventType"},
		{"bad pointer", `{"subject":"/customerId","fields":[{"path":"email","class":"email"}]}`, "fields[0].path"},
		{"bad escape", `{"subject":"/customerId","fields":[{"path":"/a~2","class":"email"}]}`, "fields[0].path"},
		{"unknown class", `{"subject":"/customerId","fields":[{"path":"/email","class":"shoe_size"}]}`, "fields[0].class"},
		{"no subject", `{"fields":[{"path":"/email","class":"email"}]}`, "subject"},
		{"wildcard subject", `{"subject":"/ids/*","fields":[]}`, "subject"},
		{"root field", `{"subject":"/id","fields":[{"path":"","class":"email"}]}`, "fields[0].path"},
		{"overlap", `{"subject":"/id","fields":[{"path":"/a","class":"address"},{"path":"/a/street","class":"address"}]}`, "overlaps"},
		{"overlap wildcard", `{"subject":"/id","fields":[{"path":"/a/*/x","class":"address"},{"path":"/a/0","class":"address"}]}`, "overlaps"},
		{"subject inside field", `{"subject":"/payer/id","fields":[{"path":"/payer","class":"name"}]}`, "subject"},
		{"too many wildcards", `{"subject":"/id","fields":[{"path":"/a/x","class":"email","subject":"/a/*/id"}]}`, "fields[0].subject"},
		{"unknown key", `{"subject":"/id","feilds":[]}`, "unknown field"},
		{"bad guard", `{"subject":"/id","fields":[],"leakGuard":"maybe"}`, "leakGuard"},
		{"not json", `{"subject":`, "(document)"},
		{"trailing", `{"subject":"/id","fields":[]} {}`, "trailing"},
		{"array", `[]`, "(document)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := DecodeSchema("CustomerRegistered", []byte(tt.doc))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeSchema(%s) = %v", tt.doc, err)
				}
				if s.EventType != "CustomerRegistered" {
					t.Errorf("EventType = %q", s.EventType)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("DecodeSchema(%s) err = %v, want ErrInvalidSchema", tt.doc, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("DecodeSchema(%s) err = %q, want it to mention %q", tt.doc, err, tt.wantErr)
			}
		})
	}
}

func FuzzDecodeSchema(f *testing.F) {
	f.Add(`{"subject":"/customerId","fields":[{"path":"/email","class":"email"},{"path":"/addresses/*/street","class":"address"}]}`)
	f.Add(`{"subject":"/c","fields":[{"path":"/p/*/e","class":"email","subject":"/p/*/id"}],"leakGuard":"allow"}`)
	f.Add(`{"subject":"/a~1b","fields":[]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		s, err := DecodeSchema("T", []byte(doc))
		if err != nil {
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("DecodeSchema error %v does not wrap ErrInvalidSchema", err)
			}
			var se *SchemaError
			if !errors.As(err, &se) || se.Field == "" {
				t.Fatalf("DecodeSchema error %v is not a *SchemaError naming a field", err)
			}
			return
		}
		// A valid schema walks any event without panicking, and re-validates.
		x := extractor{schema: s, guard: LeakTokenize}
		_, _ = x.extract(0, "T", []byte(`{"c":"s","a":[{"b":"x@example.com"}]}`), nil)
		if err := s.Clone().Validate(); err != nil {
			t.Fatalf("Validate of a decoded schema = %v", err)
		}
	})
}
