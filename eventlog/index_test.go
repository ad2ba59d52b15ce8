package eventlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestIndexRunsAgainstModel appends random batches from several goroutines
// (so group commits merge stream and type runs), then checks every
// ReadStream and filtered ReadAll against a model built from the plain
// position scan.
func TestIndexRunsAgainstModel(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t)
	streams := []string{"a", "b", "c"}
	types := []string{"x", "y", "z"}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < 40; i++ {
				evs := make([]EventData, 1+rng.IntN(4))
				typ := types[rng.IntN(len(types))]
				for j := range evs {
					if rng.IntN(3) == 0 {
						typ = types[rng.IntN(len(types))]
					}
					evs[j] = ev(typ, fmt.Sprintf(`{"w":%d}`, w))
				}
				if _, err := l.Append(ctx, streams[rng.IntN(len(streams))], Any, evs); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	all, err := l.ReadAll(ctx, 0, 1<<20, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byStream := map[string][]uint64{}
	byType := map[string][]uint64{}
	for _, e := range all {
		if e.Version != uint64(len(byStream[e.Stream])+1) {
			t.Fatalf("position %d is %s@%d, want version %d", e.Position, e.Stream, e.Version, len(byStream[e.Stream])+1)
		}
		byStream[e.Stream] = append(byStream[e.Stream], e.Position)
		byType[e.Type] = append(byType[e.Type], e.Position)
	}
	positions := func(evs []Event) []uint64 {
		var out []uint64
		for _, e := range evs {
			out = append(out, e.Position)
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range streams {
		want := byStream[s]
		for k := 0; k < 30; k++ {
			from, limit := uint64(rng.IntN(len(want)+2)), 1+rng.IntN(len(want)+1)
			got, err := l.ReadStream(ctx, s, from, limit, Forward)
			if err != nil {
				t.Fatal(err)
			}
			lo := min(int(max(from, 1))-1, len(want))
			w := want[lo:min(lo+limit, len(want))]
			if fmt.Sprint(positions(got)) != fmt.Sprint(w) {
				t.Fatalf("ReadStream(%s, %d, %d, Forward) = %v, want %v", s, from, limit, positions(got), w)
			}
			got, err = l.ReadStream(ctx, s, from, limit, Backward)
			if err != nil {
				t.Fatal(err)
			}
			hi := len(want)
			if from != 0 {
				hi = min(int(from), len(want))
			}
			w = slices.Clone(want[max(hi-limit, 0):hi])
			slices.Reverse(w)
			if fmt.Sprint(positions(got)) != fmt.Sprint(w) {
				t.Fatalf("ReadStream(%s, %d, %d, Backward) = %v, want %v", s, from, limit, positions(got), w)
			}
		}
	}
	for k := 0; k < 60; k++ {
		ts := []string{types[rng.IntN(3)]}
		if k%2 == 0 {
			ts = append(ts, types[rng.IntN(3)])
		}
		var want []uint64
		for _, typ := range types {
			if slices.Contains(ts, typ) {
				want = append(want, byType[typ]...)
			}
		}
		slices.Sort(want)
		from, limit := uint64(rng.IntN(len(all)+2)), 1+rng.IntN(len(all))
		i, _ := slices.BinarySearch(want, max(from, 1))
		want = want[i:min(i+limit, len(want))]
		got, err := l.ReadAll(ctx, from, limit, Filter{Types: ts})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(positions(got)) != fmt.Sprint(want) {
			t.Fatalf("ReadAll(%d, %d, %v) = %v, want %v", from, limit, ts, positions(got), want)
		}
	}
	for s, ps := range byStream {
		info, err := l.StreamInfo(ctx, s)
		if err != nil || info.Version != uint64(len(ps)) || info.FirstPosition != ps[0] || info.LastPosition != ps[len(ps)-1] {
			t.Errorf("StreamInfo(%s) = %+v, %v; want version %d, positions %d..%d", s, info, err, len(ps), ps[0], ps[len(ps)-1])
		}
	}
	if l.groups.Load() >= l.grouped.Load() {
		t.Logf("no group held more than one event; runs were not merged across appends")
	}
}
