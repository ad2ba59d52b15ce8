package redaction

import (
	"encoding/json"
	"strconv"
)

// parseMeta decodes the reserved metadata member. It is on the read path of
// every event, so it reads the shape this package writes without
// reflection, and falls back to encoding/json for anything unexpected.
func parseMeta(b []byte) (storedMeta, error) {
	var m storedMeta
	if ok := fastParseMeta(b, &m); ok {
		return m, nil
	}
	m = storedMeta{}
	err := json.Unmarshal(b, &m)
	return m, err
}

func fastParseMeta(b []byte, m *storedMeta) bool {
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
		case "s", "p", "c":
			var ss []string
			ss, i, ok = parseStrings(b, i)
			switch key {
			case "s":
				m.Subjects = ss
			case "p":
				m.Paths = ss
			default:
				m.Classes = make([]Class, len(ss))
				for k, c := range ss {
					m.Classes[k] = Class(c)
				}
			}
		case "i", "m":
			var ns []int
			ns, i, ok = parseInts(b, i)
			if key == "i" {
				m.SubjectIdx = ns
			} else {
				m.InMetadata = ns
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
		if err != nil {
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
