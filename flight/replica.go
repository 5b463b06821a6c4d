package flight

import (
	"context"

	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/protobuf/proto"

	"slipstream/kernels"
	"slipstream/scheduler/planpb"
)

// Copies of partitions between nodes: an upload's coordinator stores each
// partition file on its holders ("store_part"), and a node repairing its
// copy fetches one from another holder ("fetch_part"). Both carry the file
// bytes and their checksum in a StorePart, and both ends check the sum.
const (
	actStorePart = "store_part" // StorePart{upload, part, table, data, checksum} -> nothing
	actFetchPart = "fetch_part" // StorePart{table, part} -> StorePart{data, checksum}
	actCopyPart  = "copy_part"  // StorePart{upload, part, table, source} -> nothing
)

func init() {
	actions = append(actions,
		&arrowflight.ActionType{Type: actStorePart, Description: "node to node: body a serialized StorePart with a partition file: stage it durably, checking its checksum"},
		&arrowflight.ActionType{Type: actFetchPart, Description: "node to node: body a serialized StorePart naming a table and partition: result this node's copy, checked, with its checksum"},
		&arrowflight.ActionType{Type: actCopyPart, Description: "node to node: body a serialized StorePart naming a partition and a source node: fetch its copy from there, check it and stage it"})
}

// replicaAction serves store_part, fetch_part and copy_part.
func (s *Service) replicaAction(ctx context.Context, kind string, body []byte) ([]byte, error) {
	req := &planpb.StorePart{}
	if err := proto.Unmarshal(body, req); err != nil {
		return nil, invalid("%s takes a serialized StorePart: %v", kind, err)
	}
	cat := s.engine.Catalog
	if kind == actCopyPart {
		return nil, s.engine.CopyPartFrom(ctx, req)
	}
	if kind == actStorePart {
		return nil, cat.StageBytes(req.GetUploadId(), req.GetPartId(), req.GetTable(), req.GetData(), req.GetChecksum())
	}
	data, sum, err := cat.ReadPart(req.GetTable(), req.GetPartId())
	if err != nil {
		return nil, err
	}
	return proto.Marshal(&planpb.StorePart{Table: req.GetTable(), PartId: req.GetPartId(), Data: data, Checksum: sum})
}

// StorePart implements scheduler.Transport.
func (p *Peers) StorePart(ctx context.Context, addr string, cmd *planpb.StorePart) error {
	return p.action(ctx, addr, actStorePart, cmd, nil)
}

// CopyPart implements scheduler.Transport.
func (p *Peers) CopyPart(ctx context.Context, addr string, cmd *planpb.StorePart) error {
	return p.action(ctx, addr, actCopyPart, cmd, nil)
}

// FetchPart implements scheduler.Transport.
func (p *Peers) FetchPart(ctx context.Context, addr, table, id string) ([]byte, string, error) {
	res := &planpb.StorePart{}
	if err := p.action(ctx, addr, actFetchPart, &planpb.StorePart{Table: table, PartId: id}, res); err != nil {
		return nil, "", err
	}
	if res.GetPartId() != id {
		return nil, "", kernels.Errorf(kernels.Internal, "node %s answered fetch_part %s with partition %q", addr, id, res.GetPartId())
	}
	return res.GetData(), res.GetChecksum(), nil
}
