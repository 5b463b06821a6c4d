// Package stage cuts an optimized logical plan into stages at exchanges,
// for a cluster to run: each stage runs as tasks on several nodes, and a
// stage reads the output of the stages below it through plan.Exchange.
//
// The cut is a pure function of the plan and Config, so every node derives
// the same stages from the same query and a task needs only its query,
// stage number and inputs (no plan serialization).
package stage

import (
	"fmt"
	"strings"

	"slipstream/scheduler/plan"
)

// Driver says what a stage's tasks are cut by.
type Driver int

const (
	// FromScan: one task per share of the stage's one scan.
	FromScan Driver = iota
	// FromHash: one task per hash bucket of its hash exchanges.
	FromHash
	// Single: one task that reads all of its inputs.
	Single
)

func (d Driver) String() string { return [...]string{"scan", "hash", "single"}[d] }

// Output says where a stage's output goes.
type Output int

const (
	Hash      Output = iota // cut by Keys into one bucket per consumer task
	Gather                  // all of it to one consumer task
	Broadcast               // all of it to every consumer task
	Result                  // to the client
)

func (o Output) String() string { return [...]string{"hash", "gather", "broadcast", "result"}[o] }

// Stage is one piece of the plan, run as tasks.
type Stage struct {
	ID     int
	Root   plan.Node // its inputs are plan.Exchange leaves
	Driver Driver
	Scan   *plan.Scan // the one scan of a FromScan stage
	Out    Output
	Keys   []plan.Expr // Hash: over Root's schema
	Inputs []int       // the stages Root reads
}

// Graph is a cut plan; stages come children first, the last is the result.
type Graph struct {
	Stages []*Stage
}

// Result is the stage whose output goes to the client.
func (g *Graph) Result() *Stage { return g.Stages[len(g.Stages)-1] }

// Consumer is the stage that reads stage id, or nil for the result.
func (g *Graph) Consumer(id int) *Stage {
	for _, s := range g.Stages {
		for _, in := range s.Inputs {
			if in == id {
				return s
			}
		}
	}
	return nil
}

func (g *Graph) String() string {
	var sb strings.Builder
	for _, s := range g.Stages {
		keys := ""
		if s.Out == Hash {
			parts := make([]string, len(s.Keys))
			for i, k := range s.Keys {
				parts[i] = k.String()
			}
			keys = "(" + strings.Join(parts, ", ") + ")"
		}
		fmt.Fprintf(&sb, "Stage %d tasks=%s output=%s%s\n", s.ID, s.Driver, s.Out, keys)
		for _, l := range strings.Split(strings.TrimRight(plan.Explain(s.Root), "\n"), "\n") {
			sb.WriteString("  " + l + "\n")
		}
	}
	return sb.String()
}

// Config steers the cut.
type Config struct {
	// BroadcastRows: a join side estimated at or under this many rows is
	// sent whole to every task of the other side.
	BroadcastRows int64
	// Estimate guesses how many rows a plan produces.
	Estimate func(plan.Node) int64
}

// Cut cuts n into stages.
func Cut(n plan.Node, cfg Config) *Graph {
	c := &cutter{g: &Graph{}, cfg: cfg}
	c.stage(c.cut(n), Result, nil)
	return c.g
}

// frag is a piece of plan not yet closed into a stage.
type frag struct {
	n      plan.Node
	d      Driver
	scan   *plan.Scan
	inputs []int
}

type cutter struct {
	g   *Graph
	cfg Config
}

// stage closes f into a stage and returns the Exchange that reads it.
func (c *cutter) stage(f frag, out Output, keys []plan.Expr) *plan.Exchange {
	s := &Stage{ID: len(c.g.Stages), Root: f.n, Driver: f.d, Scan: f.scan, Out: out, Keys: keys, Inputs: f.inputs}
	c.g.Stages = append(c.g.Stages, s)
	return &plan.Exchange{Stage: s.ID, Out: f.n.Schema()}
}

// gather closes f into a stage read whole by one task.
func (c *cutter) gather(f frag) frag {
	if f.d == Single {
		return f
	}
	return frag{n: c.stage(f, Gather, nil), d: Single, inputs: []int{len(c.g.Stages) - 1}}
}

func (c *cutter) hash(f frag, keys []plan.Expr) frag {
	return frag{n: c.stage(f, Hash, keys), d: FromHash, inputs: []int{len(c.g.Stages) - 1}}
}

// with wraps f's plan in a node over it.
func with(f frag, n plan.Node) frag {
	f.n = n
	return f
}

func (c *cutter) cut(n plan.Node) frag {
	switch n := n.(type) {
	case *plan.Scan:
		return frag{n: n, d: FromScan, scan: n}
	case *plan.Values:
		return frag{n: n, d: Single}
	case *plan.Filter:
		f := c.cut(n.Input)
		return with(f, &plan.Filter{Input: f.n, Predicate: n.Predicate})
	case *plan.Project:
		f := c.cut(n.Input)
		return with(f, &plan.Project{Input: f.n, Exprs: n.Exprs})
	case *plan.Explode: // row by row: it runs where its input is
		f := c.cut(n.Input)
		e := *n
		e.Input = f.n
		return with(f, &e)
	case *plan.Aggregate:
		return c.aggregate(n)
	case *plan.Sort:
		return c.sort(n, -1)
	case *plan.Limit:
		if s, ok := n.Input.(*plan.Sort); ok && n.Count >= 0 {
			f := c.sort(s, n.Offset+n.Count)
			return with(f, &plan.Limit{Input: f.n, Offset: n.Offset, Count: n.Count})
		}
		f := c.cut(n.Input)
		if f.d != Single && n.Count >= 0 {
			f = with(f, &plan.Limit{Input: f.n, Count: n.Offset + n.Count})
		}
		f = c.gather(f)
		return with(f, &plan.Limit{Input: f.n, Offset: n.Offset, Count: n.Count})
	case *plan.Join:
		return c.join(n)
	case *plan.Window:
		// A window keeps its input's row order (as in polars), which a hash
		// exchange would lose: it runs in one task.
		f := c.gather(c.cut(n.Input))
		return with(f, &plan.Window{Input: f.n, Exprs: n.Exprs})
	case *plan.Concat:
		out := frag{d: Single}
		inputs := make([]plan.Node, len(n.Inputs))
		for i, in := range n.Inputs {
			f := c.gather(c.cut(in))
			inputs[i] = f.n
			out.inputs = append(out.inputs, f.inputs...)
		}
		out.n = &plan.Concat{Inputs: inputs}
		return out
	}
	panic(fmt.Sprintf("stage: unknown plan node %T", n))
}

// aggregate runs partial aggregates where the input is, then merges them
// per key bucket; aggregates that cannot merge see all rows of a key.
func (c *cutter) aggregate(n *plan.Aggregate) frag {
	f := c.cut(n.Input)
	local := &plan.Aggregate{Input: f.n, Keys: n.Keys, Aggs: n.Aggs}
	if f.d == Single {
		return with(f, local)
	}
	if mergeable, _ := plan.Mergeable(n); mergeable {
		partial, final := plan.SplitAggregate(local)
		pf := with(f, partial)
		if len(n.Keys) == 0 {
			pf = c.gather(pf)
		} else {
			keys := make([]plan.Expr, len(n.Keys))
			schema := partial.Schema()
			for i := range keys {
				keys[i] = &plan.ColumnRef{Index: i, Field: schema.Field(i)}
			}
			pf = c.hash(pf, keys)
		}
		return with(pf, final(pf.n))
	}
	if len(n.Keys) == 0 {
		f = c.gather(f)
	} else {
		f = c.hash(f, n.Keys)
	}
	return with(f, &plan.Aggregate{Input: f.n, Keys: n.Keys, Aggs: n.Aggs})
}

// sort sorts (top-k when limit >= 0) where the input is, then merges the
// sorted runs in one task.
func (c *cutter) sort(n *plan.Sort, limit int64) frag {
	f := c.cut(n.Input)
	if f.d != Single {
		f = with(f, &plan.Sort{Input: f.n, Keys: n.Keys})
		if limit >= 0 {
			f = with(f, &plan.Limit{Input: f.n, Count: limit})
		}
		f = c.gather(f)
	}
	return with(f, &plan.Sort{Input: f.n, Keys: n.Keys})
}

// join sends a small side whole to the tasks of the other side when the
// join allows it, else hash-partitions both sides on the keys.
func (c *cutter) join(n *plan.Join) frag {
	l, r := c.cut(n.Left), c.cut(n.Right)
	make := func(l, r frag, d Driver, scan *plan.Scan) frag {
		return frag{
			n:      &plan.Join{Left: l.n, Right: r.n, LeftKeys: n.LeftKeys, RightKeys: n.RightKeys, How: n.How, Output: n.Output, Filter: n.Filter},
			d:      d,
			scan:   scan,
			inputs: append(append([]int{}, l.inputs...), r.inputs...),
		}
	}
	if l.d == Single && r.d == Single {
		return make(l, r, Single, nil)
	}
	// A side may go whole to every task only when the join neither keeps
	// its unmatched rows nor tests its rows for a match.
	rightOK := n.How == plan.Inner || n.How == plan.LeftJoin || n.How == plan.Semi || n.How == plan.Anti || n.How == plan.Cross
	leftOK := n.How == plan.Inner || n.How == plan.RightJoin
	small := func(x plan.Node) bool { return c.cfg.Estimate(x) <= c.cfg.BroadcastRows }
	switch {
	case rightOK && (n.How == plan.Cross || r.d == Single || small(n.Right)):
		b := c.broadcast(r)
		return make(l, b, l.d, l.scan)
	case leftOK && (l.d == Single || small(n.Left)):
		b := c.broadcast(l)
		return make(b, r, r.d, r.scan)
	}
	return make(c.hash(l, n.LeftKeys), c.hash(r, n.RightKeys), FromHash, nil)
}

func (c *cutter) broadcast(f frag) frag {
	return frag{n: c.stage(f, Broadcast, nil), d: Single, inputs: []int{len(c.g.Stages) - 1}}
}
