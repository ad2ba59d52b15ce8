package vault

import (
	"errors"
	"strings"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	tests := []string{"cust-42", "x", "ünï cödé", "a.b/c:d", strings.Repeat("s", MaxSubjectLen)}
	for _, sub := range tests {
		t.Run(sub[:min(len(sub), 16)], func(t *testing.T) {
			tok, err := NewToken(sub)
			if err != nil {
				t.Fatalf("NewToken(%q): %v", sub, err)
			}
			if !strings.HasPrefix(string(tok), TokenPrefix) {
				t.Fatalf("NewToken(%q) = %q, want prefix %q", sub, tok, TokenPrefix)
			}
			got, id, err := SplitToken(tok)
			if err != nil || got != sub {
				t.Fatalf("SplitToken(%q) = %q, %v; want %q", tok, got, err, sub)
			}
			if FormatToken(sub, id) != tok {
				t.Fatalf("FormatToken(SplitToken(%q)) = %q", tok, FormatToken(sub, id))
			}
		})
	}
}

func TestTokenFixed(t *testing.T) {
	var id [TokenIDSize]byte
	for i := range id {
		id[i] = byte(i)
	}
	const want = "pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0ODw"
	if got := FormatToken("cust-42", id); got != want {
		t.Fatalf("FormatToken = %q, want %q", got, want)
	}
	if sub, err := ParseToken(want); err != nil || sub != "cust-42" {
		t.Fatalf("ParseToken(%q) = %q, %v", want, sub, err)
	}
}

func TestTokensDiffer(t *testing.T) {
	seen := map[Token]bool{}
	for i := 0; i < 1000; i++ {
		tok, err := NewToken("s")
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok] {
			t.Fatalf("NewToken repeated %q", tok)
		}
		seen[tok] = true
	}
}

func TestParseTokenInvalid(t *testing.T) {
	good, _ := NewToken("cust-42")
	tests := []struct{ name, tok string }{
		{"empty", ""},
		{"no prefix", strings.TrimPrefix(string(good), TokenPrefix)},
		{"other version", "pv2." + strings.TrimPrefix(string(good), TokenPrefix)},
		{"no dot", "pv1.abc"},
		{"empty subject", "pv1..AAECAwQFBgcICQoLDA0ODw"},
		{"short id", "pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0OD"},
		{"long id", "pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0ODwA"},
		{"padding", "pv1.Y3VzdC00Mg==.AAECAwQFBgcICQoLDA0ODw"},
		{"std alphabet", "pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0O+w"},
		{"non canonical id", "pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0ODx"},
		{"control subject", "pv1.YQpi.AAECAwQFBgcICQoLDA0ODw"},
		{"extra dot", "pv1.Y3Vz.dC00Mg.AAECAwQFBgcICQoLDA0ODw"},
		{"suffix", string(good) + "x"},
		{"newline in subject", "pv1.Y3Vz\ndC00Mg.AAECAwQFBgcICQoLDA0ODw"},
		{"carriage return in id", "pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0OD\r"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if sub, err := ParseToken(Token(tc.tok)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseToken(%q) = %q, %v; want ErrInvalid", tc.tok, sub, err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		class   bool
		wantErr bool
	}{
		{"subject ok", "cust-42", false, false},
		{"subject empty", "", false, true},
		{"subject max", strings.Repeat("a", MaxSubjectLen), false, false},
		{"subject too long", strings.Repeat("a", MaxSubjectLen+1), false, true},
		{"subject nul", "a\x00", false, true},
		{"subject bad utf8", "\xff", false, true},
		{"class ok", "email", true, false},
		{"class too long", strings.Repeat("c", MaxClassLen+1), true, true},
		{"class tab", "e\tmail", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.class {
				err = ValidateClass(tc.in)
			} else {
				err = ValidateSubject(tc.in)
			}
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("validate(%q) = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if err != nil && tc.in != "" && strings.Contains(err.Error(), tc.in) {
				t.Fatalf("validate error %q repeats the input", err)
			}
		})
	}
}

// FuzzParseToken checks that parsing never panics and that whatever parses
// formats back to the same token (one spelling per token).
func FuzzParseToken(f *testing.F) {
	f.Add("pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0ODw")
	f.Add("pv1..")
	f.Add("")
	f.Add("pv1.YQ.AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		sub, id, err := SplitToken(Token(s))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("SplitToken(%q) error %v is not ErrInvalid", s, err)
			}
			return
		}
		if got := FormatToken(sub, id); string(got) != s {
			t.Fatalf("FormatToken(SplitToken(%q)) = %q", s, got)
		}
		if ValidateSubject(sub) != nil {
			t.Fatalf("SplitToken(%q) accepted an invalid subject", s)
		}
	})
}

// FuzzSplitTokenMemo checks that SplitTokenMemo agrees with SplitToken on
// a token split first without and then with its subject memoized.
func FuzzSplitTokenMemo(f *testing.F) {
	f.Add("pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0ODw", "pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0ODx")
	f.Add("pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0ODw", "pv1.Y3VzdC00Mg.AAECAwQFBgcICQoLDA0OD\n")
	f.Add("pv1.YQ.AAAAAAAAAAAAAAAAAAAAAA", "pv1.YQ..AAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, a, b string) {
		memo := map[string]string{}
		for _, s := range []string{a, b, a} {
			sub, id, err := SplitTokenMemo(Token(s), memo)
			wsub, wid, werr := SplitToken(Token(s))
			if sub != wsub || id != wid || (err == nil) != (werr == nil) {
				t.Fatalf("SplitTokenMemo(%q) = %q, %x, %v; SplitToken = %q, %x, %v", s, sub, id, err, wsub, wid, werr)
			}
		}
	})
}
