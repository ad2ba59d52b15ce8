package eventlog

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Record codec, format version 2. One record is the value of an event key
// (internal/keys.Event). All integers are big-endian and fixed width, so the
// encoding is canonical: a record has exactly one byte form, and the chain
// hash is taken over those bytes. All lengths sit in the fixed header, so a
// reader touches the header and then copies the body in one sequential
// pass (the hash at the end is only read by Verify).
//
//	off  size  field
//	0    1     format version (2)
//	1    8     position
//	9    8     stream version
//	17   8     recordedAt, Unix nanoseconds (UTC)
//	25   16    event ID
//	41   32    hash of the previous record (zero for position 1)
//	73   2     len(stream)
//	75   2     len(type)
//	77   4     len(data)
//	81   4     len(metadata)
//	85         stream, type, data, metadata
//	     32    SHA-256 of every preceding byte of this record
const (
	recordVersion    = 2
	recordFixed      = 85
	recordOverhead   = recordFixed + sha256.Size
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

	streamBytes, typeBytes []byte // Stream and Type as they lie in the decoded bytes
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
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(typ)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(meta)))
	dst = append(dst, stream...)
	dst = append(dst, typ...)
	dst = append(dst, data...)
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

// decodeRecord parses b. With copyBytes, the record owns its bytes; without,
// Data, Metadata, streamBytes and typeBytes alias b and Stream and Type are
// left empty (the read path builds them without extra allocations).
// It checks the structure, not the hash, and leaves Hash zero: see
// storedHash and checkHash.
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
	sl := uint64(binary.BigEndian.Uint16(b[73:]))
	tl := uint64(binary.BigEndian.Uint16(b[75:]))
	dl := uint64(binary.BigEndian.Uint32(b[77:]))
	ml := uint64(binary.BigEndian.Uint32(b[81:]))
	if uint64(len(b)) != recordOverhead+sl+tl+dl+ml {
		return r, fmt.Errorf("decode record: %d bytes, lengths say %d: %w", len(b), recordOverhead+sl+tl+dl+ml, ErrCorrupt)
	}
	i := uint64(recordFixed)
	r.streamBytes = b[i : i+sl : i+sl]
	i += sl
	r.typeBytes = b[i : i+tl : i+tl]
	i += tl
	r.Data = b[i : i+dl : i+dl]
	i += dl
	if ml > 0 {
		r.Metadata = b[i : i+ml : i+ml]
	}
	if copyBytes {
		r.Stream, r.Type = string(r.streamBytes), string(r.typeBytes)
		r.Data = append([]byte(nil), r.Data...)
		if r.Metadata != nil {
			r.Metadata = append([]byte(nil), r.Metadata...)
		}
		r.Hash = storedHash(b)
	}
	return r, nil
}

// storedHash returns the hash stored at the end of an encoded record.
func storedHash(b []byte) [32]byte {
	var h [32]byte
	if len(b) >= sha256.Size {
		copy(h[:], b[len(b)-sha256.Size:])
	}
	return h
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
