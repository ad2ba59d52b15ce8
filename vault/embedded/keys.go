package embedded

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
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
//	                                      (id: ms:u48 random:80, newTokenIDs)
//	0x01 len:u16 subject 'x'              purge-pending marker -> empty
//	0x01 len:u16 subject 'e' id:16        an expired value     -> expiryRecord
//	0x01 len:u16 subject 'b' cl:u8 class digest   blind-index entry -> empty
//	0x02 len:u16 subject                  tombstone            -> tombRecord
//	0x03 len:u16 subject                  queued for purge     -> purgeRecord
//	0x04 cl:u8 class dl:u8 digest len:u16 subject kind
//	                                      blind-index lookup   -> empty
//	                                      (kind 'i' entry, 'x' purge marker)
//
// Everything a subject holds lives under its 0x01 prefix, so a purge drops
// exactly that prefix; the tombstone sits apart and outlives the purge.
// Badger's DropPrefix skips prefixes without a live key, hence the 'x'
// marker written when the values are deleted.
//
// A blind-index lookup key is the one thing of a subject that lives outside
// its prefix (it is found by class and digest); Erase deletes it and records
// its prefix (up to the subject) in the purge queue, whose purge drops it.
//
// Records start with a format byte (1):
//
//	dekRecord:    1 createdAt:i64(unix ns) wrapped...
//	valueRecord:  1 createdAt:i64 classLen:u8 class sealed...
//	tombRecord:   1 erasedAt:i64 erasureID...
//	expiryRecord: 1 expiredAt:i64 class...
//	purgeRecord:  empty, or 1 (len:u16 prefix)...   extra prefixes to drop
const (
	prefixData  byte = 0x01
	prefixTomb  byte = 0x02
	prefixPurge byte = 0x03
	prefixBlind byte = 0x04

	kindDEK     byte = 'k'
	kindValue   byte = 'v'
	kindMarker  byte = 'x'
	kindExpired byte = 'e'
	kindBlind   byte = 'b'

	blindEntry  byte = 'i'
	blindMarker byte = 'x'

	// maxDigestLen bounds a blind-index digest.
	maxDigestLen = 64

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

// newTokenIDs returns n token IDs, TokenIDSize bytes each: the time in
// milliseconds (48 bits, big-endian), then 80 random bits, as in a UUIDv7.
// A value's key is its subject and token ID, so a subject's new values
// land at the end of its keys rather than anywhere among them: Badger's
// memtable skiplist then walks, for each insert, the path it walked for
// the subject's last one, which is still in the CPU cache (random IDs made
// every insert a walk through cold memory), and tables hold each subject's
// values in the order they came. 80 bits keep a token unguessable.
func newTokenIDs(n int, now time.Time) ([]byte, error) {
	ids := make([]byte, n*vault.TokenIDSize)
	if _, err := rand.Read(ids); err != nil {
		return nil, fmt.Errorf("new token: %w", err)
	}
	ms := uint64(max(now.UnixMilli(), 0))
	for i := 0; i < len(ids); i += vault.TokenIDSize {
		id := ids[i : i+6]
		id[0], id[1], id[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
		id[3], id[4], id[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	}
	return ids, nil
}

func valueKey(subject string, id [vault.TokenIDSize]byte) []byte {
	return append(valuesPrefix(subject), id[:]...)
}

func expiredKey(subject string, id [vault.TokenIDSize]byte) []byte {
	return append(append(subjectPrefix(subject), kindExpired), id[:]...)
}

// blindEntryKey is the subject-side record of a blind-index entry.
func blindEntryKey(subject, class string, digest []byte) []byte {
	b := append(subjectPrefix(subject), kindBlind, byte(len(class)))
	b = append(b, class...)
	return append(b, digest...)
}

// blindLookupPrefix is the prefix of every lookup key of (class, digest).
func blindLookupPrefix(class string, digest []byte) []byte {
	b := make([]byte, 0, 3+len(class)+len(digest)+2+vault.MaxSubjectLen+1)
	b = append(b, prefixBlind, byte(len(class)))
	b = append(b, class...)
	b = append(b, byte(len(digest)))
	return append(b, digest...)
}

// blindSubjectPrefix is what a purge drops for one lookup entry.
func blindSubjectPrefix(class string, digest []byte, subject string) []byte {
	b := blindLookupPrefix(class, digest)
	b = binary.BigEndian.AppendUint16(b, uint16(len(subject)))
	return append(b, subject...)
}

func blindLookupKey(class string, digest []byte, subject string, kind byte) []byte {
	return append(blindSubjectPrefix(class, digest, subject), kind)
}

func tombKey(subject string) []byte  { return appendSubject(nil, prefixTomb, subject) }
func purgeKey(subject string) []byte { return appendSubject(nil, prefixPurge, subject) }

// key is a decoded key.
type key struct {
	prefix  byte
	subject string
	kind    byte // 0 for tombstone and purge keys
	id      [vault.TokenIDSize]byte
	class   string // blind-index keys
	digest  string // blind-index keys
}

// encode is the inverse of parseKey.
func (k key) encode() []byte {
	if k.prefix == prefixBlind {
		return blindLookupKey(k.class, []byte(k.digest), k.subject, k.kind)
	}
	b := appendSubject(nil, k.prefix, k.subject)
	if k.prefix != prefixData {
		return b
	}
	b = append(b, k.kind)
	switch k.kind {
	case kindValue, kindExpired:
		b = append(b, k.id[:]...)
	case kindBlind:
		b = append(b, byte(len(k.class)))
		b = append(b, k.class...)
		b = append(b, k.digest...)
	}
	return b
}

func parseKey(b []byte) (key, error) {
	var k key
	if len(b) > 0 && b[0] == prefixBlind {
		return parseBlindKey(b)
	}
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
	case kindValue, kindExpired:
		if len(rest) != vault.TokenIDSize {
			return k, errBadKey
		}
		copy(k.id[:], rest)
	case kindBlind:
		if len(rest) < 1 {
			return k, errBadKey
		}
		cl := int(rest[0])
		if cl == 0 || len(rest) < 1+cl+1 || len(rest)-1-cl > maxDigestLen {
			return k, errBadKey
		}
		k.class = string(rest[1 : 1+cl])
		k.digest = string(rest[1+cl:])
	default:
		return k, errBadKey
	}
	return k, nil
}

// parseBlindKey decodes 0x04 cl class dl digest len subject kind.
func parseBlindKey(b []byte) (key, error) {
	k := key{prefix: prefixBlind}
	rest := b[1:]
	field := func() ([]byte, bool) {
		if len(rest) < 1 || rest[0] == 0 || len(rest) < 1+int(rest[0]) {
			return nil, false
		}
		f := rest[1 : 1+int(rest[0])]
		rest = rest[1+int(rest[0]):]
		return f, true
	}
	class, ok := field()
	if !ok {
		return k, errBadKey
	}
	digest, ok := field()
	if !ok || len(digest) > maxDigestLen || len(rest) < 2 {
		return k, errBadKey
	}
	n := int(binary.BigEndian.Uint16(rest))
	if n == 0 || len(rest) != 2+n+1 {
		return k, errBadKey
	}
	k.class, k.digest = string(class), string(digest)
	k.subject = string(rest[2 : 2+n])
	k.kind = rest[2+n]
	if k.kind != blindEntry && k.kind != blindMarker {
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

// parseValueRecordView is parseValueRecord for readers that need only the
// class and the sealed bytes: both alias b, nothing is allocated.
func parseValueRecordView(b []byte) (class, sealed []byte, err error) {
	if len(b) < 10 || b[0] != recordFormat {
		return nil, nil, errBadRecord
	}
	n := int(b[9])
	if n == 0 || len(b) < 10+n {
		return nil, nil, errBadRecord
	}
	return b[10 : 10+n], b[10+n:], nil
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

type expiryRecord struct {
	expiredAt time.Time
	class     string
}

func (r expiryRecord) encode() []byte {
	b := binary.BigEndian.AppendUint64([]byte{recordFormat}, uint64(r.expiredAt.UnixNano()))
	return append(b, r.class...)
}

func parseExpiryRecord(b []byte) (expiryRecord, error) {
	if len(b) < 9 || b[0] != recordFormat {
		return expiryRecord{}, errBadRecord
	}
	return expiryRecord{expiredAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))), class: string(b[9:])}, nil
}

// purgeRecord lists, beside the subject's own prefix, the prefixes a purge
// must drop: the blind-index lookup entries Erase deleted.
type purgeRecord struct{ prefixes [][]byte }

func (r purgeRecord) encode() []byte {
	if len(r.prefixes) == 0 {
		return nil
	}
	b := []byte{recordFormat}
	for _, p := range r.prefixes {
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b
}

func parsePurgeRecord(b []byte) (purgeRecord, error) {
	var r purgeRecord
	if len(b) == 0 {
		return r, nil
	}
	if b[0] != recordFormat {
		return r, errBadRecord
	}
	b = b[1:]
	for len(b) > 0 {
		if len(b) < 2 {
			return r, errBadRecord
		}
		n := int(binary.BigEndian.Uint16(b))
		if n == 0 || len(b) < 2+n {
			return r, errBadRecord
		}
		r.prefixes = append(r.prefixes, append([]byte(nil), b[2:2+n]...))
		b = b[2+n:]
	}
	return r, nil
}
