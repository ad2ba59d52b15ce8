package testenv_test

import (
	"testing"

	"github.com/piivault/piivault/internal/testenv"
)

func TestSlow(t *testing.T) {
	for _, c := range []struct {
		ci, slow string
		want     bool
	}{
		{"", "", false},
		{"", "1", !testing.Short()},
		{"false", "", false},
		{"true", "", true},
		{"1", "", true},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv(testenv.SlowEnv, c.slow)
		if got := testenv.Slow(); got != c.want {
			t.Errorf("CI=%q %s=%q: Slow() = %v, want %v", c.ci, testenv.SlowEnv, c.slow, got, c.want)
		}
	}
}
