package eventlog

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Badger reads and writes its value log, write-ahead logs and tables
// through shared memory maps, and never advises the kernel about them.
// Two consequences on this kernel (see doc.go "Resident memory and write
// amplification"):
//
//   - Faults on a sequentially written mapping trigger readahead, which
//     builds large page-cache folios (up to megabytes). A synced commit
//     dirties the folio holding the log's tail, and the kernel writes the
//     whole folio back: each fsync rewrote about 1 MiB for about 60 KiB
//     of events. MADV_RANDOM turns readahead off for the mapping, so
//     folios stay one page and a sync writes what changed.
//   - Every page written stays mapped, so resident memory grows with the
//     size of the data. When the file part of resident memory passes
//     Options.MaxMappedResident, pageOut unmaps the pages of files Badger
//     no longer writes (tables and full value-log files); the data stays
//     on disk and in the page cache's care.
//
// MADV_RANDOM and MADV_PAGEOUT are advice: applied to a range that has
// meanwhile been unmapped and reused, they change nothing but performance
// (MADV_PAGEOUT never discards data; anonymous pages need swap to be paged
// out at all). MADV_DONTNEED is not, and goes only to mappings that cannot
// change under it (see pageOut).
const (
	madvRandom   = 1  // MADV_RANDOM
	madvDontneed = 4  // MADV_DONTNEED
	madvPageout  = 21 // MADV_PAGEOUT, Linux 5.4+
)

type mapping struct {
	start, end uintptr
	path       string
}

// residency advises Badger's mappings of dir until done closes.
func (l *Log) residency(dir string, done <-chan struct{}) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	prefix := abs + string(filepath.Separator)
	advised := map[mapping]bool{}
	var lastPageOut time.Time
	tick := time.NewTicker(l.opts.AdviseInterval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		maps := ourMappings(prefix)
		seen := make(map[mapping]bool, len(maps))
		for _, m := range maps {
			seen[m] = true
			if !advised[m] {
				syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, madvRandom)
				advised[m] = true
			}
		}
		for m := range advised {
			if !seen[m] {
				delete(advised, m)
			}
		}
		// At most once a second: another mmap user in the process (the
		// vault's Badger, say) can keep the total above the limit, and
		// paging our files out at every tick would only thrash.
		if l.opts.MaxMappedResident > 0 && time.Since(lastPageOut) >= time.Second && rssFile() > l.opts.MaxMappedResident {
			l.pageOut(maps)
			lastPageOut = time.Now()
		}
	}
}

// pageOut unmaps the pages of files Badger only reads: tables and value
// logs other than the newest.
//
// Tables get MADV_PAGEOUT, which also drops their pages from the page
// cache. Compaction unmaps tables at any time, so the range may have been
// reused by the time the advice lands, and MADV_PAGEOUT never discards
// data.
//
// Full value logs get MADV_DONTNEED: it unmaps the pages from the process
// (resident memory drops the same) but leaves them in the page cache, so
// the next read of an older event is a minor fault. With MADV_PAGEOUT
// every such read was a read from the disk, taken while the faulting
// goroutine held one of the process's Ps (a fault is not a syscall, the
// scheduler does not hand the P over): the load tool's read-100 of random
// streams ran at 28,000-40,000 ev/s with about 86 MB/s read from the disk
// and one core idle, and at about 150,000 ev/s with MADV_DONTNEED
// (TestPageOutKeepsValueLogCached counts the faults). MADV_DONTNEED would
// zero an anonymous mapping that reused the range, but a full value log's
// mapping does not change until Close: the log runs no value-log GC,
// Badger shrinks a value log's mapping (mremap) while it is still the
// newest file and before it creates the next, and Close stops this loop
// before it closes Badger.
func (l *Log) pageOut(maps []mapping) {
	newest := ""
	for _, m := range maps {
		if strings.HasSuffix(m.path, ".vlog") && m.path > newest {
			newest = m.path
		}
	}
	for _, m := range maps {
		switch {
		case strings.HasSuffix(m.path, ".sst"):
			syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, madvPageout)
		case strings.HasSuffix(m.path, ".vlog") && m.path != newest:
			syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, madvDontneed)
		}
	}
	l.pageOuts.Add(1)
}

// ourMappings lists the mappings of files under prefix from /proc/self/maps.
func ourMappings(prefix string) []mapping {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	var out []mapping
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		line := s.Text()
		i := strings.Index(line, prefix)
		if i < 0 {
			continue
		}
		rng, _, _ := strings.Cut(line, " ")
		lo, hi, ok := strings.Cut(rng, "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, mapping{uintptr(start), uintptr(end), strings.TrimSuffix(line[i:], " (deleted)")})
	}
	return out
}

// rssFile returns the file-backed resident memory of the process.
func rssFile() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(b, []byte("RssFile:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(line)), "kB")), 10, 64)
	return n << 10
}
