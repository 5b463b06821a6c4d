package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"slipstream/kernels/budget"
	"slipstream/scheduler/config"
)

// local runs N node processes of this binary on loopback as one cluster,
// prints their addresses, and stops them all on SIGINT or SIGTERM. The
// nodes listen and gossip on 127.0.0.1 only, so they need no --insecure;
// each serves its dashboard on a free loopback port.
func local(args []string) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	nodes := fs.Int("nodes", 3, "how many node processes to run")
	dataDir := fs.String("data-dir", "slipstream-local", "directory under which each node keeps its data (n1, n2, ...)")
	withStdin := fs.Bool("stop-with-stdin", false, "stop every node, as on SIGTERM, when standard input ends (for a program that starts the cluster with a pipe there)")
	extra := fs.String("serve-args", "", "more flags for every node's serve, space-separated (e.g. \"--replication 3\")")
	var allow config.PathList
	fs.Var(&allow, "allow-path", "a directory whose files every node may read (repeatable, or comma-separated; default: each node's data directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nodes < 1 {
		return fmt.Errorf("--nodes must be at least 1, got %d", *nodes)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	share := shareOfMemory(*nodes, *extra)
	var procs []*exec.Cmd
	stop := func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			done := make(chan struct{})
			go func() { p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				p.Process.Kill()
			}
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if *withStdin {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			sig <- syscall.SIGTERM
		}()
	}
	gossip := ""
	for i := 1; i <= *nodes; i++ {
		name := fmt.Sprintf("n%d", i)
		argv := []string{"serve", "--addr", "127.0.0.1:0", "--gossip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--name", name,
			"--data-dir", filepath.Join(*dataDir, name)}
		if gossip != "" {
			argv = append(argv, "--join", gossip)
		}
		for _, p := range allow {
			argv = append(argv, "--allow-path", p)
		}
		argv = append(argv, share...)
		argv = append(argv, strings.Fields(*extra)...)
		cmd := exec.Command(self, argv...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			stop()
			return err
		}
		if err := cmd.Start(); err != nil {
			stop()
			return err
		}
		procs = append(procs, cmd)
		lines := bufio.NewScanner(out)
		addr, dashboard := "", ""
		for lines.Scan() {
			line := lines.Text()
			if u, ok := strings.CutPrefix(line, "slipstream: dashboard on "); ok {
				dashboard = u
			}
			if a, ok := strings.CutPrefix(line, "slipstream: serving on "); ok {
				addr = a
			}
			if rest, ok := strings.CutPrefix(line, "slipstream: node "+name+" gossip on "); ok {
				if gossip == "" {
					gossip = rest
				}
				break
			}
		}
		if addr == "" {
			stop()
			return fmt.Errorf("node %s exited before serving (its log is above)", name)
		}
		go func() { // keep draining so the node never blocks on stdout
			for lines.Scan() {
			}
		}()
		fmt.Printf("slipstream: node %s serving on %s (pid %d), dashboard %s\n", name, addr, cmd.Process.Pid, dashboard)
		os.Stdout.Sync()
	}
	fmt.Printf("slipstream: cluster of %d nodes ready; gossip at %s; Ctrl-C stops it\n", *nodes, gossip)
	os.Stdout.Sync()
	exited := make(chan int, len(procs))
	for i, p := range procs {
		go func() { p.Wait(); exited <- i }()
	}
	for running := len(procs); running > 0; {
		select {
		case <-sig:
			stop()
			return nil
		case i := <-exited:
			running--
			fmt.Fprintf(os.Stderr, "slipstream local: node n%d exited; %d still running\n", i+1, running)
		}
	}
	return fmt.Errorf("every node exited")
}

// shareOfMemory is the --memory-limit each of n nodes on this machine gets
// when none is given: the default a node alone takes, split n ways, so that
// the nodes together stay within the machine's memory (or its cgroup's).
func shareOfMemory(n int, extra string) []string {
	if strings.Contains(extra, "--memory-limit") || os.Getenv(config.EnvMemoryLimit) != "" {
		return nil
	}
	avail := budget.Available()
	if avail <= 0 {
		return nil
	}
	each := max(avail/10*8/int64(n)&^(1<<20-1), config.MinMemoryLimit)
	return []string{"--memory-limit", strconv.FormatInt(each, 10)}
}
