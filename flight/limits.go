package flight

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// clientCalls bounds the calls one client connection (a peer address) may
// have open at once: past the bound a call is refused at once with
// ResourceExhausted, instead of a client holding open as many streams as
// it likes, each with the memory of its reads.
type clientCalls struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (c *clientCalls) enter(ctx context.Context) (func(), error) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return func() {}, nil
	}
	who := p.Addr.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[who] >= c.max {
		return nil, status.Errorf(codes.ResourceExhausted,
			"this client already has %d calls open, the most the node's --max-client-streams allows; wait for one to finish, or raise the setting", c.max)
	}
	c.open[who]++
	return func() {
		c.mu.Lock()
		if c.open[who]--; c.open[who] == 0 {
			delete(c.open, who)
		}
		c.mu.Unlock()
	}, nil
}

func (c *clientCalls) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	leave, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	return handler(ctx, req)
}

func (c *clientCalls) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	leave, err := c.enter(ss.Context())
	if err != nil {
		return err
	}
	defer leave()
	return handler(srv, ss)
}
