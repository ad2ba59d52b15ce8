package redaction

import "testing"

// BenchmarkReadRevealedPage100x16: 16 concurrent readers, each reading
// pages of 100 with every field revealed, the shape of the load tool's
// read-100 without HTTP. Each page writes its own audit record, so this
// shows whether concurrent pages share the log's group commit. b.N counts
// events.
func BenchmarkReadRevealedPage100x16(b *testing.B) {
	benchReadParallel(b, 16, 100)
}

// BenchmarkAppendBatch100x64: 64 concurrent appenders of batches of 100
// (100 subjects each), the 64 appenders with batched requests.
func BenchmarkAppendBatch100x64(b *testing.B) {
	benchBatches(b, 64)
}
