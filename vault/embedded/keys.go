package embedded

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/piivault/piivault/vault"
)

// This file is the one place that knows the bytes of the embedded store.
//
// Keys (big-endian lengths; a subject is length-prefixed, so the prefix of
// "ab" is never a prefix of "abc"'s):
//
//	0x01 len:u16 subject 'k'              wrapped DEK          -> dekRecord
//	0x01 len:u16 subject 'v' id:16        one value            -> valueRecord
//	0x01 len:u16 subject 'x'              purge-pending marker -> empty
//	0x02 len:u16 subject                  tombstone            -> tombRecord
//	0x03 len:u16 subject                  queued for purge     -> empty
//
// Everything a subject holds lives under its 0x01 prefix, so a purge drops
// exactly that prefix; the tombstone sits apart and outlives the purge.
// Badger's DropPrefix skips prefixes without a live key, hence the 'x'
// marker written when the values are deleted.
//
// Records start with a format byte (1):
//
//	dekRecord:   1 createdAt:i64(unix ns) wrapped...
//	valueRecord: 1 createdAt:i64 classLen:u8 class sealed...
//	tombRecord:  1 erasedAt:i64 erasureID...
const (
	prefixData  byte = 0x01
	prefixTomb  byte = 0x02
	prefixPurge byte = 0x03

	kindDEK    byte = 'k'
	kindValue  byte = 'v'
	kindMarker byte = 'x'

	recordFormat byte = 1
)

var errBadKey = errors.New("embedded: malformed key")

func appendSubject(b []byte, prefix byte, subject string) []byte {
	b = append(b, prefix)
	b = binary.BigEndian.AppendUint16(b, uint16(len(subject)))
	return append(b, subject...)
}

// subjectPrefix is the prefix of every key a subject holds.
func subjectPrefix(subject string) []byte {
	return appendSubject(make([]byte, 0, 3+len(subject)+1+vault.TokenIDSize), prefixData, subject)
}

func dekKey(subject string) []byte    { return append(subjectPrefix(subject), kindDEK) }
func markerKey(subject string) []byte { return append(subjectPrefix(subject), kindMarker) }

// valuesPrefix is the prefix of a subject's value keys.
func valuesPrefix(subject string) []byte { return append(subjectPrefix(subject), kindValue) }

func valueKey(subject string, id [vault.TokenIDSize]byte) []byte {
	return append(valuesPrefix(subject), id[:]...)
}

func tombKey(subject string) []byte  { return appendSubject(nil, prefixTomb, subject) }
func purgeKey(subject string) []byte { return appendSubject(nil, prefixPurge, subject) }

// key is a decoded key.
type key struct {
	prefix  byte
	subject string
	kind    byte // 0 for tombstone and purge keys
	id      [vault.TokenIDSize]byte
}

// encode is the inverse of parseKey.
func (k key) encode() []byte {
	b := appendSubject(nil, k.prefix, k.subject)
	if k.prefix != prefixData {
		return b
	}
	b = append(b, k.kind)
	if k.kind == kindValue {
		b = append(b, k.id[:]...)
	}
	return b
}

func parseKey(b []byte) (key, error) {
	var k key
	if len(b) < 3 {
		return k, errBadKey
	}
	k.prefix = b[0]
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if n == 0 || len(b) < 3+n {
		return k, errBadKey
	}
	k.subject = string(b[3 : 3+n])
	rest := b[3+n:]
	switch k.prefix {
	case prefixTomb, prefixPurge:
		if len(rest) != 0 {
			return k, errBadKey
		}
		return k, nil
	case prefixData:
	default:
		return k, errBadKey
	}
	if len(rest) == 0 {
		return k, errBadKey
	}
	k.kind = rest[0]
	rest = rest[1:]
	switch k.kind {
	case kindDEK, kindMarker:
		if len(rest) != 0 {
			return k, errBadKey
		}
	case kindValue:
		if len(rest) != vault.TokenIDSize {
			return k, errBadKey
		}
		copy(k.id[:], rest)
	default:
		return k, errBadKey
	}
	return k, nil
}

var errBadRecord = errors.New("embedded: malformed record")

type dekRecord struct {
	createdAt time.Time
	wrapped   []byte
}

func (r dekRecord) encode() []byte {
	b := make([]byte, 0, 9+len(r.wrapped))
	b = append(b, recordFormat)
	b = binary.BigEndian.AppendUint64(b, uint64(r.createdAt.UnixNano()))
	return append(b, r.wrapped...)
}

func parseDEKRecord(b []byte) (dekRecord, error) {
	if len(b) < 10 || b[0] != recordFormat {
		return dekRecord{}, errBadRecord
	}
	return dekRecord{
		createdAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))),
		wrapped:   b[9:],
	}, nil
}

type valueRecord struct {
	createdAt time.Time
	class     string
	sealed    []byte
}

func (r valueRecord) encode() []byte {
	b := make([]byte, 0, 10+len(r.class)+len(r.sealed))
	b = append(b, recordFormat)
	b = binary.BigEndian.AppendUint64(b, uint64(r.createdAt.UnixNano()))
	b = append(b, byte(len(r.class)))
	b = append(b, r.class...)
	return append(b, r.sealed...)
}

// parseValueRecord decodes b; the returned record aliases b.
func parseValueRecord(b []byte) (valueRecord, error) {
	if len(b) < 10 || b[0] != recordFormat {
		return valueRecord{}, errBadRecord
	}
	n := int(b[9])
	if n == 0 || len(b) < 10+n {
		return valueRecord{}, errBadRecord
	}
	return valueRecord{
		createdAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))),
		class:     string(b[10 : 10+n]),
		sealed:    b[10+n:],
	}, nil
}

type tombRecord struct {
	erasedAt  time.Time
	erasureID string
}

func (r tombRecord) encode() []byte {
	b := make([]byte, 0, 9+len(r.erasureID))
	b = append(b, recordFormat)
	b = binary.BigEndian.AppendUint64(b, uint64(r.erasedAt.UnixNano()))
	return append(b, r.erasureID...)
}

func parseTombRecord(b []byte) (tombRecord, error) {
	if len(b) < 9 || b[0] != recordFormat {
		return tombRecord{}, errBadRecord
	}
	return tombRecord{
		erasedAt:  time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))),
		erasureID: string(b[9:]),
	}, nil
}
