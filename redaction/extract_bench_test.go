package redaction

import "testing"

// BenchmarkExtract is the CPU of finding the PII of one ~1 KiB event and
// leak-scanning the rest (no I/O).
func BenchmarkExtract(b *testing.B) {
	s, err := DecodeSchema("OrderPlaced", []byte(benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	x := extractor{schema: s, guard: LeakReject}
	data := benchEvent(42)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := x.extract(0, "OrderPlaced", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}
