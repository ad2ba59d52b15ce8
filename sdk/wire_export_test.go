package sdk

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestExportValueCreatedAt: an erased value has no creation time to show;
// the export must not print Go's zero time for it.
func TestExportValueCreatedAt(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    ExportValue
		want bool
	}{
		{"erased", ExportValue{Class: "email", Value: json.RawMessage(`"[deleted under GDPR]"`), State: "erased"}, false},
		{"held", ExportValue{Class: "email", Value: json.RawMessage(`"x"`), CreatedAt: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(b), "createdAt"); got != tc.want {
				t.Errorf("json.Marshal(%+v) = %s: createdAt present %v, want %v", tc.v, b, got, tc.want)
			}
		})
	}
}
