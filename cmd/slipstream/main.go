// Command slipstream is the one binary of Slipstream: `serve` runs a node,
// `version` prints the version. It only wires the packages together.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
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
	"slipstream/kernels/fsroot"
	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
)

var version = "0.1.0"

const usage = `slipstream: a compute service over Arrow Flight

usage:
  slipstream serve [--addr HOST:PORT] [--data-dir DIR] [--allow-path DIR]... [--insecure]
                   [--advertise URI] [--name NAME] [--gossip HOST:PORT] [--join HOST:PORT,...]
                   [--encrypt-key KEY]
  slipstream local --nodes N [--data-dir DIR] [--allow-path DIR]...   (N node processes on loopback)
  slipstream version

A lone serve is a one-node cluster; --join adds the node to the cluster of
the node gossiping at HOST:PORT. Run 'slipstream serve -h' for every flag.

No authentication exists yet, so a node listens on loopback only unless
--insecure is given, and reads files (read_parquet, ...) only under the
directories given with --allow-path (default: its --data-dir).
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
	// Insecure lets the node listen (and gossip) beyond loopback although
	// no authentication is configured.
	Insecure bool
	// AllowPaths are the directories users' file scans may read.
	AllowPaths     []string
	MemoryLimit    string
	OperatorMemory string
	SpillDir       string
	SpillLimit     string
}

func (c Config) String() string {
	return fmt.Sprintf("name=%s addr=%s data-dir=%s allow-path=%s insecure=%v advertise=%s gossip=%s join=%s replication=%d tasks-per-node=%d compress=%v encrypted=%v memory-limit=%s operator-memory=%s spill-dir=%s spill-limit=%s",
		c.Name, c.Addr, c.DataDir, strings.Join(c.AllowPaths, ","), c.Insecure, c.Advertise, c.Gossip, c.Join, c.Replication, c.TasksPerNode, c.Compress, c.EncryptKey != "", c.MemoryLimit, c.OperatorMemory, c.SpillDir, c.SpillLimit)
}

// pathList is a repeatable flag whose values may also be comma-separated
// (a value naming an existing directory is taken whole, commas and all).
type pathList []string

func (l *pathList) String() string { return strings.Join(*l, ",") }
func (l *pathList) Set(v string) error {
	if st, err := os.Stat(v); err == nil && st.IsDir() {
		*l = append(*l, v)
		return nil
	}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// loopback reports whether every address host:port can bind is a
// loopback one: "localhost", 127.x.x.x and ::1 are; an empty host,
// 0.0.0.0 and :: (every interface) are not; a host name must resolve to
// loopback addresses only.
func loopback(hostport string) (bool, error) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false, fmt.Errorf("bad address %q (want host:port): %w", hostport, err)
	}
	if host == "" {
		return false, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return false, fmt.Errorf("cannot resolve %q: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}

// checkExposure refuses to listen beyond loopback while nothing
// authenticates callers, unless --insecure is given. Gossip beyond loopback
// is allowed when encrypted (--encrypt-key: only holders of the key can
// join the cluster), else it too needs --insecure.
func checkExposure(cfg Config) error {
	local, err := loopback(cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if !local && !cfg.Insecure {
		return fmt.Errorf("--addr %s is not a loopback address and no authentication is configured; bind to 127.0.0.1 or pass --insecure to serve anyone who can reach the port", cfg.Addr)
	}
	gossip := cfg.Gossip
	if gossip == "" {
		gossip = cluster.DefaultBind
	}
	local, err = loopback(gossip)
	if err != nil {
		return fmt.Errorf("--gossip: %w", err)
	}
	if !local && cfg.EncryptKey == "" && !cfg.Insecure {
		return fmt.Errorf("--gossip %s is not a loopback address and gossip is not encrypted; pass --encrypt-key (the same key on every node), bind it to 127.0.0.1, or pass --insecure to let anyone who can reach the port join the cluster", gossip)
	}
	return nil
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
	fs.StringVar(&cfg.OperatorMemory, "operator-memory", os.Getenv("SLIPSTREAM_OPERATOR_MEMORY"), "most memory one operator (a sort, an aggregate's table) may hold before it spills, such as 64KiB, however much room its query has (default $SLIPSTREAM_OPERATOR_MEMORY, else no limit but the query's share); small values make every operator that can spill do so (tests)")
	fs.StringVar(&cfg.SpillDir, "spill-dir", "", "where queries over their memory share write spill files (default <data-dir>/spill); emptied at start")
	fs.StringVar(&cfg.SpillLimit, "spill-limit", "", "most bytes of spill files at once, such as 200GiB; 0 turns spilling off (default: half the free space of the spill directory's disk)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "listen on non-loopback addresses although no authentication is configured: anyone who can reach the port can read and replace every table")
	fs.Var((*pathList)(&cfg.AllowPaths), "allow-path", "a directory whose files read_parquet/read_csv/read_ipc may read (repeatable, or comma-separated; each must exist; default: the data directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkExposure(cfg); err != nil {
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
	if len(cfg.AllowPaths) == 0 {
		cfg.AllowPaths = []string{cfg.DataDir}
	}
	roots, err := fsroot.Open(cfg.AllowPaths...)
	if err != nil {
		return fmt.Errorf("--allow-path: %w", err)
	}
	defer roots.Close()
	cfg.AllowPaths = roots.Dirs()
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
	if ip := lis.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() && !cfg.Insecure {
		lis.Close() // checkExposure resolved the name otherwise; never serve on it
		return fmt.Errorf("--addr %s bound %s, not a loopback address, and no authentication is configured; pass --insecure to serve anyone who can reach the port", cfg.Addr, lis.Addr())
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
		Replication: cfg.Replication, TasksPerNode: cfg.TasksPerNode, Compress: cfg.Compress, BroadcastRows: cfg.BroadcastRows,
		Roots: roots}
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
	if cfg.Insecure {
		slog.Warn("INSECURE: --insecure is set and no authentication is configured: anyone who can reach this node can read, replace and drop every table and read every file under the allowed paths",
			"addr", lis.Addr().String(), "gossip", members.Self().Gossip, "gossip-encrypted", cfg.EncryptKey != "", "allow-path", roots.String())
	} else {
		slog.Info("no authentication is configured, so this node listens on loopback only (--insecure lifts this)", "addr", lis.Addr().String())
	}
	slog.Info("files are read only under the allowed paths (--allow-path)", "allow-path", roots.String())
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
	var opLimit int64
	if cfg.OperatorMemory != "" {
		if opLimit, err = budget.ParseBytes(cfg.OperatorMemory); err != nil {
			return nil, fmt.Errorf("--operator-memory: %w", err)
		}
		if opLimit <= 0 {
			return nil, fmt.Errorf("--operator-memory %s: give a positive size, or leave it out for no limit", cfg.OperatorMemory)
		}
		cfg.OperatorMemory = budget.FormatBytes(opLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
	return budget.NewPool(budget.Options{Limit: limit / 10 * 6, SpillDir: spillDir, SpillLimit: spillLimit, OperatorLimit: opLimit})
}

func envInt(name string, def int64) int64 {
	var v int64
	if _, err := fmt.Sscanf(os.Getenv(name), "%d", &v); err == nil && v > 0 {
		return v
	}
	return def
}
