package exec

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Union runs its inputs concurrently, one goroutine each, and streams
// their batches. Ordered keeps input order (all of input 0, then input 1,
// ...) while the later inputs work ahead into a small buffer, unless told
// to let it go once an input spills (LooseOnceSpilled); unordered passes
// batches on as they come. All inputs have the same schema.
type Union struct {
	inputs  []Operator
	ordered bool

	started bool
	drained bool // collectAll read everything
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	chans   []chan item // one per input when ordered, else one shared
	cur     int         // ordered: the input being read
	done    []bool      // ordered: the inputs that have ended
	// spilled, when set, lets an ordered union pass batches on as they
	// come once it says so (LooseOnceSpilled).
	spilled func() bool
	loose   bool
	recheck *time.Ticker // while spilled says no: when to ask again
	open    int          // unordered: inputs not finished yet
	failed  error        // the first input error, returned from then on
}

type item struct {
	b   arrow.RecordBatch
	err error // io.EOF marks the end of one input
}

// workAhead is how many batches each input may buffer before it waits.
const workAhead = 4

// NewUnion merges inputs, concurrently.
func NewUnion(inputs []Operator, ordered bool) *Union {
	return &Union{inputs: inputs, ordered: ordered}
}

// spiller is an operator whose output order changes once it spills.
type spiller interface{ Spilled() bool }

// LooseOnceSpilled keeps the union ordered until the spilling operator
// under one of its inputs (found through one-input operators) has
// spilled; batches then pass on as they come. For inputs that each
// aggregate a share of the groups: which groups a share holds when it
// spills depends on what the query's other operators held at that moment,
// so its order differs from run to run anyway, and an ordered union would
// make a share wait, its spilled parts unaggregated, until every share
// before it was read (one core idle for half of a 10^8-group group-by).
func (u *Union) LooseOnceSpilled() {
	var found []spiller
	for _, in := range u.inputs {
		for op := in; ; {
			if s, ok := op.(spiller); ok {
				found = append(found, s)
				break
			}
			p, ok := op.(Parent)
			if !ok || len(p.Children()) != 1 {
				break
			}
			op = p.Children()[0]
		}
	}
	if len(found) == 0 {
		return
	}
	u.spilled = func() bool {
		for _, s := range found {
			if s.Spilled() {
				return true
			}
		}
		return false
	}
}

func (u *Union) Schema() *arrow.Schema { return u.inputs[0].Schema() }
func (u *Union) Children() []Operator  { return u.inputs }
func (u *Union) String() string {
	txt := "Union partitions=" + strconv.Itoa(len(u.inputs))
	if u.ordered {
		txt += " ordered"
	}
	return txt
}

func (u *Union) start(ctx context.Context) {
	u.started = true
	ctx, u.cancel = context.WithCancel(ctx)
	if u.ordered {
		u.chans = make([]chan item, len(u.inputs))
		u.done = make([]bool, len(u.inputs))
		for i := range u.chans {
			u.chans[i] = make(chan item, workAhead)
		}
	} else {
		u.chans = []chan item{make(chan item, workAhead*len(u.inputs))}
	}
	u.open = len(u.inputs)
	if u.ordered && u.spilled != nil {
		u.recheck = time.NewTicker(recheckSpilled)
	}
	for i, in := range u.inputs {
		ch := u.chans[0]
		if u.ordered {
			ch = u.chans[i]
		}
		u.wg.Add(1)
		go func(in Operator, ch chan item) {
			defer u.wg.Done()
			for {
				b, err := in.Next(ctx)
				if err != nil {
					select {
					case ch <- item{err: err}:
					case <-ctx.Done():
					}
					return
				}
				select {
				case ch <- item{b: b}:
				case <-ctx.Done():
					b.Release()
					return
				}
			}
		}(in, ch)
	}
}

func (u *Union) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if u.failed != nil {
		return nil, u.failed
	}
	if u.drained {
		return nil, io.EOF
	}
	if !u.started {
		u.start(ctx)
	}
	for {
		if u.ordered && u.cur >= len(u.chans) || !u.ordered && u.open == 0 {
			return nil, io.EOF
		}
		if u.ordered && !u.loose && u.spilled != nil && u.spilled() {
			u.loose = true
			u.stopRecheck()
		}
		var it item
		from := u.cur
		if u.loose {
			from, it = u.receiveAny(ctx)
		} else {
			ch := u.chans[0]
			if u.ordered {
				ch = u.chans[u.cur]
			}
			var recheck <-chan time.Time // nil: never
			if u.recheck != nil {
				recheck = u.recheck.C
			}
			select {
			case it = <-ch:
			case <-ctx.Done():
				it.err = ctx.Err()
			case <-recheck: // a later input may have spilled while this one works
				continue
			}
		}
		switch {
		case it.err == io.EOF:
			if u.ordered {
				u.done[from] = true
				for u.cur < len(u.chans) && u.done[u.cur] {
					u.cur++
				}
			} else {
				u.open--
			}
		case it.err != nil:
			u.failed = it.err
			return nil, it.err
		default:
			return it.b, nil
		}
	}
}

// recheckSpilled is how often an ordered union waiting on one input asks
// whether another has spilled (LooseOnceSpilled).
const recheckSpilled = 50 * time.Millisecond

func (u *Union) stopRecheck() {
	if u.recheck != nil {
		u.recheck.Stop()
		u.recheck = nil
	}
}

// receiveAny is the next item of any ordered input not yet ended, and
// which input gave it.
func (u *Union) receiveAny(ctx context.Context) (int, item) {
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
	var inputs []int
	for i := u.cur; i < len(u.chans); i++ {
		if !u.done[i] {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(u.chans[i])})
			inputs = append(inputs, i)
		}
	}
	c, v, _ := reflect.Select(cases)
	if c == 0 {
		return u.cur, item{err: ctx.Err()}
	}
	return inputs[c-1], v.Interface().(item)
}

// collectAll collects every input at once, each in its own goroutine, and
// returns their batches in input order. (Streamed, an ordered union lets
// the later inputs work only a few batches ahead of the one being read,
// so a consumer that wants everything anyway would read it almost serially.)
func (u *Union) collectAll(ctx context.Context) ([]arrow.RecordBatch, error) {
	u.drained = true
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := make([][]arrow.RecordBatch, len(u.inputs))
	errs := make([]error, len(u.inputs))
	var wg sync.WaitGroup
	for i, in := range u.inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if parts[i], errs[i] = Collect(ctx, in); errs[i] != nil {
				cancel() // the others stop too
			}
		}()
	}
	wg.Wait()
	var out []arrow.RecordBatch
	var first error
	for i, part := range parts {
		if errs[i] != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = errs[i] // the cause, not a cancellation it caused
		}
		out = append(out, part...)
	}
	if first != nil {
		ReleaseAll(out)
		u.failed = first
		return nil, first
	}
	return out, nil
}

// Close stops the goroutines, frees what they buffered, and closes the inputs.
func (u *Union) Close() error {
	if u.started {
		// Every goroutine sends under select with ctx.Done and every input
		// checks ctx, so cancelling ends them all.
		u.cancel()
		u.wg.Wait()
		u.stopRecheck()
		for _, ch := range u.chans {
			for len(ch) > 0 {
				if it := <-ch; it.b != nil {
					it.b.Release()
				}
			}
		}
		u.started = false
	}
	var first error
	for _, in := range u.inputs {
		if err := in.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
