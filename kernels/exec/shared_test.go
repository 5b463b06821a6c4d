package exec

import (
	"fmt"
	"sync"
	"testing"
)

// Two readers of a Shared input, in two goroutines, each read every row;
// the input runs once and is closed, and its batches freed, when the last
// reader closes (the checked allocator sees any leak). A spent Shared
// gives no more readers.
func TestSharedRunsItsInputOnce(t *testing.T) {
	mem, ctx := newMem(t)
	cs, ins := unionInputs(t, mem, 1)
	s := NewShared(ins[0])
	r1, ok1 := s.Reader()
	r2, ok2 := s.Reader()
	if !ok1 || !ok2 {
		t.Fatal("no reader from a fresh Shared")
	}
	got := make([]string, 2)
	var wg sync.WaitGroup
	for i, r := range []Operator{r1, r2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows, _ := drain(t, ctx, r)
			got[i] = fmt.Sprint(rows)
		}()
	}
	wg.Wait()
	if got[0] != got[1] || got[0] != "[[0] [1] [2] [3] [4] [5] [6] [7] [8]]" {
		t.Errorf("readers got %v", got)
	}
	if cs[0].pulls.Load() != 3 {
		t.Errorf("input read %d batches, want 3 (once)", cs[0].pulls.Load())
	}
	if cs[0].closed.Load() != 1 {
		t.Errorf("input closed %d times, want 1", cs[0].closed.Load())
	}
	if _, ok := s.Reader(); ok {
		t.Error("a spent Shared gave a reader")
	}
}
