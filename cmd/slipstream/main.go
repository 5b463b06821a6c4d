// Command slipstream is the one binary of Slipstream: `serve` runs a node,
// `version` prints the version. It only wires the packages together.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/bytedance/gopkg/util/gctuner"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"slipstream/flight"
	"slipstream/kernels/budget"
	"slipstream/kernels/exec"
	"slipstream/kernels/fsroot"
	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/cluster"
	"slipstream/scheduler/config"
)

var version = "0.1.0"

const usage = `slipstream: a compute service over Arrow Flight

usage:
  slipstream serve [--addr HOST:PORT] [--http HOST:PORT] [--data-dir DIR] [--allow-path DIR]...
                   [--auth FILE] [--node-token-file FILE]
                   [--tls-cert FILE --tls-key FILE --tls-ca FILE] [--insecure]
                   [--advertise URI] [--name NAME] [--gossip HOST:PORT] [--join HOST:PORT,...]
                   [--encrypt-key KEY] [--config FILE] [--print-config]
  slipstream local --nodes N [--data-dir DIR] [--allow-path DIR]...   (N node processes on loopback)
  slipstream token create|list|revoke ...   (the tokens file of --auth; token -h)
  slipstream certs --out DIR --hosts n1,n2  (a development CA and certificates)
  slipstream version

A lone serve is a one-node cluster; --join adds the node to the cluster of
the node gossiping at HOST:PORT. Run 'slipstream serve -h' for every flag.

With --auth every call needs a token (reader, writer or admin); with TLS
(--tls-*) nodes verify each other's certificates and gossip must be
encrypted (--encrypt-key). Without either, a node listens on loopback only
unless --insecure is given. Files (read_parquet, ...) are read only under
the directories given with --allow-path (default: its --data-dir).
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
	case "certs":
		if err := certs(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "slipstream certs:", err)
			os.Exit(1)
		}
	case "token":
		if err := token(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "slipstream token:", err)
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
// authenticates callers (no tokens, no TLS client certificates), unless
// --insecure is given. Gossip beyond loopback
// is allowed when encrypted (--encrypt-key: only holders of the key can
// join the cluster), else it too needs --insecure.
func checkExposure(cfg config.Node, authOn bool) error {
	local, err := loopback(cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if !local && !cfg.Insecure && !authOn && !cfg.TLS() {
		return fmt.Errorf("--addr %s is not a loopback address and no authentication is configured; bind to 127.0.0.1 or pass --insecure to serve anyone who can reach the port", cfg.Addr)
	}
	if cfg.HTTP != "" {
		local, err := loopback(cfg.HTTP)
		if err != nil {
			return fmt.Errorf("--http: %w", err)
		}
		// The HTTP side checks tokens (--auth); TLS client certificates
		// do not reach it.
		if !local && !cfg.Insecure && !authOn {
			return fmt.Errorf("--http %s is not a loopback address and no tokens are configured (--auth); bind to 127.0.0.1 or pass --insecure to show the dashboard to anyone who can reach the port", cfg.HTTP)
		}
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

// serveRun is what serve's flags say about this run, beside the node's
// configuration.
type serveRun struct {
	printOnly bool // --print-config
	// stopWithStdin (--stop-with-stdin): the node stops, as on SIGTERM,
	// when its standard input ends: a program that starts it with a pipe
	// there has it stop when that program ends, even killed.
	stopWithStdin bool
}

// serveConfig reads serve's configuration: the defaults, then the
// environment, then the file given with --config (in --print-config's
// form), then the other flags; run is what the flags say beside it.
func serveConfig(args []string, getenv func(string) string) (cfg config.Node, run serveRun, err error) {
	cfg = config.Default()
	if err := cfg.FromEnv(getenv); err != nil {
		return cfg, serveRun{}, err
	}
	var file string
	flags := func(c *config.Node) *flag.FlagSet {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c.RegisterFlags(fs)
		fs.BoolVar(&run.stopWithStdin, "stop-with-stdin", false, "stop, as on SIGTERM, when standard input ends (for a program that starts the node with a pipe there: the node stops when it ends, even killed)")
		fs.BoolVar(&run.printOnly, "print-config", false, "print the configuration the defaults, environment, --config file and flags give, as the node logs it at start, and exit")
		fs.StringVar(&file, "config", "", "a `FILE` of settings in --print-config's form (flag = value lines); the flags given win")
		return fs
	}
	// A first pass finds --config and the flags given.
	scratch := cfg
	first := flags(&scratch)
	if err := first.Parse(args); err != nil {
		return cfg, serveRun{}, err
	}
	if first.NArg() > 0 {
		return cfg, serveRun{}, fmt.Errorf("unexpected arguments %q (every setting is a flag; see slipstream serve -h)", first.Args())
	}
	if file != "" {
		text, err := os.ReadFile(file)
		if err != nil {
			return cfg, serveRun{}, fmt.Errorf("--config: %w", err)
		}
		if err := cfg.Parse(string(text)); err != nil {
			return cfg, serveRun{}, fmt.Errorf("--config %s: %w", file, err)
		}
		first.Visit(func(f *flag.Flag) {
			if f.Name == "allow-path" {
				cfg.AllowPaths = nil // the flags' list replaces the file's
			}
		})
	}
	second := flags(&cfg)
	second.SetOutput(io.Discard) // the first pass reported any error
	if err := second.Parse(args); err != nil {
		return cfg, serveRun{}, err
	}
	if err := cfg.Resolve(); err != nil {
		return cfg, serveRun{}, err
	}
	return cfg, run, cfg.Validate()
}

// untilStdinEnds is ctx, also done once standard input ends (--stop-with-stdin).
func untilStdinEnds(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return ctx
}

func serve(args []string) error {
	cfg, run, err := serveConfig(args, os.Getenv)
	if err != nil {
		return err
	}
	if run.printOnly {
		fmt.Print(cfg.String())
		return nil
	}
	nodeToken, err := readNodeToken(cfg.NodeTokenFile)
	if err != nil {
		return err
	}
	var auth *flight.Auth
	if cfg.AuthFile != "" || nodeToken != "" {
		if auth, err = flight.NewAuth(cfg.AuthFile, nodeToken); err != nil {
			return err
		}
	}
	if err := checkExposure(cfg, auth != nil); err != nil {
		return err
	}
	var tlsServer, tlsPeers *tls.Config
	if cfg.TLS() {
		if tlsServer, tlsPeers, err = flight.LoadTLS(cfg.TLSCert, cfg.TLSKey, cfg.TLSCA, auth == nil, time.Now()); err != nil {
			return err
		}
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
	logger := newLogger(cfg.LogFormat, os.Stderr)
	slog.SetDefault(logger)
	flight.Version = version

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	if cfg.Name, err = nodeName(cfg.DataDir, cfg.Name); err != nil {
		return err
	}
	roots, err := fsroot.Open(cfg.AllowPaths...)
	if err != nil {
		return fmt.Errorf("--allow-path: %w", err)
	}
	defer roots.Close()
	cfg.AllowPaths = roots.Dirs()
	pool, err := memoryPool(cfg)
	if err != nil {
		return err
	}
	// Stored partitions and Parquet column chunks read again stay decoded,
	// each up to a tenth of the memory limit (counted in the node's
	// account; see exec.SetHotFileBytes and exec.SetDecodedChunkBytes).
	exec.SetHotFileBytes(cfg.MemoryLimit / 10)
	exec.SetDecodedChunkBytes(cfg.MemoryLimit / 10)
	mem := pool.Allocator()
	cat, err := catalog.Open(cfg.DataDir, mem, cfg.Name)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if ip := lis.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() && !cfg.Insecure && auth == nil && !cfg.TLS() {
		lis.Close() // checkExposure resolved the name otherwise; never serve on it
		return fmt.Errorf("--addr %s bound %s, not a loopback address, and no authentication is configured; pass --insecure to serve anyone who can reach the port", cfg.Addr, lis.Addr())
	}
	scheme := "grpc://"
	if cfg.TLS() {
		scheme = "grpc+tls://"
	}
	flushTraces, err := setupTracing(cfg, version)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := flushTraces(ctx); err != nil {
			slog.Warn("could not export the last spans", "err", err)
		}
	}()
	if cfg.Advertise == "" {
		cfg.Advertise = scheme + lis.Addr().String()
	}
	gossip, err := cluster.Start(cluster.Config{Name: cfg.Name, Bind: cfg.Gossip, Join: cfg.Join, EncryptKey: cfg.EncryptKey,
		Addr: cfg.Advertise, Cores: runtime.GOMAXPROCS(0), MemoryBytes: pool.Limit(), Logger: logger})
	if err != nil {
		return err
	}
	defer gossip.Leave()
	peers := flight.NewPeers(mem)
	peers.Secure(nodeToken, tlsPeers)
	var members cluster.Membership = gossip
	if cfg.TLS() {
		members = flight.Trust(gossip, peers) // work only for nodes with a certificate of the CA
	}
	defer peers.Close()
	metrics, err := flight.NewMetrics()
	if err != nil {
		return err
	}
	defer metrics.Shutdown(context.Background())
	engine := &scheduler.Engine{Catalog: cat, Mem: mem, Memory: pool, Self: members.Self(), Members: members, Net: peers,
		Config: cfg, Roots: roots, MeterProvider: metrics.Provider()}
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
	opts := flight.ServerOptions(cfg.MaxClientStreams)
	if auth != nil {
		opts = append(opts, auth.ServerOptions()...)
	}
	if tlsServer != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsServer)))
	}
	srv := arrowflight.NewServerWithMiddleware(nil, opts...)
	srv.InitListener(lis)
	svc := flight.NewService(engine, cfg.Advertise)
	srv.RegisterFlightService(svc)
	if cfg.ShmResults {
		if shm, err := flight.OpenSharedResults("/dev/shm"); err != nil {
			slog.Warn("results go through the socket only", "err", err)
		} else {
			svc.ShareResults(shm)
			defer shm.Close()
			slog.Info("results go to clients on this machine that ask through shared memory", "dir", shm.Dir())
		}
	}
	if cfg.HTTP != "" {
		stopHTTP, err := serveHTTP(cfg, svc, metrics, auth)
		if err != nil {
			return err
		}
		defer stopHTTP()
	}

	slog.Info("starting", "version", version, "tables", len(cat.Tables()), "config", cfg)
	switch {
	case auth != nil:
		slog.Info("every call needs a token (authorization: Bearer, or Basic on Handshake)", "auth", cfg.AuthFile, "node-token", nodeToken != "")
	case cfg.Insecure:
		slog.Warn("INSECURE: --insecure is set and no authentication is configured: anyone who can reach this node can read, replace and drop every table and read every file under the allowed paths",
			"addr", lis.Addr().String(), "gossip", members.Self().Gossip, "gossip-encrypted", cfg.EncryptKey != "", "allow-path", roots.String())
	default:
		slog.Info("no authentication is configured, so this node listens on loopback only (--insecure lifts this)", "addr", lis.Addr().String())
	}
	slog.Info("files are read only under the allowed paths (--allow-path)", "allow-path", roots.String())
	if cfg.TLS() {
		slog.Info("Flight is served over TLS; node-to-node calls are mutual TLS", "cert", cfg.TLSCert, "ca", cfg.TLSCA, "client-certificates", map[bool]string{true: "required", false: "verified when given"}[auth == nil])
	}
	fmt.Printf("slipstream: serving on %s%s\n", scheme, lis.Addr())
	fmt.Printf("slipstream: node %s gossip on %s\n", cfg.Name, members.Self().Gossip)
	os.Stdout.Sync()
	// Learn the tables of the cluster now, and again whenever a node joins
	// or comes back (a node that was away may have newer manifests); check
	// every copy this node should hold and repair what is missing or
	// damaged from a replica.
	maintain, stopMaintain := context.WithCancel(context.Background())
	defer stopMaintain()
	go engine.Maintain(maintain, members.Changes())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if run.stopWithStdin {
		ctx = untilStdinEnds(ctx)
	}
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

// serveHTTP starts the dashboard and /metrics on --http (printed as
// "slipstream: dashboard on URL", before the serving line that clients
// wait for); the function returned stops it.
func serveHTTP(cfg config.Node, svc *flight.Service, metrics *flight.Metrics, auth *flight.Auth) (func(), error) {
	lis, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return nil, fmt.Errorf("--http: %w", err)
	}
	if ip := lis.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() && !cfg.Insecure && auth == nil {
		lis.Close()
		return nil, fmt.Errorf("--http %s bound %s, not a loopback address, and no authentication is configured; pass --insecure to show the dashboard to anyone who can reach the port", cfg.HTTP, lis.Addr())
	}
	url := flight.DashboardURL(lis.Addr(), cfg.Advertise)
	svc.SetDashboard(url)
	hs := &http.Server{Handler: svc.HTTPHandler(metrics, auth), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("the HTTP port stopped", "err", err)
		}
	}()
	fmt.Printf("slipstream: dashboard on %s\n", url)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	}, nil
}

// readNodeToken is the token this node presents to the others:
// $SLIPSTREAM_NODE_TOKEN, else the contents of --node-token-file, else "".
// The variable is cleared so that nothing this process starts inherits it.
func readNodeToken(file string) (string, error) {
	if tok := strings.TrimSpace(os.Getenv(config.EnvNodeToken)); tok != "" {
		os.Unsetenv(config.EnvNodeToken)
		return tok, nil
	}
	if file == "" {
		return "", nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--node-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return "", fmt.Errorf("--node-token-file %s is empty; put a token made with slipstream token create --role admin in it", file)
	}
	return tok, nil
}

// nodeName is the name given, else the one kept in the data directory,
// else a new one, kept there: a node keeps its name across restarts, and
// partitions name their holders by it.
func nodeName(dataDir, given string) (string, error) {
	file := filepath.Join(dataDir, config.NameFile)
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

// memoryPool makes the node's budget from cfg (resolved: the limits are
// sizes, the spill directory absolute) and tells Go's collector the limit.
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
// tuneGC lets the heap grow to 5 times what it holds while that is small
// (a scan allocates batch after batch while it holds little: it ran twice
// as fast with GOGC at 400 as at 100) and to 1.5 times when it is large.
// A fixed 400 let a group-by holding 2 GiB of tables grow the heap to
// 10 GiB of fresh pages before collecting, each page a fault: half its
// time went to the kernel.
func tuneGC(limit int64) {
	gctuner.SetMaxGCPercent(400)
	gctuner.SetMinGCPercent(50)
	gctuner.Tuning(uint64(min(limit/4, 1<<30)))
}

func memoryPool(cfg config.Node) (*budget.Pool, error) {
	if err := os.MkdirAll(cfg.SpillDir, 0o700); err != nil {
		return nil, fmt.Errorf("--spill-dir: %w", err)
	}
	if os.Getenv("GOGC") == "" {
		tuneGC(cfg.MemoryLimit)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	return budget.NewPool(budget.Options{Limit: cfg.MemoryLimit / 10 * 6, SpillDir: cfg.SpillDir, SpillLimit: cfg.SpillLimit, SpillCodec: cfg.SpillCompression, OperatorLimit: cfg.OperatorMemory,
		// Go keeps freed pages until the heap nears its limit: an idle
		// node would hold what its biggest query took.
		WhenIdle: debug.FreeOSMemory, IdleDelay: cfg.ReleaseMemoryAfter,
		// decoded chunks kept for the next scan give way to a query
		WhenShort: exec.DropDecoded,
		// the tests set it: a read of a released buffer gives nonsense
		PoisonFreed: os.Getenv("SLIPSTREAM_POISON_FREED") != ""})
}
