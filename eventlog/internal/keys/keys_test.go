package keys

import (
	"bytes"
	"testing"
)

func FuzzKeys(f *testing.F) {
	f.Add("stream", "type", uint64(1), []byte("0123456789abcdef"))
	f.Add("", "a", uint64(1<<64-1), []byte{})
	f.Fuzz(func(t *testing.T, s, typ string, n uint64, idb []byte) {
		if len(s) > MaxNameLen || len(typ) > MaxNameLen {
			t.Skip()
		}
		if got, err := ParseEvent(Event(n)); err != nil || got != n {
			t.Errorf("ParseEvent(Event(%d)) = %d, %v", n, got, err)
		}
		if gs, gv, err := ParseStream(Stream(s, n)); err != nil || gs != s || gv != n {
			t.Errorf("ParseStream(Stream(%q, %d)) = %q, %d, %v", s, n, gs, gv, err)
		}
		if gs, gv, err := ParseType(Type(typ, n)); err != nil || gs != typ || gv != n {
			t.Errorf("ParseType(Type(%q, %d)) = %q, %d, %v", typ, n, gs, gv, err)
		}
		if gs, gv, err := ParseSnapshot(Snapshot(s, n)); err != nil || gs != s || gv != n {
			t.Errorf("ParseSnapshot(Snapshot(%q, %d)) = %q, %d, %v", s, n, gs, gv, err)
		}
		if gs, gv, err := ParseTag(Tag(typ, n)); err != nil || gs != typ || gv != n {
			t.Errorf("ParseTag(Tag(%q, %d)) = %q, %d, %v", typ, n, gs, gv, err)
		}
		if !bytes.HasPrefix(Tag(typ, n), TagPrefix(typ)) || bytes.HasPrefix(Tag(typ+"x", n), TagPrefix(typ)) {
			t.Errorf("Tag(%q, %d) and TagPrefix disagree", typ, n)
		}
		var id [16]byte
		copy(id[:], idb)
		if got, err := ParseID(ID(id)); err != nil || got != id {
			t.Errorf("ParseID(ID(%x)) = %x, %v", id, got, err)
		}
		if p, v, gs, err := ParseIDValue(IDValue(n, n+1, s)); err != nil || p != n || v != n+1 || gs != s {
			t.Errorf("ParseIDValue = %d, %d, %q, %v", p, v, gs, err)
		}
		if p, c, err := ParseRun(Run(n, uint32(n)|1)); err != nil || p != n || c != uint32(n)|1 {
			t.Errorf("ParseRun(Run(%d)) = %d, %d, %v", n, p, c, err)
		}
		if c, err := ParseRunLen(RunLen(uint32(n) | 1)); err != nil || c != uint32(n)|1 {
			t.Errorf("ParseRunLen(RunLen(%d)) = %d, %v", n, c, err)
		}
		if !bytes.Equal(AppendEvent([]byte("x"), n), append([]byte("x"), Event(n)...)) ||
			!bytes.Equal(AppendID([]byte("x"), id), append([]byte("x"), ID(id)...)) ||
			!bytes.Equal(AppendIDValue([]byte("x"), n, n+1, s), append([]byte("x"), IDValue(n, n+1, s)...)) {
			t.Errorf("an Append form differs from its allocating form for %d, %x, %q", n, id, s)
		}
		if got, err := ParseU64(U64(n)); err != nil || got != n {
			t.Errorf("ParseU64(U64(%d)) = %d, %v", n, got, err)
		}
		// Ranges: a stream's keys stay under its prefix and sort by version,
		// and no other stream's key falls in that range.
		if !bytes.HasPrefix(Stream(s, n), StreamPrefix(s)) {
			t.Errorf("Stream(%q, %d) outside StreamPrefix", s, n)
		}
		if bytes.HasPrefix(Stream(s+"x", n), StreamPrefix(s)) {
			t.Errorf("Stream(%q) falls under StreamPrefix(%q)", s+"x", s)
		}
		if n < 1<<64-1 && bytes.Compare(Event(n), Event(n+1)) >= 0 {
			t.Errorf("Event(%d) does not sort before Event(%d)", n, n+1)
		}
		if bytes.Compare(Stream(s, n), SeekLast(StreamPrefix(s))) >= 0 {
			t.Errorf("SeekLast does not sort after Stream(%q, %d)", s, n)
		}
	})
}

// FuzzParse feeds arbitrary keys to the parsers: no panic, and anything a
// parser accepts re-encodes to the same key.
func FuzzParse(f *testing.F) {
	f.Add(Stream("s", 3))
	f.Add(Event(9))
	f.Add([]byte{PrefixType, 0, 1})
	f.Add(Tag("subject:c1", 7))
	f.Fuzz(func(t *testing.T, k []byte) {
		if p, err := ParseEvent(k); err == nil && !bytes.Equal(Event(p), k) {
			t.Errorf("Event(ParseEvent(%x)) differs", k)
		}
		if s, v, err := ParseStream(k); err == nil && !bytes.Equal(Stream(s, v), k) {
			t.Errorf("Stream(ParseStream(%x)) differs", k)
		}
		if s, v, err := ParseType(k); err == nil && !bytes.Equal(Type(s, v), k) {
			t.Errorf("Type(ParseType(%x)) differs", k)
		}
		if s, v, err := ParseSnapshot(k); err == nil && !bytes.Equal(Snapshot(s, v), k) {
			t.Errorf("Snapshot(ParseSnapshot(%x)) differs", k)
		}
		if s, v, err := ParseTag(k); err == nil && !bytes.Equal(Tag(s, v), k) {
			t.Errorf("Tag(ParseTag(%x)) differs", k)
		}
		if p, c, err := ParseRun(k); err == nil && !bytes.Equal(Run(p, c), k) {
			t.Errorf("Run(ParseRun(%x)) differs", k)
		}
		if c, err := ParseRunLen(k); err == nil && !bytes.Equal(RunLen(c), k) {
			t.Errorf("RunLen(ParseRunLen(%x)) differs", k)
		}
		if id, err := ParseID(k); err == nil && !bytes.Equal(ID(id), k) {
			t.Errorf("ID(ParseID(%x)) differs", k)
		}
	})
}
