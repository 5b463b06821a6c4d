package flight

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"

	pb "slipstream/scheduler/planpb"
)

// A client that opens more calls than --max-client-streams allows has the
// extra one refused at once with ResourceExhausted naming the setting,
// while the others go on; once they end, it is served again.
func TestClientCallsAreBounded(t *testing.T) {
	n := startNodeWith(t, 2)
	rec := ints(3)
	defer rec.Release()
	type answer struct {
		i   int
		err error
	}
	answers := make(chan answer, 3)
	var open []arrowflight.FlightService_DoPutClient
	for i := range 3 {
		s, err := n.client.DoPut(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// The schema alone: an admitted upload then waits for batches. A
		// stream the server refused before the send gives io.EOF here;
		// its status comes from Recv, as for the others.
		if err := s.Send(encode(t, fmt.Sprintf("held%d", i), rec)[0]); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		open = append(open, s)
		go func() {
			_, err := s.Recv()
			answers <- answer{i, err}
		}()
	}
	var refused answer
	select {
	case refused = <-answers:
	case <-time.After(30 * time.Second):
		t.Fatal("none of three uploads was refused with two allowed")
	}
	if code(refused.err) != codes.ResourceExhausted || !strings.Contains(refused.err.Error(), "--max-client-streams") {
		t.Fatalf("upload %d: got %v, want ResourceExhausted naming --max-client-streams", refused.i, refused.err)
	}
	for i, s := range open {
		if i != refused.i {
			s.CloseSend()
			if a := <-answers; a.err != nil {
				t.Errorf("upload %d, admitted, ended with %v", a.i, a.err)
			}
		}
	}
	if _, err := n.put(t, "after", pb.Upload_CREATE, rec); err != nil {
		t.Fatalf("a call after the others ended: %v", err)
	}
}
