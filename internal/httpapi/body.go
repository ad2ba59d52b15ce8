package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/piivault/piivault/sdk"
)

// readBody reads the whole body, at most limit bytes. Reading all of it,
// rather than decoding from the stream, is what makes the limit hold for a
// valid object followed by a gigabyte of anything.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	// The usual Content-Type needs no parsing.
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, ErrUnsupportedMediaType
		}
	}
	if r.ContentLength > limit {
		return nil, ErrBodyTooLarge
	}
	// A declared length sizes the buffer once (io.ReadAll would grow it
	// from 512 bytes, copying a 100-event body a dozen times); the one
	// byte more lets the read that sees the end need no growth. Up to
	// maxPresize only, so that a client that declares a large body and
	// sends none does not get the memory for free. The limit is still
	// the reader's: a body is never longer than it declares, and a chunked
	// one has no declared length.
	size := int64(512)
	if r.ContentLength > 0 {
		size = min(r.ContentLength+1, maxPresize)
	}
	b, err := readAll(http.MaxBytesReader(w, r.Body, limit), make([]byte, 0, size))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, ErrBodyTooLarge
		}
		return nil, badRequest(sdk.CodeBadRequest, "request body could not be read")
	}
	// JSON text is UTF-8 (RFC 8259). encoding/json would turn invalid bytes
	// into U+FFFD in what it decodes (an event type) and keep them in what
	// it passes through raw (event data), which is then served back as
	// invalid JSON to strict readers, subscribers among them.
	if !utf8.Valid(b) {
		return nil, badRequest(sdk.CodeInvalidJSON, "request body is not valid UTF-8")
	}
	return b, nil
}

// maxPresize bounds the buffer readBody allocates before the body arrives:
// a batch of 100 events of 1 KiB fits.
const maxPresize = 256 << 10

// readAll is io.ReadAll into b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// decodeJSON reads the body into dst: exactly one JSON value, no unknown
// fields, nothing but white space after it. Errors name offsets, fields and
// expected types, never the request's values.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	b, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return unmarshalStrict(b, dst)
}

func unmarshalStrict(b []byte, dst any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest(sdk.CodeInvalidJSON, "request body is empty, want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest(sdk.CodeInvalidJSON, "request body holds more than one JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a bad request whose detail quotes
// no input: encoding/json's own messages can quote a character or a key.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badRequest(sdk.CodeInvalidJSON, "malformed JSON at byte offset %d", se.Offset)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return badRequest(sdk.CodeInvalidJSON, "field %s: want %s, got JSON %s", safeField(field), te.Type, jsonKind(te.Value))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest(sdk.CodeInvalidJSON, "truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest(sdk.CodeInvalidJSON, "unknown field %s", safeField(strings.TrimPrefix(err.Error(), "json: unknown field ")))
	default:
		return badRequest(sdk.CodeInvalidJSON, "malformed JSON")
	}
}

// safeField keeps a field name only when it looks like one of our own
// identifiers, so a key that happens to hold personal data is not echoed.
func safeField(f string) string {
	f = strings.Trim(f, `"`)
	if len(f) > 64 {
		return "(unnamed field)"
	}
	for _, r := range f {
		if !(r == '.' || r == '_' || r == '[' || r == ']' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "(unnamed field)"
		}
	}
	return strconv.Quote(f)
}

// queryUint parses an optional unsigned query parameter.
func queryUint(r *http.Request, name string, def uint64) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, badRequest(sdk.CodeBadRequest, "query parameter %s: want a non-negative integer", name)
	}
	return n, nil
}

// queryTime parses an RFC 3339 query parameter; absent is the zero time.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(sdk.CodeBadRequest, "query parameter %s: want an RFC 3339 time", name)
	}
	return t, nil
}

// pageLimit parses ?limit=. A limit above max is refused, not clamped:
// clients end a paged read at the first short page, so a silently smaller
// page would end their read early.
func pageLimit(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badRequest(sdk.CodeBadRequest, "query parameter limit: want a positive integer")
	}
	if n > max {
		return 0, badRequest(sdk.CodeBadRequest, "query parameter limit: at most %d", max)
	}
	return n, nil
}

// jsonKind keeps the kind of a JSON value from an UnmarshalTypeError:
// encoding/json writes "number 42", and the 42 may be personal data.
func jsonKind(v string) string {
	kind, _, _ := strings.Cut(v, " ")
	return kind
}
