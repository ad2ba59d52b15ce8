package hashicorp

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/piivault/piivault/vault"
)

// FuzzSubjectSegment: encoding a subject as a path segment is reversible
// and never yields a "/" or a dot segment.
func FuzzSubjectSegment(f *testing.F) {
	for _, s := range []string{"x", "cust-42", "a/b", "..", "ünï", strings.Repeat("s", vault.MaxSubjectLen)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		seg := encodeSubject(subject)
		if strings.ContainsAny(seg, "/?#%") || seg == "." || seg == ".." {
			t.Fatalf("encodeSubject(%q) = %q, not a plain path segment", subject, seg)
		}
		back, err := decodeSubject(seg)
		if err != nil || back != subject {
			t.Fatalf("decodeSubject(encodeSubject(%q)) = %q, %v", subject, back, err)
		}
	})
}

// FuzzRecord: whatever Vault hands back, decoding a record never panics,
// and a decoded record clones to an equal one.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(`{"v":1,"dek":"dmF1bHQ6djE6eA==","vals":{"AAAAAAAAAAAAAAAAAAAAAA":{"c":"email","x":"AQ==","t":1}}}`))
	f.Add([]byte(`{"v":1,"erased":{"id":"e","at":"2026-01-01T00:00:00Z","n":2,"dek":true,"bi":["ZW1haWw/00"]}}`))
	f.Add([]byte(`{"v":1,"exp":{"x":{"c":"phone","t":5}},"bi":{"k":true}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r record
		if json.Unmarshal(b, &r) != nil || r.Erased != nil {
			return
		}
		c := r.clone()
		if len(r.Values) == 0 {
			r.Values = map[string]sealed{}
		}
		if c.DEK != r.DEK || !reflect.DeepEqual(c.Values, r.Values) ||
			len(c.Expired) != len(r.Expired) || len(c.Blind) != len(r.Blind) {
			t.Fatalf("clone(%s) differs", b)
		}
		for id := range r.Values {
			if _, err := tokenFromID("s", id); err == nil && len(id) != 22 {
				t.Fatalf("tokenFromID accepted id %q", id)
			}
		}
	})
}
