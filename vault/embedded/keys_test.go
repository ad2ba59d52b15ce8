package embedded

import (
	"bytes"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

func TestKeyLayout(t *testing.T) {
	id := [vault.TokenIDSize]byte{1, 2, 3}
	tests := []struct {
		name string
		got  []byte
		want key
	}{
		{"dek", dekKey("ab"), key{prefix: prefixData, subject: "ab", kind: kindDEK}},
		{"value", valueKey("ab", id), key{prefix: prefixData, subject: "ab", kind: kindValue, id: id}},
		{"marker", markerKey("ab"), key{prefix: prefixData, subject: "ab", kind: kindMarker}},
		{"expired", expiredKey("ab", id), key{prefix: prefixData, subject: "ab", kind: kindExpired, id: id}},
		{"blind entry", blindEntryKey("ab", "email", []byte("dg")), key{prefix: prefixData, subject: "ab", kind: kindBlind, class: "email", digest: "dg"}},
		{"blind lookup", blindLookupKey("email", []byte("dg"), "ab", blindEntry), key{prefix: prefixBlind, subject: "ab", kind: blindEntry, class: "email", digest: "dg"}},
		{"blind marker", blindLookupKey("email", []byte("dg"), "ab", blindMarker), key{prefix: prefixBlind, subject: "ab", kind: blindMarker, class: "email", digest: "dg"}},
		{"tomb", tombKey("ab"), key{prefix: prefixTomb, subject: "ab"}},
		{"purge", purgeKey("ab"), key{prefix: prefixPurge, subject: "ab"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := parseKey(tc.got)
			if err != nil || k != tc.want {
				t.Fatalf("parseKey(%x) = %+v, %v; want %+v", tc.got, k, err, tc.want)
			}
			if !bytes.Equal(k.encode(), tc.got) {
				t.Fatalf("encode(parseKey(%x)) = %x", tc.got, k.encode())
			}
		})
	}
	// A subject's prefix never covers another subject's keys.
	if bytes.HasPrefix(dekKey("abc"), subjectPrefix("ab")) {
		t.Fatal("prefix of \"ab\" covers \"abc\"")
	}
	if !bytes.HasPrefix(valueKey("ab", id), subjectPrefix("ab")) || !bytes.HasPrefix(markerKey("ab"), subjectPrefix("ab")) {
		t.Fatal("subject prefix does not cover its keys")
	}
	if bytes.HasPrefix(tombKey("ab"), subjectPrefix("ab")) {
		t.Fatal("subject prefix covers the tombstone, which must outlive a purge")
	}
}

func TestRecords(t *testing.T) {
	at := time.Unix(1700000000, 123)
	d, err := parseDEKRecord(dekRecord{createdAt: at, wrapped: []byte("wrapped")}.encode())
	if err != nil || !d.createdAt.Equal(at) || string(d.wrapped) != "wrapped" {
		t.Fatalf("dek record round trip = %+v, %v", d, err)
	}
	v, err := parseValueRecord(valueRecord{createdAt: at, class: "email", sealed: []byte("sealed")}.encode())
	if err != nil || !v.createdAt.Equal(at) || v.class != "email" || string(v.sealed) != "sealed" {
		t.Fatalf("value record round trip = %+v, %v", v, err)
	}
	tr, err := parseTombRecord(tombRecord{erasedAt: at, erasureID: "e-1"}.encode())
	if err != nil || !tr.erasedAt.Equal(at) || tr.erasureID != "e-1" {
		t.Fatalf("tomb record round trip = %+v, %v", tr, err)
	}
	for _, b := range [][]byte{nil, {2}, {1, 0, 0}} {
		if _, err := parseValueRecord(b); err == nil {
			t.Fatalf("parseValueRecord(%x) succeeded", b)
		}
		if _, err := parseDEKRecord(b); err == nil {
			t.Fatalf("parseDEKRecord(%x) succeeded", b)
		}
		if _, err := parseTombRecord(b); err == nil {
			t.Fatalf("parseTombRecord(%x) succeeded", b)
		}
	}
}

// FuzzKey checks that parseKey never panics and that encode∘parse is the
// identity on every key it accepts.
func FuzzKey(f *testing.F) {
	f.Add(dekKey("cust-42"))
	f.Add(valueKey("s", [vault.TokenIDSize]byte{9}))
	f.Add(tombKey("x"))
	f.Add(purgeKey("x"))
	f.Add(markerKey("x"))
	f.Add([]byte{1, 0, 0})
	f.Add(blindEntryKey("s", "email", []byte("digest")))
	f.Add(blindLookupKey("email", []byte("digest"), "s", blindEntry))
	f.Add(expiredKey("s", [vault.TokenIDSize]byte{1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKey(b)
		if err != nil {
			return
		}
		if got := k.encode(); !bytes.Equal(got, b) {
			t.Fatalf("encode(parseKey(%x)) = %x", b, got)
		}
	})
}

// FuzzValueRecord checks that decoding never panics and round-trips.
func FuzzValueRecord(f *testing.F) {
	f.Add(valueRecord{createdAt: time.Unix(1, 2), class: "email", sealed: []byte("x")}.encode())
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseValueRecord(b)
		if err != nil {
			return
		}
		if got := r.encode(); !bytes.Equal(got, b) {
			t.Fatalf("encode(parseValueRecord(%x)) = %x", b, got)
		}
	})
}

func TestPurgeRecord(t *testing.T) {
	in := purgeRecord{prefixes: [][]byte{[]byte("a"), blindSubjectPrefix("email", []byte("d"), "s")}}
	out, err := parsePurgeRecord(in.encode())
	if err != nil || len(out.prefixes) != 2 || !bytes.Equal(out.prefixes[1], in.prefixes[1]) {
		t.Fatalf("purge record round trip = %+v, %v", out, err)
	}
	if r, err := parsePurgeRecord(nil); err != nil || len(r.prefixes) != 0 {
		t.Fatalf("parsePurgeRecord(empty) = %+v, %v", r, err)
	}
	for _, b := range [][]byte{{2}, {1, 0}, {1, 0, 5, 'a'}} {
		if _, err := parsePurgeRecord(b); err == nil {
			t.Fatalf("parsePurgeRecord(%x) succeeded", b)
		}
	}
}
