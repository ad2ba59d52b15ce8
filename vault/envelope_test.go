package vault

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := NewDEK()
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := NewToken("cust-42")
	pt := []byte(`"alice@example.com"`)
	sealed, err := k.Seal("cust-42", tok, "email", pt)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != len(pt)+SealOverhead {
		t.Fatalf("len(Seal) = %d, want %d", len(sealed), len(pt)+SealOverhead)
	}
	if bytes.Contains(sealed, pt) {
		t.Fatal("sealed bytes hold the plaintext")
	}
	got, err := k.Open("cust-42", tok, "email", sealed)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v; want %q", got, err, pt)
	}
	again, _ := k.Seal("cust-42", tok, "email", pt)
	if bytes.Equal(again, sealed) {
		t.Fatal("two Seals of the same value are equal: nonce reused")
	}
	k2, err := ParseDEK(k.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k2.Open("cust-42", tok, "email", sealed); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open with parsed DEK = %q, %v", got, err)
	}
}

func TestAppendOpen(t *testing.T) {
	k, _ := NewDEK()
	var o Opener
	var dst []byte
	var want []byte
	for i, v := range []string{`"alice@example.com"`, `{"street":"Main Street 1"}`, `42`} {
		tok, _ := NewToken("cust-42")
		sealed, _ := k.Seal("cust-42", tok, "c", []byte(v))
		var err error
		if dst, err = o.AppendOpen(dst, k, "cust-42", tok, "c", sealed); err != nil {
			t.Fatalf("AppendOpen #%d: %v", i, err)
		}
		want = append(want, v...)
	}
	if !bytes.Equal(dst, want) {
		t.Fatalf("AppendOpen appended %q, want %q", dst, want)
	}
}

func TestOpenTampered(t *testing.T) {
	k, _ := NewDEK()
	other, _ := NewDEK()
	tok, _ := NewToken("cust-42")
	tok2, _ := NewToken("cust-42")
	sealed, _ := k.Seal("cust-42", tok, "email", []byte(`"v"`))
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name    string
		k       *DEK
		subject string
		tok     Token
		class   string
		sealed  []byte
	}{
		{"other token", k, "cust-42", tok2, "email", sealed},
		{"other subject", k, "cust-43", tok, "email", sealed},
		{"other class", k, "cust-42", tok, "phone", sealed},
		{"other key", other, "cust-42", tok, "email", sealed},
		{"flipped bit", k, "cust-42", tok, "email", flipped},
		{"truncated", k, "cust-42", tok, "email", sealed[:SealOverhead-1]},
		{"bad version", k, "cust-42", tok, "email", append([]byte{2}, sealed[1:]...)},
		{"empty", k, "cust-42", tok, "email", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.k.Open(tc.subject, tc.tok, tc.class, tc.sealed); !errors.Is(err, ErrTampered) {
				t.Fatalf("Open = %q, %v; want ErrTampered", got, err)
			}
			var o Opener
			dst := []byte("kept")
			if got, err := o.AppendOpen(dst, tc.k, tc.subject, tc.tok, tc.class, tc.sealed); !errors.Is(err, ErrTampered) || string(got) != "kept" {
				t.Fatalf("AppendOpen = %q, %v; want %q, ErrTampered", got, err, "kept")
			}
		})
	}
}

func TestAADUnambiguous(t *testing.T) {
	a := appendAAD(nil, "ab", "c", "d")
	b := appendAAD(nil, "a", "bc", "d")
	if bytes.Equal(a, b) {
		t.Fatal("AAD of different triples is equal")
	}
}

func TestParseDEKSize(t *testing.T) {
	if _, err := ParseDEK(make([]byte, 16)); !errors.Is(err, ErrTampered) {
		t.Fatalf("ParseDEK(16 bytes) error = %v, want ErrTampered", err)
	}
}

func BenchmarkOpen(b *testing.B) {
	k, _ := NewDEK()
	tok, _ := NewToken("cust-42")
	sealed, _ := k.Seal("cust-42", tok, "email", []byte(`"alice@example.com"`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open("cust-42", tok, "email", sealed); err != nil {
			b.Fatal(err)
		}
	}
}
