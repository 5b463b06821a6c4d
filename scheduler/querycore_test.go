package scheduler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"slipstream/kernels"
)

// TestQueryCore runs the transcripts in testdata/querycore: a cluster, a query's
// stages, then events one by one, each answered by the commands the core
// gives. Rewrite the expected output with -rewrite.
//
//	cluster nodes=n1,n2,n3 [cores=1] [self=n1] [max-attempts=4]
//	query              one stage a line, children first, the last the result:
//	  s0: holders n1,n2 n2,n3 (one task per group: a stored table's partitions)
//	  s1: tasks 3 inputs s0   (tasks any node may run)
//	  s2: single inputs s1    (one task on the coordinator)
//	done s0/t1[#a] [rows=N] [bytes=N]          (#a: the attempt; default its latest)
//	fail s0/t1[#a] <message>                   (the query's own error)
//	unreachable s0/t1[#a]                      (its node could not be reached)
//	lost s1/t0[#a] input=s0/t2 node=n3 alive=false
//	node-failed n3
//	cancel
//	status             progress per stage and every receipt
//	result             where the result parts wait
func TestQueryCore(t *testing.T) {
	datadriven.Walk(t, "testdata/querycore", func(t *testing.T, path string) {
		var (
			nodes       []coreNode
			self        = "n1"
			maxAttempts = 4
			c           *queryCore
		)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "cluster":
				nodes, self, maxAttempts = nil, "n1", 4
				cores := 1
				if d.HasArg("cores") {
					d.ScanArgs(t, "cores", &cores)
				}
				if d.HasArg("self") {
					d.ScanArgs(t, "self", &self)
				}
				if d.HasArg("max-attempts") {
					d.ScanArgs(t, "max-attempts", &maxAttempts)
				}
				var names string
				d.ScanArgs(t, "nodes", &names)
				for _, n := range strings.Split(names, ",") {
					nodes = append(nodes, coreNode{name: n, cores: cores})
				}
				return ""
			case "query":
				c = newQueryCore("q1", self, nodes, parseStages(t, d.Input, self), maxAttempts)
				return render(c.start())
			case "status":
				return renderStatus(c)
			case "result":
				var sb strings.Builder
				for _, p := range c.result() {
					fmt.Fprintf(&sb, "t%d#%d on %s rows=%d\n", p.task, p.attempt, p.node, p.rows)
				}
				return sb.String()
			case "node-failed":
				return render(c.step(nodeFailed{node: d.CmdArgs[0].Key}))
			case "cancel":
				return render(c.step(cancelRequested{reason: "by the client"}))
			}
			if len(d.CmdArgs) == 0 {
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			id := parseAttempt(t, c, d.CmdArgs[0].Key)
			args := map[string]string{}
			var words []string
			for _, a := range d.CmdArgs[1:] {
				if len(a.Vals) > 0 {
					args[a.Key] = a.Vals[0]
				} else {
					words = append(words, a.Key)
				}
			}
			num := func(k string) int64 {
				n, _ := strconv.ParseInt(args[k], 10, 64)
				return n
			}
			switch d.Cmd {
			case "done":
				return render(c.step(taskDone{id: id, rows: num("rows"), bytes: num("bytes"), seconds: 1}))
			case "fail":
				err := kernels.Errorf(kernels.Invalid, "%s", strings.Join(words, " "))
				return render(c.step(taskFailed{id: id, err: err, seconds: 1}))
			case "unreachable":
				err := kernels.Errorf(kernels.Unavailable, "node %s: connection refused", c.tasks[id.Stage][id.Task].node)
				return render(c.step(taskFailed{id: id, err: err, unreachable: true, seconds: 1}))
			case "lost":
				in := parseAttempt(t, c, args["input"])
				err := errors.New("lost input: " + args["input"])
				return render(c.step(inputLost{id: id, stage: in.Stage, task: in.Task, node: args["node"],
					alive: args["alive"] == "true", err: err, seconds: 1}))
			}
			t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			return ""
		})
	})
}

// parseStages reads "sN: holders a,b c,d | tasks K | single [inputs sA sB]".
func parseStages(t *testing.T, input, self string) []stageSpec {
	var out []stageSpec
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != fmt.Sprintf("s%d", len(out)) {
			t.Fatalf("want stage s%d, got %q", len(out), line)
		}
		var st stageSpec
		f := strings.Fields(rest)
		for i := 0; i < len(f); i++ {
			switch f[i] {
			case "holders":
				for i+1 < len(f) && f[i+1] != "inputs" {
					i++
					st.tasks = append(st.tasks, taskSpec{holders: strings.Split(f[i], ","),
						what: fmt.Sprintf("partition %d of table \"t\"", len(st.tasks))})
				}
			case "tasks":
				i++
				n, err := strconv.Atoi(f[i])
				if err != nil {
					t.Fatal(err)
				}
				for range n {
					st.tasks = append(st.tasks, taskSpec{})
				}
			case "single":
				st.tasks = append(st.tasks, taskSpec{holders: []string{self}}) // the coordinator
			case "inputs":
				for i+1 < len(f) {
					i++
					n, err := strconv.Atoi(strings.TrimPrefix(f[i], "s"))
					if err != nil {
						t.Fatal(err)
					}
					st.inputs = append(st.inputs, n)
				}
			default:
				t.Fatalf("stage %q: unknown word %q", line, f[i])
			}
		}
		out = append(out, st)
	}
	return out
}

// parseAttempt reads s0/t1 (the task's latest attempt) or s0/t1#2.
func parseAttempt(t *testing.T, c *queryCore, s string) attemptID {
	var id attemptID
	task, att, hasAtt := strings.Cut(s, "#")
	if _, err := fmt.Sscanf(task, "s%d/t%d", &id.Stage, &id.Task); err != nil {
		t.Fatalf("bad task %q: %v", s, err)
	}
	if hasAtt {
		n, err := strconv.Atoi(att)
		if err != nil {
			t.Fatalf("bad attempt %q", s)
		}
		id.Attempt = n
	} else {
		id.Attempt = c.tasks[id.Stage][id.Task].attempts - 1
	}
	return id
}

func render(cmds []coreCommand) string {
	var sb strings.Builder
	for _, cmd := range cmds {
		switch cmd := cmd.(type) {
		case runTask:
			fmt.Fprintf(&sb, "run %s on %s", cmd.id, cmd.node)
			for _, in := range cmd.inputs {
				var srcs []string
				for _, s := range in.sources {
					srcs = append(srcs, fmt.Sprintf("t%d#%d@%s", s.task, s.attempt, s.node))
				}
				fmt.Fprintf(&sb, " reads s%d[%s]", in.stage, strings.Join(srcs, " "))
			}
			sb.WriteString("\n")
		case cancelTask:
			fmt.Fprintf(&sb, "cancel %s on %s: %s\n", cmd.id, cmd.node, cmd.why)
		case releaseOutputs:
			keep := "all"
			if cmd.keep >= 0 {
				keep = fmt.Sprintf("all but s%d", cmd.keep)
			}
			fmt.Fprintf(&sb, "release %s on %s\n", keep, strings.Join(cmd.nodes, ","))
		case finishQuery:
			if cmd.err == nil {
				sb.WriteString("finish: done\n")
			} else {
				fmt.Fprintf(&sb, "finish: %s: %v\n", kernels.KindOf(cmd.err), cmd.err)
			}
		default:
			panic(fmt.Sprintf("unknown command %T", cmd))
		}
	}
	return sb.String()
}

func renderStatus(c *queryCore) string {
	var sb strings.Builder
	for _, p := range c.progress() {
		fmt.Fprintf(&sb, "s%d: %d/%d done, %d running, %d attempts\n", p.Stage, p.Done, p.Tasks, p.Running, p.Attempts)
	}
	if dead := c.deadNodes(); len(dead) > 0 {
		fmt.Fprintf(&sb, "dead: %s\n", strings.Join(dead, ","))
	}
	for _, r := range c.receipts {
		fmt.Fprintf(&sb, "receipt s%d/t%d#%d on %s: %s", r.Stage, r.Task, r.Attempt, r.Node, r.State)
		if r.Error != "" {
			fmt.Fprintf(&sb, " (%s)", r.Error)
		}
		sb.WriteString("\n")
	}
	return sb.String()
}
