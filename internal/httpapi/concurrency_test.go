package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/piivault/piivault/sdk"
)

// TestConcurrentExpectedVersion races writers over HTTP on the real stack:
// in each round every writer appends with the same expected version, and
// exactly one wins; the others get 409 with the actual version.
func TestConcurrentExpectedVersion(t *testing.T) {
	e := newRealEnv(t, Options{})
	const writers, rounds = 8, 10
	for v := 0; v < rounds; v++ {
		var wg sync.WaitGroup
		codes := make([]int, writers)
		actual := make([]uint64, writers)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"expectedVersion":%d,"events":[{"type":"Tick","data":{"writer":%d}}]}`, v, w)
				r := e.doJSON(t, http.MethodPost, "/v1/streams/race/events", roleTokens["service"], body, nil)
				codes[w] = r.status
				if r.status == http.StatusConflict {
					var p sdk.Problem
					if err := json.Unmarshal(r.body, &p); err == nil && p.ActualVersion != nil {
						actual[w] = *p.ActualVersion
					}
				}
			}()
		}
		wg.Wait()
		wins := 0
		for w, c := range codes {
			switch c {
			case http.StatusCreated:
				wins++
			case http.StatusConflict:
				if actual[w] != uint64(v+1) {
					t.Errorf("round %d: conflict reports actual version %d, want %d", v, actual[w], v+1)
				}
			default:
				t.Errorf("round %d: writer %d got %d", v, w, c)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1", v, wins)
		}
	}
	var page sdk.EventsPage
	e.doJSON(t, http.MethodGet, "/v1/streams/race/events?limit=100", roleTokens["service"], nil, &page)
	if len(page.Events) != rounds {
		t.Fatalf("stream holds %d events, want %d", len(page.Events), rounds)
	}
	for i, ev := range page.Events {
		if ev.Version != uint64(i+1) {
			t.Errorf("event %d has version %d", i, ev.Version)
		}
	}
}
