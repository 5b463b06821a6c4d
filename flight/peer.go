package flight

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/planpb"
)

var _ scheduler.Transport = (*Peers)(nil)

// Peers is the node-to-node client (scheduler.Transport): one Flight
// connection per node, made on first use.
type Peers struct {
	mem memory.Allocator
	// token is the node token sent on every call (auth without TLS);
	// tls, when set, dials with the node's certificate (see tls.go).
	token string
	tls   *tls.Config

	mu      sync.Mutex
	clients map[string]arrowflight.Client
	conns   map[string]*grpc.ClientConn // the connection under each client (reconnect.go)
}

// NewPeers makes a node-to-node client that allocates from mem.
func NewPeers(mem memory.Allocator) *Peers {
	return &Peers{mem: mem, clients: map[string]arrowflight.Client{}, conns: map[string]*grpc.ClientConn{}}
}

func (p *Peers) client(addr string) (arrowflight.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[addr]; ok {
		return c, nil
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), clientTracing(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32))}
	if p.tls != nil {
		host, _, err := net.SplitHostPort(hostPort(addr))
		if err != nil {
			return nil, kernels.Errorf(kernels.Unavailable, "node %s: %v", addr, err)
		}
		opts[0] = grpc.WithTransportCredentials(credentials.NewTLS(PeerTLS(p.tls, host)))
	}
	if p.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(p.token)))
	}
	conn, err := grpc.NewClient(hostPort(addr), opts...)
	if err != nil {
		return nil, kernels.Errorf(kernels.Unavailable, "node %s: %v", addr, err)
	}
	c := arrowflight.NewClientFromConn(conn, nil)
	p.clients[addr], p.conns[addr] = c, conn
	return c, nil
}

// Secure makes every call to another node carry token (a node token, when
// auth is on) and, with tlsCfg, go over TLS with the node's certificate.
// Call it before the first call.
func (p *Peers) Secure(token string, tlsCfg *tls.Config) {
	p.token, p.tls = token, tlsCfg
}

// hostPort is the host:port of a Flight URI.
func hostPort(uri string) string {
	for _, scheme := range []string{"grpc://", "grpc+tcp://", "grpc+tls://"} {
		if rest, ok := strings.CutPrefix(uri, scheme); ok {
			return rest
		}
	}
	return uri
}

// bearer sends a token on every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// Close closes every connection.
func (p *Peers) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.Close()
	}
	p.clients = map[string]arrowflight.Client{}
	p.conns = map[string]*grpc.ClientConn{}
}

var kindOf = map[codes.Code]kernels.Kind{
	codes.InvalidArgument:   kernels.Invalid,
	codes.NotFound:          kernels.NotFound,
	codes.AlreadyExists:     kernels.AlreadyExists,
	codes.ResourceExhausted: kernels.ResourceExhausted,
	codes.Unimplemented:     kernels.NotSupported,
	codes.Canceled:          kernels.Cancelled,
	codes.Unavailable:       kernels.Unavailable,
	codes.DeadlineExceeded:  kernels.Unavailable,
	codes.Aborted:           kernels.Unavailable,
	codes.Internal:          kernels.Internal,
	codes.PermissionDenied:  kernels.PermissionDenied,
}

// cutStream says whether a status is gRPC's own report of a connection
// that broke (the peer died mid-stream), not the peer's error.
func cutStream(st *status.Status) bool {
	msg := st.Message()
	return (st.Code() == codes.Internal || st.Code() == codes.Unknown) &&
		(strings.HasPrefix(msg, "transport: ") || strings.Contains(msg, "RST_STREAM") || strings.Contains(msg, "connection reset"))
}

// fromPeer gives a peer's error the kind its code maps to, keeping its
// text; a lost input comes back as the *scheduler.LostInput it was.
func fromPeer(addr string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return kernels.Errorf(kernels.Unavailable, "node %s closed the stream early", addr)
	}
	st, ok := status.FromError(err)
	if !ok {
		return kernels.Errorf(kernels.Unavailable, "node %s: %v", addr, err)
	}
	k, ok := kindOf[st.Code()]
	if !ok {
		k = kernels.Internal
	}
	if cutStream(st) {
		k = kernels.Unavailable
	}
	for _, d := range st.Details() {
		if li, ok := d.(*planpb.LostInput); ok {
			return &scheduler.LostInput{Node: li.GetNode(), Stage: li.GetStage(), Task: li.GetTask(), Cause: li.GetCause()}
		}
	}
	if k == kernels.Unavailable {
		return kernels.Errorf(k, "node %s: %s", addr, st.Message())
	}
	return kernels.Errorf(k, "%s", st.Message())
}

// The node-to-node actions. Each body and result is a planpb message (a
// catalog manifest inside one is its JSON, as the catalog stores it);
// Peers sends them, Service.nodeAction serves them.
const (
	actRunTask = "run_task"     // Task -> TaskResult
	actRelease = "release"      // Release -> nothing
	actCatalog = "catalog"      // nothing -> Manifests
	actCommit  = "commit_table" // CommitTable -> nothing
	actAbort   = "abort_upload" // CommitTable{upload_id} -> nothing
	actHealth  = "health"       // nothing -> JSON, for clients too
	// actTaskMemory: query id -> JSON, the memory figures of the tasks
	// of a query the node ran (EXPLAIN ANALYZE, query status).
	actTaskMemory = "task_memory"
)

// action runs a DoAction on the node at addr: req (nil: an empty body)
// in, the first result into resp (nil: ignored).
func (p *Peers) action(ctx context.Context, addr, kind string, req, resp proto.Message) error {
	var body []byte
	if req != nil {
		var err error
		if body, err = proto.Marshal(req); err != nil {
			return err
		}
	}
	res, err := p.rawAction(ctx, addr, kind, body)
	if err != nil {
		return err
	}
	if resp != nil {
		if err := proto.Unmarshal(res, resp); err != nil {
			return kernels.Errorf(kernels.Internal, "node %s answered %s with a malformed %s: %v", addr, kind, resp.ProtoReflect().Descriptor().Name(), err)
		}
	}
	return nil
}

// rawAction runs a DoAction on the node at addr and returns the body of
// its first result. A call refused by a connection that is down is made
// once more if the node answers again within a second (it restarted; see
// reconnect.go).
func (p *Peers) rawAction(ctx context.Context, addr, kind string, body []byte) ([]byte, error) {
	res, err := p.rawAction1(ctx, addr, kind, body)
	if err != nil && kernels.KindOf(err) == kernels.Unavailable && p.reconnected(ctx, addr) {
		res, err = p.rawAction1(ctx, addr, kind, body)
	}
	return res, err
}

func (p *Peers) rawAction1(ctx context.Context, addr, kind string, body []byte) ([]byte, error) {
	c, err := p.client(addr)
	if err != nil {
		return nil, err
	}
	stream, err := c.DoAction(ctx, &arrowflight.Action{Type: kind, Body: body})
	if err != nil {
		return nil, fromPeer(addr, err)
	}
	res, err := stream.Recv()
	if err != nil {
		return nil, fromPeer(addr, err)
	}
	for { // drain to the end so the call completes
		if _, err := stream.Recv(); err != nil {
			break
		}
	}
	return res.GetBody(), nil
}

// TaskMemory implements scheduler.Transport.
func (p *Peers) TaskMemory(ctx context.Context, addr, query string) ([]scheduler.TaskMemory, error) {
	raw, err := p.rawAction(ctx, addr, actTaskMemory, []byte(query))
	if err != nil {
		return nil, err
	}
	var out []scheduler.TaskMemory
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, kernels.Errorf(kernels.Internal, "node %s answered %s with malformed JSON: %v", addr, actTaskMemory, err)
	}
	return out, nil
}

// RunTask implements scheduler.Transport.
func (p *Peers) RunTask(ctx context.Context, addr string, t *planpb.Task) (*planpb.TaskResult, error) {
	res := &planpb.TaskResult{}
	if err := p.action(ctx, addr, actRunTask, t, res); err != nil {
		return nil, err
	}
	return res, nil
}

// Release implements scheduler.Transport.
func (p *Peers) Release(ctx context.Context, addr, query string, keep int32) error {
	return p.action(ctx, addr, actRelease, &planpb.Release{QueryId: query, Keep: keep}, nil)
}

// Commit implements scheduler.Transport.
func (p *Peers) Commit(ctx context.Context, addr string, m catalog.Manifest, upload string) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return p.action(ctx, addr, actCommit, &planpb.CommitTable{Manifest: raw, UploadId: upload}, nil)
}

// Abort implements scheduler.Transport.
func (p *Peers) Abort(ctx context.Context, addr, upload string) error {
	return p.action(ctx, addr, actAbort, &planpb.CommitTable{UploadId: upload}, nil)
}

// Manifests implements scheduler.Transport.
func (p *Peers) Manifests(ctx context.Context, addr string) ([]catalog.Manifest, error) {
	var res planpb.Manifests
	if err := p.action(ctx, addr, actCatalog, nil, &res); err != nil {
		return nil, err
	}
	out := make([]catalog.Manifest, len(res.GetManifests()))
	for i, raw := range res.GetManifests() {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, kernels.Errorf(kernels.Internal, "node %s sent a malformed manifest: %v", addr, err)
		}
	}
	return out, nil
}

// Health implements scheduler.Transport.
func (p *Peers) Health(ctx context.Context, addr string) error {
	return p.action(ctx, addr, actHealth, nil, nil)
}

// Fetch implements scheduler.Transport.
func (p *Peers) Fetch(ctx context.Context, addr string, key *planpb.OutputKey, compress bool) (exec.Operator, error) {
	c, err := p.client(addr)
	if err != nil {
		return nil, err
	}
	tk, err := proto.Marshal(&planpb.Ticket{Output: key, Shuffle: true, Compress: compress})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.DoGet(ctx, &arrowflight.Ticket{Ticket: tk})
	if err != nil {
		cancel()
		return nil, fromPeer(addr, err)
	}
	r, err := arrowflight.NewRecordReader(stream, ipc.WithAllocator(p.mem))
	if err != nil {
		cancel()
		return nil, fromPeer(addr, err)
	}
	return &remote{r: r, cancel: cancel, addr: addr}, nil
}

// remote streams a task's output from another node.
type remote struct {
	r      *arrowflight.Reader
	cancel context.CancelFunc
	addr   string
}

func (r *remote) Schema() *arrow.Schema { return r.r.Schema() }
func (r *remote) String() string        { return "Fetch " + r.addr }
func (r *remote) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.r.Next() {
		b := r.r.RecordBatch()
		b.Retain()
		return b, nil
	}
	if err := r.r.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fromPeer(r.addr, err)
	}
	return nil, io.EOF
}
func (r *remote) Close() error {
	r.r.Release()
	r.cancel()
	return nil
}
