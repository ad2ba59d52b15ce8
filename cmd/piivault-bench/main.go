// Command piivault-bench measures the piivault sidecar over HTTP from a
// separate process on loopback.
//
// It starts `piivault serve` as a child process with a fresh data folder
// (embedded vault, durable writes), creates tokens for the roles it needs,
// and runs, each bounded in time and in count:
//
//	append-1     C clients (default 64), one ~1 KiB event with 3 PII fields per request
//	append-100   batches of 100 such events per request
//	read-100     pages of 100 events read as support/support (fields revealed)
//	ceiling      a trivial gin JSON handler in another child process: the HTTP ceiling
//	erase        opt-in (--erase-log-events N): fill the log with N events in
//	             batches of 100 (10 subjects each), then time --erase-count
//	             erasures of distinct subjects per run as a dpo token
//	             (POST /v1/subjects/{subject}/erasure); p50/p99/max per run
//
// Each scenario runs --runs times; the report gives every run and the
// median, the server's and the tool's own CPU per event, and a cross-check
// of the events counted against the sidecar's counters. The tool shares the
// cores with the server it measures, so it is lean: by default its requests
// go over a minimal HTTP/1.1 keep-alive client (--client raw; --client
// net/http for Go's), one goroutine and connection per client, with
// GOMAXPROCS 1 (--client-procs), and it counts a read page's events by a
// byte scan rather than decoding it. The ceiling is measured with the same
// client. With --cpuprofile the sidecar writes a CPU profile of the whole
// run, and the bench prints its top functions (go tool pprof -top).
//
// Usage:
//
//	go run ./cmd/piivault-bench --duration 10s --runs 3 --cpuprofile /tmp/piivault.prof
//	go run ./cmd/piivault-bench --skip ceiling,append-1,append-100,read-100 --erase-log-events 1000000 --erase-count 200
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "piivault-bench: %v\n", err)
		os.Exit(1)
	}
}
