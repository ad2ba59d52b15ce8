package hashicorp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// This file is the one place that knows how piivault lays out its data in
// KV v2. See doc.go, "Layout in KV v2".

// recordVersion is the "v" field of every subject record.
const recordVersion = 1

// record is the KV v2 data of one subject: its wrapped DEK and sealed
// values, or, once the subject is erased, only the erasure marker.
type record struct {
	V       int                `json:"v"`
	DEK     string             `json:"dek,omitempty"`  // base64 of the provider's wrapped DEK; "" until the first value
	Values  map[string]sealed  `json:"vals,omitempty"` // by token ID (unpadded base64url, as in the token)
	Expired map[string]expired `json:"exp,omitempty"`  // values destroyed by retention, by token ID
	Blind   map[string]bool    `json:"bi,omitempty"`   // blind-index keys (blindKey) that name this subject
	Erased  *erasure           `json:"erased,omitempty"`
}

// expired records that a value was destroyed by a retention rule.
type expired struct {
	Class string `json:"c"`
	At    int64  `json:"t"` // Unix nanoseconds
}

// clone returns a copy of a live record whose maps may be changed.
func (r *record) clone() *record {
	n := &record{DEK: r.DEK, Values: make(map[string]sealed, len(r.Values)+1)}
	for k, v := range r.Values {
		n.Values[k] = v
	}
	if len(r.Expired) > 0 {
		n.Expired = make(map[string]expired, len(r.Expired))
		for k, v := range r.Expired {
			n.Expired[k] = v
		}
	}
	if len(r.Blind) > 0 {
		n.Blind = make(map[string]bool, len(r.Blind))
		for k, v := range r.Blind {
			n.Blind[k] = v
		}
	}
	return n
}

// sealed is one value: its class, its AES-256-GCM ciphertext (base64, as
// vault.DEK.Seal made it) and when it was stored (Unix nanoseconds).
type sealed struct {
	Class   string `json:"c"`
	Data    string `json:"x"`
	Created int64  `json:"t"`
}

// erasure is the tombstone, the only content of an erased subject's record.
type erasure struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Values int       `json:"n,omitempty"`   // values the erasure deleted
	HadDEK bool      `json:"dek,omitempty"` // whether a DEK existed
	// Blind lists blind-index keys still to delete; empty once done.
	Blind []string `json:"bi,omitempty"`
}

// kv talks to one KV v2 mount under one prefix.
type kv struct {
	client *api.Client
	mount  string // e.g. "secret"
	prefix string // e.g. "piivault"
}

// encodeSubject makes a subject ID a single path segment.
func encodeSubject(subject string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(subject))
}

func decodeSubject(seg string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return string(b), err
}

func (k *kv) subjectData(subject string) string {
	return k.mount + "/data/" + k.prefix + "/s/" + encodeSubject(subject)
}

func (k *kv) subjectMeta(subject string) string {
	return k.mount + "/metadata/" + k.prefix + "/s/" + encodeSubject(subject)
}

// blindKey names one blind-index entry: class and digest as path segments.
func blindKey(class string, digest []byte) string {
	return encodeSubject(class) + "/" + hex.EncodeToString(digest)
}

// blindData is the KV path of the blind-index entry key for subject.
func (k *kv) blindData(key, subject string) string {
	return k.mount + "/data/" + k.prefix + "/b/" + key + "/" + encodeSubject(subject)
}

func (k *kv) blindMeta(key, subject string) string {
	return k.mount + "/metadata/" + k.prefix + "/b/" + key + "/" + encodeSubject(subject)
}

func (k *kv) blindList(key string) string {
	return k.mount + "/metadata/" + k.prefix + "/b/" + key
}

// writeBlind writes the blind-index entry (no check-and-set: it holds
// nothing but its name).
func (k *kv) writeBlind(ctx context.Context, key, subject string) error {
	_, err := k.write(ctx, k.blindData(key, subject), map[string]int{"v": recordVersion}, -1)
	return err
}

// deleteBlind deletes a blind-index entry with its metadata (every
// version). No check-and-set writer ever targets these keys, so resetting
// their version counter is harmless.
func (k *kv) deleteBlind(ctx context.Context, key, subject string) error {
	if _, err := k.client.Logical().DeleteWithContext(ctx, k.blindMeta(key, subject)); err != nil {
		return fmt.Errorf("delete blind index entry: %w", classify(err))
	}
	return nil
}

// listBlind returns the subjects under a blind-index key.
func (k *kv) listBlind(ctx context.Context, key string) ([]string, error) {
	return k.list(ctx, k.blindList(key))
}

func (k *kv) subjectsList() string {
	return k.mount + "/metadata/" + k.prefix + "/s"
}

// errCAS reports a check-and-set mismatch: someone else wrote the key.
var errCAS = errors.New("check-and-set mismatch")

// readSubject reads a subject record. It returns version 0 and a nil record
// when the subject has no record.
func (k *kv) readSubject(ctx context.Context, subject string) (*record, int, error) {
	var env envelope
	v, ok, err := k.read(ctx, k.subjectData(subject), &env)
	if err != nil || !ok {
		return nil, 0, err
	}
	if env.V != recordVersion {
		return nil, 0, fmt.Errorf("read subject: record version %d not understood: %w", env.V, errCorrupt)
	}
	var r record
	if err := json.Unmarshal([]byte(env.R), &r); err != nil {
		return nil, 0, fmt.Errorf("read subject: decode record: %w", errCorrupt)
	}
	r.V = env.V
	return &r, v, nil
}

// writeSubject writes a subject record if the key's current version is cas
// (0: the key must not exist). It returns the new version, or errCAS.
func (k *kv) writeSubject(ctx context.Context, subject string, r *record, cas int) (int, error) {
	r.V = recordVersion
	b, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("write subject: encode: %w", err)
	}
	return k.write(ctx, k.subjectData(subject), envelope{V: recordVersion, R: string(b)}, cas)
}

// envelope is the KV v2 data of a subject record: the record as one JSON
// string, so Vault stores one string field instead of decoding and
// re-encoding a map entry per value, which costs far more than the bytes.
type envelope struct {
	V int    `json:"v"`
	R string `json:"r"`
}

// destroyOlder destroys every version of a subject record older than
// version keep that is not destroyed yet, as KV v2's metadata lists them.
// Destroying removes a version's data from Vault's storage for good, unlike
// a soft delete. The metadata itself is kept on purpose: deleting it would
// reset the key's version counter, and a writer holding a check-and-set
// version from before could then overwrite the erasure marker (see doc.go).
func (k *kv) destroyOlder(ctx context.Context, subject string, keep int) error {
	resp, err := k.do(ctx, http.MethodGet, k.subjectMeta(subject), nil)
	if resp != nil {
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("read metadata: %w", classify(err))
	}
	var meta struct {
		Data struct {
			Versions map[string]struct {
				Destroyed bool `json:"destroyed"`
			} `json:"versions"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		return fmt.Errorf("read metadata: %w", unavailable(err))
	}
	var versions []int
	for v, m := range meta.Data.Versions {
		n, err := strconv.Atoi(v)
		if err == nil && n < keep && !m.Destroyed {
			versions = append(versions, n)
		}
	}
	if len(versions) == 0 {
		return nil
	}
	sort.Ints(versions)
	body, err := json.Marshal(map[string]interface{}{"versions": versions})
	if err != nil {
		return err
	}
	dresp, err := k.do(ctx, http.MethodPut, k.mount+"/destroy/"+k.prefix+"/s/"+encodeSubject(subject), body)
	if dresp != nil {
		dresp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("destroy versions: %w", classify(err))
	}
	return nil
}

// listSubjects returns the subjects that have a record.
func (k *kv) listSubjects(ctx context.Context) ([]string, error) {
	return k.list(ctx, k.subjectsList())
}

// list LISTs a metadata folder whose entries are encoded subjects.
func (k *kv) list(ctx context.Context, path string) ([]string, error) {
	s, err := k.client.Logical().ListWithContext(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("list: %w", classify(err))
	}
	if s == nil || s.Data == nil {
		return nil, nil
	}
	raw, _ := s.Data["keys"].([]interface{})
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		seg, _ := r.(string)
		if seg == "" || strings.HasSuffix(seg, "/") {
			continue
		}
		sub, err := decodeSubject(seg)
		if err != nil {
			continue
		}
		out = append(out, sub)
	}
	return out, nil
}

// read GETs a KV v2 data path into v. ok is false on 404 (no key, or its
// current version deleted).
func (k *kv) read(ctx context.Context, path string, v interface{}) (version int, ok bool, err error) {
	resp, err := k.do(ctx, http.MethodGet, path, nil)
	if resp != nil {
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			_, _ = io.Copy(io.Discard, resp.Body)
			return 0, false, nil
		}
	}
	if err != nil {
		return 0, false, fmt.Errorf("read: %w", classify(err))
	}
	var body struct {
		Data struct {
			Data     json.RawMessage `json:"data"`
			Metadata struct {
				Version int `json:"version"`
			} `json:"metadata"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, false, fmt.Errorf("read: decode answer: %w", unavailable(err))
	}
	if len(body.Data.Data) == 0 || bytes.Equal(body.Data.Data, []byte("null")) {
		return 0, false, nil
	}
	if err := json.Unmarshal(body.Data.Data, v); err != nil {
		return 0, false, fmt.Errorf("read: decode record: %w", errCorrupt)
	}
	return body.Data.Metadata.Version, true, nil
}

// write PUTs v as the data of a KV v2 path with check-and-set cas; a
// negative cas writes unconditionally.
func (k *kv) write(ctx context.Context, path string, v interface{}, cas int) (int, error) {
	req := map[string]interface{}{"data": v}
	if cas >= 0 {
		req["options"] = map[string]int{"cas": cas}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("write: encode: %w", err)
	}
	resp, err := k.do(ctx, http.MethodPut, path, body)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		var re *api.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest && casMismatch(re) {
			return 0, errCAS
		}
		return 0, fmt.Errorf("write: %w", classify(err))
	}
	var out struct {
		Data struct {
			Version int `json:"version"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("write: decode answer: %w", unavailable(err))
	}
	return out.Data.Version, nil
}

// do sends one request. Unlike the api package's Logical().WriteRaw, it
// does not cancel the request context before the caller has read the body.
func (k *kv) do(ctx context.Context, method, path string, body []byte) (*api.Response, error) {
	r := k.client.NewRequest(method, "/v1/"+path)
	if body != nil {
		r.BodyBytes = body
	}
	return k.client.RawRequestWithContext(ctx, r)
}

func casMismatch(re *api.ResponseError) bool {
	for _, e := range re.Errors {
		if strings.Contains(e, "check-and-set") {
			return true
		}
	}
	return false
}
