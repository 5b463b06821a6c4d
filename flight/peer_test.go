package flight

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"

	"slipstream/kernels"
	"slipstream/scheduler"
	pb "slipstream/scheduler/planpb"
)

// The typed node-to-node calls against a real node: catalog sync, commit,
// release, health.
func TestPeerCalls(t *testing.T) {
	n := startNode(t)
	rec := ints(7)
	defer rec.Release()
	n.put(t, "seven", pb.Upload_CREATE, rec)
	peers := NewPeers(memory.NewGoAllocator())
	defer peers.Close()
	ctx := context.Background()
	if err := peers.Health(ctx, n.addr); err != nil {
		t.Fatalf("health: %v", err)
	}
	ms, err := peers.Manifests(ctx, n.addr)
	if err != nil || len(ms) != 1 || ms[0].Name != "seven" || len(ms[0].Parts) != 1 || ms[0].Parts[0].Rows != 7 {
		t.Fatalf("manifests: %+v %v", ms, err)
	}
	// A newer manifest sent by another node is adopted: the table is gone
	// once its tombstone commits.
	tomb := ms[0]
	tomb.Version++
	tomb.Dropped, tomb.Parts = true, nil
	if err := peers.Commit(ctx, n.addr, tomb, ""); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if _, _, err := n.query(t, scan("seven")); code(err) != codes.NotFound {
		t.Fatalf("after the tombstone: %v", err)
	}
	if err := peers.Release(ctx, n.addr, "no-such-query", -1); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := peers.Abort(ctx, n.addr, "no-such-upload"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := "grpc://" + lis.Addr().String()
	lis.Close()
	if err := peers.Health(ctx, gone); kernels.KindOf(err) != kernels.Unavailable {
		t.Fatalf("health of a closed port: %v", err)
	}
}

// lostServer answers every action with a lost input, as a node whose task
// could not read another node's output does.
type lostServer struct {
	arrowflight.BaseFlightServer
}

func (*lostServer) DoAction(*arrowflight.Action, arrowflight.FlightService_DoActionServer) error {
	return &scheduler.LostInput{Node: "n3", Stage: 2, Task: 5, Cause: "connection refused"}
}

// A lost input crosses the wire typed, in the status details: the
// coordinator learns node, stage and task without reading the message.
func TestLostInputTravelsTyped(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := arrowflight.NewServerWithMiddleware(nil, ServerOptions(0)...)
	srv.InitListener(lis)
	srv.RegisterFlightService(&lostServer{})
	go srv.Serve()
	defer srv.Shutdown()
	peers := NewPeers(memory.NewGoAllocator())
	defer peers.Close()
	_, err = peers.RunTask(context.Background(), "grpc://"+lis.Addr().String(), &pb.Task{})
	var li *scheduler.LostInput
	if !errors.As(err, &li) {
		t.Fatalf("want a *LostInput, got %T %v", err, err)
	}
	if li.Node != "n3" || li.Stage != 2 || li.Task != 5 || li.Cause != "connection refused" {
		t.Fatalf("got %+v", li)
	}
	if kernels.KindOf(err) != kernels.Unavailable || !strings.Contains(err.Error(), "stage 2 task 5 on node n3") {
		t.Fatalf("kind %v, text %q", kernels.KindOf(err), err)
	}
}
