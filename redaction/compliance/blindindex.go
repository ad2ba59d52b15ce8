package compliance

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/piivault/piivault/eventlog"
	"github.com/piivault/piivault/policy"
	"github.com/piivault/piivault/redaction"
	"github.com/piivault/piivault/vault"
)

// Classes the blind index knows how to normalise.
const (
	ClassEmail = "email"
	ClassPhone = "phone"
)

// blindContext separates blind-index digests from any other use of the key.
const blindContext = "piivault blind index v1\x00"

// NormaliseEmail returns the form of an email address that is indexed:
// surrounding space trimmed, everything lower-cased (case of the local part
// is ignored by virtually every provider; dots and +tags are kept, since
// they are not ignored by all), trailing dots of the domain dropped. It
// fails for a string without exactly one
// "@" with text on both sides, or with spaces inside.
func NormaliseEmail(s string) (string, error) {
	s = strings.TrimRight(strings.ToLower(strings.TrimSpace(s)), ".")
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || at == len(s)-1 || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "", fmt.Errorf("normalise email: %w: not an address", ErrInvalid)
	}
	return s, nil
}

// NormalisePhone returns the form of a phone number that is indexed: "+"
// and digits only (E.164 shape). Spaces, dashes, dots, slashes and
// parentheses are dropped; a leading "00" becomes "+"; a number without an
// international prefix gets "+"+defaultCallingCode, with one national
// trunk "0" dropped, if defaultCallingCode is set, and stays bare digits
// otherwise. It fails for letters or fewer than 4 digits.
func NormalisePhone(s, defaultCallingCode string) (string, error) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/' || r == '\u00a0':
		default:
			return "", fmt.Errorf("normalise phone: %w: unexpected character", ErrInvalid)
		}
	}
	d := b.String()
	if !plus && strings.HasPrefix(d, "00") {
		d, plus = d[2:], true
	}
	if len(d) < 4 {
		return "", fmt.Errorf("normalise phone: %w: want 4 to 15 digits", ErrInvalid)
	}
	if !plus && defaultCallingCode != "" {
		d, plus = strings.TrimPrefix(defaultCallingCode, "+")+strings.TrimPrefix(d, "0"), true
	}
	if len(d) < 4 || len(d) > 15 {
		return "", fmt.Errorf("normalise phone: %w: want 4 to 15 digits", ErrInvalid)
	}
	if plus {
		return "+" + d, nil
	}
	return d, nil
}

// normalise dispatches on the class; ok is false for classes without a
// normaliser (they are not indexed).
func (s *Service) normalise(class, v string) (string, error) {
	switch class {
	case ClassEmail:
		return NormaliseEmail(v)
	case ClassPhone:
		return NormalisePhone(v, s.opts.DefaultCallingCode)
	}
	return "", fmt.Errorf("normalise: %w: class %q has no normaliser", ErrInvalid, class)
}

// BlindDigest is the blind-index digest of a normalised value:
// HMAC-SHA256(key, "piivault blind index v1" 0x00 class 0x00 value).
func BlindDigest(key []byte, class, normalised string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(blindContext))
	m.Write([]byte(class))
	m.Write([]byte{0})
	m.Write([]byte(normalised))
	return m.Sum(nil)
}

// blind returns the vault when it has the blind index (vault.CapBlindIndex)
// and a key is configured.
func (s *Service) blind() (vault.Store, error) {
	if s.opts.BlindIndexKey == nil {
		return nil, fmt.Errorf("blind index: %w", ErrBlindIndexOff)
	}
	if !s.store.Capabilities().Has(vault.CapBlindIndex) {
		return nil, fmt.Errorf("blind index: %w", ErrNotSupported)
	}
	return s.store, nil
}

// blindCatchUpTimeout bounds the indexing a lookup runs first; past it the
// lookup fails (503) rather than answer from an index that lags.
const blindCatchUpTimeout = 10 * time.Second

// FindSubjects returns the IDs of the subjects that have a value of class
// (email or phone) equal to value after normalisation, through the blind
// index; never values. Needs action export (it is the first step of an
// access request). The lookup is audited with the subjects found (the
// value is not). Before it looks, it indexes the events appended since the
// indexer's last run (IndexBlind, up to the log head, within
// blindCatchUpTimeout), so an acknowledged append is found at once.
func (s *Service) FindSubjects(ctx context.Context, a redaction.Access, class string, value vault.PII) ([]string, error) {
	if err := s.authorize(ctx, a, policy.ActionExport, ""); err != nil {
		return nil, err
	}
	bi, err := s.blind()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(s.opts.BlindIndexClasses, class) {
		return nil, fmt.Errorf("find subjects: %w: %w: class %q is not indexed", ErrInvalid, redaction.ErrInvalid, class)
	}
	norm, err := s.normalise(class, string(value.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("find subjects: %w: %w", err, redaction.ErrInvalid)
	}
	cctx, cancel := context.WithTimeout(ctx, blindCatchUpTimeout)
	_, err = s.IndexBlind(cctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("find subjects: catch up the index: %w: %w", redaction.ErrVaultUnavailable, err)
	}
	subs, err := bi.LookupBlindIndex(ctx, class, BlindDigest(s.opts.BlindIndexKey, class, norm))
	if err != nil {
		return nil, fmt.Errorf("find subjects: %w: %w", redaction.ErrVaultUnavailable, err)
	}
	recs := []auditRecord{{Effect: "find_subject", Reason: "blind index lookup by " + class}}
	for _, sub := range subs {
		recs = append(recs, auditRecord{Subject: sub, Effect: "find_subject", Reason: "blind index match by " + class})
	}
	if err := s.audit(ctx, a, policy.ActionExport, recs...); err != nil {
		return nil, err
	}
	if subs == nil {
		subs = []string{}
	}
	return subs, nil
}

// IndexBlind feeds the blind index from the log: for every event after its
// cursor (BlindIndexedThrough in $retention), values of the indexed classes are resolved,
// normalised, HMAC'd and put in the vault's index under their subject.
// Values that do not normalise are skipped; erased subjects too. The
// background worker calls it; it returns how many entries it wrote.
func (s *Service) IndexBlind(ctx context.Context) (int, error) {
	s.bixMu.Lock()
	defer s.bixMu.Unlock()
	bi, err := s.blind()
	if err != nil {
		return 0, err
	}
	from, n := s.bixFrom, 0
	if from == 0 { // first run since start: the cursor recorded in the log
		cursor, err := s.loadCursor(ctx, EventBlindIndexed)
		if err != nil {
			return 0, fmt.Errorf("blind index: %w", err)
		}
		from = max(cursor, 1)
	}
	for {
		evs, err := s.log.ReadAll(ctx, from, 1000, eventlog.Filter{})
		if err != nil {
			return n, fmt.Errorf("blind index: read: %w", err)
		}
		if len(evs) == 0 {
			s.bixFrom = from
			return n, nil
		}
		var refs []redaction.TokenRef
		user := false
		for _, e := range evs {
			if strings.HasPrefix(e.Stream, "$") {
				continue
			}
			user = true
			rs, err := redaction.EventTokens(e)
			if err != nil {
				continue
			}
			for _, r := range rs {
				if slices.Contains(s.opts.BlindIndexClasses, string(r.Class)) {
					refs = append(refs, r)
				}
			}
		}
		if len(refs) > 0 {
			toks := make([]vault.Token, len(refs))
			for i, r := range refs {
				toks[i] = r.Token
			}
			res, err := s.store.Resolve(ctx, toks)
			if err != nil {
				return n, fmt.Errorf("blind index: resolve: %w", err)
			}
			type put struct {
				subject, class string
				digest         []byte
			}
			var puts []put
			for i, r := range res {
				if r.State != vault.Found {
					continue
				}
				var str string
				if json.Unmarshal(r.Value.Reveal(), &str) != nil {
					continue
				}
				class := string(refs[i].Class)
				norm, err := s.normalise(class, str)
				if err != nil {
					continue
				}
				puts = append(puts, put{refs[i].Subject, class, BlindDigest(s.opts.BlindIndexKey, class, norm)})
			}
			// Each put is a durable commit; concurrent ones share fsyncs.
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				first error
				sem   = make(chan struct{}, 32)
			)
			for _, p := range puts {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					err := bi.PutBlindIndex(ctx, p.subject, p.class, p.digest)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						n++
					case errors.Is(err, vault.ErrErased):
					case first == nil:
						first = fmt.Errorf("blind index: put: %w", err)
					}
				}()
			}
			wg.Wait()
			if first != nil {
				return n, first
			}
		}
		from = evs[len(evs)-1].Position + 1
		if !user {
			continue // only system events (our own cursor among them)
		}
		body, _ := json.Marshal(retentionCursor{Position: from})
		if _, err := s.appendSystem(ctx, StreamRetention, eventlog.EventData{Type: EventBlindIndexed, Data: body}); err != nil {
			return n, fmt.Errorf("blind index: record cursor: %w", err)
		}
	}
}
