package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"slipstream/kernels"
)

// The query core is the state and the rules of one distributed query:
// its stages and tasks, every attempt and its receipt, the nodes it takes
// for dead, what runs next and where, retries, cancellation and progress.
// It has no goroutines, clocks or I/O: the runner (coordinator.go) feeds
// it events (a task done, failed or short of an input; a node failed; a
// cancel) and carries out the commands it answers with (run a task,
// cancel an attempt, release outputs, finish). The same events in the
// same order give the same commands, which is how testdata/querycore/*
// transcripts test it (core_test.go), the way etcd's raft tests its state
// machine apart from its node.
//
// Rules:
//   - A stage runs only when it is needed (the result stage, or an input
//     of a needed stage that is not complete) and its inputs are complete;
//     stages independent of each other run at the same time.
//   - A task goes to the least busy live node among those that may run it
//     (the holders of its partition; the coordinator for a single task;
//     any node otherwise), a node where it failed before last; ties are
//     broken by the task's index. A node runs at most its cores' worth of
//     attempts; the rest wait in its queue.
//   - A node is dead for the query once the cluster says so, or a task on
//     it could not reach it, or a task could not read an output of it
//     that it no longer answers for. Every output it held is lost (its
//     receipt says so) and re-run; every attempt on it, or reading from
//     it, is cancelled and re-placed.
//   - An input lost on a node that still answers loses that one output.
//   - Any other failure is the query's own error: it fails at once, never
//     retried. A task is tried at most maxAttempts times.
//   - Cancel, failure and success end the query: attempts still running
//     are cancelled, outputs released (on success the result stage's are
//     kept), and no later event changes anything.

// attemptID names one attempt of one task.
type attemptID struct{ Stage, Task, Attempt int }

func (a attemptID) String() string { return fmt.Sprintf("s%d/t%d#%d", a.Stage, a.Task, a.Attempt) }

// Events: what the runner tells the core.
type (
	coreEvent interface{ isEvent() }

	// taskDone: the attempt finished; its output waits on its node.
	taskDone struct {
		id          attemptID
		rows, bytes int64
		seconds     float64
	}
	// taskFailed: the attempt failed. unreachable says its node could not
	// be reached (the node is dead for the query); otherwise err is the
	// query's own error.
	taskFailed struct {
		id          attemptID
		err         error
		unreachable bool
		seconds     float64
	}
	// inputLost: the attempt could not read the output of task (stage,
	// task) on node; alive says the node still answers (then only that
	// output is gone).
	inputLost struct {
		id          attemptID
		stage, task int
		node        string
		alive       bool
		err         error
		seconds     float64
	}
	// nodeFailed: the cluster marked node failed.
	nodeFailed struct{ node string }
	// cancelRequested: the client cancelled the query.
	cancelRequested struct{ reason string }
)

func (taskDone) isEvent()        {}
func (taskFailed) isEvent()      {}
func (inputLost) isEvent()       {}
func (nodeFailed) isEvent()      {}
func (cancelRequested) isEvent() {}

// Commands: what the core asks of the runner.
type (
	coreCommand interface{ isCommand() }

	// runTask: run the attempt on node, reading inputs.
	runTask struct {
		id     attemptID
		node   string
		inputs []taskInput
	}
	// cancelTask: stop the attempt; its result no longer counts.
	cancelTask struct {
		id   attemptID
		node string
		why  string
	}
	// releaseOutputs: forget the query's outputs on nodes, except those
	// of stage keep (-1: all).
	releaseOutputs struct {
		keep  int
		nodes []string
	}
	// finishQuery: the query is over; err nil means done.
	finishQuery struct{ err error }
)

func (runTask) isCommand()        {}
func (cancelTask) isCommand()     {}
func (releaseOutputs) isCommand() {}
func (finishQuery) isCommand()    {}

// taskInput is where an attempt reads one input stage: the output of
// each of its tasks, in task order.
type taskInput struct {
	stage   int
	sources []taskSource
}

type taskSource struct {
	task, attempt int
	node          string
}

// coreNode is a node the query may use.
type coreNode struct {
	name  string
	cores int
}

// stageSpec describes one stage's tasks to the core.
type stageSpec struct {
	inputs []int
	tasks  []taskSpec
}

// taskSpec says where a task may run: holders (nil: any node) and, for
// the error when none is left, what it reads.
type taskSpec struct {
	holders []string
	what    string
}

type taskState int

const (
	statePending taskState = iota // to be placed
	stateQueued                   // placed, waiting for a slot on its node
	stateRunning
	stateDone
)

type coreTask struct {
	stage, index int
	spec         taskSpec
	state        taskState
	node         string // placed on, running on, or holding its output
	attempts     int    // attempts started
	receipt      *Receipt
	lastErr      string
	lacking      []string // holders that answered they have no good copy of its partition
}

// liveAttempt is a started attempt that has not reported yet: it takes a slot
// on its node until it does, cancelled or not.
type liveAttempt struct {
	task      *coreTask
	node      string
	reads     map[string]bool // the nodes it reads from
	cancelled bool
}

// queryCore is one query's state; see the rules above.
type queryCore struct {
	id          string
	self        string
	maxAttempts int
	nodes       []coreNode // by name
	cores       map[string]int
	dead        map[string]bool
	stages      []stageSpec
	tasks       [][]*coreTask
	queue       map[string][]*coreTask
	busy        map[string]int // attempts taking slots, by node
	live        map[attemptID]*liveAttempt
	receipts    []*Receipt
	over        bool
	err         error
	out         []coreCommand
}

// newQueryCore makes the core of query id, coordinated by node self, over
// nodes (self among them), with stages children first (the last is the
// result).
func newQueryCore(id, self string, nodes []coreNode, stages []stageSpec, maxAttempts int) *queryCore {
	c := &queryCore{id: id, self: self, maxAttempts: maxAttempts, cores: map[string]int{}, dead: map[string]bool{},
		stages: stages, queue: map[string][]*coreTask{}, busy: map[string]int{}, live: map[attemptID]*liveAttempt{}}
	c.nodes = append(c.nodes, nodes...)
	sort.Slice(c.nodes, func(i, j int) bool { return c.nodes[i].name < c.nodes[j].name })
	for _, n := range c.nodes {
		c.cores[n.name] = max(1, n.cores)
	}
	for s, st := range stages {
		ts := make([]*coreTask, len(st.tasks))
		for i, spec := range st.tasks {
			ts[i] = &coreTask{stage: s, index: i, spec: spec}
		}
		c.tasks = append(c.tasks, ts)
	}
	return c
}

// start gives the first commands.
func (c *queryCore) start() []coreCommand {
	c.schedule()
	return c.flush()
}

// step applies one event and gives the commands it leads to.
func (c *queryCore) step(ev coreEvent) []coreCommand {
	if !c.over {
		c.apply(ev)
		c.schedule()
	}
	return c.flush()
}

func (c *queryCore) flush() []coreCommand {
	out := c.out
	c.out = nil
	return out
}

// report ends a started attempt: it frees its slot and says whether the
// event about it still counts.
func (c *queryCore) report(id attemptID) (*liveAttempt, bool) {
	a, ok := c.live[id]
	if !ok {
		return nil, false
	}
	delete(c.live, id)
	c.busy[a.node]--
	return a, !a.cancelled
}

// started records when attempt id started, in seconds after the query
// did (the runner's clock, for the dashboard's timeline).
func (c *queryCore) started(id attemptID, at float64) {
	if a, ok := c.live[id]; ok && a.task.receipt != nil {
		a.task.receipt.Start = at
	}
}

func (c *queryCore) apply(ev coreEvent) {
	switch ev := ev.(type) {
	case taskDone:
		a, ok := c.report(ev.id)
		if !ok {
			return
		}
		t := a.task
		t.state = stateDone
		rc := t.receipt
		rc.State, rc.Rows, rc.Bytes, rc.Seconds = "done", ev.rows, ev.bytes, ev.seconds
	case taskFailed:
		a, ok := c.report(ev.id)
		if !ok {
			return
		}
		c.failed(a.task, ev.err, ev.seconds)
		if !ev.unreachable {
			c.finish(ev.err)
			return
		}
		c.markDead(a.node, fmt.Sprintf("node %s is unreachable", a.node))
	case inputLost:
		a, ok := c.report(ev.id)
		if !ok {
			return
		}
		c.failed(a.task, ev.err, ev.seconds)
		if ev.node == a.node && ev.stage == a.task.stage && ev.task == a.task.index {
			// The node lacks the partition the task reads: not retried there.
			a.task.lacking = append(a.task.lacking, ev.node)
			return
		}
		if !ev.alive {
			c.markDead(ev.node, fmt.Sprintf("node %s lost an input and does not answer", ev.node))
			return
		}
		if ev.stage >= 0 && ev.stage < len(c.tasks) && ev.task >= 0 && ev.task < len(c.tasks[ev.stage]) {
			if src := c.tasks[ev.stage][ev.task]; src.state == stateDone && src.node == ev.node {
				c.loseOutput(src)
			}
		}
	case nodeFailed:
		c.markDead(ev.node, fmt.Sprintf("the cluster marked node %s failed", ev.node))
	case cancelRequested:
		c.finish(kernels.Errorf(kernels.Cancelled, "query cancelled: %s", ev.reason))
	}
}

// failed records a failed attempt; the task waits to be placed again.
func (c *queryCore) failed(t *coreTask, err error, seconds float64) {
	t.state = statePending
	t.lastErr = err.Error()
	t.receipt.State, t.receipt.Error, t.receipt.Seconds = "failed", err.Error(), seconds
}

func (c *queryCore) loseOutput(t *coreTask) {
	t.state = statePending
	t.receipt.State = "lost"
}

// markDead takes node for dead: its outputs are lost, the attempts on it
// or reading from it cancelled, its queue emptied.
func (c *queryCore) markDead(node, why string) {
	if node == c.self || c.dead[node] {
		return
	}
	if _, known := c.cores[node]; !known {
		return
	}
	c.dead[node] = true
	for _, ts := range c.tasks {
		for _, t := range ts {
			if t.state == stateDone && t.node == node {
				c.loseOutput(t)
			}
		}
	}
	c.cancelWhere(func(a *liveAttempt) bool { return a.node == node || a.reads[node] }, why)
	for _, t := range c.queue[node] {
		t.state = statePending
	}
	delete(c.queue, node)
}

// cancelWhere cancels the live attempts that match, in attempt order.
func (c *queryCore) cancelWhere(match func(*liveAttempt) bool, why string) {
	ids := make([]attemptID, 0, len(c.live))
	for id, a := range c.live {
		if !a.cancelled && match(a) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := ids[i], ids[j]
		if a.Stage != b.Stage {
			return a.Stage < b.Stage
		}
		if a.Task != b.Task {
			return a.Task < b.Task
		}
		return a.Attempt < b.Attempt
	})
	for _, id := range ids {
		a := c.live[id]
		a.cancelled = true
		t := a.task
		t.state = statePending
		t.lastErr = "cancelled: " + why
		t.receipt.State, t.receipt.Error = "failed", t.lastErr
		c.out = append(c.out, cancelTask{id: id, node: a.node, why: why})
	}
}

// finish ends the query: err nil is success.
func (c *queryCore) finish(err error) {
	if c.over {
		return
	}
	c.over, c.err = true, err
	why := "the query is done"
	keep := len(c.stages) - 1
	if err != nil {
		why, keep = "the query failed", -1
		if kernels.KindOf(err) == kernels.Cancelled {
			why = "the query was cancelled"
		}
	}
	c.cancelWhere(func(*liveAttempt) bool { return true }, why)
	var nodes []string
	for _, n := range c.nodes {
		nodes = append(nodes, n.name) // the dead too: one wrongly taken for dead may hold outputs
	}
	c.out = append(c.out, releaseOutputs{keep: keep, nodes: nodes}, finishQuery{err: err})
}

func (c *queryCore) complete(stage int) bool {
	for _, t := range c.tasks[stage] {
		if t.state != stateDone {
			return false
		}
	}
	return true
}

// needed marks the stages that must run: the result, and the inputs of
// a needed stage that is not complete.
func (c *queryCore) needed() []bool {
	need := make([]bool, len(c.stages))
	var walk func(int)
	walk = func(s int) {
		if need[s] {
			return
		}
		need[s] = true
		if !c.complete(s) {
			for _, in := range c.stages[s].inputs {
				walk(in)
			}
		}
	}
	if len(c.stages) > 0 {
		walk(len(c.stages) - 1)
	}
	return need
}

// schedule places what can run and starts what has a slot.
func (c *queryCore) schedule() {
	if c.over {
		return
	}
	if len(c.stages) == 0 || c.complete(len(c.stages)-1) {
		c.finish(nil)
		return
	}
	need := c.needed()
	for s := range c.stages {
		if !need[s] || !c.ready(s) {
			continue
		}
		for _, t := range c.tasks[s] {
			if t.state != statePending {
				continue
			}
			if t.attempts >= c.maxAttempts {
				c.finish(kernels.Errorf(kernels.Unavailable, "stage %d task %d failed %d times (on %s); last: %s",
					t.stage, t.index, t.attempts, strings.Join(c.triedOn(t), ", "), t.lastErr))
				return
			}
			if err := c.place(t); err != nil {
				c.finish(err)
				return
			}
		}
	}
	for _, n := range c.nodes {
		for len(c.queue[n.name]) > 0 && c.busy[n.name] < c.cores[n.name] {
			t := c.queue[n.name][0]
			c.queue[n.name] = c.queue[n.name][1:]
			if !c.ready(t.stage) { // an input was lost while it waited
				t.state = statePending
				continue
			}
			c.launch(t)
		}
	}
}

// ready says whether every input of stage s is complete.
func (c *queryCore) ready(s int) bool {
	for _, in := range c.stages[s].inputs {
		if !c.complete(in) {
			return false
		}
	}
	return true
}

// triedOn lists the nodes a task's attempts ran on, in attempt order.
func (c *queryCore) triedOn(t *coreTask) []string {
	var out []string
	for _, rc := range c.receipts {
		if rc.Stage == t.stage && rc.Task == t.index {
			out = append(out, rc.Node)
		}
	}
	return out
}

func (c *queryCore) deadNodes() []string {
	var out []string
	for n := range c.dead {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// lostPartition is the error of a task whose partition no live holder
// has a good copy of.
func lostPartition(t *coreTask) error {
	if len(t.lacking) == 0 {
		return kernels.Errorf(kernels.Unavailable, "%s is lost: the nodes holding it (%s) are all down", t.spec.what, strings.Join(t.spec.holders, ", "))
	}
	return kernels.Errorf(kernels.Unavailable, "%s is lost: of the nodes holding it (%s), %s answered without a good copy and the rest are down",
		t.spec.what, strings.Join(t.spec.holders, ", "), strings.Join(t.lacking, ", "))
}

// place queues t on the least busy live node that may run it.
func (c *queryCore) place(t *coreTask) error {
	var cands []string
	for _, n := range c.nodes {
		if c.dead[n.name] {
			continue
		}
		if (t.spec.holders == nil || contains(t.spec.holders, n.name)) && !contains(t.lacking, n.name) {
			cands = append(cands, n.name)
		}
	}
	if len(cands) == 0 && t.spec.holders != nil {
		return lostPartition(t)
	}
	if len(cands) == 0 {
		return kernels.Errorf(kernels.Unavailable, "no alive node is left to run stage %d task %d (down: %s)", t.stage, t.index, strings.Join(c.deadNodes(), ", "))
	}
	// A node where this task failed before (it may lack a partition it
	// should hold) comes last.
	tried := map[string]bool{}
	for _, n := range c.triedOn(t) {
		tried[n] = true
	}
	var untried []string
	for _, n := range cands {
		if !tried[n] {
			untried = append(untried, n)
		}
	}
	if len(untried) > 0 {
		cands = untried
	}
	load := func(n string) int { return c.busy[n] + len(c.queue[n]) }
	sort.SliceStable(cands, func(i, j int) bool { return load(cands[i]) < load(cands[j]) })
	best := 0
	for best+1 < len(cands) && load(cands[best+1]) == load(cands[0]) {
		best++
	}
	t.node = cands[t.index%(best+1)]
	t.state = stateQueued
	c.queue[t.node] = append(c.queue[t.node], t)
	return nil
}

// launch starts t's next attempt on its node.
func (c *queryCore) launch(t *coreTask) {
	id := attemptID{t.stage, t.index, t.attempts}
	t.attempts++
	t.state = stateRunning
	t.receipt = &Receipt{Query: c.id, Stage: t.stage, Task: t.index, Attempt: id.Attempt, Node: t.node, State: "running"}
	c.receipts = append(c.receipts, t.receipt)
	a := &liveAttempt{task: t, node: t.node, reads: map[string]bool{}}
	cmd := runTask{id: id, node: t.node}
	for _, in := range c.stages[t.stage].inputs {
		ti := taskInput{stage: in}
		for _, src := range c.tasks[in] {
			ti.sources = append(ti.sources, taskSource{task: src.index, attempt: src.attempts - 1, node: src.node})
			a.reads[src.node] = true
		}
		cmd.inputs = append(cmd.inputs, ti)
	}
	c.live[id] = a
	c.busy[t.node]++
	c.out = append(c.out, cmd)
}

// resultPart is one task of the result stage: where its output waits.
type resultPart struct {
	task, attempt int
	node          string
	rows          int64
}

// result lists the result stage's outputs, in task order; only once the
// query is done.
func (c *queryCore) result() []resultPart {
	if !c.over || c.err != nil {
		return nil
	}
	var out []resultPart
	for _, t := range c.tasks[len(c.tasks)-1] {
		out = append(out, resultPart{task: t.index, attempt: t.attempts - 1, node: t.node, rows: t.receipt.Rows})
	}
	return out
}

// StageProgress is how far one stage is.
type StageProgress struct {
	Stage int `json:"stage"`
	// Inputs are the stages whose output it reads (the edges of the
	// query's stage graph).
	Inputs  []int `json:"inputs"`
	Tasks   int   `json:"tasks"`
	Done    int   `json:"done"`
	Running int   `json:"running"`
	// Attempts counts every attempt started, retries included.
	Attempts int `json:"attempts"`
}

// progress counts, per stage, the tasks done and running.
func (c *queryCore) progress() []StageProgress {
	out := make([]StageProgress, len(c.tasks))
	for s, ts := range c.tasks {
		p := StageProgress{Stage: s, Tasks: len(ts), Inputs: append([]int{}, c.stages[s].inputs...)}
		for _, t := range ts {
			p.Attempts += t.attempts
			switch t.state {
			case stateDone:
				p.Done++
			case stateRunning:
				p.Running++
			}
		}
		out[s] = p
	}
	return out
}

// shuffled is the bytes the done tasks of every stage but the result wrote.
func (c *queryCore) shuffled() int64 {
	var n int64
	for _, ts := range c.tasks[:max(0, len(c.tasks)-1)] {
		for _, t := range ts {
			if t.state == stateDone {
				n += t.receipt.Bytes
			}
		}
	}
	return n
}
