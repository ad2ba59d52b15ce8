package redaction

import (
	"bytes"
	"fmt"
	"unsafe"
)

// ReservedMetadataKey is the metadata member in which piivault records, for
// every stored event, the schema version it was redacted under and where its
// tokens are. Clients may not send it; reads remove it.
const ReservedMetadataKey = "$piivault"

// found is one value to move to the vault.
type found struct {
	path     string // concrete pointer
	class    Class
	subject  string
	at       span
	metadata bool
}

// extractor finds the PII of one event: declared fields, the subject, and
// (unless the guard allows) undeclared values that look like personal data.
type extractor struct {
	schema   *Schema // nil: event type without schema
	guard    LeakGuard
	fallback string // subject for detected values when there is no schema
}

// extractResult is what extract found in one event.
type extractResult struct {
	values  []found
	subject string
}

func (x *extractor) extract(index int, typ string, data, metadata []byte) (extractResult, error) {
	var res extractResult
	evErr := func(path string, meta bool, format string, args ...any) error {
		return &EventError{Index: index, Type: typ, Path: path, Metadata: meta, Reason: fmt.Sprintf(format, args...)}
	}
	d := skipWS(data, 0)
	if d >= len(data) || data[d] != '{' {
		return res, evErr("", false, "data must be a JSON object")
	}
	var subjects map[string]string // concrete subject pointer -> subject ID
	var fields []found
	var fieldPtr []int
	var ptrs []Pointer
	if x.schema != nil {
		ptrs = x.schema.ptrs
	}
	nf := 0
	if x.schema != nil {
		nf = len(x.schema.Fields)
	}
	var fail error
	w := walker{b: data, ptrs: ptrs}
	w.onMatch = func(p int, path []seg, v span) error {
		if p < nf {
			if bytes.Equal(data[v.start:v.end], []byte("null")) {
				return nil // an absent value is not personal data
			}
			fields = append(fields, found{path: pathString(path), class: x.schema.Fields[p].Class, at: v})
			fieldPtr = append(fieldPtr, p)
			return nil
		}
		key := pathString(path)
		if data[v.start] != '"' {
			return evErr(key, false, "the subject pointer must resolve to a non-empty string")
		}
		s, err := decodeString(data[v.start:v.end])
		if err != nil || s == "" {
			return evErr(key, false, "the subject pointer must resolve to a non-empty string")
		}
		if subjects == nil {
			subjects = make(map[string]string, 2)
		}
		subjects[key] = s
		return nil
	}
	var detected []found
	if x.guard != LeakAllow {
		w.onLeaf = x.leafCheck(data, index, typ, false, &detected, &fail)
		w.onKey = keyCheck(data, index, typ, false, &fail)
	}
	if err := w.run(); err != nil {
		if fail != nil {
			return res, fail
		}
		if ee, ok := err.(*EventError); ok {
			return res, ee
		}
		return res, evErr("", false, "data is not valid JSON")
	}
	if x.schema != nil {
		main := x.schema.subject.String()
		res.subject = subjects[main]
		if res.subject == "" {
			return res, evErr(main, false, "the subject pointer %q does not resolve to a non-empty string", main)
		}
		for i := range fields {
			f := &x.schema.Fields[fieldPtr[i]]
			key := substituteWildcards(f.path, fields[i].path, f.subject)
			s := subjects[key]
			if s == "" {
				return res, evErr(key, false, "the subject pointer of field %q does not resolve to a non-empty string", f.Path)
			}
			fields[i].subject = s
		}
	} else {
		res.subject = x.fallback
	}
	for i := range detected {
		detected[i].subject = res.subject
	}
	res.values = append(fields, detected...)
	if p, dup := duplicatePath(res.values); dup {
		// JSON allows a key twice; a token must have one place.
		return res, evErr(p, false, "the key appears twice in its object")
	}
	nd := len(res.values)
	if err := x.checkMetadata(index, typ, metadata, res.subject, &res.values); err != nil {
		return res, err
	}
	if p, dup := duplicatePath(res.values[nd:]); dup {
		return res, evErr(p, true, "the key appears twice in its object")
	}
	return res, nil
}

func (x *extractor) leafCheck(doc []byte, index int, typ string, meta bool, out *[]found, fail *error) func([]seg, span, bool) error {
	return func(path []seg, v span, isString bool) error {
		var kind string
		if isString {
			k, err := detectString(doc[v.start:v.end])
			if err != nil {
				return err
			}
			kind = k
		} else {
			kind = detectNumber(doc[v.start:v.end])
		}
		if kind == "" {
			return nil
		}
		p := pathString(path)
		if x.guard == LeakReject {
			*fail = &LeakError{Index: index, Type: typ, Path: p, Metadata: meta, Kind: kind}
			return *fail
		}
		*out = append(*out, found{path: p, class: ClassDetected, at: v, metadata: meta})
		return nil
	}
}

// keyCheck runs the leak guard over an object key. A token can only stand
// in for a value, so a key that looks like personal data is refused in every
// guard mode that looks (reject and tokenize alike); the error names the
// object that holds the key, not the key.
func keyCheck(doc []byte, index int, typ string, meta bool, fail *error) func([]seg, span) error {
	return func(path []seg, k span) error {
		kind, err := detectString(doc[k.start:k.end])
		if err != nil || kind == "" {
			return err
		}
		*fail = &LeakError{Index: index, Type: typ, Path: pathString(path), Metadata: meta, Kind: kind, Key: true}
		return *fail
	}
}

// detectString runs DetectPII over a JSON string literal (quotes included).
func detectString(lit []byte) (string, error) {
	inner := lit[1 : len(lit)-1]
	if len(inner) == 0 {
		return "", nil
	}
	if bytes.IndexByte(inner, '\\') < 0 {
		// No escape: scan the bytes in place. DetectPII keeps nothing of
		// its argument, so no copy is needed.
		return DetectPII(unsafe.String(&inner[0], len(inner))), nil
	}
	s, err := decodeString(lit)
	if err != nil {
		return "", err
	}
	return DetectPII(s), nil
}

// checkMetadata refuses a metadata document that is not an object or that
// carries the reserved key, and runs the leak guard over it.
func (x *extractor) checkMetadata(index int, typ string, metadata []byte, subject string, out *[]found) error {
	m := skipWS(metadata, 0)
	if m >= len(metadata) || bytes.Equal(bytes.TrimSpace(metadata), []byte("null")) {
		return nil
	}
	if metadata[m] != '{' {
		return &EventError{Index: index, Type: typ, Metadata: true, Reason: "metadata must be a JSON object"}
	}
	var fail error
	var detected []found
	w := walker{b: metadata, ptrs: []Pointer{{segs: []string{ReservedMetadataKey}}}}
	w.onMatch = func(int, []seg, span) error {
		return &EventError{Index: index, Type: typ, Path: "/" + ReservedMetadataKey, Metadata: true, Reason: "this metadata key is reserved"}
	}
	if x.guard != LeakAllow {
		w.onLeaf = x.leafCheck(metadata, index, typ, true, &detected, &fail)
		w.onKey = keyCheck(metadata, index, typ, true, &fail)
	}
	if err := w.run(); err != nil {
		if fail != nil {
			return fail
		}
		if ee, ok := err.(*EventError); ok {
			return ee
		}
		return &EventError{Index: index, Type: typ, Metadata: true, Reason: "metadata is not valid JSON"}
	}
	for i := range detected {
		detected[i].subject = subject
	}
	*out = append(*out, detected...)
	return nil
}

// substituteWildcards gives the concrete subject pointer for a field matched
// at concrete: the k-th "*" of subject takes the segment that the k-th "*" of
// field matched.
func substituteWildcards(field Pointer, concrete string, subject Pointer) string {
	if !subject.HasWildcard() {
		return subject.String()
	}
	cp, _ := ParseConcretePointer(concrete)
	var vals []string
	for i := range field.segs {
		if field.isWild(i) && i < len(cp.segs) {
			vals = append(vals, cp.segs[i])
		}
	}
	segs := make([]string, len(subject.segs))
	k := 0
	for i, s := range subject.segs {
		if subject.isWild(i) && k < len(vals) {
			s = vals[k]
			k++
		}
		segs[i] = s
	}
	return joinSegments(segs)
}

// storedMeta is what the reserved metadata key holds: the schema version the
// event was redacted under and, for every token, where it is, its class and
// its subject. Parallel arrays keep it small.
type storedMeta struct {
	Format        int      `json:"v"`
	SchemaVersion uint64   `json:"sv,omitempty"`
	Subjects      []string `json:"s,omitempty"`
	Paths         []string `json:"p,omitempty"`
	Classes       []Class  `json:"c,omitempty"`
	SubjectIdx    []int    `json:"i,omitempty"`
	InMetadata    []int    `json:"m,omitempty"` // indexes of paths that are in metadata
}

const storedMetaFormat = 1

// buildMeta records the values found in one event.
func buildMeta(schemaVersion uint64, values []found) storedMeta {
	m := storedMeta{Format: storedMetaFormat, SchemaVersion: schemaVersion}
	for i, v := range values {
		si := -1
		for j, s := range m.Subjects {
			if s == v.subject {
				si = j
				break
			}
		}
		if si < 0 {
			si = len(m.Subjects)
			m.Subjects = append(m.Subjects, v.subject)
		}
		m.Paths = append(m.Paths, v.path)
		m.Classes = append(m.Classes, v.class)
		m.SubjectIdx = append(m.SubjectIdx, si)
		if v.metadata {
			m.InMetadata = append(m.InMetadata, i)
		}
	}
	return m
}

// withMeta returns metadata with the reserved member inserted first.
func withMeta(metadata []byte, m storedMeta) ([]byte, error) {
	enc := appendMeta(make([]byte, 0, 64+48*len(m.Paths)), &m)
	i := skipWS(metadata, 0)
	if i >= len(metadata) || bytes.Equal(bytes.TrimSpace(metadata), []byte("null")) {
		out := make([]byte, 0, len(enc)+16)
		out = append(out, `{"`+ReservedMetadataKey+`":`...)
		out = append(out, enc...)
		return append(out, '}'), nil
	}
	rest := skipWS(metadata, i+1)
	out := make([]byte, 0, len(metadata)+len(enc)+16)
	out = append(out, `{"`+ReservedMetadataKey+`":`...)
	out = append(out, enc...)
	if rest < len(metadata) && metadata[rest] != '}' {
		out = append(out, ',')
	}
	return append(out, metadata[i+1:]...), nil
}

// splitMeta finds the reserved member in stored metadata and returns it and
// the metadata without it (nil if nothing else was there).
func splitMeta(metadata []byte) (storedMeta, []byte, bool, error) {
	return splitMetaCached(metadata, nil)
}

// splitMetaCached is splitMeta sharing decoded lists through c (nil: none).
func splitMetaCached(metadata []byte, c *metaCache) (storedMeta, []byte, bool, error) {
	var m storedMeta
	prefix := `{"` + ReservedMetadataKey + `":`
	if !bytes.HasPrefix(metadata, []byte(prefix)) {
		return m, metadata, false, nil
	}
	start := len(prefix)
	end, err := skipValue(metadata, start)
	if err != nil {
		return m, metadata, false, err
	}
	m, err = parseMetaCached(metadata[start:end], c)
	if err != nil {
		return m, metadata, false, err
	}
	rest := skipWS(metadata, end)
	if rest < len(metadata) && metadata[rest] == '}' {
		return m, nil, true, nil
	}
	out := make([]byte, 0, len(metadata)-end+1)
	out = append(out, '{')
	out = append(out, metadata[skipWS(metadata, rest+1):]...)
	return m, out, true, nil
}

func duplicatePath(vs []found) (string, bool) {
	if len(vs) < 2 {
		return "", false
	}
	if len(vs) <= 8 {
		for i := range vs {
			for j := i + 1; j < len(vs); j++ {
				if vs[i].path == vs[j].path {
					return vs[i].path, true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]bool, len(vs))
	for _, v := range vs {
		if seen[v.path] {
			return v.path, true
		}
		seen[v.path] = true
	}
	return "", false
}
