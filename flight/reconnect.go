package flight

import (
	"context"
	"time"

	"google.golang.org/grpc/connectivity"
)

// reconnectWait is how long a call waits for a node whose connection is
// down to answer again before the node is taken for unreachable.
const reconnectWait = time.Second

// reconnected says whether the connection to addr, if it is not ready
// (the node died, or restarted on the same address), becomes ready within
// reconnectWait once gRPC's reconnect backoff is reset. Without the reset
// a node that restarted looks unreachable for up to the backoff (seconds
// to minutes): calls fail at once with the old connection's error, and the
// coordinator would take a live holder for dead.
func (p *Peers) reconnected(ctx context.Context, addr string) bool {
	p.mu.Lock()
	conn := p.conns[addr]
	p.mu.Unlock()
	if conn == nil {
		return false
	}
	state := conn.GetState()
	if state == connectivity.Ready {
		return false // the connection is fine: the error was the node's own
	}
	ctx, cancel := context.WithTimeout(ctx, reconnectWait)
	defer cancel()
	conn.ResetConnectBackoff()
	conn.Connect()
	for ; state != connectivity.Ready; state = conn.GetState() {
		if !conn.WaitForStateChange(ctx, state) {
			return false
		}
	}
	return true
}
