//go:build !unix

package config

// lockFile is a no-op where flock(2) does not exist: concurrent token
// creation against one file is then the operator's to avoid.
func lockFile(string) (func(), error) { return func() {}, nil }
