package exec

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// Limit skips Offset rows, then passes at most Count (all when < 0). It
// stops pulling from its input once it has enough.
type Limit struct {
	input         Operator
	offset, count int64
}

func NewLimit(input Operator, offset, count int64) *Limit {
	return &Limit{input: input, offset: offset, count: count}
}

func (l *Limit) Schema() *arrow.Schema { return l.input.Schema() }
func (l *Limit) Children() []Operator  { return []Operator{l.input} }
func (l *Limit) Close() error          { return l.input.Close() }
func (l *Limit) String() string {
	return fmt.Sprintf("Limit offset=%d count=%d", l.offset, l.count)
}

func (l *Limit) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		if l.count == 0 {
			return nil, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := l.input.Next(ctx)
		if err != nil {
			return nil, err
		}
		n := b.NumRows()
		start := min(l.offset, n)
		l.offset -= start
		end := n
		if l.count >= 0 {
			end = min(n, start+l.count)
			l.count -= end - start
		}
		if start == 0 && end == n {
			return b, nil
		}
		out := b.NewSlice(start, end)
		b.Release()
		if out.NumRows() > 0 {
			return out, nil
		}
		out.Release()
	}
}
