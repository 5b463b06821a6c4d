package flight

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/exec"
	"slipstream/kernels/expr"
	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/config"
	"slipstream/scheduler/planpb"
)

// Version is the server's version, set by the binary.
var Version = "dev"

// Service implements the Flight RPCs of one node.
type Service struct {
	arrowflight.BaseFlightServer
	engine *scheduler.Engine
	mem    memory.Allocator
	// location is the URI clients use to reach this node (grpc://host:port).
	location string
	// dashboard is the URL of this node's dashboard ("": no HTTP port).
	dashboard string
	// sql serves Flight SQL on the same port (flightsql.go).
	sql *sqlServer
	// shm: results through shared memory for callers that ask (nil: never).
	shm *SharedResults
}

// NewService serves engine's data; location is this node's advertised URI.
func NewService(engine *scheduler.Engine, location string) *Service {
	s := &Service{engine: engine, mem: engine.Mem, location: location}
	s.sql = newSQLServer(s)
	return s
}

// ServerOptions are the gRPC options every Slipstream server uses: no
// message-size trap, panics recovered, errors mapped to codes, calls
// traced (trace.go), and at most maxClientCalls calls open per client
// connection (--max-client-streams; 0: the default).
func ServerOptions(maxClientCalls int) []grpc.ServerOption {
	if maxClientCalls <= 0 {
		maxClientCalls = config.DefaultClientStreams
	}
	calls := &clientCalls{max: maxClientCalls, open: map[string]int{}}
	return []grpc.ServerOption{
		serverCodec(),
		serverTracing(),
		grpc.MaxRecvMsgSize(math.MaxInt32),
		grpc.MaxSendMsgSize(math.MaxInt32),
		grpc.ChainUnaryInterceptor(unaryGuard, calls.unary),
		grpc.ChainStreamInterceptor(streamGuard, calls.stream),
	}
}

const typePrefix = "type.googleapis.com/"

// unwrap decodes a descriptor's cmd: an Any holding msg.
func unwrap(cmd []byte, msg proto.Message) error {
	want := string(msg.ProtoReflect().Descriptor().FullName())
	var a anypb.Any
	if err := proto.Unmarshal(cmd, &a); err != nil {
		return invalid("the descriptor's cmd is not a serialized google.protobuf.Any holding %s: %v", want, err)
	}
	if got := strings.TrimPrefix(a.GetTypeUrl(), typePrefix); got != want {
		return invalid("the descriptor's cmd holds %q; expected %s", a.GetTypeUrl(), typePrefix+want)
	}
	if err := proto.Unmarshal(a.GetValue(), msg); err != nil {
		return invalid("malformed %s: %v", want, err)
	}
	return nil
}

// query decodes a descriptor into a query: a cmd holding a Query, or a
// PATH naming a stored table.
func query(d *arrowflight.FlightDescriptor) (*planpb.Query, error) {
	if d == nil {
		return nil, invalid("missing flight descriptor")
	}
	if d.GetType() == arrowflight.DescriptorPATH {
		if len(d.GetPath()) != 1 {
			return nil, invalid("a PATH descriptor names one table, got %d path elements", len(d.GetPath()))
		}
		return scanQuery(d.GetPath()[0]), nil
	}
	q := &planpb.Query{}
	if err := unwrap(d.GetCmd(), q); err != nil {
		return nil, err
	}
	return q, nil
}

func scanQuery(table string) *planpb.Query {
	return &planpb.Query{Root: &planpb.Node{Kind: &planpb.Node_TableScan{TableScan: &planpb.TableScan{Table: table}}}}
}

func (s *Service) info(ctx context.Context, q *planpb.Query, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	if s.engine.Distributed() {
		return s.distributedInfo(ctx, q, d)
	}
	id, err := s.engine.Track(ctx, queryIDFrom(ctx))
	if err != nil {
		return nil, err
	}
	n, err := s.engine.Plan(q)
	if err != nil {
		s.engine.Failed(id, err)
		return nil, err
	}
	info, err := s.streamingInfoID(n.Schema(), q, d, -1, id)
	if info != nil {
		info.AppMetadata = []byte(id)
	}
	return info, err
}

// streamingInfo answers with one endpoint on this node whose ticket carries
// q, run when it is read.
func (s *Service) streamingInfo(schema *arrow.Schema, q *planpb.Query, d *arrowflight.FlightDescriptor, rows int64) (*arrowflight.FlightInfo, error) {
	return s.streamingInfoID(schema, q, d, rows, "")
}

// streamingInfoID is streamingInfo whose ticket runs the query as id.
func (s *Service) streamingInfoID(schema *arrow.Schema, q *planpb.Query, d *arrowflight.FlightDescriptor, rows int64, id string) (*arrowflight.FlightInfo, error) {
	ticket, err := proto.Marshal(&planpb.Ticket{Query: q, QueryId: id})
	if err != nil {
		return nil, err
	}
	ep := &arrowflight.FlightEndpoint{Ticket: &arrowflight.Ticket{Ticket: ticket}}
	if s.location != "" {
		ep.Location = []*arrowflight.Location{{Uri: s.location}}
	}
	return &arrowflight.FlightInfo{
		Schema:           arrowflight.SerializeSchema(schema, s.mem),
		FlightDescriptor: d,
		Endpoint:         []*arrowflight.FlightEndpoint{ep},
		TotalRecords:     rows,
		TotalBytes:       -1,
	}, nil
}

// distributedInfo runs q across the cluster and answers with one endpoint
// per result partition, located at the node that holds it.
func (s *Service) distributedInfo(ctx context.Context, q *planpb.Query, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	res, err := s.engine.RunQueryID(ctx, queryIDFrom(ctx), q)
	if err != nil {
		return nil, err
	}
	info := &arrowflight.FlightInfo{
		Schema:           arrowflight.SerializeSchema(res.Schema, s.mem),
		FlightDescriptor: d,
		TotalBytes:       -1,
		AppMetadata:      []byte(res.ID),
	}
	for _, p := range res.Parts {
		ticket, err := proto.Marshal(&planpb.Ticket{Output: p.Key})
		if err != nil {
			return nil, err
		}
		info.TotalRecords += p.Rows
		info.Endpoint = append(info.Endpoint, &arrowflight.FlightEndpoint{
			Ticket:   &arrowflight.Ticket{Ticket: ticket},
			Location: []*arrowflight.Location{{Uri: p.Node.Addr}},
		})
	}
	return info, nil
}

// GetFlightInfo plans a query and answers with its schema and endpoints;
// on a cluster it runs the query first.
func (s *Service) GetFlightInfo(ctx context.Context, d *arrowflight.FlightDescriptor) (*arrowflight.FlightInfo, error) {
	if isFlightSQL(d.GetCmd()) {
		return s.sql.routes(s.mem).GetFlightInfo(ctx, d)
	}
	q, err := query(d)
	if err != nil {
		return nil, err
	}
	return s.info(ctx, q, d)
}

// GetSchema plans a query and answers with its schema, running nothing.
func (s *Service) GetSchema(ctx context.Context, d *arrowflight.FlightDescriptor) (*arrowflight.SchemaResult, error) {
	if isFlightSQL(d.GetCmd()) {
		return s.sql.routes(s.mem).GetSchema(ctx, d)
	}
	q, err := query(d)
	if err != nil {
		return nil, err
	}
	n, err := s.engine.Plan(q)
	if err != nil {
		return nil, err
	}
	return &arrowflight.SchemaResult{Schema: arrowflight.SerializeSchema(n.Schema(), s.mem)}, nil
}

// DoGet runs the query in a ticket and streams its batches.
func (s *Service) DoGet(t *arrowflight.Ticket, stream arrowflight.FlightService_DoGetServer) error {
	if isFlightSQL(t.GetTicket()) {
		return s.sql.routes(s.mem).DoGet(t, stream)
	}
	var tk planpb.Ticket
	if err := proto.Unmarshal(t.GetTicket(), &tk); err != nil || (tk.GetQuery() == nil && tk.GetOutput() == nil) {
		return invalid("malformed ticket: pass a ticket from GetFlightInfo unchanged")
	}
	if tk.GetOutput() == nil {
		return s.doGetQuery(&tk, stream)
	}
	// A result is read once by a client; a shuffle may be read again
	// by a retried task, until the query releases it.
	if tk.GetShuffle() && s.engine.Fault != nil {
		s.engine.Fault("shuffle-read")
	}
	op, err := s.engine.Outputs().Open(tk.GetOutput(), !tk.GetShuffle())
	if err != nil {
		return err
	}
	defer op.Close()
	ctx := stream.Context()
	var opts []ipc.Option
	if tk.GetCompress() {
		opts = append(opts, ipc.WithZstd())
	}
	return sendResult(ctx, s.resultWriterFor(ctx, stream, op.Schema(), opts...), op.Next, nil)
}

// DoPut stores an uploaded table; it acknowledges only once it is durable
// (on a cluster: once every partition is durable on enough replicas and
// the manifest is committed).
func (s *Service) DoPut(stream arrowflight.FlightService_DoPutServer) error {
	first, err := stream.Recv()
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return err // a refusal (role, limits) or the client's cancel
		}
		return uploadError("cannot read the uploaded stream", err)
	}
	stream = &replayed{FlightService_DoPutServer: stream, first: first}
	if isFlightSQL(first.GetFlightDescriptor().GetCmd()) {
		return s.doPutSQL(stream)
	}
	// The stream is decoded with an allocator that refuses buffers bigger
	// than a batch may be, and each batch is validated before it is
	// stored: an upload is input from outside the node.
	maxBatch := s.engine.Settings().MaxBatchSize
	mem := budget.Untrusted(s.mem, maxBatch, "--max-batch-size")
	defer func() {
		if n := mem.Settle(); n > 0 {
			slog.Warn("freed what a failed decode of an upload dropped", "bytes", n)
		}
	}()
	r, err := arrowflight.NewRecordReader(verifiedStream{stream}, ipc.WithAllocator(mem))
	if err != nil {
		return uploadError("cannot read the uploaded stream", err)
	}
	defer r.Release()
	up, err := uploadCommand(r.LatestFlightDescriptor())
	if err != nil {
		return err
	}
	mode := uploadModes[up.GetMode()]
	written, total, err := s.engine.Store(stream.Context(), up.GetTable(), mode, r.Schema(), uploadBatches(r, up.GetTable(), maxBatch))
	if err != nil {
		return err
	}
	slog.Info("stored", "table", up.GetTable(), "rows", written, "mode", up.GetMode().String())
	meta, err := proto.Marshal(&planpb.UploadResult{Table: up.GetTable(), RowsWritten: written, TableRows: total})
	if err != nil {
		return err
	}
	return stream.Send(&arrowflight.PutResult{AppMetadata: meta})
}

// verifiedStream checks the metadata of each uploaded message before
// Arrow's reader reads it (exec.VerifyIPCMessage says why).
type verifiedStream struct {
	arrowflight.FlightService_DoPutServer
}

func (v verifiedStream) Recv() (*arrowflight.FlightData, error) {
	d, err := v.FlightService_DoPutServer.Recv()
	if err == nil && len(d.GetDataHeader()) > 0 {
		if err := exec.VerifyIPCMessage(d.GetDataHeader()); err != nil {
			return nil, err
		}
	}
	return d, err
}

// uploadError reports a stream that could not be decoded: with the kind
// of a refusal the decoder met (a buffer over --max-batch-size), else as
// invalid input.
func uploadError(what string, err error) error {
	if k := kernels.KindOf(err); k != kernels.Internal {
		return kernels.Errorf(k, "%s: %v", what, err)
	}
	return invalid("%s: %v", what, err)
}

func uploadCommand(d *arrowflight.FlightDescriptor) (*planpb.Upload, error) {
	if d == nil {
		return nil, invalid("an upload needs a flight descriptor naming the table")
	}
	if d.GetType() == arrowflight.DescriptorPATH {
		if len(d.GetPath()) != 1 {
			return nil, invalid("a PATH descriptor names one table, got %d path elements", len(d.GetPath()))
		}
		return &planpb.Upload{Table: d.GetPath()[0], Mode: planpb.Upload_CREATE}, nil
	}
	up := &planpb.Upload{}
	if err := unwrap(d.GetCmd(), up); err != nil {
		return nil, err
	}
	return up, nil
}

// listInfo describes a stored table without running anything.
func (s *Service) listInfo(name string, d *arrowflight.FlightDescriptor, rows int64) (*arrowflight.FlightInfo, error) {
	schema, err := s.engine.Catalog.TableSchema(name)
	if err != nil {
		return nil, err
	}
	return s.streamingInfo(schema, scanQuery(name), d, rows)
}

// ListFlights lists the stored tables.
func (s *Service) ListFlights(_ *arrowflight.Criteria, stream arrowflight.FlightService_ListFlightsServer) error {
	for _, t := range s.engine.Catalog.Tables() {
		d := &arrowflight.FlightDescriptor{Type: arrowflight.DescriptorPATH, Path: []string{t.Name}}
		info, err := s.listInfo(t.Name, d, t.Rows)
		if kernels.KindOf(err) == kernels.NotFound {
			continue // dropped meanwhile
		}
		if err != nil {
			return err
		}
		if err := stream.Send(info); err != nil {
			return err
		}
	}
	return nil
}

var actions = []*arrowflight.ActionType{
	{Type: "health", Description: "is the node up: {\"status\": \"ok\", \"version\": ...}"},
	{Type: "list_tables", Description: "stored tables with row counts and schemas (JSON)"},
	{Type: "list_functions", Description: "the function registry: names, kinds and arities (JSON)"},
	{Type: "drop_table", Description: "body {\"name\": ..., \"if_exists\": false}: remove a table"},
	{Type: "execute_sql", Description: "body {\"sql\": ...}: run a statement that changes tables (CREATE TABLE [AS], INSERT, DROP TABLE, COPY TO); result {\"rows\": rows written}"},
	{Type: "write", Description: "body: a serialized Write: run its query and store the result as a table, or write it as Parquet files, on the nodes; result {\"rows\": ..., \"table_rows\": ...}"},
	{Type: "explain", Description: "body: a serialized Query; result: the plan as text"},
	{Type: "cluster", Description: "the members of the cluster, their state, address, cores, memory and partitions held (JSON)"},
	{Type: "explain_analyze", Description: "body: a serialized Query; runs it, dropping its rows; result: the plan with each operator's peak memory and bytes spilled (on a cluster: by stage, over its tasks), as text"},
	{Type: "query_status", Description: "body: a query id (empty: the latest); its state, progress, the receipt of every task attempt (a cluster query) and each operator's peak memory and bytes spilled (JSON)"},
	{Type: "task_memory", Description: "node to node: body a query id; the peak memory and bytes spilled of each task of it this node ran, by operator (JSON)"},
	{Type: actRunTask, Description: "node to node: body a serialized Task; runs it and keeps its output; result a serialized TaskResult"},
	{Type: actRelease, Description: "node to node: body a serialized Release: forget a query's task outputs"},
	{Type: actCatalog, Description: "node to node: result a serialized Manifests, every table manifest this node has"},
	{Type: actCommit, Description: "node to node: body a serialized CommitTable: adopt a table manifest"},
	{Type: actAbort, Description: "node to node: body a serialized CommitTable naming an upload: discard its staging"},
}

// ListActions lists the actions DoAction takes.
func (s *Service) ListActions(_ *arrowflight.Empty, stream arrowflight.FlightService_ListActionsServer) error {
	for _, a := range append(append(actions[:len(actions):len(actions)], steerActions...), sqlActions...) {
		if err := stream.Send(a); err != nil {
			return err
		}
	}
	return nil
}

// DoAction runs one small verb.
func (s *Service) DoAction(a *arrowflight.Action, stream arrowflight.FlightService_DoActionServer) error {
	if a.GetType() == actFetchPart {
		return s.sendPart(a.GetBody(), stream)
	}
	if isSQLAction(a.GetType()) {
		return s.sql.routes(s.mem).DoAction(a, stream)
	}
	body, err := s.action(stream.Context(), a)
	if err != nil {
		return err
	}
	return stream.Send(&arrowflight.Result{Body: body})
}

func (s *Service) action(ctx context.Context, a *arrowflight.Action) ([]byte, error) {
	if body, ok, err := s.steerAction(ctx, a); ok {
		return body, err
	}
	switch a.GetType() {
	case "cluster":
		return json.Marshal(s.engine.ClusterStatus())
	case "query_status":
		return s.engine.QueryStatus(ctx, string(a.GetBody()))
	case actTaskMemory:
		return json.Marshal(s.engine.TaskMemory(string(a.GetBody())))
	case actRunTask, actRelease, actCatalog, actCommit, actAbort:
		return s.nodeAction(ctx, a.GetType(), a.GetBody())
	case actStorePart, actCopyPart, actStoreOutput, actWriteOutput:
		return s.replicaAction(ctx, a.GetType(), a.GetBody())
	case actHealth:
		return json.Marshal(s.nodeInfo())
	case "list_functions":
		return json.Marshal(map[string]any{"functions": functionList()})
	case "list_tables":
		type tableInfo struct {
			Name   string `json:"name"`
			Rows   int64  `json:"rows"`
			Schema string `json:"schema"`
		}
		out := []tableInfo{}
		for _, t := range s.engine.Catalog.Tables() {
			out = append(out, tableInfo{Name: t.Name, Rows: t.Rows, Schema: t.Schema.String()})
		}
		return json.Marshal(map[string]any{"tables": out})
	case "drop_table":
		var req struct {
			Name     string `json:"name"`
			IfExists bool   `json:"if_exists"`
		}
		if err := json.Unmarshal(a.GetBody(), &req); err != nil {
			return nil, invalid("drop_table takes a JSON body {\"name\": \"t\", \"if_exists\": false}: %v", err)
		}
		dropped, err := s.engine.Drop(ctx, req.Name)
		if err != nil {
			return nil, err
		}
		if !dropped && !req.IfExists {
			_, err := s.engine.Catalog.Table(req.Name)
			return nil, err
		}
		return json.Marshal(map[string]any{"dropped": dropped})
	case "execute_sql":
		var req struct {
			SQL string `json:"sql"`
		}
		if err := json.Unmarshal(a.GetBody(), &req); err != nil {
			return nil, invalid("execute_sql takes a JSON body {\"sql\": \"...\"}: %v", err)
		}
		n, err := s.engine.ExecSQLID(ctx, queryIDFrom(ctx), req.SQL)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"rows": n})
	case "write":
		return s.write(ctx, a.GetBody())
	case "explain":
		q := &planpb.Query{}
		if err := proto.Unmarshal(a.GetBody(), q); err != nil {
			return nil, invalid("explain takes a serialized Query: %v", err)
		}
		txt, err := s.engine.Explain(q)
		return []byte(txt), err
	case "explain_analyze":
		q := &planpb.Query{}
		if err := proto.Unmarshal(a.GetBody(), q); err != nil {
			return nil, invalid("explain_analyze takes a serialized Query: %v", err)
		}
		txt, err := s.engine.ExplainAnalyze(ctx, q)
		return []byte(txt), err
	}
	names := make([]string, len(actions))
	for i, x := range actions {
		names[i] = x.Type
	}
	return nil, invalid("unknown action %q; actions: %s", a.GetType(), strings.Join(names, ", "))
}

var uploadModes = map[planpb.Upload_Mode]catalog.Mode{planpb.Upload_CREATE: catalog.Create, planpb.Upload_REPLACE: catalog.Replace, planpb.Upload_APPEND: catalog.Append}

// write serves "write": a query's result kept on the cluster.
func (s *Service) write(ctx context.Context, body []byte) ([]byte, error) {
	req := &planpb.Write{}
	if err := proto.Unmarshal(body, req); err != nil || req.GetQuery() == nil {
		return nil, invalid("write takes a serialized Write with a query")
	}
	id := queryIDFrom(ctx)
	if req.GetPath() != "" {
		n, err := s.engine.WriteFiles(ctx, id, req.GetPath(), req.GetQuery())
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"rows": n})
	}
	n, total, err := s.engine.WriteTable(ctx, id, req.GetTable(), uploadModes[req.GetMode()], req.GetQuery())
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"rows": n, "table_rows": total})
}

// nodeAction serves the node-to-node actions (see peer.go): planpb
// messages in and out.
func (s *Service) nodeAction(ctx context.Context, kind string, body []byte) ([]byte, error) {
	switch kind {
	case actRunTask:
		t := &planpb.Task{}
		if err := proto.Unmarshal(body, t); err != nil {
			return nil, invalid("%s takes a serialized Task: %v", kind, err)
		}
		res, err := s.engine.RunTask(ctx, t)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(res)
	case actRelease:
		req := &planpb.Release{}
		if err := proto.Unmarshal(body, req); err != nil {
			return nil, invalid("%s takes a serialized Release: %v", kind, err)
		}
		// Stops the query's tasks here and waits for them (bounded by the
		// caller's deadline) before forgetting its outputs.
		return nil, s.engine.ReleaseQuery(ctx, req.GetQueryId(), req.GetKeep())
	case actCatalog:
		res := &planpb.Manifests{}
		for _, m := range s.engine.Catalog.Manifests() {
			raw, err := json.Marshal(m)
			if err != nil {
				return nil, err
			}
			res.Manifests = append(res.Manifests, raw)
		}
		return proto.Marshal(res)
	case actCommit, actAbort:
		req := &planpb.CommitTable{}
		if err := proto.Unmarshal(body, req); err != nil {
			return nil, invalid("%s takes a serialized CommitTable: %v", kind, err)
		}
		if kind == actAbort {
			s.engine.Catalog.Abort(req.GetUploadId())
			return nil, nil
		}
		var m catalog.Manifest
		if err := json.Unmarshal(req.GetManifest(), &m); err != nil {
			return nil, invalid("%s: malformed manifest: %v", kind, err)
		}
		return nil, s.engine.CommitManifest(m, req.GetUploadId())
	}
	return nil, invalid("unknown node-to-node action %q", kind)
}

// functionInfo is one function of the registry as list_functions gives it.
type functionInfo struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // scalar, aggregate or window
	Arity    int    `json:"arity"`
	MaxArity int    `json:"max_arity"` // 0: exactly arity; -1: any number more
	Merges   bool   `json:"merges,omitempty"`
	SQL      bool   `json:"sql_window,omitempty"`
}

func functionList() []functionInfo {
	kinds := map[expr.FuncKind]string{expr.Scalar: "scalar", expr.Aggregate: "aggregate", expr.Window: "window"}
	var out []functionInfo
	for _, name := range expr.Names() {
		fn, _ := expr.Lookup(name)
		out = append(out, functionInfo{Name: name, Kind: kinds[fn.Kind], Arity: fn.Arity, MaxArity: fn.MaxArity, Merges: fn.Mergeable(), SQL: fn.SQL})
	}
	return out
}
