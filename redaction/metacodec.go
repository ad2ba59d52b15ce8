package redaction

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// parseMeta decodes the reserved metadata member. It is on the read path of
// every event, so it reads the shape this package writes without
// reflection, and falls back to encoding/json for anything unexpected.
func parseMeta(b []byte) (storedMeta, error) {
	return parseMetaCached(b, nil)
}

// metaCache shares the decoded token lists of the events of one read page:
// events of a type mostly record the same paths, classes and indexes, so
// each distinct list is decoded (and allocated) once per page. The shared
// slices are read, never written.
type metaCache struct {
	strs    map[string][]string
	classes map[string][]Class
	ints    map[string][]int
}

func newMetaCache() *metaCache {
	return &metaCache{strs: map[string][]string{}, classes: map[string][]Class{}, ints: map[string][]int{}}
}

func parseMetaCached(b []byte, c *metaCache) (storedMeta, error) {
	var m storedMeta
	if ok := fastParseMeta(b, &m, c); ok {
		return m, nil
	}
	m = storedMeta{}
	err := json.Unmarshal(b, &m)
	return m, err
}

func fastParseMeta(b []byte, m *storedMeta, c *metaCache) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		kend, err := skipString(b, i)
		if err != nil {
			return false
		}
		key := string(b[i+1 : kend-1])
		i = skipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		var ok bool
		switch key {
		case "v", "sv":
			var n uint64
			n, i, ok = parseUint(b, i)
			if key == "v" {
				m.Format = int(n)
			} else {
				m.SchemaVersion = n
			}
		case "p", "c", "i", "m", "s":
			// A stream's events mostly name the same subjects too.
			if c == nil {
				i, ok = parseMetaList(b, i, key, m)
				break
			}
			var end int
			end, ok = skipListEnd(b, i)
			if !ok {
				break
			}
			raw := b[i:end]
			switch key {
			case "p":
				m.Paths, ok = c.strs[string(raw)]
			case "s":
				m.Subjects, ok = c.strs[string(raw)]
			case "c":
				m.Classes, ok = c.classes[string(raw)]
			default:
				var ns []int
				ns, ok = c.ints[string(raw)]
				if key == "i" {
					m.SubjectIdx = ns
				} else {
					m.InMetadata = ns
				}
			}
			if ok {
				i = end
				break
			}
			i, ok = parseMetaList(b, i, key, m)
			if !ok {
				break
			}
			switch key {
			case "p":
				c.strs[string(raw)] = m.Paths
			case "s":
				c.strs[string(raw)] = m.Subjects
			case "c":
				c.classes[string(raw)] = m.Classes
			case "i":
				c.ints[string(raw)] = m.SubjectIdx
			default:
				c.ints[string(raw)] = m.InMetadata
			}
		default:
			return false
		}
		if !ok {
			return false
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return skipWS(b, i+1) == len(b)
		}
		if b[i] != ',' {
			return false
		}
		i = skipWS(b, i+1)
	}
}

// parseMetaList decodes the list of key "p", "c", "i", "m" or "s" at b[i].
func parseMetaList(b []byte, i int, key string, m *storedMeta) (int, bool) {
	var ok bool
	switch key {
	case "p", "c", "s":
		var ss []string
		ss, i, ok = parseStrings(b, i)
		switch key {
		case "p":
			m.Paths = ss
		case "s":
			m.Subjects = ss
		default:
			m.Classes = make([]Class, len(ss))
			for k, c := range ss {
				m.Classes[k] = Class(c)
			}
		}
	default:
		var ns []int
		ns, i, ok = parseInts(b, i)
		if key == "i" {
			m.SubjectIdx = ns
		} else {
			m.InMetadata = ns
		}
	}
	return i, ok
}

// skipListEnd returns the end of the JSON array at b[i].
func skipListEnd(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return i, false
	}
	end, err := skipValue(b, i)
	return end, err == nil
}

// appendMeta encodes m as the reserved metadata member's value: what
// json.Marshal gives (same keys, order and omissions; strings may escape
// fewer characters), without reflection, since it runs for every appended
// event.
func appendMeta(b []byte, m *storedMeta) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(m.Format), 10)
	if m.SchemaVersion != 0 {
		b = append(b, `,"sv":`...)
		b = strconv.AppendUint(b, m.SchemaVersion, 10)
	}
	b = appendMetaStrings(b, `,"s":[`, m.Subjects)
	b = appendMetaStrings(b, `,"p":[`, m.Paths)
	b = appendMetaStrings(b, `,"c":[`, m.Classes)
	b = appendMetaInts(b, `,"i":[`, m.SubjectIdx)
	b = appendMetaInts(b, `,"m":[`, m.InMetadata)
	return append(b, '}')
}

func appendMetaStrings[S ~string](b []byte, key string, ss []S) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, key...)
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(s))
	}
	return append(b, ']')
}

func appendMetaInts(b []byte, key string, ns []int) []byte {
	if len(ns) == 0 {
		return b
	}
	b = append(b, key...)
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return append(b, ']')
}

func parseUint(b []byte, i int) (uint64, int, bool) {
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i {
		return 0, i, false
	}
	n, err := strconv.ParseUint(string(b[i:j]), 10, 64)
	return n, j, err == nil
}

func parseStrings(b []byte, i int) ([]string, int, bool) {
	if i >= len(b) || b[i] != '[' {
		return nil, i, false
	}
	i = skipWS(b, i+1)
	var out []string
	if i < len(b) && b[i] == ']' {
		return out, i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, i, false
		}
		end, err := skipString(b, i)
		if err != nil || !utf8.Valid(b[i:end]) {
			// encoding/json replaces invalid UTF-8; leave that to it.
			return nil, i, false
		}
		s, err := decodeString(b[i:end])
		if err != nil {
			return nil, i, false
		}
		out = append(out, s)
		i = skipWS(b, end)
		if i >= len(b) {
			return nil, i, false
		}
		if b[i] == ']' {
			return out, i + 1, true
		}
		if b[i] != ',' {
			return nil, i, false
		}
		i = skipWS(b, i+1)
	}
}

func parseInts(b []byte, i int) ([]int, int, bool) {
	if i >= len(b) || b[i] != '[' {
		return nil, i, false
	}
	i = skipWS(b, i+1)
	var out []int
	if i < len(b) && b[i] == ']' {
		return out, i + 1, true
	}
	for {
		n, j, ok := parseUint(b, i)
		if !ok || n > 1<<20 {
			return nil, i, false
		}
		out = append(out, int(n))
		i = skipWS(b, j)
		if i >= len(b) {
			return nil, i, false
		}
		if b[i] == ']' {
			return out, i + 1, true
		}
		if b[i] != ',' {
			return nil, i, false
		}
		i = skipWS(b, i+1)
	}
}
