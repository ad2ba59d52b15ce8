package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// eraseSubjectsPerBatch is how many distinct subjects one append batch of
// the erase fill carries: 100 events over 10 subjects, 10 events (30 PII
// values) each.
const eraseSubjectsPerBatch = 10

// eraseSubject names subject k of fill batch b.
func eraseSubject(b int64, k int) string { return fmt.Sprintf("erase-%d-%d", b, k) }

// eraseBody is one fill batch: n events cycling over the batch's subjects.
func eraseBody(b int64, n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"type":"CustomerUpdated","data":`)
		buf.Write(eventJSON(eraseSubject(b, i%eraseSubjectsPerBatch), i))
		buf.WriteByte('}')
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// eraseSubjects returns how many distinct subjects a fill of n events has.
func eraseSubjects(n int64) int64 {
	batches := (n + 99) / 100
	all := batches * eraseSubjectsPerBatch
	if last := n - (batches-1)*100; batches > 0 && last < eraseSubjectsPerBatch {
		all -= eraseSubjectsPerBatch - last // the last batch has fewer subjects
	}
	return all
}

// checkErase reports whether o.runs runs of o.eraseCount distinct erasures
// fit in the subjects of the fill.
func checkErase(o options) error {
	if o.eraseLogEvents == 0 {
		return nil
	}
	if need, all := int64(o.eraseCount)*int64(o.runs), eraseSubjects(o.eraseLogEvents); need > all {
		return fmt.Errorf("erase: %d runs x %d erasures need %d distinct subjects, a log of %d events has %d",
			o.runs, o.eraseCount, need, o.eraseLogEvents, all)
	}
	return nil
}

// eraseSlow is the latency above which an erasure is named on stderr with
// its end time, to line it up with the sidecar's log (--sidecar-log).
const eraseSlow = 50 * time.Millisecond

// eraseRound is one round of erasures.
type eraseRound struct {
	lat  []time.Duration // sorted
	errs int
}

func (r eraseRound) pct(p float64) time.Duration { return result{lat: r.lat}.pct(p) }

func (r eraseRound) max() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[len(r.lat)-1]
}

// eraseScenario fills the log with o.eraseLogEvents events (batches of 100,
// o.batchClients concurrent appenders), then runs o.runs rounds of
// o.eraseCount erasures of distinct subjects that have PII, with
// o.eraseClients concurrent clients, as a dpo token, and reports each
// request's latency. The whole scenario is bounded by o.eraseDuration.
func eraseScenario(ctx context.Context, o options, hc *http.Client, base, service, dpo string, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.eraseDuration)
	defer cancel()
	fmt.Fprintf(stdout, "\nerase: filling the log with %d events (batches of 100, %d subjects per batch, %d clients) ...\n",
		o.eraseLogEvents, eraseSubjectsPerBatch, o.batchClients)
	batches := (o.eraseLogEvents + 99) / 100
	var next, filled atomic.Int64
	var firstErr error
	var errMu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	for range o.batchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				b := next.Add(1) - 1
				if b >= batches {
					return
				}
				n := int(min(100, o.eraseLogEvents-b*100))
				_, err := call(ctx, hc, "POST", fmt.Sprintf("%s/v1/streams/erase-b-%d/events", base, b), service, "", eraseBody(b, n), 201)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					cancel()
					return
				}
				filled.Add(int64(n))
			}
		}()
	}
	wg.Wait()
	fill := time.Since(t0)
	if firstErr != nil {
		return fmt.Errorf("erase fill: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("erase fill: %d of %d events after %s: %w (raise --erase-duration)", filled.Load(), o.eraseLogEvents, fill.Round(time.Millisecond), err)
	}
	fmt.Fprintf(stdout, "erase: filled %d events in %s (%.0f ev/s)\n", filled.Load(), fill.Round(time.Millisecond), float64(filled.Load())/fill.Seconds())

	// Distinct subjects, spread over the whole log, in random order.
	all := eraseSubjects(o.eraseLogEvents)
	need := int64(o.eraseCount) * int64(o.runs)
	rnd := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	picked := map[int64]bool{}
	subjects := make([]string, 0, need)
	for int64(len(subjects)) < need {
		i := rnd.Int64N(all)
		if picked[i] {
			continue
		}
		picked[i] = true
		subjects = append(subjects, eraseSubject(i/eraseSubjectsPerBatch, int(i%eraseSubjectsPerBatch)))
	}

	var rounds []eraseRound
	for run := range o.runs {
		todo := subjects[run*o.eraseCount : (run+1)*o.eraseCount]
		var idx atomic.Int64
		lats := make([][]time.Duration, o.eraseClients)
		var errs atomic.Int64
		start := time.Now()
		for c := range o.eraseClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					i := idx.Add(1) - 1
					if i >= int64(len(todo)) {
						return
					}
					body := fmt.Appendf(nil, `{"reason":"bench erasure","ticket":"BENCH-%d-%d"}`, run, i)
					t := time.Now()
					b, err := call(ctx, hc, "POST", base+"/v1/subjects/"+url.PathEscape(todo[i])+"/erasure", dpo, "", body, 200)
					d := time.Since(t)
					if err == nil && !bytes.Contains(b, []byte(`"erasureId"`)) {
						err = fmt.Errorf("erasure of %s: no erasureId in %s", todo[i], truncate(b, 200))
					}
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						if errs.Add(1) == 1 {
							fmt.Fprintf(stderr, "  erase first error: %v\n", err)
						}
						continue
					}
					lats[c] = append(lats[c], d)
					if d > eraseSlow {
						fmt.Fprintf(stderr, "  erase slow: run %d request %d took %s, ended %s\n", run+1, i, d.Round(time.Microsecond), time.Now().UTC().Format("15:04:05.000"))
					}
				}
			}()
		}
		wg.Wait()
		var r eraseRound
		for _, l := range lats {
			r.lat = append(r.lat, l...)
		}
		slices.Sort(r.lat)
		r.errs = int(errs.Load())
		rounds = append(rounds, r)
		fmt.Fprintf(stdout, "erase       run %d: log %d events, %d erasures in %s (%d clients, %d errors)  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n",
			run+1, o.eraseLogEvents, len(r.lat), time.Since(start).Round(time.Millisecond), o.eraseClients, r.errs, ms(r.pct(0.50)), ms(r.pct(0.99)), ms(r.max()))
		if ctx.Err() != nil {
			return fmt.Errorf("erase: stopped by --erase-duration %s in run %d", o.eraseDuration, run+1)
		}
	}
	var p50, p99, mx []float64
	errs := 0
	for _, r := range rounds {
		p50 = append(p50, ms(r.pct(0.50)))
		p99 = append(p99, ms(r.pct(0.99)))
		mx = append(mx, ms(r.max()))
		errs += r.errs
	}
	fmt.Fprintf(stdout, "erase medians of %d runs: log %d events, %d erasures per run: p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%d errors)\n",
		o.runs, o.eraseLogEvents, o.eraseCount, median(p50), median(p99), median(mx), errs)
	var pooled eraseRound
	for _, r := range rounds {
		pooled.lat = append(pooled.lat, r.lat...)
	}
	slices.Sort(pooled.lat)
	fmt.Fprintf(stdout, "erase all %d erasures pooled: p50 %.2f ms  p99 %.2f ms  max %.2f ms  (slower than %s: %d)\n",
		len(pooled.lat), ms(pooled.pct(0.50)), ms(pooled.pct(0.99)), ms(pooled.max()), eraseSlow, len(pooled.lat)-sortedAtMost(pooled.lat, eraseSlow))
	if errs > 0 {
		return fmt.Errorf("erase: %d erasures failed", errs)
	}
	return nil
}

// eraseProfile prints the part of the sidecar's CPU profile under the
// erasure request path.
func eraseProfile(ctx context.Context, stdout io.Writer, bin, prof string) {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=40", "-focus=requestErasure", bin, prof).CombinedOutput()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stdout, "pprof failed: %v\n", err)
	}
	fmt.Fprintf(stdout, "\nerasure path (pprof -top -cum -focus=requestErasure):\n%s", out)
}

// sortedAtMost returns how many of the sorted latencies are at most d.
func sortedAtMost(lat []time.Duration, d time.Duration) int {
	n, _ := slices.BinarySearch(lat, d+1)
	return n
}
