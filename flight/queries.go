package flight

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/scheduler"
	"slipstream/scheduler/planpb"
)

// Seeing and steering running queries: the id a client gives its query,
// the actions that list and cancel queries, Flight's CancelFlightInfo, and
// the streaming of a query run by this node alone under its id.

// QueryIDHeader is the request header in which a client names the query
// its GetFlightInfo (or DoGet) runs, so that it can cancel the query
// (cancel_query) and follow it (query_status) before the call returns.
const QueryIDHeader = "x-slipstream-query-id"

// queryIDFrom is the query id the client chose, or "".
func queryIDFrom(ctx context.Context) string {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ""
	}
	if v := md.Get(QueryIDHeader); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

var steerActions = []*arrowflight.ActionType{
	{Type: "cancel_query", Description: "body: a query id this node coordinates; stops it on every node (JSON {\"id\", \"result\": cancelled | not_cancellable | unknown})"},
	{Type: "queries", Description: "the queries this node coordinates, running and recent, newest first (JSON)"},
	{Type: arrowflight.CancelFlightInfoActionType, Description: "Flight's standard cancel: body a serialized CancelFlightInfoRequest holding the FlightInfo of a query"},
}

// steerAction serves the actions that see and steer queries; ok is false
// for any other action.
func (s *Service) steerAction(ctx context.Context, a *arrowflight.Action) (body []byte, ok bool, err error) {
	switch a.GetType() {
	case "queries":
		body, err = json.Marshal(map[string]any{"queries": s.engine.Queries()})
		return body, true, err
	case "cancel_query":
		id := strings.TrimSpace(string(a.GetBody()))
		if id == "" {
			return nil, true, invalid("cancel_query takes a query id as its body")
		}
		if err := s.mayCancel(ctx, id); err != nil {
			return nil, true, err
		}
		res := s.engine.Cancel(id, "cancelled by the client")
		body, err = json.Marshal(map[string]any{"id": id, "result": res})
		return body, true, err
	case arrowflight.CancelFlightInfoActionType:
		body, err = s.cancelFlightInfo(ctx, a.GetBody())
		return body, true, err
	}
	return nil, false, nil
}

// cancelFlightInfo serves Flight's CancelFlightInfo: the query is named by
// the FlightInfo's app_metadata (its id), or else by its tickets.
func (s *Service) cancelFlightInfo(ctx context.Context, body []byte) ([]byte, error) {
	var req arrowflight.CancelFlightInfoRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return nil, invalid("CancelFlightInfo takes a serialized CancelFlightInfoRequest: %v", err)
	}
	id := infoQueryID(req.GetInfo())
	if id == "" {
		return nil, invalid("this FlightInfo names no query: pass the FlightInfo GetFlightInfo returned, unchanged")
	}
	if err := s.mayCancel(ctx, id); err != nil {
		return nil, err
	}
	status := arrowflight.CancelStatusCancelled
	switch s.engine.Cancel(id, "cancelled by CancelFlightInfo") {
	case scheduler.NotCancellable:
		status = arrowflight.CancelStatusNotCancellable
	case scheduler.Unknown:
		return nil, kernels.Errorf(kernels.NotFound, "no query %s is known to this node: cancel it on the node that answered GetFlightInfo", id)
	}
	return proto.Marshal(&arrowflight.CancelFlightInfoResult{Status: status})
}

// mayCancel says whether the caller may cancel query id: its owner and
// an admin may; without auth, anyone.
func (s *Service) mayCancel(ctx context.Context, id string) error {
	who, ok := identityFrom(ctx)
	owner := s.engine.Owner(id)
	if !ok || owner == "" || who.Role >= Admin || who.Name == owner {
		return nil
	}
	return kernels.Errorf(kernels.PermissionDenied, "query %s was started by %q; only they or an admin may cancel it (you are %q)", id, owner, who.Name)
}

// infoQueryID reads a query's id from the FlightInfo this node answered.
func infoQueryID(info *arrowflight.FlightInfo) string {
	if info == nil {
		return ""
	}
	if id := string(info.GetAppMetadata()); id != "" {
		return id
	}
	for _, ep := range info.GetEndpoint() {
		var tk planpb.Ticket
		if proto.Unmarshal(ep.GetTicket().GetTicket(), &tk) != nil {
			continue
		}
		if tk.GetQueryId() != "" {
			return tk.GetQueryId()
		}
		if tk.GetOutput().GetQueryId() != "" {
			return tk.GetOutput().GetQueryId()
		}
	}
	return ""
}

// doGetQuery streams a query this node runs alone, as the query id of its
// ticket (or the client's header, or a new one): cancel_query and
// CancelFlightInfo stop it, query_status follows it.
func (s *Service) doGetQuery(tk *planpb.Ticket, stream arrowflight.FlightService_DoGetServer) (err error) {
	id := tk.GetQueryId()
	if id == "" {
		id = queryIDFrom(stream.Context())
	}
	if id == "" {
		if id, err = s.engine.Track(stream.Context(), ""); err != nil {
			return err
		}
	}
	run, err := s.engine.StartLocal(stream.Context(), id)
	if err != nil {
		return err
	}
	ctx := run.Context()
	op, err := s.engine.ExecuteLocal(run, tk.GetQuery())
	if err != nil {
		run.End(err)
		return err
	}
	defer func() {
		op.Close() // frees the query's memory and spill files before it is said to have ended
		if c := context.Cause(ctx); err != nil && c != nil && ctx.Err() != nil && kernels.KindOf(c) == kernels.Cancelled {
			err = c // the client's cancel, not the bare context error
		}
		run.End(err)
	}()
	w := s.resultWriterFor(ctx, stream, op.Schema())
	return sendResult(ctx, w, op.Next, func(b arrow.RecordBatch) { run.Sent(b.NumRows(), exec.BatchBytes(b)) })
}
