package flight

import (
	"context"
	"encoding/json"
	"io"

	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/protobuf/proto"

	"slipstream/kernels"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/planpb"
)

// Copies of partitions between nodes: an upload's coordinator stores each
// partition file on its holders ("store_part", the file in one message),
// and a node repairing or making a copy fetches one from another holder
// ("fetch_part": a stream of StorePart results, the first naming the
// partition and its checksum, each carrying a chunk of at most
// catalog.ChunkSize bytes, so a file of any size travels and the receiver
// paces it). Both ends check the sum.
const (
	actStorePart = "store_part" // StorePart{upload, part, table, data, checksum} -> nothing
	actFetchPart = "fetch_part" // StorePart{table, part} -> stream of StorePart{table, part, checksum, data chunk}
	actCopyPart  = "copy_part"  // StorePart{upload, part, table, source} -> nothing
	// StoreOutput{output, table, upload} -> StoredParts: store a result
	// partition this node holds as partitions of an upload.
	actStoreOutput = "store_output"
	// WriteOutput{output, path} -> Written: write a result partition this
	// node holds as a Parquet file (COPY TO).
	actWriteOutput = "write_output"
)

func init() {
	actions = append(actions,
		&arrowflight.ActionType{Type: actStorePart, Description: "node to node: body a serialized StorePart with a partition file: stage it durably, checking its checksum"},
		&arrowflight.ActionType{Type: actFetchPart, Description: "node to node: body a serialized StorePart naming a table and partition: result this node's copy, checked, with its checksum"},
		&arrowflight.ActionType{Type: actCopyPart, Description: "node to node: body a serialized StorePart naming a partition and a source node: fetch its copy from there, check it and stage it"},
		&arrowflight.ActionType{Type: actWriteOutput, Description: "node to node: body a serialized WriteOutput naming a result partition this node holds and a path: write it there as a Parquet file (COPY TO), result Written"},
		&arrowflight.ActionType{Type: actStoreOutput, Description: "node to node: body a serialized StoreOutput naming a result partition this node holds: store it as partitions of an upload (CREATE TABLE AS), result StoredParts"})
}

// replicaAction serves store_part and copy_part (fetch_part streams:
// sendPart).
func (s *Service) replicaAction(ctx context.Context, kind string, body []byte) ([]byte, error) {
	switch kind {
	case actStoreOutput:
		return s.storeOutput(ctx, body)
	case actWriteOutput:
		req := &planpb.WriteOutput{}
		if err := proto.Unmarshal(body, req); err != nil {
			return nil, invalid("%s takes a serialized WriteOutput: %v", kind, err)
		}
		n, err := s.engine.WriteOutput(ctx, req)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(&planpb.Written{Rows: n})
	}
	req := &planpb.StorePart{}
	if err := proto.Unmarshal(body, req); err != nil {
		return nil, invalid("%s takes a serialized StorePart: %v", kind, err)
	}
	cat := s.engine.Catalog
	if kind == actCopyPart {
		return nil, s.engine.CopyPartFrom(ctx, req)
	}
	return nil, cat.StageBytes(req.GetUploadId(), req.GetPartId(), req.GetTable(), req.GetData(), req.GetChecksum())
}

func (s *Service) storeOutput(ctx context.Context, body []byte) ([]byte, error) {
	req := &planpb.StoreOutput{}
	if err := proto.Unmarshal(body, req); err != nil {
		return nil, invalid("%s takes a serialized StoreOutput: %v", actStoreOutput, err)
	}
	parts, err := s.engine.StoreOutput(ctx, req)
	if err != nil {
		return nil, err
	}
	res := &planpb.StoredParts{}
	for _, p := range parts {
		raw, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		res.Parts = append(res.Parts, raw)
	}
	return proto.Marshal(res)
}

// StoreOutput implements scheduler.Transport.
func (p *Peers) StoreOutput(ctx context.Context, addr string, cmd *planpb.StoreOutput) ([]catalog.Part, error) {
	var res planpb.StoredParts
	if err := p.action(ctx, addr, actStoreOutput, cmd, &res); err != nil {
		return nil, err
	}
	out := make([]catalog.Part, len(res.GetParts()))
	for i, raw := range res.GetParts() {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, kernels.Errorf(kernels.Internal, "node %s sent a malformed partition: %v", addr, err)
		}
	}
	return out, nil
}

// WriteOutput implements scheduler.Transport.
func (p *Peers) WriteOutput(ctx context.Context, addr string, cmd *planpb.WriteOutput) (int64, error) {
	var res planpb.Written
	if err := p.action(ctx, addr, actWriteOutput, cmd, &res); err != nil {
		return 0, err
	}
	return res.GetRows(), nil
}

// sendPart serves fetch_part: this node's copy of a partition, in chunks.
func (s *Service) sendPart(body []byte, stream arrowflight.FlightService_DoActionServer) error {
	req := &planpb.StorePart{}
	if err := proto.Unmarshal(body, req); err != nil {
		return toStatus(invalid("%s takes a serialized StorePart: %v", actFetchPart, err))
	}
	err := s.engine.Catalog.SendPart(req.GetTable(), req.GetPartId(), func(sum string, chunk []byte) error {
		msg, err := proto.Marshal(&planpb.StorePart{Table: req.GetTable(), PartId: req.GetPartId(), Checksum: sum, Data: chunk})
		if err != nil {
			return err
		}
		return stream.Send(&arrowflight.Result{Body: msg})
	})
	return toStatus(err)
}

// StorePart implements scheduler.Transport.
func (p *Peers) StorePart(ctx context.Context, addr string, cmd *planpb.StorePart) error {
	return p.action(ctx, addr, actStorePart, cmd, nil)
}

// CopyPart implements scheduler.Transport.
func (p *Peers) CopyPart(ctx context.Context, addr string, cmd *planpb.StorePart) error {
	return p.action(ctx, addr, actCopyPart, cmd, nil)
}

// FetchPart implements scheduler.Transport. A call refused before any
// byte arrived is made once more if the node answers again within a second
// (see reconnect.go).
func (p *Peers) FetchPart(ctx context.Context, addr, table, id string, w io.Writer) (string, error) {
	sum, started, err := p.fetchPart(ctx, addr, table, id, w)
	if err != nil && !started && kernels.KindOf(err) == kernels.Unavailable && p.reconnected(ctx, addr) {
		sum, _, err = p.fetchPart(ctx, addr, table, id, w)
	}
	return sum, err
}

func (p *Peers) fetchPart(ctx context.Context, addr, table, id string, w io.Writer) (sum string, started bool, err error) {
	c, err := p.client(addr)
	if err != nil {
		return "", false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := proto.Marshal(&planpb.StorePart{Table: table, PartId: id})
	if err != nil {
		return "", false, err
	}
	stream, err := c.DoAction(ctx, &arrowflight.Action{Type: actFetchPart, Body: body})
	if err != nil {
		return "", false, fromPeer(addr, err)
	}
	msg := &planpb.StorePart{}
	for {
		res, err := stream.Recv()
		if err == io.EOF {
			if !started {
				return "", false, kernels.Errorf(kernels.Internal, "node %s answered fetch_part %s with nothing", addr, id)
			}
			return sum, true, nil
		}
		if err != nil {
			return "", started, fromPeer(addr, err)
		}
		if err := proto.Unmarshal(res.GetBody(), msg); err != nil || msg.GetPartId() != id {
			return "", started, kernels.Errorf(kernels.Internal, "node %s answered fetch_part %s with a malformed chunk (partition %q, %v)", addr, id, msg.GetPartId(), err)
		}
		started, sum = true, msg.GetChecksum()
		if _, err := w.Write(msg.GetData()); err != nil {
			return "", true, err
		}
	}
}
