// Package keys is the one place that knows the eventlog's Badger key layout.
//
// Every key starts with a one-byte prefix naming its kind. Integers are
// big-endian so that Badger's byte order is numeric order, and variable
// strings carry a two-byte length so that no name is a prefix of another
// name's keys ("ab" and "abc" never share a range).
//
//	0x00 "format"                      -> format version (uint64)
//	0x01 pos(8)                        -> event record (see record.go in eventlog)
//	0x02 len(2) stream firstVersion(8) -> firstPos(8) count(4)      stream index run
//	0x03 id(16)                        -> pos(8) version(8) stream  idempotency index
//	0x04 len(2) type firstPos(8)       -> count(4)                  event-type index run
//	0x05 len(2) stream version(8)      -> snapshot record
//	0x06 len(2) tag firstPos(8)        -> count(4)                  tag index run
//
// The two indexes hold runs, not single events: the events of one append
// (and of consecutive appends to the same stream in one group commit) have
// consecutive versions and positions, so one stream-index entry covers
// them; consecutive positions of one type share one type-index entry. That
// keeps the number of Badger entries per event near two (event and ID)
// instead of four, which is most of the write path's CPU. The tag index
// (events appended with tags, a secondary index the caller names) holds
// runs the same way: consecutive positions carrying one tag share an entry.
//
// FormatVersion changes whenever this layout or a record codec changes; Open
// refuses a directory written with another version, except the versions it
// upgrades in place (see PreviousFormatVersion).
package keys

import (
	"encoding/binary"
	"errors"
)

// FormatVersion is the on-disk format this package and the record codec write.
const FormatVersion uint32 = 3

// PreviousFormatVersion is the format before the tag index: its layout is
// this one without 0x06 keys, so Open upgrades it by rewriting the format
// record (events appended before carry no tags).
const PreviousFormatVersion uint32 = 2

// Key kinds.
const (
	PrefixMeta     byte = 0x00
	PrefixEvent    byte = 0x01
	PrefixStream   byte = 0x02
	PrefixID       byte = 0x03
	PrefixType     byte = 0x04
	PrefixSnapshot byte = 0x05
	PrefixTag      byte = 0x06
)

// MaxNameLen is the longest stream name or event type a key can carry.
const MaxNameLen = 1<<16 - 1

// ErrMalformed is returned by the Parse functions for a key of the wrong
// kind or length.
var ErrMalformed = errors.New("keys: malformed key")

// Format is the key of the format-version record.
func Format() []byte { return []byte{PrefixMeta, 'f', 'o', 'r', 'm', 'a', 't'} }

// EventPrefix is the prefix of all event keys, in position order.
func EventPrefix() []byte { return []byte{PrefixEvent} }

// Event is the key of the event at a global position.
func Event(pos uint64) []byte {
	k := make([]byte, 9)
	k[0] = PrefixEvent
	binary.BigEndian.PutUint64(k[1:], pos)
	return k
}

// AppendEvent appends Event(pos) to dst (to build many keys in one buffer).
func AppendEvent(dst []byte, pos uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, PrefixEvent), pos)
}

// ParseEvent returns the position of an event key.
func ParseEvent(k []byte) (uint64, error) {
	if len(k) != 9 || k[0] != PrefixEvent {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

func named(prefix byte, name string, n uint64) []byte {
	k := make([]byte, 0, 1+2+len(name)+8)
	k = append(k, prefix)
	k = binary.BigEndian.AppendUint16(k, uint16(len(name)))
	k = append(k, name...)
	return binary.BigEndian.AppendUint64(k, n)
}

func namedPrefix(prefix byte, name string) []byte {
	k := make([]byte, 0, 1+2+len(name))
	k = append(k, prefix)
	k = binary.BigEndian.AppendUint16(k, uint16(len(name)))
	return append(k, name...)
}

func parseNamed(prefix byte, k []byte) (string, uint64, error) {
	if len(k) < 1+2+8 || k[0] != prefix {
		return "", 0, ErrMalformed
	}
	n := int(binary.BigEndian.Uint16(k[1:3]))
	if len(k) != 1+2+n+8 {
		return "", 0, ErrMalformed
	}
	return string(k[3 : 3+n]), binary.BigEndian.Uint64(k[3+n:]), nil
}

// Stream is the key of a stream-index run starting at a version; its value
// is a Run: the position of that version and how many follow.
func Stream(stream string, version uint64) []byte { return named(PrefixStream, stream, version) }

// StreamPrefix is the prefix of all of a stream's index keys, in version order.
func StreamPrefix(stream string) []byte { return namedPrefix(PrefixStream, stream) }

// ParseStream returns the stream and version of a stream index key.
func ParseStream(k []byte) (stream string, version uint64, err error) {
	return parseNamed(PrefixStream, k)
}

// ID is the key of the idempotency record of an event ID.
func ID(id [16]byte) []byte {
	k := make([]byte, 17)
	k[0] = PrefixID
	copy(k[1:], id[:])
	return k
}

// AppendID appends ID(id) to dst.
func AppendID(dst []byte, id [16]byte) []byte { return append(append(dst, PrefixID), id[:]...) }

// ParseID returns the event ID of an idempotency key.
func ParseID(k []byte) ([16]byte, error) {
	var id [16]byte
	if len(k) != 17 || k[0] != PrefixID {
		return id, ErrMalformed
	}
	copy(id[:], k[1:])
	return id, nil
}

// IDValue encodes where an event ID was appended.
func IDValue(pos, version uint64, stream string) []byte {
	v := make([]byte, 0, 16+len(stream))
	v = binary.BigEndian.AppendUint64(v, pos)
	v = binary.BigEndian.AppendUint64(v, version)
	return append(v, stream...)
}

// AppendIDValue appends IDValue(pos, version, stream) to dst.
func AppendIDValue(dst []byte, pos, version uint64, stream string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, pos)
	dst = binary.BigEndian.AppendUint64(dst, version)
	return append(dst, stream...)
}

// ParseIDValue decodes IDValue.
func ParseIDValue(v []byte) (pos, version uint64, stream string, err error) {
	if len(v) < 16 {
		return 0, 0, "", ErrMalformed
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), string(v[16:]), nil
}

// Type is the key of an event-type index run starting at pos; its value is
// the run's length (RunLen).
func Type(typ string, pos uint64) []byte { return named(PrefixType, typ, pos) }

// TypePrefix is the prefix of an event type's index keys, in position order.
func TypePrefix(typ string) []byte { return namedPrefix(PrefixType, typ) }

// ParseType returns the type and position of a type index key.
func ParseType(k []byte) (typ string, pos uint64, err error) { return parseNamed(PrefixType, k) }

// Snapshot is the key of a stream's snapshot at a version.
func Snapshot(stream string, version uint64) []byte { return named(PrefixSnapshot, stream, version) }

// SnapshotPrefix is the prefix of a stream's snapshots, in version order.
func SnapshotPrefix(stream string) []byte { return namedPrefix(PrefixSnapshot, stream) }

// ParseSnapshot returns the stream and version of a snapshot key.
func ParseSnapshot(k []byte) (stream string, version uint64, err error) {
	return parseNamed(PrefixSnapshot, k)
}

// Tag is the key of a tag-index run starting at pos; its value is the
// run's length (RunLen).
func Tag(tag string, pos uint64) []byte { return named(PrefixTag, tag, pos) }

// TagPrefix is the prefix of a tag's index keys, in position order.
func TagPrefix(tag string) []byte { return namedPrefix(PrefixTag, tag) }

// ParseTag returns the tag and position of a tag index key.
func ParseTag(k []byte) (tag string, pos uint64, err error) { return parseNamed(PrefixTag, k) }

// Run encodes a stream-index value: first position and count.
func Run(pos uint64, count uint32) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 12), pos)
	return binary.BigEndian.AppendUint32(v, count)
}

// ParseRun decodes Run.
func ParseRun(v []byte) (pos uint64, count uint32, err error) {
	if len(v) != 12 {
		return 0, 0, ErrMalformed
	}
	pos, count = binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:])
	if count == 0 {
		return 0, 0, ErrMalformed
	}
	return pos, count, nil
}

// RunLen encodes a type-index value: the run's length.
func RunLen(count uint32) []byte { return binary.BigEndian.AppendUint32(nil, count) }

// ParseRunLen decodes RunLen.
func ParseRunLen(v []byte) (uint32, error) {
	if len(v) != 4 || binary.BigEndian.Uint32(v) == 0 {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint32(v), nil
}

// U64 encodes a big-endian uint64 value.
func U64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// ParseU64 decodes U64.
func ParseU64(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, ErrMalformed
	}
	return binary.BigEndian.Uint64(v), nil
}

// SeekLast is the key to seek a reverse iterator to, to land on the last key
// that starts with prefix (every key under prefix sorts before it).
func SeekLast(prefix []byte) []byte {
	k := make([]byte, len(prefix), len(prefix)+9)
	copy(k, prefix)
	return append(k, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
}
