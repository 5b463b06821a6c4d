package scheduler

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"slipstream/kernels"
	"slipstream/scheduler/cluster"
)

func statusOf(t *testing.T, e *Engine, id string) QueryStatus {
	t.Helper()
	raw, err := e.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	var st QueryStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func heldOutputs(engines []*Engine) (n int) {
	for _, e := range engines {
		e.Outputs().mu.Lock()
		n += len(e.Outputs().m)
		e.Outputs().mu.Unlock()
	}
	return n
}

// A query cancelled by its id while its tasks run is cancelled on every
// node: once its status says cancelled, no node runs a task of it and no
// node holds an output of it.
func TestCancelByIDStopsEveryNode(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	const id = "q-cancel"
	var once sync.Once
	for _, e := range engines {
		e.Fault = func(point string) {
			if point == "task:1" {
				once.Do(func() {
					if got := engines[0].Cancel(id, "test"); got != Cancelled {
						t.Errorf("Cancel: %s", got)
					}
				})
			}
		}
	}
	_, err := engines[0].RunQueryID(context.Background(), id, groupedQuery())
	if kernels.KindOf(err) != kernels.Cancelled {
		t.Fatalf("want Cancelled, got %v", err)
	}
	st := statusOf(t, engines[0], id)
	if st.State != "cancelled" || !strings.Contains(st.Error, "test") {
		t.Fatalf("status: %+v", st)
	}
	for _, e := range engines {
		if n := e.RunningTasks(id); n != 0 {
			t.Fatalf("node %s still runs %d tasks of the cancelled query", e.Self.Name, n)
		}
	}
	if n := heldOutputs(engines); n != 0 {
		t.Fatalf("%d outputs left once the query says cancelled", n)
	}
	if got := engines[0].Cancel(id, "again"); got != NotCancellable {
		t.Fatalf("a second cancel: %s", got)
	}
	found := false
	for _, q := range engines[0].Queries() {
		found = found || (q.ID == id && q.State == "cancelled" && q.Running == 0)
	}
	if !found {
		t.Fatalf("queries: %+v", engines[0].Queries())
	}
}

// A cancel that arrives before its query is remembered: the query is
// refused when it comes, and its status says cancelled.
func TestCancelBeforeTheQueryArrives(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	if got := engines[0].Cancel("early", "test"); got != Unknown {
		t.Fatalf("Cancel: %s", got)
	}
	_, err := engines[0].RunQueryID(context.Background(), "early", groupedQuery())
	if kernels.KindOf(err) != kernels.Cancelled {
		t.Fatalf("want Cancelled, got %v", err)
	}
	if st := statusOf(t, engines[0], "early"); st.State != "cancelled" {
		t.Fatalf("status: %+v", st)
	}
}

// A done query's result is held until read; cancelling it drops the
// result on every node.
func TestCancelAfterDoneDropsTheResult(t *testing.T) {
	engines, _, _ := eventsCluster(t)
	res, err := engines[0].RunQueryID(context.Background(), "held", groupedQuery())
	if err != nil {
		t.Fatal(err)
	}
	st := statusOf(t, engines[0], res.ID)
	if st.State != "done" || st.Tasks == 0 || st.TasksDone != st.Tasks || st.RowsRead == 0 || st.BytesRead == 0 {
		t.Fatalf("status: %+v", st)
	}
	// The shuffle outputs go behind the answer; the result's stay.
	for deadline := time.Now().Add(5 * time.Second); heldOutputs(engines) > len(res.Parts) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := heldOutputs(engines); n != len(res.Parts) {
		t.Fatalf("%d outputs held; the result has %d parts", n, len(res.Parts))
	}
	if got := engines[0].Cancel(res.ID, "test"); got != Cancelled {
		t.Fatalf("Cancel: %s", got)
	}
	if st := statusOf(t, engines[0], res.ID); st.State != "cancelled" {
		t.Fatalf("status: %+v", st)
	}
	for deadline := time.Now().Add(5 * time.Second); heldOutputs(engines) > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := heldOutputs(engines); n != 0 {
		t.Fatalf("%d outputs left", n)
	}
}

// A query still waiting past the node's --max-query-time is cancelled with
// a reason naming the setting, and refused when it would start.
func TestMaxQueryTimeCancels(t *testing.T) {
	e := &Engine{Self: cluster.Member{Name: "n1"}}
	e.Config.MaxQueryTime = 50 * time.Millisecond
	id, err := e.Track(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for statusOf(t, e, id).State != "cancelled" {
		if time.Now().After(deadline) {
			t.Fatalf("still %+v 10s after its time was up", statusOf(t, e, id))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := statusOf(t, e, id); !strings.Contains(st.Error, "--max-query-time of 50ms") {
		t.Errorf("status error %q does not name the limit", st.Error)
	}
	if _, err := e.StartLocal(context.Background(), id); kernels.KindOf(err) != kernels.Cancelled {
		t.Errorf("StartLocal after the time was up: %v", err)
	}
}
