package config

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"slipstream/kernels/budget"
)

// RegisterFlags binds c's fields to the flags of `slipstream serve`; the
// values c holds (defaults, the environment's) are the flags' defaults.
func (c *Node) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "host:port to listen on (port 0 picks a free one)")
	fs.StringVar(&c.HTTP, "http", c.HTTP, "host:port of the dashboard and Prometheus /metrics (port 0 picks a free one; default: none); loopback only unless --insecure, as --addr")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory that holds stored tables")
	fs.StringVar(&c.Advertise, "advertise", c.Advertise, "URI clients use to reach this node (default: grpc://<listening address>)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", c.CPUProfile, "write a CPU profile to this `FILE` until the node stops (for go tool pprof)")
	fs.StringVar(&c.Name, "name", c.Name, "this node's name in the cluster (default: kept in the data directory, made up on first start)")
	fs.StringVar(&c.Gossip, "gossip", c.Gossip, "host:port for cluster gossip (Serf); port 0 picks a free one; on several hosts give an address the others can reach")
	fs.Var((*commaList)(&c.Join), "join", "comma-separated gossip host:port of nodes of the cluster to join")
	fs.StringVar(&c.EncryptKey, "encrypt-key", c.EncryptKey, "base64 of a 16, 24 or 32-byte key encrypting gossip; the same on every node (default $"+EnvGossipKey+")")
	fs.IntVar(&c.Replication, "replication", c.Replication, "how many nodes store each partition of an upload (at most the number of nodes)")
	fs.Var((*autoInt)(&c.MinReplicas), "min-replicas", "how many nodes must hold each partition durably before an upload is acknowledged, at most --replication (default auto: --replication, or every alive node when fewer are alive)")
	fs.DurationVar(&c.RepairGrace, "repair-grace", c.RepairGrace, "how long a node holding partitions may be gone before its partitions are copied to other nodes")
	fs.Var((*size)(&c.RepairRate), "repair-rate", "most bytes per second a node receives in copies of partitions (repairs, re-replication, rebalancing), such as 64MiB, so that queries go on beside them")
	fs.IntVar(&c.TasksPerNode, "tasks-per-node", c.TasksPerNode, "hash buckets of a shuffle per alive node")
	fs.BoolVar(&c.Compress, "compress", c.Compress, "zstd-compress shuffle data between nodes")
	fs.Int64Var(&c.BroadcastRows, "broadcast-rows", c.BroadcastRows, "a join side estimated at or under this many rows is sent whole to every task of the other side (negative: never)")
	fs.Int64Var(&c.PartRows, "part-rows", c.PartRows, "rows per partition of an upload (default $"+EnvPartRows+", else 1048576)")
	fs.Var((*size)(&c.MemoryLimit), "memory-limit", "memory the node may use, such as 4GiB (default $"+EnvMemoryLimit+", else 80% of the cgroup limit or of physical memory); queries spill or fail within it")
	fs.Var((*size)(&c.OperatorMemory), "operator-memory", "most memory one operator (a sort, an aggregate's or join's table) may hold before it spills, such as 64KiB, however much room its query has (default $"+EnvOperatorMemory+", else 0: no limit but the query's share); small values make every operator that can spill do so (tests)")
	fs.StringVar(&c.SpillDir, "spill-dir", c.SpillDir, "where queries over their memory share write spill files (default <data-dir>/spill); emptied at start")
	fs.Var((*size)(&c.SpillLimit), "spill-limit", "most bytes of spill files at once, such as 200GiB; 0 turns spilling off (default: half the free space of the spill directory's disk)")
	fs.DurationVar(&c.ReleaseMemoryAfter, "release-memory-after", c.ReleaseMemoryAfter, "give the memory queries freed back to the system once no query has run for this long (0: never; Go otherwise keeps it up to --memory-limit)")
	fs.StringVar(&c.SpillCompression, "spill-compression", c.SpillCompression, "codec of spill files: s2 (fast), zstd (a third smaller, about 2.5x the CPU, and about 0.7 MiB per open spill file outside --memory-limit against 0.3 MiB) or none (no CPU, about twice the bytes of s2: fast disks)")
	fs.Var((*size)(&c.MaxBatchSize), "max-batch-size", "most bytes one uploaded record batch (or one batch of an IPC file read_ipc reads) may decode to; larger ones are refused")
	fs.DurationVar(&c.MaxQueryTime, "max-query-time", c.MaxQueryTime, "cancel a query that runs longer than this, such as 1h (0: no limit)")
	fs.IntVar(&c.MaxClientStreams, "max-client-streams", c.MaxClientStreams, "most calls one client connection may have open at once; more are refused with ResourceExhausted")
	fs.StringVar(&c.AuthFile, "auth", c.AuthFile, "a TOML `FILE` of tokens (slipstream token create); every call then needs one, and the node may listen beyond loopback; re-read when it changes")
	fs.StringVar(&c.NodeTokenFile, "node-token-file", c.NodeTokenFile, "a `FILE` holding the admin token this node presents to the other nodes (default $"+EnvNodeToken+"; with TLS the node's certificate serves instead)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "the node's TLS certificate (PEM); with --tls-key and --tls-ca the node serves grpc+tls:// and nodes verify each other's certificates")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "the private key of --tls-cert (PEM)")
	fs.StringVar(&c.TLSCA, "tls-ca", c.TLSCA, "the cluster's CA certificate (PEM): nodes and client certificates must be signed by it")
	fs.BoolVar(&c.Insecure, "insecure", c.Insecure, "listen on non-loopback addresses although no authentication is configured: anyone who can reach the port can read and replace every table")
	fs.BoolVar(&c.ShmResults, "shm-results", c.ShmResults, "hand results to a client on this machine that asks for them as Arrow files in /dev/shm, which it maps without a copy, instead of through the socket (the Python client's local nodes)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log lines on stderr as text or json; every line about a query carries its query_id and trace_id")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", c.OTLPEndpoint, "export traces to this OTLP/HTTP collector `URL`, such as http://127.0.0.1:4318 (default $"+EnvOTLPTracesEndpoint+", else $"+EnvOTLPEndpoint+"; empty: no spans are recorded)")
	fs.Var((*PathList)(&c.AllowPaths), "allow-path", "a directory whose files read_parquet/read_csv/read_ipc may read and COPY TO / write_parquet may write (repeatable, or comma-separated; each must exist; default: the data directory)")
}

// size is a byte-size flag ("4GiB"); "auto" (or empty) sets Auto.
type size int64

func (s *size) String() string {
	if s == nil || *s == Auto {
		return ""
	}
	return Bytes(int64(*s))
}

func (s *size) Set(v string) error {
	if v = strings.TrimSpace(v); v == "" || strings.EqualFold(v, "auto") {
		*s = Auto
		return nil
	}
	n, err := budget.ParseBytes(v)
	if err != nil {
		return err
	}
	*s = size(n)
	return nil
}

// autoInt is a count flag whose zero is written "auto".
type autoInt int

func (a *autoInt) String() string {
	if a == nil || *a == 0 {
		return "auto"
	}
	return strconv.Itoa(int(*a))
}

func (a *autoInt) Set(v string) error {
	if v = strings.TrimSpace(v); v == "" || strings.EqualFold(v, "auto") {
		*a = 0
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return fmt.Errorf("want a positive number or auto, got %q", v)
	}
	*a = autoInt(n)
	return nil
}

// commaList is a flag of comma-separated values.
type commaList []string

func (l *commaList) String() string { return strings.Join(*l, ",") }
func (l *commaList) Set(v string) error {
	*l = nil
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// PathList is a repeatable flag whose values may also be comma-separated
// (a value naming an existing directory is taken whole, commas and all).
type PathList []string

func (l *PathList) String() string { return strings.Join(*l, ",") }
func (l *PathList) Set(v string) error {
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
