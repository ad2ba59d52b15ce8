package embedded

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestInParallel checks that inParallel covers every item exactly once,
// whatever the sizes, and returns an error of fn.
func TestInParallel(t *testing.T) {
	for _, tc := range []struct{ n, minPart int }{
		{0, 32}, {1, 32}, {63, 32}, {64, 32}, {65, 32}, {301, 32}, {1000, 8}, {7, 1},
	} {
		t.Run(fmt.Sprintf("n=%d,minPart=%d", tc.n, tc.minPart), func(t *testing.T) {
			seen := make([]atomic.Int32, tc.n)
			err := inParallel(tc.n, tc.minPart, func(lo, hi int) error {
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("inParallel: %v", err)
			}
			for i := range seen {
				if got := seen[i].Load(); got != 1 {
					t.Fatalf("item %d done %d times, want 1", i, got)
				}
			}
		})
	}
	boom := errors.New("boom")
	err := inParallel(301, 32, func(lo, hi int) error {
		if lo <= 200 && 200 < hi {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("inParallel = %v, want %v", err, boom)
	}
}
