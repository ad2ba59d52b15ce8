package policy

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/format"
)

// TestShippedPolicyFormatted keeps the shipped Rego as `opa fmt` writes it.
func TestShippedPolicyFormatted(t *testing.T) {
	for name, src := range defaultSources(true) {
		got, err := format.Source(name, []byte(src))
		if err != nil {
			t.Fatalf("format %s: %v", name, err)
		}
		if string(got) != src {
			t.Errorf("%s is not opa-fmt formatted; formatted version:\n%s", name, got)
		}
	}
}
