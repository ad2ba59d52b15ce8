package redaction

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestLeakGuardSeesKeysAndFoldedText is #15 item 2: an object key that
// looks like personal data is refused (in reject and tokenize mode alike,
// since a token cannot stand in for a key), and text that hides an address
// or a number behind a NUL, a zero-width space, an invalid byte, fullwidth
// forms or another script's digits is seen through.
func TestLeakGuardSeesKeysAndFoldedText(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, envConfig{})
	svc := env.svc
	mustPutSchema(t, svc, "Rejecting", `{"subject":"/customerId","fields":[],"leakGuard":"reject"}`)
	mustPutSchema(t, svc, "Catching", `{"subject":"/customerId","fields":[],"leakGuard":"tokenize"}`)
	mustPutSchema(t, svc, "Tolerant", `{"subject":"/customerId","fields":[],"leakGuard":"allow"}`)
	tests := []struct {
		name, typ, data, meta string
		key                   bool
		path                  string
	}{
		{"key in data", "Rejecting", `{"customerId":"c","data":{"canary-key@example.com":1}}`, "", true, "/data"},
		{"key in data, tokenize", "Catching", `{"customerId":"c","data":{"canary-key@example.com":1}}`, "", true, "/data"},
		{"top-level key, no schema", "Unknown", `{"canary-key@example.com":true}`, "", true, ""},
		{"key in metadata", "Catching", `{"customerId":"c"}`, `{"by":{"+44 20 7946 0958":"x"}}`, true, "/by"},
		{"card as key", "Catching", `{"customerId":"c","m":{"4111111111111111":1}}`, "", true, "/m"},
		{"escaped key", "Rejecting", `{"customerId":"c","d":{"canary\u002dkey@example.com":1}}`, "", true, "/d"},
		{"NUL before @", "Rejecting", `{"customerId":"c","x":"canary-key\u0000@example.com"}`, "", false, "/x"},
		{"zero-width space before @", "Rejecting", `{"customerId":"c","x":"canary-key\u200b@example.com"}`, "", false, "/x"},
		{"raw zero-width space", "Rejecting", "{\"customerId\":\"c\",\"x\":\"canary-key\u200b@example.com\"}", "", false, "/x"},
		{"fullwidth at", "Rejecting", `{"customerId":"c","x":"canary-key＠example.com"}`, "", false, "/x"},
		{"fullwidth at in key", "Catching", `{"customerId":"c","x":{"canary-key＠example.com":0}}`, "", true, "/x"},
		{"invalid byte before @", "Rejecting", "{\"customerId\":\"c\",\"x\":\"canary-key\xff@example.com\"}", "", false, "/x"},
		{"fullwidth phone", "Rejecting", `{"customerId":"c","x":"＋４４ ２０ ７９４６ ０９５８"}`, "", false, "/x"},
		{"arabic-indic phone", "Rejecting", `{"customerId":"c","x":"+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨"}`, "", false, "/x"},
		{"non-breaking hyphens in phone", "Rejecting", `{"customerId":"c","x":"555‑867‑5309‑1"}`, "", false, "/x"},
		{"card split by zero-width joiners", "Rejecting", `{"customerId":"c","x":"4111\u200d1111\u200d1111\u200d1111"}`, "", false, "/x"},
		{"IBAN with soft hyphens", "Rejecting", `{"customerId":"c","x":"DE89\u00ad3704\u00ad0044\u00ad0532\u00ad0130\u00ad00"}`, "", false, "/x"},
		{"fullwidth IBAN", "Rejecting", `{"customerId":"c","x":"ＤＥ８９３７０４００４４０５３２０１３０００"}`, "", false, "/x"},
		{"IP with zero-width space", "Rejecting", `{"customerId":"c","x":"203.0.113\u200b.9"}`, "", false, "/x"},
		{"SSN with BOM", "Rejecting", `{"customerId":"c","x":"123-45\ufeff-6789"}`, "", false, "/x"},
		{"NINO fullwidth", "Rejecting", `{"customerId":"c","x":"ＡＢ１２３４５６Ｃ"}`, "", false, "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := EventInput{Type: tt.typ, Data: json.RawMessage(tt.data)}
			if tt.meta != "" {
				in.Metadata = json.RawMessage(tt.meta)
			}
			stream := "fold-" + strings.ReplaceAll(tt.name, " ", "-")
			_, err := svc.Append(ctx, pService, stream, Any, []EventInput{in})
			var le *LeakError
			if !errors.As(err, &le) || !errors.Is(err, ErrLeak) {
				t.Fatalf("Append = %v, want a *LeakError", err)
			}
			if le.Key != tt.key || le.Path != tt.path || le.Metadata != (tt.meta != "") {
				t.Errorf("LeakError = %+v, want Key %v Path %q", *le, tt.key, tt.path)
			}
			for _, s := range []string{"canary", "example", "4111", "7946", "DE89", "203.0", "+44"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error carries the value: %v", err)
				}
			}
			if raw := readStreamRaw(t, env.log, stream); raw != "" {
				t.Errorf("refused event reached the log: %s", raw)
			}
		})
	}
	t.Run("allow stores keys as they are", func(t *testing.T) {
		if _, err := svc.Append(ctx, pService, "fold-allow", Any, []EventInput{ev("Tolerant", `{"customerId":"c","data":{"canary-key@example.com":1}}`)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("clean text with non-ASCII passes", func(t *testing.T) {
		data := `{"customerId":"c","note":"Grüße aus Köln, ２０２４-01-31, v1.2.3, café\u200b","id":"550e8400-e29b-41d4-a716-446655440000","naïve key":"ok"}`
		if _, err := svc.Append(ctx, pService, "fold-clean", Any, []EventInput{ev("Rejecting", data)}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFoldForDetectKeepsPrintableASCII(t *testing.T) {
	s := "plain ASCII, nothing to fold: a-b_c@d"
	if got := foldForDetect(s); got != s {
		t.Fatalf("fold(%q) = %q", s, got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = foldForDetect(s) }); n != 0 {
		t.Errorf("folding printable ASCII allocates %v times", n)
	}
	if got := foldForDetect("a\x00b\u200bc\xff＠\u2013٣"); got != "abc@-3" {
		t.Errorf("fold = %q, want %q", got, "abc@-3")
	}
}
