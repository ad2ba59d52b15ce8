//go:build !linux

package eventlog

// residency is Linux-only (madvise on Badger's mappings); elsewhere the
// kernel's defaults apply.
func (l *Log) residency(dir string, done <-chan struct{}) {}
