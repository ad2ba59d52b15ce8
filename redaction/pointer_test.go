package redaction

import (
	"errors"
	"reflect"
	"testing"
)

func TestParsePointer(t *testing.T) {
	tests := []struct {
		in   string
		segs []string
		wild bool
		err  bool
	}{
		{in: "", segs: nil},
		{in: "/", segs: []string{""}},
		{in: "/email", segs: []string{"email"}},
		{in: "/a/b/c", segs: []string{"a", "b", "c"}},
		{in: "/a~1b", segs: []string{"a/b"}},
		{in: "/m~0n", segs: []string{"m~n"}},
		{in: "/~01", segs: []string{"~1"}},
		{in: "/addresses/*/street", segs: []string{"addresses", "*", "street"}, wild: true},
		{in: "/a/0", segs: []string{"a", "0"}},
		{in: "//", segs: []string{"", ""}},
		{in: "email", err: true},
		{in: "/a~", err: true},
		{in: "/a~2", err: true},
		{in: "#/a", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePointer(tt.in)
			if tt.err {
				if !errors.Is(err, ErrInvalidPointer) {
					t.Fatalf("ParsePointer(%q) err = %v, want ErrInvalidPointer", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePointer(%q) = %v", tt.in, err)
			}
			if !reflect.DeepEqual(p.Segments(), tt.segs) {
				t.Errorf("ParsePointer(%q).Segments() = %q, want %q", tt.in, p.Segments(), tt.segs)
			}
			if p.HasWildcard() != tt.wild {
				t.Errorf("ParsePointer(%q).HasWildcard() = %v, want %v", tt.in, p.HasWildcard(), tt.wild)
			}
			if got := joinSegments(p.Segments()); got != tt.in {
				t.Errorf("joinSegments(segments of %q) = %q", tt.in, got)
			}
		})
	}
}

func TestConcretePointerStar(t *testing.T) {
	p, err := ParseConcretePointer("/a/*")
	if err != nil || p.HasWildcard() {
		t.Fatalf("ParseConcretePointer(/a/*) = %v, %v; want a concrete pointer", p, err)
	}
}

func TestLocate(t *testing.T) {
	doc := []byte(`{"a":{"b":1,"c":[{"s":"x"},{"s":"y"},{"t":2}]},"e~/":"z","arr":[[1,2],[3]]}`)
	tests := []struct {
		ptr  string
		want []string
	}{
		{"/a/b", []string{"/a/b=1"}},
		{"/a/c/*/s", []string{`/a/c/0/s="x"`, `/a/c/1/s="y"`}},
		{"/a/c/1", []string{`/a/c/1={"s":"y"}`}},
		{"/e~0~1", []string{`/e~0~1="z"`}},
		{"/arr/*/*", []string{"/arr/0/0=1", "/arr/0/1=2", "/arr/1/0=3"}},
		{"/a/*", []string{"/a/b=1", `/a/c=[{"s":"x"},{"s":"y"},{"t":2}]`}},
		{"/missing/x", nil},
		{"/a/b/deeper", nil},
	}
	for _, tt := range tests {
		t.Run(tt.ptr, func(t *testing.T) {
			p, err := ParsePointer(tt.ptr)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			w := walker{b: doc, ptrs: []Pointer{p}, onMatch: func(_ int, path []seg, v span) error {
				got = append(got, pathString(path)+"="+string(doc[v.start:v.end]))
				return nil
			}}
			if err := w.run(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("locate(%q) = %q, want %q", tt.ptr, got, tt.want)
			}
		})
	}
}

func FuzzParsePointer(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b", "/a~0~1", "/*/x", "/a~", "~", "/0/-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePointer(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPointer) {
				t.Fatalf("ParsePointer(%q) error %v does not wrap ErrInvalidPointer", s, err)
			}
			return
		}
		// Parse is the inverse of join: a pointer re-encodes to itself.
		if got := joinSegments(p.Segments()); got != s {
			t.Fatalf("joinSegments(ParsePointer(%q)) = %q", s, got)
		}
		q, err := ParsePointer(p.String())
		if err != nil || !reflect.DeepEqual(q.Segments(), p.Segments()) {
			t.Fatalf("ParsePointer(String()) of %q = %q, %v", s, q.Segments(), err)
		}
		for _, seg := range p.Segments() {
			back, err := unescapeSegment(EscapeSegment(seg))
			if err != nil || back != seg {
				t.Fatalf("unescape(escape(%q)) = %q, %v", seg, back, err)
			}
		}
	})
}

func FuzzWalk(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c\"d"}],"e":null}`), "/a/*/b")
	f.Add([]byte(`[]`), "/0")
	f.Fuzz(func(t *testing.T, doc []byte, ptr string) {
		p, err := ParsePointer(ptr)
		if err != nil {
			return
		}
		w := walker{b: doc, ptrs: []Pointer{p},
			onMatch: func(_ int, _ []seg, v span) error {
				if v.start < 0 || v.end > len(doc) || v.start >= v.end {
					t.Fatalf("bad span %v of %d bytes", v, len(doc))
				}
				return nil
			},
			onLeaf: func(_ []seg, v span, _ bool) error {
				if v.start < 0 || v.end > len(doc) || v.start >= v.end {
					t.Fatalf("bad leaf span %v of %d bytes", v, len(doc))
				}
				return nil
			}}
		_ = w.run() // must not panic on any input
	})
}
