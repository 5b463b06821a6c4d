package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"slipstream/kernels"
	"slipstream/kernels/exec"
	"slipstream/scheduler/planpb"
)

// rowGroupRows is the most rows a row group of a written Parquet file
// holds (DuckDB writes about 120k; a bigger group reads faster whole).
const rowGroupRows = 1 << 20

// partFile is the name of the i-th file COPY TO writes into dir.
func partFile(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("part-%05d.parquet", i))
}

// WriteFiles runs q and writes its result as Parquet files into the
// directory dir (under the node's allowed roots), one file per result
// partition, each written by the node that computed it (COPY TO,
// write_parquet). It returns the rows written.
func (e *Engine) WriteFiles(ctx context.Context, id, dir string, q *planpb.Query) (int64, error) {
	e.init()
	if entries, err := e.Roots.ReadDir(dir); err == nil && len(entries) > 0 {
		return 0, kernels.Errorf(kernels.AlreadyExists, "COPY TO %q: the directory is not empty; write to a new directory (files are never overwritten)", dir)
	} else if kernels.KindOf(err) == kernels.PermissionDenied {
		return 0, err
	}
	if !e.Distributed() {
		return e.writeFilesLocal(ctx, id, dir, q)
	}
	res, err := e.RunQueryID(ctx, id, q)
	if err != nil {
		return 0, err
	}
	defer e.releaseEverywhere(context.WithoutCancel(ctx), res.ID)
	// Every node writes its files, one after the other, all nodes at once.
	rows := make([]int64, len(res.Parts))
	err = byNode(ctx, res.Parts, func(ctx context.Context, i int, p ResultPart) error {
		cmd := &planpb.WriteOutput{Output: p.Key, Path: partFile(dir, i)}
		var err error
		if p.Node.Name == e.Self.Name {
			rows[i], err = e.WriteOutput(ctx, cmd)
		} else {
			rows[i], err = e.Net.WriteOutput(ctx, p.Node.Addr, cmd)
		}
		// Not run again: files already written would be in the way.
		return e.lostResult(ctx, p, err)
	})
	var total int64
	for _, n := range rows {
		total += n
	}
	return total, err
}

func (e *Engine) writeFilesLocal(ctx context.Context, id, dir string, q *planpb.Query) (rows int64, err error) {
	err = e.runLocal(ctx, id, q, func(ctx context.Context, op exec.Operator, run *LocalRun) error {
		rows, err = e.writeParquet(ctx, partFile(dir, 0), op, run.Sent)
		return err
	})
	return rows, err
}

// WriteOutput writes a result partition this node holds as the Parquet
// file cmd.Path, under this node's allowed roots, and returns its rows.
func (e *Engine) WriteOutput(ctx context.Context, cmd *planpb.WriteOutput) (int64, error) {
	e.init()
	op, err := e.Outputs().Open(cmd.GetOutput(), true)
	if err != nil {
		return 0, err
	}
	defer op.Close()
	return e.writeParquet(ctx, cmd.GetPath(), op, nil)
}

// writeParquet writes op's batches as the Parquet file path (Snappy, as
// DuckDB and pyarrow write by default: fast to write and to read).
func (e *Engine) writeParquet(ctx context.Context, path string, op exec.Operator, sent func(rows, bytes int64)) (int64, error) {
	var rows int64
	err := e.Roots.Write(path, func(w io.Writer) error {
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(rowGroupRows), parquet.WithAllocator(e.Mem))
		fw, err := pqarrow.NewFileWriter(op.Schema(), w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return err
		}
		for {
			b, err := op.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				fw.Close()
				return err
			}
			rows += b.NumRows()
			if sent != nil {
				sent(b.NumRows(), exec.BatchBytes(b))
			}
			err = fw.WriteBuffered(b)
			b.Release()
			if err != nil {
				fw.Close()
				return err
			}
		}
		return fw.Close()
	})
	return rows, err
}
