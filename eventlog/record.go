package eventlog

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Record codec, format version 1. One record is the value of an event key
// (internal/keys.Event). All integers are big-endian and fixed width, so the
// encoding is canonical: a record has exactly one byte form, and the chain
// hash is taken over those bytes.
//
//	off  size  field
//	0    1     format version (1)
//	1    8     position
//	9    8     stream version
//	17   8     recordedAt, Unix nanoseconds (UTC)
//	25   16    event ID
//	41   32    hash of the previous record (zero for position 1)
//	73   2     len(stream), then stream
//	     2     len(type), then type
//	     4     len(data), then data
//	     4     len(metadata), then metadata
//	     32    SHA-256 of every preceding byte of this record
const (
	recordVersion    = 1
	recordFixed      = 1 + 8 + 8 + 8 + 16 + 32
	recordOverhead   = recordFixed + 2 + 2 + 4 + 4 + sha256.Size
	snapshotVersion  = 1
	snapshotOverhead = 1 + 8
)

// record is an event as stored, with its chain links.
type record struct {
	Position   uint64
	Version    uint64
	RecordedAt int64
	ID         [16]byte
	PrevHash   [32]byte
	Stream     string
	Type       string
	Data       []byte
	Metadata   []byte
	Hash       [32]byte // SHA-256 of the encoding up to (not including) Hash
}

func recordSize(streamLen, typeLen, dataLen, metaLen int) int {
	return recordOverhead + streamLen + typeLen + dataLen + metaLen
}

// encodeRecord appends r's encoding to dst, computes r.Hash from it, and
// returns the result. r.Hash on input is ignored.
func encodeRecord(dst []byte, r *record) []byte {
	start := len(dst)
	dst = appendRecordBuf(dst, r.ID, r.Stream, r.Type, r.Data, r.Metadata)
	r.Hash = sealRecord(dst[start:], r.Position, r.Version, r.RecordedAt, r.PrevHash)
	return dst
}

// appendRecordBuf appends a record with its chain fields (position,
// version, time, previous hash, hash) zero, to be filled by sealRecord.
// Appenders build this in their own goroutine; the writer only seals.
func appendRecordBuf(dst []byte, id [16]byte, stream, typ string, data, meta []byte) []byte {
	dst = append(dst, recordVersion)
	dst = append(dst, make([]byte, 8+8+8)...)
	dst = append(dst, id[:]...)
	dst = append(dst, make([]byte, 32)...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(stream)))
	dst = append(dst, stream...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(typ)))
	dst = append(dst, typ...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	dst = append(dst, data...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(meta)))
	dst = append(dst, meta...)
	return append(dst, make([]byte, sha256.Size)...)
}

// sealRecord fills the chain fields of a record built by appendRecordBuf
// and returns its hash.
func sealRecord(b []byte, pos, version uint64, at int64, prev [32]byte) [32]byte {
	binary.BigEndian.PutUint64(b[1:], pos)
	binary.BigEndian.PutUint64(b[9:], version)
	binary.BigEndian.PutUint64(b[17:], uint64(at))
	copy(b[41:73], prev[:])
	body := len(b) - sha256.Size
	h := sha256.Sum256(b[:body])
	copy(b[body:], h[:])
	return h
}

// decodeRecord parses b. Data, Metadata alias b unless copy is true.
// It checks the structure, not the hash: see (*record).checkHash.
func decodeRecord(b []byte, copyBytes bool) (record, error) {
	var r record
	if len(b) < recordOverhead {
		return r, fmt.Errorf("decode record: %d bytes: %w", len(b), ErrCorrupt)
	}
	if b[0] != recordVersion {
		return r, fmt.Errorf("decode record: format version %d: %w", b[0], ErrCorrupt)
	}
	r.Position = binary.BigEndian.Uint64(b[1:])
	r.Version = binary.BigEndian.Uint64(b[9:])
	r.RecordedAt = int64(binary.BigEndian.Uint64(b[17:]))
	copy(r.ID[:], b[25:41])
	copy(r.PrevHash[:], b[41:73])
	rest := b[recordFixed:]
	str := func(n int) ([]byte, bool) {
		if len(rest) < n {
			return nil, false
		}
		s := rest[:n:n]
		rest = rest[n:]
		return s, true
	}
	var ok bool
	var sb, tb []byte
	if len(rest) < 2 {
		return r, fmt.Errorf("decode record: truncated: %w", ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if sb, ok = str(n); !ok || len(rest) < 2 {
		return r, fmt.Errorf("decode record: truncated stream: %w", ErrCorrupt)
	}
	n = int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if tb, ok = str(n); !ok || len(rest) < 4 {
		return r, fmt.Errorf("decode record: truncated type: %w", ErrCorrupt)
	}
	n32 := binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(n32) > uint64(len(rest)) {
		return r, fmt.Errorf("decode record: truncated data: %w", ErrCorrupt)
	}
	if r.Data, ok = str(int(n32)); !ok || len(rest) < 4 {
		return r, fmt.Errorf("decode record: truncated data: %w", ErrCorrupt)
	}
	n32 = binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(n32) > uint64(len(rest)) {
		return r, fmt.Errorf("decode record: truncated metadata: %w", ErrCorrupt)
	}
	if r.Metadata, ok = str(int(n32)); !ok {
		return r, fmt.Errorf("decode record: truncated metadata: %w", ErrCorrupt)
	}
	if len(rest) != sha256.Size {
		return r, fmt.Errorf("decode record: %d trailing bytes, want %d: %w", len(rest), sha256.Size, ErrCorrupt)
	}
	copy(r.Hash[:], rest)
	r.Stream, r.Type = string(sb), string(tb)
	if len(r.Metadata) == 0 {
		r.Metadata = nil
	}
	if copyBytes {
		r.Data = append([]byte(nil), r.Data...)
		if r.Metadata != nil {
			r.Metadata = append([]byte(nil), r.Metadata...)
		}
	}
	return r, nil
}

// checkHash reports whether the hash stored in encoded b matches its body.
func checkHash(b []byte) bool {
	if len(b) < sha256.Size {
		return false
	}
	body := b[:len(b)-sha256.Size]
	sum := sha256.Sum256(body)
	return [32]byte(b[len(body):]) == sum
}

// Snapshot records: version(1) savedAt(8, Unix ns) data.
func encodeSnapshot(savedAt int64, data []byte) []byte {
	b := make([]byte, 0, snapshotOverhead+len(data))
	b = append(b, snapshotVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(savedAt))
	return append(b, data...)
}

func decodeSnapshot(b []byte) (savedAt int64, data []byte, err error) {
	if len(b) < snapshotOverhead || b[0] != snapshotVersion {
		return 0, nil, fmt.Errorf("decode snapshot: %w", ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b[1:])), append([]byte(nil), b[snapshotOverhead:]...), nil
}
