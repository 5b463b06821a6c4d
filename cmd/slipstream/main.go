// Command slipstream is the one binary of Slipstream: `serve` runs a node,
// `version` prints the version. It only wires the packages together.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"

	"slipstream/flight"
	"slipstream/kernels/budget"
	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
)

var version = "0.1.0"

const usage = `slipstream: a compute service over Arrow Flight

usage:
  slipstream serve [--addr HOST:PORT] [--data-dir DIR] [--advertise URI]
                   [--name NAME] [--gossip HOST:PORT] [--join HOST:PORT,...] [--encrypt-key KEY]
  slipstream local --nodes N [--data-dir DIR]   (N node processes on loopback)
  slipstream version

A lone serve is a one-node cluster; --join adds the node to the cluster of
the node gossiping at HOST:PORT. Run 'slipstream serve -h' for every flag.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		if err := serve(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "slipstream serve:", err)
			os.Exit(1)
		}
	case "local":
		if err := local(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "slipstream local:", err)
			os.Exit(1)
		}
	case "version", "--version", "-v":
		fmt.Println("slipstream", version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "slipstream: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}

// Config is a node's configuration; it is printed at start.
type Config struct {
	Addr          string
	DataDir       string
	Advertise     string
	CPUProfile    string
	Name          string
	Gossip        string
	Join          string
	EncryptKey    string
	Replication   int
	TasksPerNode  int
	Compress      bool
	BroadcastRows int64
	MemoryLimit   string
	SpillDir      string
	SpillLimit    string
}

func (c Config) String() string {
	return fmt.Sprintf("name=%s addr=%s data-dir=%s advertise=%s gossip=%s join=%s replication=%d tasks-per-node=%d compress=%v encrypted=%v memory-limit=%s spill-dir=%s spill-limit=%s",
		c.Name, c.Addr, c.DataDir, c.Advertise, c.Gossip, c.Join, c.Replication, c.TasksPerNode, c.Compress, c.EncryptKey != "", c.MemoryLimit, c.SpillDir, c.SpillLimit)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8815", "host:port to listen on (port 0 picks a free one)")
	fs.StringVar(&cfg.DataDir, "data-dir", "slipstream-data", "directory that holds stored tables")
	fs.StringVar(&cfg.Advertise, "advertise", "", "URI clients use to reach this node (default: grpc://<listening address>)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile to this file until the node stops (for `go tool pprof`)")
	fs.StringVar(&cfg.Name, "name", "", "this node's name in the cluster (default: kept in the data directory, made up on first start)")
	fs.StringVar(&cfg.Gossip, "gossip", "127.0.0.1:0", "host:port for cluster gossip (Serf); port 0 picks a free one; on several hosts give an address the others can reach")
	fs.StringVar(&cfg.Join, "join", "", "comma-separated gossip host:port of nodes of the cluster to join")
	fs.StringVar(&cfg.EncryptKey, "encrypt-key", os.Getenv("SLIPSTREAM_GOSSIP_KEY"), "base64 of a 16, 24 or 32-byte key encrypting gossip; the same on every node (default $SLIPSTREAM_GOSSIP_KEY)")
	fs.IntVar(&cfg.Replication, "replication", 2, "how many nodes store each partition of an upload (at most the number of nodes)")
	fs.IntVar(&cfg.TasksPerNode, "tasks-per-node", 1, "hash buckets of a shuffle per alive node")
	fs.BoolVar(&cfg.Compress, "compress", false, "zstd-compress shuffle data between nodes")
	fs.Int64Var(&cfg.BroadcastRows, "broadcast-rows", 250_000, "a join side estimated at or under this many rows is sent whole to every task of the other side")
	fs.Int64Var(&catalog.PartRows, "part-rows", envInt("SLIPSTREAM_PART_ROWS", catalog.PartRows), "rows per partition of an upload (default $SLIPSTREAM_PART_ROWS, else 1048576)")
	fs.StringVar(&cfg.MemoryLimit, "memory-limit", os.Getenv("SLIPSTREAM_MEMORY_LIMIT"), "memory the node may use, such as 4GiB (default $SLIPSTREAM_MEMORY_LIMIT, else 80% of the cgroup limit or of physical memory); queries spill or fail within it")
	fs.StringVar(&cfg.SpillDir, "spill-dir", "", "where queries over their memory share write spill files (default <data-dir>/spill); emptied at start")
	fs.StringVar(&cfg.SpillLimit, "spill-limit", "", "most bytes of spill files at once, such as 200GiB; 0 turns spilling off (default: half the free space of the spill directory's disk)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(logger)
	flight.Version = version

	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.DataDir = dataDir
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	if cfg.Name, err = nodeName(cfg.DataDir, cfg.Name); err != nil {
		return err
	}
	pool, err := memoryPool(&cfg)
	if err != nil {
		return err
	}
	mem := pool.Allocator()
	cat, err := catalog.Open(cfg.DataDir, mem, cfg.Name)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.Advertise == "" {
		cfg.Advertise = "grpc://" + lis.Addr().String()
	}
	var join []string
	if cfg.Join != "" {
		join = strings.Split(cfg.Join, ",")
	}
	members, err := cluster.Start(cluster.Config{Name: cfg.Name, Bind: cfg.Gossip, Join: join, EncryptKey: cfg.EncryptKey,
		Addr: cfg.Advertise, Cores: runtime.GOMAXPROCS(0), MemoryBytes: pool.Limit(), Logger: logger})
	if err != nil {
		return err
	}
	defer members.Leave()
	peers := flight.NewPeers(mem)
	defer peers.Close()
	engine := &scheduler.Engine{Catalog: cat, Mem: mem, Memory: pool, Self: members.Self(), Members: members, Net: peers,
		Replication: cfg.Replication, TasksPerNode: cfg.TasksPerNode, Compress: cfg.Compress, BroadcastRows: cfg.BroadcastRows}
	if point := os.Getenv("SLIPSTREAM_FAULT"); point != "" {
		// Testing only: die by SIGKILL, as kill -9 would, on reaching point;
		// "stop@<point>" freezes the node instead (SIGSTOP): it hangs
		// without closing its connections, as a node cut off would.
		sig, at := syscall.SIGKILL, point
		if p, ok := strings.CutPrefix(point, "stop@"); ok {
			sig, at = syscall.SIGSTOP, p
		}
		engine.Fault = func(reached string) {
			if reached == at {
				slog.Warn("SLIPSTREAM_FAULT reached", "point", point)
				syscall.Kill(os.Getpid(), sig)
			}
		}
	}
	srv := arrowflight.NewServerWithMiddleware(nil, flight.ServerOptions()...)
	srv.InitListener(lis)
	srv.RegisterFlightService(flight.NewService(engine, cfg.Advertise))

	slog.Info("starting", "version", version, "config", cfg.String(), "tables", len(cat.Tables()))
	fmt.Printf("slipstream: serving on grpc://%s\n", lis.Addr())
	fmt.Printf("slipstream: node %s gossip on %s\n", cfg.Name, members.Self().Gossip)
	os.Stdout.Sync()
	// Learn the tables of the cluster now, and again whenever a node joins
	// or comes back: a node that was away may have newer manifests.
	go func() {
		engine.SyncCatalog(context.Background())
		for range members.Changes() {
			engine.SyncCatalog(context.Background())
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	stopped := make(chan struct{})
	go func() { srv.Shutdown(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		slog.Warn("queries still running after 10s; stopping anyway")
	}
	return nil
}

// nodeName is the name given, else the one kept in the data directory,
// else a new one, kept there: a node keeps its name across restarts, and
// partitions name their holders by it.
func nodeName(dataDir, given string) (string, error) {
	file := filepath.Join(dataDir, "node-name")
	if given != "" {
		return given, os.WriteFile(file, []byte(given+"\n"), 0o644)
	}
	if raw, err := os.ReadFile(file); err == nil && strings.TrimSpace(string(raw)) != "" {
		return strings.TrimSpace(string(raw)), nil
	}
	host, _ := os.Hostname()
	name := fmt.Sprintf("%s-%s", host, catalog.NewID()[:6])
	return name, os.WriteFile(file, []byte(name+"\n"), 0o644)
}

// memoryPool makes the node's budget from the flags, fills in their
// defaults in cfg, and tells Go's collector the limit.
//
// The node's memory limit (default 80% of what the process may use) is
// what its resident memory should stay near. Queries' data (Arrow buffers
// and the operators' tables) may take 60% of it; the rest is for what the
// budget does not see (the runtime, gRPC buffers, garbage not yet
// collected). A query allocates batch after batch while it holds little,
// so Go's default (collect whenever the heap doubles) keeps the collector
// running; a scan ran twice as fast with GOGC at 400, and the soft limit
// makes the collector work harder before the limit is reached.
// GOGC and GOMEMLIMIT, when set, win.
func memoryPool(cfg *Config) (*budget.Pool, error) {
	var limit int64
	if cfg.MemoryLimit != "" {
		var err error
		if limit, err = budget.ParseBytes(cfg.MemoryLimit); err != nil {
			return nil, fmt.Errorf("--memory-limit: %w", err)
		}
		if limit < 16<<20 {
			return nil, fmt.Errorf("--memory-limit %s is below the 16MiB a node needs to run", cfg.MemoryLimit)
		}
	} else if avail := budget.Available(); avail > 0 {
		limit = avail / 10 * 8
	} else {
		limit = 4 << 30
	}
	cfg.MemoryLimit = budget.FormatBytes(limit)
	if cfg.SpillDir == "" {
		cfg.SpillDir = filepath.Join(cfg.DataDir, "spill")
	}
	spillDir, err := filepath.Abs(cfg.SpillDir)
	if err != nil {
		return nil, err
	}
	cfg.SpillDir = spillDir
	if err := os.MkdirAll(spillDir, 0o700); err != nil {
		return nil, fmt.Errorf("--spill-dir: %w", err)
	}
	var spillLimit int64
	if cfg.SpillLimit != "" {
		if spillLimit, err = budget.ParseBytes(cfg.SpillLimit); err != nil {
			return nil, fmt.Errorf("--spill-limit: %w", err)
		}
	} else {
		var st syscall.Statfs_t
		if err := syscall.Statfs(spillDir, &st); err == nil {
			spillLimit = int64(st.Bavail) * st.Bsize / 2
		}
	}
	cfg.SpillLimit = budget.FormatBytes(spillLimit)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
	return budget.NewPool(budget.Options{Limit: limit / 10 * 6, SpillDir: spillDir, SpillLimit: spillLimit})
}

func envInt(name string, def int64) int64 {
	var v int64
	if _, err := fmt.Sscanf(os.Getenv(name), "%d", &v); err == nil && v > 0 {
		return v
	}
	return def
}
