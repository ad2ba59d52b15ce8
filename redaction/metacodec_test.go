package redaction

import (
	"encoding/json"
	"reflect"
	"testing"
)

func FuzzParseMeta(f *testing.F) {
	for _, m := range []storedMeta{
		{Format: 1},
		{Format: 1, SchemaVersion: 3, Subjects: []string{"c-1", "é\"<x>"}, Paths: []string{"/a", "/b~1c"}, Classes: []Class{"email", "name"}, SubjectIdx: []int{0, 1}, InMetadata: []int{1}},
	} {
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte("{\"c\":[\"\xff\"]}")) // invalid UTF-8: encoding/json replaces it
	f.Fuzz(func(t *testing.T, b []byte) {
		var want storedMeta
		if json.Unmarshal(b, &want) != nil {
			return
		}
		var got storedMeta
		if !fastParseMeta(b, &got, nil) {
			return // falls back to encoding/json
		}
		if !reflect.DeepEqual(normMeta(got), normMeta(want)) {
			t.Fatalf("fastParseMeta(%s) = %+v, encoding/json = %+v", b, got, want)
		}
		// A page's cache gives the same, cold and warm.
		c := newMetaCache()
		for pass := 0; pass < 2; pass++ {
			var cached storedMeta
			if !fastParseMeta(b, &cached, c) || !reflect.DeepEqual(normMeta(cached), normMeta(want)) {
				t.Fatalf("fastParseMeta(%s) with a cache, pass %d = %+v, want %+v", b, pass, cached, want)
			}
		}
		// What we write, we read back the same, and it means what
		// encoding/json would have written.
		var viaJSON storedMeta
		own := appendMeta(nil, &want)
		if err := json.Unmarshal(own, &viaJSON); err != nil || !reflect.DeepEqual(normMeta(viaJSON), normMeta(want)) {
			t.Fatalf("appendMeta(%+v) = %s, decodes to %+v, %v", want, own, viaJSON, err)
		}
		var ownBack storedMeta
		if !fastParseMeta(own, &ownBack, nil) || !reflect.DeepEqual(normMeta(ownBack), normMeta(want)) {
			t.Fatalf("round trip of %s = %+v", own, ownBack)
		}
		enc, _ := json.Marshal(want)
		var back storedMeta
		if !fastParseMeta(enc, &back, nil) || !reflect.DeepEqual(normMeta(back), normMeta(want)) {
			t.Fatalf("round trip of %s = %+v", enc, back)
		}
	})
}

// normMeta treats nil and empty slices alike.
func normMeta(m storedMeta) storedMeta {
	if len(m.Subjects) == 0 {
		m.Subjects = nil
	}
	if len(m.Paths) == 0 {
		m.Paths = nil
	}
	if len(m.Classes) == 0 {
		m.Classes = nil
	}
	if len(m.SubjectIdx) == 0 {
		m.SubjectIdx = nil
	}
	if len(m.InMetadata) == 0 {
		m.InMetadata = nil
	}
	return m
}
