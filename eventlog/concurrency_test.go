package eventlog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestConcurrentExpectedVersions: many goroutines append to shared and
// private streams with the version they last saw. Exactly one append wins
// each version of each stream, and the global order has no gaps.
func TestConcurrentExpectedVersions(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t)
	const workers, rounds = 16, 40
	streams := []string{"shared-0", "shared-1", "shared-2"}
	type win struct {
		stream string
		res    AppendResult
		writer int
	}
	var mu sync.Mutex
	var wins []win
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			seen := map[string]uint64{}
			own := fmt.Sprintf("own-%d", w)
			for i := 0; i < rounds; i++ {
				s := streams[rng.IntN(len(streams))]
				if i%4 == 0 {
					s = own
				}
				n := 1 + rng.IntN(3)
				evs := make([]EventData, n)
				for j := range evs {
					evs[j] = ev("t", fmt.Sprintf(`{"w":%d,"i":%d,"j":%d}`, w, i, j))
				}
				res, err := l.Append(ctx, s, ExpectedVersion(seen[s]), evs)
				var ce *ConflictError
				switch {
				case errors.As(err, &ce):
					if ce.Actual == seen[s] {
						t.Errorf("conflict with actual == expected %d", ce.Actual)
					}
					seen[s] = ce.Actual
				case err != nil:
					t.Error(err)
					return
				default:
					if res.FirstVersion != seen[s]+1 || res.LastVersion != seen[s]+uint64(n) {
						t.Errorf("append at expected %d got versions %d..%d", seen[s], res.FirstVersion, res.LastVersion)
					}
					seen[s] = res.LastVersion
					mu.Lock()
					wins = append(wins, win{s, res, w})
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()

	// Every version of every stream has exactly one winner.
	owner := map[string]map[uint64]int{}
	for _, w := range wins {
		if owner[w.stream] == nil {
			owner[w.stream] = map[uint64]int{}
		}
		for v := w.res.FirstVersion; v <= w.res.LastVersion; v++ {
			if prev, dup := owner[w.stream][v]; dup {
				t.Errorf("%s version %d won by writers %d and %d", w.stream, v, prev, w.writer)
			}
			owner[w.stream][v] = w.writer
		}
	}
	for s, vs := range owner {
		info, err := l.StreamInfo(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(vs)) != info.Version {
			t.Errorf("%s: %d versions won, stream is at %d", s, len(vs), info.Version)
		}
	}
	// The global order has no gaps and matches what the winners were told.
	all, err := l.ReadAll(ctx, 0, 1<<20, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := l.Head(ctx)
	if uint64(len(all)) != head {
		t.Fatalf("ReadAll has %d events, head is %d", len(all), head)
	}
	byPos := map[uint64]win{}
	for _, w := range wins {
		for p := w.res.FirstPosition; p <= w.res.LastPosition; p++ {
			byPos[p] = w
		}
	}
	for i, e := range all {
		if e.Position != uint64(i+1) {
			t.Fatalf("event %d has position %d", i, e.Position)
		}
		if i > 0 && e.RecordedAt.Before(all[i-1].RecordedAt) {
			t.Errorf("recordedAt decreases at position %d: %v < %v", e.Position, e.RecordedAt, all[i-1].RecordedAt)
		}
		w, ok := byPos[e.Position]
		if !ok || w.stream != e.Stream || e.Version != w.res.FirstVersion+(e.Position-w.res.FirstPosition) {
			t.Errorf("position %d holds %s@%d, no winner was told so", e.Position, e.Stream, e.Version)
		}
	}
	if vr, err := l.Verify(ctx); err != nil || !vr.OK || vr.HeadPosition != head {
		t.Errorf("Verify = %+v, %v", vr, err)
	}
}

// Linearizability. The model is the whole log: each stream's version and
// the global head. Appends carry their expected version; reads observe a
// stream's last version or the head.
const linStreams = 3

type linState struct {
	head     uint64
	versions [linStreams]uint64
}

type linInput struct {
	op       string // "append", "stream", "head"
	stream   int
	expected ExpectedVersion
	n        int
}

type linOutput struct {
	ok      bool
	res     AppendResult
	actual  uint64 // conflict: actual version; stream: last version; head: head
	failure string
}

var linModel = porcupine.Model{
	Init: func() any { return linState{} },
	Step: func(st, in, out any) (bool, any) {
		s, i, o := st.(linState), in.(linInput), out.(linOutput)
		if o.failure != "" {
			return false, s
		}
		switch i.op {
		case "append":
			cur := s.versions[i.stream]
			if i.expected != Any && uint64(i.expected) != cur {
				return !o.ok && o.actual == cur, s
			}
			want := AppendResult{cur + 1, cur + uint64(i.n), s.head + 1, s.head + uint64(i.n)}
			if !o.ok || o.res != want {
				return false, s
			}
			s.versions[i.stream] += uint64(i.n)
			s.head += uint64(i.n)
			return true, s
		case "stream":
			return o.actual == s.versions[i.stream], s
		default:
			return o.actual == s.head, s
		}
	},
	DescribeOperation: func(in, out any) string { return fmt.Sprintf("%+v -> %+v", in, out) },
}

func linHistory(t *testing.T, l *Log, clients, ops int) []porcupine.Operation {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	var mu sync.Mutex
	var hist []porcupine.Operation
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 2))
			var seen [linStreams]uint64
			for k := 0; k < ops; k++ {
				in := linInput{stream: rng.IntN(linStreams)}
				var out linOutput
				call := time.Since(start).Nanoseconds()
				name := fmt.Sprintf("lin-%d", in.stream)
				switch r := rng.IntN(10); {
				case r < 6:
					in.op, in.n = "append", 1+rng.IntN(2)
					in.expected = ExpectedVersion(seen[in.stream])
					if r == 0 {
						in.expected = Any
					}
					evs := make([]EventData, in.n)
					for j := range evs {
						evs[j] = ev("t", `{}`)
					}
					res, err := l.Append(ctx, name, in.expected, evs)
					var ce *ConflictError
					switch {
					case errors.As(err, &ce):
						out.actual = ce.Actual
						seen[in.stream] = ce.Actual
					case err != nil:
						out.failure = err.Error()
					default:
						out.ok, out.res = true, res
						seen[in.stream] = res.LastVersion
					}
				case r < 8:
					in.op = "stream"
					evs, err := l.ReadStream(ctx, name, 0, 1, Backward)
					if err != nil {
						out.failure = err.Error()
					} else if len(evs) == 1 {
						out.actual = evs[0].Version
					}
				default:
					in.op = "head"
					h, err := l.Head(ctx)
					if err != nil {
						out.failure = err.Error()
					}
					out.actual = h
				}
				ret := time.Since(start).Nanoseconds()
				mu.Lock()
				hist = append(hist, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return hist
}

func TestLinearizable(t *testing.T) {
	l, _ := openTest(t)
	hist := linHistory(t, l, 8, 40)
	switch res := porcupine.CheckOperationsTimeout(linModel, hist, 30*time.Second); res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Skip("porcupine timed out; history too hard to check on this machine")
	default:
		t.Fatalf("history of %d operations is not linearizable", len(hist))
	}

	// The checker must be able to fail: a read that saw a version from the
	// future, or an append told a position already taken, is illegal.
	t.Run("checker catches a bad history", func(t *testing.T) {
		bad := append([]porcupine.Operation(nil), hist...)
		for i, op := range bad {
			if in := op.Input.(linInput); in.op == "append" && op.Output.(linOutput).ok {
				out := op.Output.(linOutput)
				out.res.FirstPosition += 1000
				bad[i].Output = out
				break
			}
		}
		if porcupine.CheckOperations(linModel, bad) {
			t.Error("a history with a wrong append position passed the check")
		}
	})
}
