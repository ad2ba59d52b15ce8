// Package testenv decides, in one place, whether the slow test suites run.
//
// The slow suites (end-to-end runs of the built binary, crash tests that
// kill a child process, sustained-load and million-event tests) always run
// in CI: .ci/run exports CI=true. Outside CI, `go test ./...` skips them so
// that a newcomer's run stays short; PIIVAULT_SLOW_TESTS=1 runs them, and
// -short skips them even then.
package testenv

import (
	"os"
	"testing"
)

// SlowEnv is the variable that runs the slow suites outside CI.
const SlowEnv = "PIIVAULT_SLOW_TESTS"

// InCI reports whether the tests run in CI (CI set to anything but "" or
// "false", as .ci/run and most CI services do).
func InCI() bool {
	ci := os.Getenv("CI")
	return ci != "" && ci != "false"
}

// Slow reports whether the slow suites run: always in CI; elsewhere with
// PIIVAULT_SLOW_TESTS=1 and without -short.
func Slow() bool {
	if InCI() {
		return true
	}
	return os.Getenv(SlowEnv) == "1" && !testing.Short()
}

// SkipUnlessSlow skips a slow test outside CI, saying how to run it. In CI
// it never skips.
func SkipUnlessSlow(t testing.TB) {
	t.Helper()
	if !Slow() {
		t.Skipf("slow test: runs in CI (.ci/run) or with %s=1", SlowEnv)
	}
}
