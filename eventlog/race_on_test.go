//go:build race

package eventlog

// raceEnabled: the race detector multiplies memory use, so memory limits
// are logged, not enforced.
const raceEnabled = true
