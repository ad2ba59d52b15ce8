package sdk

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReadSSE(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"one", "id: 1\nevent: event\ndata: {\"a\":1}\n\n", "event:{\"a\":1};"},
		{"multi-line data", "data: a\ndata: b\n\n", ":a\nb;"},
		{"comments skipped", ": ok\n\n: ping\n\nevent: error\ndata: {}\n\n", "error:{};"},
		{"empty data line counts", "data:\n\n", ":;"},
		{"no trailing blank line", "data: x\n", ""},
		{"no space after colon", "event:e\ndata:x\n\n", "e:x;"},
		{"unknown fields", "retry: 10\nfoo: bar\ndata: y\n\n", ":y;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got strings.Builder
			err := readSSE(strings.NewReader(tt.in), func(name string, data []byte) error {
				fmt.Fprintf(&got, "%s:%s;", name, data)
				return nil
			})
			if err != nil || got.String() != tt.want {
				t.Errorf("readSSE(%q) = %q, %v; want %q", tt.in, got.String(), err, tt.want)
			}
		})
	}
	stop := errors.New("stop")
	n := 0
	err := readSSE(strings.NewReader("data: 1\n\ndata: 2\n\n"), func(string, []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("readSSE with a stopping callback = %v after %d calls", err, n)
	}
}

func FuzzReadSSE(f *testing.F) {
	f.Add("id: 1\nevent: event\ndata: {\"position\":1}\n\n: ping\n\n")
	f.Add("event: error\ndata: {\"status\":403}\n\n")
	f.Add("data: a\r\ndata: b\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		_ = readSSE(strings.NewReader(in), func(name string, data []byte) error {
			if strings.Contains(name, "\n") {
				t.Errorf("event name %q holds a newline", name)
			}
			return nil
		})
	})
}
