package redaction

import "testing"

func TestDetectPII(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"jane@example.com", KindEmail},
		{"write to jane.doe+x@mail.example.co.uk please", KindEmail},
		{"+44 20 7946 0958", KindPhone},
		{"+14155551234", KindPhone},
		{"(415) 555-1234", KindPhone},
		{"415-555-1234", KindPhone},
		{"call 415.555.1234 now", KindPhone},
		{"4111 1111 1111 1111", KindPaymentCard},
		{"4111-1111-1111-1111", KindPaymentCard},
		{"378282246310005", KindPaymentCard},
		{"4111111111111112", ""}, // Luhn fails
		{"GB82 WEST 1234 5698 7654 32", KindIBAN},
		{"DE89370400440532013000", KindIBAN},
		{"DE89370400440532013001", ""}, // mod-97 fails
		{"client 203.0.113.7 connected", KindIPAddress},
		{"2001:db8::8a2e:370:7334", KindIPAddress},
		{"123-45-6789", KindNationalID},
		{"AB123456C", KindNationalID},
		{"AB 12 34 56 C", KindNationalID},
		{"12345678Z", KindNationalID},
		// things services carry everywhere
		{"550e8400-e29b-41d4-a716-446655440000", ""},
		{"2024-01-31T12:30:45Z", ""},
		{"2024-01-31", ""},
		{"31.01.2024", ""},
		{"1.2.3", ""},
		{"127.0.0.1", ""},
		{"::1", ""},
		{"std::map", ""},
		{"12:30:45", ""},
		{"order-1234567890", ""},
		{"1706700000", ""},
		{"v1.22.3", ""},
		{"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", ""},
		{"@handle", ""},
		{"a@b", ""},
		{"12345678A", ""}, // DNI letter does not match
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := DetectPII(tt.in); got != tt.want {
				t.Errorf("DetectPII(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDetectNumber(t *testing.T) {
	for in, want := range map[string]string{
		"4111111111111111":    KindPaymentCard,
		"1706700000000":       "",
		"1234567890123456789": "",
		"42":                  "",
		"4111111111111111.5":  "",
	} {
		if got := detectNumber([]byte(in)); got != want {
			t.Errorf("detectNumber(%s) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDetectPII(f *testing.F) {
	f.Add("jane@example.com 4111 1111 1111 1111 GB82 WEST 1234 5698 7654 32")
	f.Fuzz(func(t *testing.T, s string) { _ = DetectPII(s) })
}
