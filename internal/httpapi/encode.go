package httpapi

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/sdk"
)

// appendEvent appends one event as the JSON of sdk.Event. It exists because
// encoding/json re-scans and re-escapes every json.RawMessage it meets, and
// the data and metadata of events are most of a read's bytes: they come from
// the log, which accepted them only as valid JSON, so they are copied as
// they are. The rest follows sdk.Event's tags exactly (a test compares with
// json.Marshal).
func appendEvent(b []byte, ev *sdk.Event) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, ev.ID)
	b, err := appendEventFields(b, ev.Stream, ev.Version, ev.Position, ev.Type, ev.Data, ev.Metadata, ev.RecordedAt)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"pii":`...)
	if ev.PII == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range ev.PII {
			if i > 0 {
				b = append(b, ',')
			}
			f := &ev.PII[i]
			b = append(b, `{"path":`...)
			b = appendString(b, f.Path)
			b = append(b, `,"class":`...)
			b = appendString(b, f.Class)
			b = append(b, `,"subject":`...)
			b = appendString(b, f.Subject)
			b = append(b, `,"state":`...)
			b = appendString(b, f.State)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendRedactionEvent appends the JSON of ev.Wire() without building it:
// the same bytes as appendEvent of the wire event (a test compares), with
// no string for the ID and no slice for the PII list. n counts the fields
// by state.
func appendRedactionEvent(b []byte, ev *redaction.Event, n *stateCounts) ([]byte, error) {
	b = append(b, `{"id":"`...)
	b = appendUUID(b, ev.ID)
	b = append(b, '"')
	b, err := appendEventFields(b, ev.Stream, ev.Version, ev.Position, ev.Type, ev.Data, ev.Metadata, ev.RecordedAt)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"pii":[`...)
	for i := range ev.PII {
		if i > 0 {
			b = append(b, ',')
		}
		f := &ev.PII[i]
		b = append(b, `{"path":`...)
		if f.Metadata {
			// redaction.PIIField.Wire's name for a metadata path.
			b = appendString(b, "metadata"+f.Path)
		} else {
			b = appendString(b, f.Path)
		}
		b = append(b, `,"class":`...)
		b = appendString(b, string(f.Class))
		b = append(b, `,"subject":`...)
		b = appendString(b, f.Subject)
		b = append(b, `,"state":`...)
		b = appendString(b, string(f.State))
		b = append(b, '}')
		n[stateIndex(string(f.State))]++
	}
	return append(b, "]}"...), nil
}

// appendEventFields appends the fields between "id" and "pii" that
// appendEvent and appendRedactionEvent share, each after its comma.
func appendEventFields(b []byte, stream string, version, position uint64, typ string, data, metadata json.RawMessage, recordedAt time.Time) ([]byte, error) {
	b = append(b, `,"stream":`...)
	b = appendString(b, stream)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, version, 10)
	b = append(b, `,"position":`...)
	b = strconv.AppendUint(b, position, 10)
	b = append(b, `,"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"data":`...)
	b = appendRaw(b, data)
	if len(metadata) > 0 {
		b = append(b, `,"metadata":`...)
		b = appendRaw(b, metadata)
	}
	b = append(b, `,"recordedAt":`...)
	return appendTime(b, recordedAt)
}

// appendRedactionPage appends {"events":[...]} of read events.
func appendRedactionPage(b []byte, evs []redaction.Event, n *stateCounts) ([]byte, error) {
	b = append(b, `{"events":[`...)
	for i := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendRedactionEvent(b, &evs[i], n); err != nil {
			return nil, err
		}
	}
	return append(b, "]}"...), nil
}

// appendUUID appends u in its canonical form, as uuid.UUID.String.
func appendUUID(b []byte, u uuid.UUID) []byte {
	const hex = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0x0f])
	}
	return b
}

// appendTime appends t as encoding/json writes a time.Time.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y >= 10000 {
		// time.Time.MarshalJSON refuses these; so does encoding/json.
		j, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		return append(b, j...), nil
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendEventsPage appends {"events":[...]}.
func appendEventsPage(b []byte, evs []sdk.Event) ([]byte, error) {
	b = append(b, `{"events":[`...)
	for i := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendEvent(b, &evs[i]); err != nil {
			return nil, err
		}
	}
	return append(b, "]}"...), nil
}

func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendString appends s as a JSON string. Plain ASCII, the usual case for
// IDs, stream names, types and paths, is copied; anything else goes through
// encoding/json so the escaping is the standard library's.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendAppendResult appends the JSON of sdk.AppendResult.
func appendAppendResult(b []byte, r sdk.AppendResult) []byte {
	b = append(b, `{"firstVersion":`...)
	b = strconv.AppendUint(b, r.FirstVersion, 10)
	b = append(b, `,"lastVersion":`...)
	b = strconv.AppendUint(b, r.LastVersion, 10)
	b = append(b, `,"firstPosition":`...)
	b = strconv.AppendUint(b, r.FirstPosition, 10)
	b = append(b, `,"lastPosition":`...)
	b = strconv.AppendUint(b, r.LastPosition, 10)
	return append(b, '}')
}
