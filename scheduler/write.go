package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/apache/arrow-go/v18/arrow"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
	"slipstream/scheduler/config"
	"slipstream/scheduler/planpb"
)

// partWriter cuts a stream of batches into partitions of Config.PartRows
// rows and stores each durably on rf nodes (replicas.go), the nodes
// tried in the order holders(i) gives for the i-th partition. It is how
// an upload and a query's result stored as a table (WriteTable) become
// partitions; the caller commits the manifest naming them.
type partWriter struct {
	e       *Engine
	ctx     context.Context
	name    string
	schema  *arrow.Schema
	upload  string
	holders func(i int) []cluster.Member
	rf, w   int

	parts   []catalog.Part
	pending []arrow.RecordBatch
	rows    int64
	// written and bytes are the rows and in-memory bytes written.
	written, bytes int64
}

func (e *Engine) newPartWriter(ctx context.Context, name, upload string, schema *arrow.Schema, rf int, holders func(i int) []cluster.Member) *partWriter {
	return &partWriter{e: e, ctx: ctx, name: name, schema: schema, upload: upload, holders: holders, rf: rf, w: e.minReplicas(rf)}
}

// write adds b's rows (b stays the caller's).
func (pw *partWriter) write(b arrow.RecordBatch) error {
	if !b.Schema().Equal(pw.schema) {
		return kernels.Errorf(kernels.Invalid, "a batch's schema differs from the stream's schema")
	}
	pw.written += b.NumRows()
	pw.bytes += exec.BatchBytes(b)
	partRows := pw.e.Settings().PartRows
	// Cut the batch where a partition fills up (slices share memory).
	for off := int64(0); off < b.NumRows(); {
		n := min(b.NumRows()-off, partRows-pw.rows)
		pw.pending = append(pw.pending, b.NewSlice(off, off+n))
		pw.rows += n
		off += n
		if pw.rows >= partRows {
			if err := pw.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish stores the rows not yet stored; empty says whether to store an
// empty partition when nothing was written (a table has at least one).
func (pw *partWriter) finish(empty bool) ([]catalog.Part, error) {
	if pw.rows > 0 || (empty && len(pw.parts) == 0) {
		if err := pw.flush(); err != nil {
			return nil, err
		}
	}
	return pw.parts, nil
}

func (pw *partWriter) release() {
	exec.ReleaseAll(pw.pending)
	pw.pending = nil
}

func (pw *partWriter) flush() error {
	err := pw.put(pw.pending, pw.rows)
	pw.release()
	pw.rows = 0
	return err
}

// put stores batches (rows rows) as one partition, or as several when
// the file would be too big for one message (maxPartBytes).
func (pw *partWriter) put(batches []arrow.RecordBatch, rows int64) error {
	e := pw.e
	id := catalog.NewID()
	data, sum, err := catalog.EncodePart(pw.schema, batches, e.Mem)
	if err != nil {
		return err
	}
	if limit := e.maxPartBytes(); int64(len(data)) > limit {
		if rows < 2 {
			return kernels.Errorf(kernels.Invalid, "a row of %q takes %d bytes; a partition may take at most %s (the most one message between nodes carries)",
				pw.name, len(data), config.Bytes(limit))
		}
		data = nil
		first, second := splitRows(batches, rows/2)
		defer exec.ReleaseAll(first)
		defer exec.ReleaseAll(second)
		if err := pw.put(first, rows/2); err != nil {
			return err
		}
		return pw.put(second, rows-rows/2)
	}
	cmd := &planpb.StorePart{UploadId: pw.upload, PartId: id, Table: pw.name, Data: data, Checksum: sum}
	holders, failed := e.storeCopies(pw.ctx, pw.holders(len(pw.parts)), pw.rf, cmd)
	if len(holders) < pw.w {
		return refused(pw.name, len(pw.parts), id, holders, failed, pw.w)
	}
	var ranges catalog.Ranges
	for _, b := range batches {
		ranges.Add(b)
	}
	pw.parts = append(pw.parts, catalog.Part{ID: id, Rows: rows, Holders: holders, Ranges: ranges.List(), Checksum: sum, Bytes: int64(len(data))})
	return nil
}

// commit makes the partitions of upload the table's contents (mode) here,
// then on every alive node, and returns the table's rows after.
func (e *Engine) commit(ctx context.Context, name, upload string, mode catalog.Mode, schema *arrow.Schema, parts []catalog.Part) (int64, error) {
	var m *catalog.Manifest
	err := e.Catalog.Update(name, upload, func(old *catalog.Table) (*catalog.Manifest, error) {
		var err error
		m, err = catalog.NewManifest(old, name, mode, schema, parts, e.Catalog)
		return m, err
	})
	if err != nil {
		return 0, err
	}
	if err := e.broadcastManifest(ctx, *m, upload); err != nil {
		return 0, err
	}
	var total int64
	for _, p := range m.Parts {
		total += p.Rows
	}
	return total, nil
}

// WriteTable runs q and stores its result as the table name (mode as for
// an upload), with the replication and durability of an upload: it
// returns once every partition is durable on enough nodes and the
// manifest is committed. On a cluster each result partition is stored by
// the node that computed it, itself first among the holders: no row
// passes through this node or the client. It returns the rows written and
// the table's rows after.
func (e *Engine) WriteTable(ctx context.Context, id, name string, mode catalog.Mode, q *planpb.Query) (int64, int64, error) {
	e.init()
	n, err := e.Plan(q)
	if err != nil {
		return 0, 0, err
	}
	schema := n.Schema()
	if err := catalog.CheckUpload(e.Catalog.Current(name), name, mode, schema); err != nil {
		return 0, 0, err
	}
	if !e.Distributed() {
		return e.writeLocal(ctx, id, name, mode, q)
	}
	for attempt := 1; ; attempt++ {
		written, total, err := e.writeTableOnce(ctx, id, name, mode, q)
		var lost *lostResult
		if !errors.As(err, &lost) || attempt == resultAttempts || ctx.Err() != nil {
			return written, total, err
		}
		slog.Warn("a result partition was lost before it was stored; running the query again", "query", id, "table", name, "err", err)
		id = "" // a new id: the nodes refuse tasks of a query they have released
	}
}

// writeTableOnce is one run of WriteTable on a cluster; nothing of it is
// visible unless it succeeds.
func (e *Engine) writeTableOnce(ctx context.Context, id, name string, mode catalog.Mode, q *planpb.Query) (int64, int64, error) {
	res, err := e.RunQueryID(ctx, id, q)
	if err != nil {
		return 0, 0, err
	}
	defer e.releaseEverywhere(context.WithoutCancel(ctx), res.ID)
	upload := catalog.NewID()
	alive := e.Alive()
	// Every node stores its result partitions, one after the other (a
	// partition is encoded whole in memory), all nodes at once.
	stored := make([][]catalog.Part, len(res.Parts))
	err = byNode(ctx, res.Parts, func(ctx context.Context, i int, p ResultPart) error {
		cmd := &planpb.StoreOutput{Output: p.Key, Table: name, UploadId: upload}
		var err error
		if p.Node.Name == e.Self.Name {
			stored[i], err = e.StoreOutput(ctx, cmd)
		} else {
			stored[i], err = e.Net.StoreOutput(ctx, p.Node.Addr, cmd)
		}
		return e.lostResult(ctx, p, err)
	})
	if err != nil {
		e.abortUpload(alive, upload)
		return 0, 0, err
	}
	var (
		parts   []catalog.Part
		written int64
	)
	for _, got := range stored { // in the result's order
		for _, part := range got {
			written += part.Rows
		}
		parts = append(parts, got...)
	}
	if len(parts) == 0 { // an empty result still makes a table of one empty partition
		pw := e.newPartWriter(ctx, name, upload, res.Schema, e.replication(len(alive)), func(i int) []cluster.Member { return rotate(alive, i) })
		if parts, err = pw.finish(true); err != nil {
			e.abortUpload(alive, upload)
			return 0, 0, err
		}
	}
	total, err := e.commit(ctx, name, upload, mode, res.Schema, parts)
	if err != nil {
		e.abortUpload(alive, upload)
		return 0, 0, err
	}
	e.metrics.uploaded(written, 0)
	return written, total, nil
}

// resultAttempts is how many times WriteTable runs its query when a node
// loses a result partition before storing it (as the client runs a query
// again whose result partition was lost before it was read).
const resultAttempts = 3

// lostResult says a node lost a result partition of a finished query
// before storing or writing it: it died, or restarted and forgot it.
type lostResult struct {
	node, cause string
}

func (e *lostResult) Error() string {
	return fmt.Sprintf("node %s lost a result partition before storing or writing it (it died or restarted after the query ran): %s", e.node, e.cause)
}

// Unwrap gives the error its kind, Unavailable.
func (e *lostResult) Unwrap() error { return errLostResult }

var errLostResult = &kernels.Error{Kind: kernels.Unavailable, Msg: "lost result"}

// lostResult turns err, from having p's node store or write p, into a
// *lostResult when the node no longer holds p: it answers that it has no
// such output, or it no longer answers at all. Other errors stay as they
// are (a refused store answers, and is Unavailable too).
func (e *Engine) lostResult(ctx context.Context, p ResultPart, err error) error {
	if err == nil || p.Node.Name == e.Self.Name || ctx.Err() != nil {
		return err
	}
	switch kernels.KindOf(err) {
	case kernels.NotFound:
		return &lostResult{node: p.Node.Name, cause: err.Error()}
	case kernels.Unavailable:
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if e.Net.Health(hctx, p.Node.Addr) != nil {
			return &lostResult{node: p.Node.Name, cause: err.Error()}
		}
	}
	return err
}

// byNode calls fn for each result partition: a node's partitions one after
// the other, the nodes at once. The first error cancels the rest.
func byNode(ctx context.Context, parts []ResultPart, fn func(ctx context.Context, i int, p ResultPart) error) error {
	mine := map[string][]int{}
	for i, p := range parts {
		mine[p.Node.Name] = append(mine[p.Node.Name], i)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, idx := range mine {
		g.Go(func() error {
			for _, i := range idx {
				if err := fn(gctx, i, parts[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// writeLocal is WriteTable on a node alone: the query's batches are
// stored as an upload's.
func (e *Engine) writeLocal(ctx context.Context, id, name string, mode catalog.Mode, q *planpb.Query) (written, total int64, err error) {
	err = e.runLocal(ctx, id, q, func(ctx context.Context, op exec.Operator, run *LocalRun) error {
		written, total, err = e.Store(ctx, name, mode, op.Schema(), func() (arrow.RecordBatch, error) {
			b, err := op.Next(ctx)
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			if b != nil {
				run.Sent(b.NumRows(), exec.BatchBytes(b))
			}
			return b, err
		})
		return err
	})
	return written, total, err
}

// runLocal runs q on this node alone, tracked as id ("" makes one:
// cancel_query stops it), and hands its operator to use; the query ends,
// its memory freed, when use returns.
func (e *Engine) runLocal(ctx context.Context, id string, q *planpb.Query, use func(context.Context, exec.Operator, *LocalRun) error) (err error) {
	if id == "" {
		if id, err = e.Track(ctx, ""); err != nil {
			return err
		}
	}
	run, err := e.StartLocal(ctx, id)
	if err != nil {
		return err
	}
	ctx = run.Context()
	op, err := e.ExecuteLocal(run, q)
	if err != nil {
		run.End(err)
		return err
	}
	defer func() {
		op.Close()
		if c := context.Cause(ctx); err != nil && c != nil && ctx.Err() != nil && kernels.KindOf(c) == kernels.Cancelled {
			err = c // the client's cancel, not the bare context error
		}
		run.End(err)
	}()
	return use(ctx, op, run)
}

// StoreOutput stores a result partition this node holds as partitions of
// an upload (cmd.UploadId), this node first among each one's holders,
// and returns them; the coordinator of WriteTable commits them.
func (e *Engine) StoreOutput(ctx context.Context, cmd *planpb.StoreOutput) ([]catalog.Part, error) {
	e.init()
	op, err := e.Outputs().Open(cmd.GetOutput(), true)
	if err != nil {
		return nil, err
	}
	defer op.Close()
	alive := e.Alive()
	var others []cluster.Member
	for _, m := range alive {
		if m.Name != e.Self.Name {
			others = append(others, m)
		}
	}
	start := int(hashString(cmd.GetUploadId()+e.Self.Name) % uint64(max(1, len(others))))
	pw := e.newPartWriter(ctx, cmd.GetTable(), cmd.GetUploadId(), op.Schema(), e.replication(len(alive)), func(i int) []cluster.Member {
		return append([]cluster.Member{e.Self}, rotate(others, start+i)...)
	})
	defer pw.release()
	for {
		b, err := op.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		err = pw.write(b)
		b.Release()
		if err != nil {
			return nil, err
		}
	}
	return pw.finish(false)
}
