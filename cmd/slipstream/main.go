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
	"runtime/pprof"
	"syscall"
	"time"

	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/flight"
	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
)

var version = "0.1.0"

const usage = `slipstream: a compute service over Arrow Flight

usage:
  slipstream serve [--addr HOST:PORT] [--data-dir DIR] [--advertise URI]
  slipstream local --nodes N      (multi-node clusters are not available yet)
  slipstream version
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
		fmt.Fprintln(os.Stderr, "slipstream local: multi-node clusters are not implemented yet; run `slipstream serve` for a one-node cluster")
		os.Exit(2)
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
	Addr       string
	DataDir    string
	Advertise  string
	CPUProfile string
}

func (c Config) String() string {
	return fmt.Sprintf("addr=%s data-dir=%s advertise=%s", c.Addr, c.DataDir, c.Advertise)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8815", "host:port to listen on (port 0 picks a free one)")
	fs.StringVar(&cfg.DataDir, "data-dir", "slipstream-data", "directory that holds stored tables")
	fs.StringVar(&cfg.Advertise, "advertise", "", "URI clients use to reach this node (default: grpc://<listening address>)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile to this file until the node stops (for `go tool pprof`)")
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
	mem := memory.NewGoAllocator()
	cat, err := catalog.Open(cfg.DataDir, mem)
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
	srv := arrowflight.NewServerWithMiddleware(nil, flight.ServerOptions()...)
	srv.InitListener(lis)
	srv.RegisterFlightService(flight.NewService(&scheduler.Engine{Catalog: cat, Mem: mem}, cfg.Advertise))

	slog.Info("starting", "version", version, "config", cfg.String(), "tables", len(cat.Tables()))
	fmt.Printf("slipstream: serving on grpc://%s\n", lis.Addr())
	os.Stdout.Sync()

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
