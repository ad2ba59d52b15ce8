package vaulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/piivault/piivault/vault"
)

// Harness is what RunWith needs to test a backend.
type Harness struct {
	// Open returns an empty, open store. Required.
	Open func(t *testing.T) vault.Store
	// SwapCiphertexts exchanges, in the backend's storage, the stored
	// ciphertexts of two tokens of the same subject and class, leaving
	// everything else as is. Optional: the tampering test skips without it.
	SwapCiphertexts func(t *testing.T, s vault.Store, a, b vault.Token)
	// Reopen closes s and opens the same storage again. Optional.
	Reopen func(t *testing.T, s vault.Store) vault.Store
}

// Run runs the conformance suite with only the Open hook.
func Run(t *testing.T, open func(t *testing.T) vault.Store) {
	t.Helper()
	RunWith(t, Harness{Open: open})
}

// RunWith runs the conformance suite.
func RunWith(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("vaulttest: Harness.Open is nil")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"PutResolve", testPutResolve},
		{"PutEmpty", testPutEmpty},
		{"TokenFormat", testTokenFormat},
		{"ResolveUnknown", testResolveUnknown},
		{"PutInvalid", testPutInvalid},
		{"PutAllOrNothing", testPutAllOrNothing},
		{"ValueShapes", testValueShapes},
		{"Erase", testErase},
		{"EraseIdempotent", testEraseIdempotent},
		{"EraseUnknownSubject", testEraseUnknownSubject},
		{"EraseInvalid", testEraseInvalid},
		{"ErasedRefusesPut", testErasedRefusesPut},
		{"ErasedRefusesMixedPut", testErasedRefusesMixedPut},
		{"Export", testExport},
		{"Describe", testDescribe},
		{"Delete", testDelete},
		{"Purge", testPurge},
		{"ConcurrentPut", testConcurrentPut},
		{"ConcurrentPutErase", testConcurrentPutErase},
		{"ResolveDuringErase", testResolveDuringErase},
		{"ErrorsHoldNoPII", testErrorsHoldNoPII},
		{"Tampering", testTampering},
		{"Reopen", testReopen},
		{"Closed", testClosed},
	}
	for _, tc := range append(tests, capabilityTests...) {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// Subject returns a random subject ID with a readable prefix.
func Subject(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// Value returns a random JSON string value, unique enough to be a canary.
func Value(prefix string) vault.PII {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return vault.NewPII([]byte(`"` + prefix + "-" + hex.EncodeToString(b[:]) + `"`))
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustPut(t *testing.T, s vault.Store, entries []vault.Entry) []vault.Token {
	t.Helper()
	toks, err := s.Put(ctxT(t), entries)
	if err != nil {
		t.Fatalf("Put(%d entries) error: %v", len(entries), err)
	}
	if len(toks) != len(entries) {
		t.Fatalf("Put(%d entries) returned %d tokens", len(entries), len(toks))
	}
	return toks
}

func mustResolve(t *testing.T, s vault.Store, toks []vault.Token) []vault.Resolved {
	t.Helper()
	res, err := s.Resolve(ctxT(t), toks)
	if err != nil {
		t.Fatalf("Resolve(%d tokens) error: %v", len(toks), err)
	}
	if len(res) != len(toks) {
		t.Fatalf("Resolve(%d tokens) returned %d results", len(toks), len(res))
	}
	for i, r := range res {
		if r.Token != toks[i] {
			t.Fatalf("Resolve result %d has token %q, want %q (order)", i, r.Token, toks[i])
		}
	}
	return res
}

func mustErase(t *testing.T, s vault.Store, subject, id string) vault.EraseResult {
	t.Helper()
	res, err := s.Erase(ctxT(t), subject, id)
	if err != nil {
		t.Fatalf("Erase(%q) error: %v", subject, err)
	}
	return res
}

// checkFound asserts r is Found with the entry's subject, class and value.
func checkFound(t *testing.T, r vault.Resolved, e vault.Entry) {
	t.Helper()
	if r.State != vault.Found {
		t.Fatalf("Resolve(%q).State = %v, want Found", r.Token, r.State)
	}
	if r.Subject != e.Subject || r.Class != e.Class {
		t.Fatalf("Resolve(%q) = subject %q class %q, want %q %q", r.Token, r.Subject, r.Class, e.Subject, e.Class)
	}
	if !bytes.Equal(r.Value.Reveal(), e.Value.Reveal()) {
		t.Fatalf("Resolve(%q) value = %q, want %q", r.Token, r.Value.Reveal(), e.Value.Reveal())
	}
}

func testPutResolve(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b := Subject("alice"), Subject("bob")
	entries := []vault.Entry{
		{Subject: a, Class: "email", Value: Value("a-mail")},
		{Subject: b, Class: "email", Value: Value("b-mail")},
		{Subject: a, Class: "address", Value: vault.NewPII([]byte(`{"street":"Main St 1","city":"Ghent"}`))},
		{Subject: a, Class: "email", Value: Value("a-mail2")},
	}
	toks := mustPut(t, s, entries)
	seen := map[vault.Token]bool{}
	for i, tok := range toks {
		if seen[tok] {
			t.Fatalf("Put returned token %q twice", tok)
		}
		seen[tok] = true
		sub, err := vault.ParseToken(tok)
		if err != nil || sub != entries[i].Subject {
			t.Fatalf("ParseToken(%q) = %q, %v; want %q", tok, sub, err, entries[i].Subject)
		}
	}
	// Reversed order, with a duplicate, in one batch.
	batch := []vault.Token{toks[3], toks[2], toks[1], toks[0], toks[1]}
	want := []vault.Entry{entries[3], entries[2], entries[1], entries[0], entries[1]}
	res := mustResolve(t, s, batch)
	for i := range res {
		checkFound(t, res[i], want[i])
	}
	// Same value twice gives two tokens.
	again := mustPut(t, s, []vault.Entry{entries[0]})
	if again[0] == toks[0] {
		t.Fatalf("Put of the same value twice returned the same token %q", again[0])
	}
}

func testPutEmpty(t *testing.T, h Harness) {
	s := h.Open(t)
	toks, err := s.Put(ctxT(t), nil)
	if err != nil || len(toks) != 0 {
		t.Fatalf("Put(nil) = %v, %v; want no tokens, nil", toks, err)
	}
	res, err := s.Resolve(ctxT(t), nil)
	if err != nil || len(res) != 0 {
		t.Fatalf("Resolve(nil) = %v, %v; want no results, nil", res, err)
	}
}

func testTokenFormat(t *testing.T, h Harness) {
	s := h.Open(t)
	subjects := []string{Subject("plain"), "x", "ünïcödé-" + Subject("u"), "with.dots/and:colons " + Subject("d"), strings.Repeat("s", vault.MaxSubjectLen)}
	var entries []vault.Entry
	for _, sub := range subjects {
		entries = append(entries, vault.Entry{Subject: sub, Class: "name", Value: Value("n")})
	}
	// "x" and the long subject are fixed IDs: make them unique per run for
	// backends that persist across tests.
	entries[1].Subject = "x" + Subject("")
	entries[4].Subject = Subject("")[:17] + strings.Repeat("s", vault.MaxSubjectLen-17)
	toks := mustPut(t, s, entries)
	for i, tok := range toks {
		if !strings.HasPrefix(string(tok), vault.TokenPrefix) {
			t.Fatalf("token %q lacks prefix %q", tok, vault.TokenPrefix)
		}
		sub, id, err := vault.SplitToken(tok)
		if err != nil || sub != entries[i].Subject {
			t.Fatalf("SplitToken(%q) = %q, %v; want %q", tok, sub, err, entries[i].Subject)
		}
		if id == ([vault.TokenIDSize]byte{}) {
			t.Fatalf("token %q has an all-zero id", tok)
		}
	}
	checkFound(t, mustResolve(t, s, toks[4:5])[0], entries[4])
}

func testResolveUnknown(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("known")
	toks := mustPut(t, s, []vault.Entry{{Subject: sub, Class: "email", Value: Value("v")}})
	never, err := vault.NewToken(sub) // well formed, right subject, never stored
	if err != nil {
		t.Fatal(err)
	}
	other, _ := vault.NewToken(Subject("nobody"))
	batch := []vault.Token{never, other, "", "garbage", "pv1..", vault.Token(string(toks[0]) + "x"), toks[0]}
	res := mustResolve(t, s, batch)
	for i, r := range res[:len(res)-1] {
		if r.State != vault.Unknown {
			t.Fatalf("Resolve(%q).State = %v, want Unknown", batch[i], r.State)
		}
		if !r.Value.IsZero() {
			t.Fatalf("Resolve(%q) carries a value for state %v", batch[i], r.State)
		}
	}
	if res[0].Subject != sub {
		t.Fatalf("Resolve(unknown token).Subject = %q, want %q (from the token)", res[0].Subject, sub)
	}
	if res[len(res)-1].State != vault.Found {
		t.Fatalf("Resolve(stored token).State = %v, want Found", res[len(res)-1].State)
	}
}

func testPutInvalid(t *testing.T, h Harness) {
	s := h.Open(t)
	ok := Subject("ok")
	tests := []struct {
		name  string
		entry vault.Entry
	}{
		{"empty subject", vault.Entry{Subject: "", Class: "email", Value: Value("v")}},
		{"long subject", vault.Entry{Subject: strings.Repeat("a", vault.MaxSubjectLen+1), Class: "email", Value: Value("v")}},
		{"control in subject", vault.Entry{Subject: "a\nb", Class: "email", Value: Value("v")}},
		{"bad utf8 subject", vault.Entry{Subject: "a\xffb", Class: "email", Value: Value("v")}},
		{"empty class", vault.Entry{Subject: ok, Class: "", Value: Value("v")}},
		{"long class", vault.Entry{Subject: ok, Class: strings.Repeat("c", vault.MaxClassLen+1), Value: Value("v")}},
		{"empty value", vault.Entry{Subject: ok, Class: "email"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toks, err := s.Put(ctxT(t), []vault.Entry{tc.entry})
			if !errors.Is(err, vault.ErrInvalid) {
				t.Fatalf("Put(%s) = %v, %v; want ErrInvalid", tc.name, toks, err)
			}
		})
	}
}

func testPutAllOrNothing(t *testing.T, h Harness) {
	s := h.Open(t)
	good := Subject("good")
	_, err := s.Put(ctxT(t), []vault.Entry{
		{Subject: good, Class: "email", Value: Value("v")},
		{Subject: good, Class: "", Value: Value("v")},
	})
	if !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("Put(valid, invalid) error = %v, want ErrInvalid", err)
	}
	info, err := s.Describe(ctxT(t), good)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if len(info.Tokens) != 0 {
		t.Fatalf("after a failed Put, Describe(%q) lists %d tokens, want 0", good, len(info.Tokens))
	}
}

func testValueShapes(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("shapes")
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	values := [][]byte{
		[]byte(`"x"`),
		[]byte(`42`),
		[]byte(`{"a":[1,2,{"b":null}],"c":"é😀"}`),
		[]byte("\"\\u0000 binary-ish \xe2\x82\xac\""),
		append(append([]byte(`"`), big...), '"'),
	}
	var entries []vault.Entry
	for _, v := range values {
		entries = append(entries, vault.Entry{Subject: sub, Class: "blob", Value: vault.NewPII(v)})
	}
	toks := mustPut(t, s, entries)
	for i, r := range mustResolve(t, s, toks) {
		checkFound(t, r, entries[i])
	}
}

func testErase(t *testing.T, h Harness) {
	s := h.Open(t)
	gone, kept := Subject("gone"), Subject("kept")
	var entries []vault.Entry
	for i := 0; i < 5; i++ {
		entries = append(entries,
			vault.Entry{Subject: gone, Class: "email", Value: Value("g")},
			vault.Entry{Subject: kept, Class: "email", Value: Value("k")})
	}
	toks := mustPut(t, s, entries)
	before := time.Now().Add(-time.Minute)
	res := mustErase(t, s, gone, "erasure-1")
	if res.Subject != gone || res.ErasureID != "erasure-1" || res.AlreadyErased {
		t.Fatalf("Erase = %+v, want subject %q, id erasure-1, not already erased", res, gone)
	}
	if res.ValuesDeleted != 5 || !res.DEKDestroyed {
		t.Fatalf("Erase = %+v, want 5 values deleted and the DEK destroyed", res)
	}
	if res.ErasedAt.Before(before) || res.ErasedAt.After(time.Now().Add(time.Minute)) {
		t.Fatalf("Erase.ErasedAt = %v, want about now", res.ErasedAt)
	}
	for i, r := range mustResolve(t, s, toks) {
		if entries[i].Subject == gone {
			if r.State != vault.Erased || !r.Value.IsZero() || r.Subject != gone {
				t.Fatalf("Resolve(erased %q) = state %v subject %q, want Erased %q without value", r.Token, r.State, r.Subject, gone)
			}
		} else {
			checkFound(t, r, entries[i])
		}
	}
	// A token of the erased subject that never existed is Erased too: the
	// subject's state answers first.
	never, _ := vault.NewToken(gone)
	if r := mustResolve(t, s, []vault.Token{never})[0]; r.State != vault.Erased {
		t.Fatalf("Resolve(never-stored token of erased subject).State = %v, want Erased", r.State)
	}
}

func testEraseIdempotent(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("twice")
	mustPut(t, s, []vault.Entry{{Subject: sub, Class: "email", Value: Value("v")}, {Subject: sub, Class: "phone", Value: Value("p")}})
	first := mustErase(t, s, sub, "e-1")
	second := mustErase(t, s, sub, "e-2")
	if !second.AlreadyErased {
		t.Fatalf("second Erase = %+v, want AlreadyErased", second)
	}
	if second.ErasureID != first.ErasureID || !second.ErasedAt.Equal(first.ErasedAt) {
		t.Fatalf("second Erase = id %q at %v, want the first erasure's id %q at %v", second.ErasureID, second.ErasedAt, first.ErasureID, first.ErasedAt)
	}
	if second.ValuesDeleted != 0 {
		t.Fatalf("second Erase deleted %d values, want 0", second.ValuesDeleted)
	}
	if first.ValuesDeleted != 2 {
		t.Fatalf("first Erase deleted %d values, want 2", first.ValuesDeleted)
	}
}

func testEraseUnknownSubject(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("never")
	res := mustErase(t, s, sub, "e-unknown")
	if res.AlreadyErased || res.ValuesDeleted != 0 || res.DEKDestroyed {
		t.Fatalf("Erase(unknown subject) = %+v, want a fresh tombstone with nothing deleted", res)
	}
	_, err := s.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: Value("v")}})
	if !errors.Is(err, vault.ErrErased) {
		t.Fatalf("Put after Erase(unknown subject) error = %v, want ErrErased", err)
	}
	info, err := s.Describe(ctxT(t), sub)
	if err != nil || !info.Erased || info.ErasureID != "e-unknown" {
		t.Fatalf("Describe = %+v, %v; want erased with id e-unknown", info, err)
	}
}

func testEraseInvalid(t *testing.T, h Harness) {
	s := h.Open(t)
	for _, tc := range []struct{ name, subject, id string }{
		{"empty subject", "", "e"},
		{"empty erasure id", Subject("s"), ""},
		{"control subject", "a\x00b", "e"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Erase(ctxT(t), tc.subject, tc.id); !errors.Is(err, vault.ErrInvalid) {
				t.Fatalf("Erase(%q, %q) error = %v, want ErrInvalid", tc.subject, tc.id, err)
			}
		})
	}
}

func testErasedRefusesPut(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("refuse")
	mustPut(t, s, []vault.Entry{{Subject: sub, Class: "email", Value: Value("v")}})
	mustErase(t, s, sub, "e")
	toks, err := s.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: Value("v2")}})
	if !errors.Is(err, vault.ErrErased) || len(toks) != 0 {
		t.Fatalf("Put for erased subject = %v, %v; want no tokens, ErrErased", toks, err)
	}
	info, err := s.Describe(ctxT(t), sub)
	if err != nil || len(info.Tokens) != 0 {
		t.Fatalf("Describe(erased) = %+v, %v; want no tokens", info, err)
	}
}

func testErasedRefusesMixedPut(t *testing.T, h Harness) {
	s := h.Open(t)
	gone, fresh := Subject("gone"), Subject("fresh")
	mustErase(t, s, gone, "e")
	_, err := s.Put(ctxT(t), []vault.Entry{
		{Subject: fresh, Class: "email", Value: Value("f")},
		{Subject: gone, Class: "email", Value: Value("g")},
	})
	if !errors.Is(err, vault.ErrErased) {
		t.Fatalf("Put(fresh, erased) error = %v, want ErrErased", err)
	}
	info, err := s.Describe(ctxT(t), fresh)
	if err != nil || len(info.Tokens) != 0 {
		t.Fatalf("Describe(fresh) after refused mixed Put = %+v, %v; want nothing stored", info, err)
	}
}

func testExport(t *testing.T, h Harness) {
	s := h.Open(t)
	sub, other := Subject("export"), Subject("other")
	entries := []vault.Entry{
		{Subject: sub, Class: "email", Value: Value("e")},
		{Subject: other, Class: "email", Value: Value("o")},
		{Subject: sub, Class: "address", Value: Value("a")},
	}
	start := time.Now().Add(-time.Minute)
	toks := mustPut(t, s, entries)
	recs, err := s.Export(ctxT(t), sub)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if len(recs) != 2 {
		t.Fatalf("Export returned %d records, want 2", len(recs))
	}
	got := map[vault.Token]vault.Record{}
	for _, r := range recs {
		got[r.Token] = r
	}
	for _, i := range []int{0, 2} {
		r, ok := got[toks[i]]
		if !ok {
			t.Fatalf("Export lacks token %q", toks[i])
		}
		if r.Class != entries[i].Class || !bytes.Equal(r.Value.Reveal(), entries[i].Value.Reveal()) {
			t.Fatalf("Export record %q = class %q value %q, want %q %q", r.Token, r.Class, r.Value.Reveal(), entries[i].Class, entries[i].Value.Reveal())
		}
		if r.CreatedAt.Before(start) || r.CreatedAt.After(time.Now().Add(time.Minute)) {
			t.Fatalf("Export record CreatedAt = %v, want about now", r.CreatedAt)
		}
	}
	none, err := s.Export(ctxT(t), Subject("nobody"))
	if err != nil || len(none) != 0 {
		t.Fatalf("Export(unknown) = %d records, %v; want 0, nil", len(none), err)
	}
	mustErase(t, s, sub, "e")
	after, err := s.Export(ctxT(t), sub)
	if err != nil || len(after) != 0 {
		t.Fatalf("Export(erased) = %d records, %v; want 0, nil", len(after), err)
	}
	if _, err := s.Export(ctxT(t), ""); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("Export(\"\") error = %v, want ErrInvalid", err)
	}
}

func testDescribe(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("describe")
	entries := []vault.Entry{{Subject: sub, Class: "email", Value: Value("e")}, {Subject: sub, Class: "phone", Value: Value("p")}}
	toks := mustPut(t, s, entries)
	info, err := s.Describe(ctxT(t), sub)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if info.Subject != sub || info.Erased || len(info.Tokens) != 2 {
		t.Fatalf("Describe = %+v, want subject %q, not erased, 2 tokens", info, sub)
	}
	classes := map[vault.Token]string{}
	for _, ti := range info.Tokens {
		classes[ti.Token] = ti.Class
		if ti.CreatedAt.IsZero() {
			t.Fatalf("Describe token %q has zero CreatedAt", ti.Token)
		}
	}
	for i, tok := range toks {
		if classes[tok] != entries[i].Class {
			t.Fatalf("Describe class of %q = %q, want %q", tok, classes[tok], entries[i].Class)
		}
	}
	unknown, err := s.Describe(ctxT(t), Subject("nobody"))
	if err != nil || unknown.Erased || len(unknown.Tokens) != 0 {
		t.Fatalf("Describe(unknown) = %+v, %v; want empty, not erased", unknown, err)
	}
	mustErase(t, s, sub, "erasure-d")
	erased, err := s.Describe(ctxT(t), sub)
	if err != nil || !erased.Erased || erased.ErasureID != "erasure-d" || erased.ErasedAt.IsZero() || len(erased.Tokens) != 0 {
		t.Fatalf("Describe(erased) = %+v, %v; want erased, id erasure-d, ErasedAt set, no tokens", erased, err)
	}
	if _, err := s.Describe(ctxT(t), ""); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("Describe(\"\") error = %v, want ErrInvalid", err)
	}
}

func testDelete(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("delete")
	entries := []vault.Entry{{Subject: sub, Class: "email", Value: Value("a")}, {Subject: sub, Class: "email", Value: Value("b")}, {Subject: sub, Class: "email", Value: Value("c")}}
	toks := mustPut(t, s, entries)
	never, _ := vault.NewToken(Subject("nobody"))
	if err := s.Delete(ctxT(t), []vault.Token{toks[0], toks[2], never}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	res := mustResolve(t, s, toks)
	if res[0].State != vault.Unknown || res[2].State != vault.Unknown {
		t.Fatalf("after Delete, states = %v, %v; want Unknown", res[0].State, res[2].State)
	}
	checkFound(t, res[1], entries[1])
	if err := s.Delete(ctxT(t), []vault.Token{toks[0]}); err != nil {
		t.Fatalf("Delete twice: %v", err)
	}
	if err := s.Delete(ctxT(t), nil); err != nil {
		t.Fatalf("Delete(nil): %v", err)
	}
	// The subject is not erased: it may get new values.
	mustPut(t, s, []vault.Entry{{Subject: sub, Class: "email", Value: Value("d")}})
}

func testPurge(t *testing.T, h Harness) {
	s := h.Open(t)
	gone, kept := Subject("gone"), Subject("kept")
	entries := []vault.Entry{{Subject: gone, Class: "email", Value: Value("g")}, {Subject: kept, Class: "email", Value: Value("k")}}
	toks := mustPut(t, s, entries)
	mustErase(t, s, gone, "e")
	rep, err := s.Purge(ctxT(t))
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if rep.DoneAt.Before(rep.StartedAt) {
		t.Fatalf("Purge report %+v ends before it starts", rep)
	}
	res := mustResolve(t, s, toks)
	if res[0].State != vault.Erased {
		t.Fatalf("after Purge, erased token state = %v, want Erased", res[0].State)
	}
	checkFound(t, res[1], entries[1])
	if _, err := s.Put(ctxT(t), entries[:1]); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("after Purge, Put for erased subject error = %v, want ErrErased", err)
	}
	if _, err := s.Purge(ctxT(t)); err != nil {
		t.Fatalf("second Purge: %v", err)
	}
}

func testConcurrentPut(t *testing.T, h Harness) {
	s := h.Open(t)
	const workers, per = 16, 10
	subjects := []string{Subject("c0"), Subject("c1"), Subject("c2")}
	type put struct {
		e   vault.Entry
		tok vault.Token
	}
	var mu sync.Mutex
	var all []put
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				// Several workers write the same subjects at once, so the
				// first DEK of a subject is created under contention.
				es := []vault.Entry{
					{Subject: subjects[(w+i)%3], Class: "email", Value: Value("c")},
					{Subject: subjects[(w+i+1)%3], Class: "phone", Value: Value("c")},
				}
				toks, err := s.Put(context.Background(), es)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for j := range es {
					all = append(all, put{es[j], toks[j]})
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Put: %v", err)
	}
	toks := make([]vault.Token, len(all))
	for i, p := range all {
		toks[i] = p.tok
	}
	for i, r := range mustResolve(t, s, toks) {
		checkFound(t, r, all[i].e)
	}
}

func testConcurrentPutErase(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("race")
	const workers = 8
	var mu sync.Mutex
	var stored []vault.Token
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var unexpected error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				toks, err := s.Put(context.Background(), []vault.Entry{{Subject: sub, Class: "email", Value: Value("r")}})
				mu.Lock()
				switch {
				case err == nil:
					stored = append(stored, toks...)
				case errors.Is(err, vault.ErrErased):
				default:
					unexpected = err
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	var stopOnce sync.Once
	halt := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	defer halt() // on every way out, t.Fatal included
	time.Sleep(50 * time.Millisecond)
	mustErase(t, s, sub, "race")
	// Every Put that starts after Erase returned must fail.
	if _, err := s.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: Value("late")}}); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("Put after Erase error = %v, want ErrErased", err)
	}
	halt()
	if unexpected != nil {
		t.Fatalf("Put during Erase failed with %v, want success or ErrErased", unexpected)
	}
	if len(stored) == 0 {
		t.Logf("no Put succeeded before Erase; the race was not exercised")
	}
	// No acknowledged value survives the erasure, whichever side of it the
	// Put landed.
	for _, r := range mustResolve(t, s, stored) {
		if r.State != vault.Erased {
			t.Fatalf("token %q stored around Erase resolves to %v, want Erased", r.Token, r.State)
		}
	}
	info, err := s.Describe(ctxT(t), sub)
	if err != nil || len(info.Tokens) != 0 {
		t.Fatalf("Describe after racing Erase = %d tokens, %v; want none", len(info.Tokens), err)
	}
}

func testErrorsHoldNoPII(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("nopii")
	secret := Value("secret-canary")
	mustErase(t, s, sub, "e")
	_, err := s.Put(ctxT(t), []vault.Entry{{Subject: sub, Class: "email", Value: secret}})
	if err == nil {
		t.Fatal("Put for erased subject succeeded")
	}
	_, err2 := s.Put(ctxT(t), []vault.Entry{{Subject: Subject("x"), Class: "", Value: secret}})
	for _, e := range []error{err, err2} {
		if e == nil {
			t.Fatal("want an error")
		}
		msg := fmt.Sprintf("%v %+v %#v", e, e, e)
		if strings.Contains(msg, string(secret.Reveal()[1:len(secret.Reveal())-1])) {
			t.Fatalf("error %q holds the value", msg)
		}
	}
}

func testTampering(t *testing.T, h Harness) {
	if h.SwapCiphertexts == nil {
		t.Skip("backend gave no SwapCiphertexts hook")
	}
	s := h.Open(t)
	sub := Subject("tamper")
	entries := []vault.Entry{{Subject: sub, Class: "email", Value: Value("a")}, {Subject: sub, Class: "email", Value: Value("b")}}
	toks := mustPut(t, s, entries)
	h.SwapCiphertexts(t, s, toks[0], toks[1])
	for _, tok := range toks {
		res, err := s.Resolve(ctxT(t), []vault.Token{tok})
		if !errors.Is(err, vault.ErrTampered) {
			t.Fatalf("Resolve(swapped %q) = %+v, %v; want ErrTampered", tok, res, err)
		}
		for _, r := range res {
			if !r.Value.IsZero() {
				t.Fatalf("Resolve(swapped) returned a value with the error")
			}
		}
	}
	if _, err := s.Export(ctxT(t), sub); !errors.Is(err, vault.ErrTampered) {
		t.Fatalf("Export(swapped) error = %v, want ErrTampered", err)
	}
}

func testReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("backend gave no Reopen hook")
	}
	s := h.Open(t)
	gone, kept := Subject("gone"), Subject("kept")
	entries := []vault.Entry{{Subject: gone, Class: "email", Value: Value("g")}, {Subject: kept, Class: "email", Value: Value("k")}}
	toks := mustPut(t, s, entries)
	mustErase(t, s, gone, "e-reopen")
	s = h.Reopen(t, s)
	res := mustResolve(t, s, toks)
	if res[0].State != vault.Erased {
		t.Fatalf("after reopen, erased token = %v, want Erased", res[0].State)
	}
	checkFound(t, res[1], entries[1])
	if _, err := s.Put(ctxT(t), entries[:1]); !errors.Is(err, vault.ErrErased) {
		t.Fatalf("after reopen, Put for erased subject error = %v, want ErrErased", err)
	}
}

func testClosed(t *testing.T, h Harness) {
	s := h.Open(t)
	sub := Subject("closed")
	toks := mustPut(t, s, []vault.Entry{{Subject: sub, Class: "email", Value: Value("v")}})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := ctxT(t)
	if _, err := s.Put(ctx, []vault.Entry{{Subject: sub, Class: "email", Value: Value("v")}}); !errors.Is(err, vault.ErrClosed) {
		t.Fatalf("Put after Close error = %v, want ErrClosed", err)
	}
	if _, err := s.Resolve(ctx, toks); !errors.Is(err, vault.ErrClosed) {
		t.Fatalf("Resolve after Close error = %v, want ErrClosed", err)
	}
	if _, err := s.Erase(ctx, sub, "e"); !errors.Is(err, vault.ErrClosed) {
		t.Fatalf("Erase after Close error = %v, want ErrClosed", err)
	}
	_ = s.Close() // must not panic
}

// testResolveDuringErase checks that a reader racing with an erasure sees
// each stored token as Found or Erased, never Unknown (neither the value
// nor the tombstone), and Erased once Erase has returned.
func testResolveDuringErase(t *testing.T, h Harness) {
	s := h.Open(t)
	for round := 0; round < 5; round++ {
		sub := Subject("rde")
		var entries []vault.Entry
		for i := 0; i < 20; i++ {
			entries = append(entries, vault.Entry{Subject: sub, Class: "email", Value: Value("v")})
		}
		toks := mustPut(t, s, entries)
		mustResolve(t, s, toks) // warm any cache
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var stopOnce sync.Once
		halt := func() {
			stopOnce.Do(func() { close(stop) })
			wg.Wait()
		}
		// Stop the readers on every way out, t.Fatal included.
		defer halt()
		var mu sync.Mutex
		var bad []string
		nbad := 0
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					res, err := s.Resolve(context.Background(), toks)
					mu.Lock()
					note := func(msg string) {
						nbad++
						if len(bad) < 10 {
							bad = append(bad, msg)
						}
					}
					if err != nil {
						note(err.Error())
					}
					for _, r := range res {
						if r.State != vault.Found && r.State != vault.Erased {
							note(fmt.Sprintf("token %s state %v", r.Token, r.State))
						}
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(5 * time.Millisecond)
		mustErase(t, s, sub, "rde")
		for _, r := range mustResolve(t, s, toks) {
			if r.State != vault.Erased {
				t.Fatalf("after Erase returned, %q resolves to %v, want Erased", r.Token, r.State)
			}
		}
		halt()
		if nbad > 0 {
			t.Fatalf("Resolve racing with Erase: %d bad results, first: %s", nbad, bad[0])
		}
	}
}
