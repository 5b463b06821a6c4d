// Package config is a node's one configuration: every setting of
// `slipstream serve`, its default, its environment variable, how it is
// checked and how it is printed. The binary fills a Node from the
// environment and its flags, the scheduler reads it; no other place keeps a
// default of its own.
//
// The life of a Node: Default (or a zero Node, then EnsureDefaults), then
// FromEnv, a file (Parse) and the flags, then Resolve (values taken from the machine:
// memory, disk, the node's kept name), then Validate. String is what
// `slipstream serve --print-config` prints and what the node logs at start;
// Parse reads it back (`slipstream serve --config FILE`).
package config

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"slipstream/kernels/budget"
)

// Auto marks a byte size taken from the machine when the node starts
// (Resolve): the default of MemoryLimit and SpillLimit.
const Auto = -1

// Defaults of the settings that have a fixed one.
const (
	DefaultAddr          = "127.0.0.1:8815"
	DefaultDataDir       = "slipstream-data"
	DefaultGossip        = "127.0.0.1:0"
	DefaultReplication   = 2
	DefaultRepairGrace   = time.Minute
	DefaultRepairRate    = 64 << 20 // bytes per second
	DefaultTasksPerNode  = 1
	DefaultBroadcastRows = 250_000
	DefaultPartRows      = 1 << 20
	DefaultMaxBatchSize  = 512 << 20
	DefaultClientStreams = 256
	// MinMemoryLimit is the least memory a node runs with.
	MinMemoryLimit = 16 << 20
)

// Environment variables that give defaults to flags.
const (
	EnvGossipKey = "SLIPSTREAM_GOSSIP_KEY"
	// EnvNodeToken is the token a node presents to other nodes; without
	// --auth it is the one token the node accepts (how sl.connect() starts
	// a node). Never printed.
	EnvNodeToken   = "SLIPSTREAM_NODE_TOKEN"
	EnvPartRows    = "SLIPSTREAM_PART_ROWS"
	EnvMemoryLimit = "SLIPSTREAM_MEMORY_LIMIT"
	// EnvOperatorMemory gives --operator-memory (the suite's tiny-limit mode).
	EnvOperatorMemory = "SLIPSTREAM_OPERATOR_MEMORY"
	// EnvOTLPEndpoint and EnvOTLPTracesEndpoint are OpenTelemetry's
	// standard variables naming a collector: a base URL (to which
	// /v1/traces is added) and the full URL of its traces endpoint.
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
)

// Log formats (--log-format).
const (
	LogText = "text"
	LogJSON = "json"
)

// Node is the configuration of one node. Field comments name the flag.
type Node struct {
	// Name is the node's name in the cluster (--name); empty: the one kept
	// in the data directory, else made up on first start.
	Name string
	// Addr is the host:port the Flight service listens on (--addr).
	Addr string
	// HTTP is the host:port of the dashboard and /metrics (--http);
	// empty: no HTTP port.
	HTTP string
	// Advertise is the URI clients use to reach the node (--advertise);
	// empty: grpc://<the address it listens on>.
	Advertise string
	// DataDir holds the stored tables (--data-dir).
	DataDir string
	// AllowPaths are the directories users' file scans may read
	// (--allow-path); empty: DataDir.
	AllowPaths []string
	// Insecure lets the node listen and gossip beyond loopback although no
	// authentication is configured (--insecure).
	Insecure bool
	// ShmResults hands a query's result to a client on this machine that
	// asks for it as Arrow IPC files in /dev/shm, which the client maps,
	// instead of through the socket (--shm-results).
	ShmResults bool
	// Gossip is the host:port of cluster gossip (--gossip).
	Gossip string
	// Join lists gossip host:port of nodes of the cluster to join (--join).
	Join []string
	// EncryptKey is base64 of the key that encrypts gossip (--encrypt-key,
	// $SLIPSTREAM_GOSSIP_KEY). It is never printed.
	EncryptKey string

	// AuthFile is the TOML file of the tokens callers authenticate with
	// (--auth; `slipstream token create` writes it); re-read when it
	// changes. Empty: no tokens file.
	AuthFile string
	// NodeTokenFile holds the token this node presents to the other nodes
	// (--node-token-file; $SLIPSTREAM_NODE_TOKEN gives the token itself).
	NodeTokenFile string
	// TLSCert and TLSKey are the node's certificate and key, TLSCA the
	// cluster's CA certificate (--tls-cert, --tls-key, --tls-ca): all three
	// or none.
	TLSCert, TLSKey, TLSCA string

	// Replication is how many nodes store each partition of an upload, at
	// most the number of alive nodes (--replication).
	Replication int
	// MinReplicas is how many nodes must hold a partition durably before
	// an upload is acknowledged (--min-replicas); 0 ("auto"): Replication,
	// or every alive node when fewer are alive.
	MinReplicas int
	// RepairGrace is how long a node holding partitions may be gone before
	// its partitions are copied to other nodes (--repair-grace).
	RepairGrace time.Duration
	// RepairRate is the most bytes per second a node receives in copies of
	// partitions: repairs, re-replication, rebalancing (--repair-rate).
	RepairRate int64
	// TasksPerNode is how many hash buckets a shuffle makes, and how many
	// shares a file scan is cut into, per alive node (--tasks-per-node).
	TasksPerNode int
	// BroadcastRows: a join side estimated at or under this many rows is
	// sent whole to every task of the other side; negative: never
	// (--broadcast-rows).
	BroadcastRows int64
	// PartRows is the rows per partition of an upload (--part-rows,
	// $SLIPSTREAM_PART_ROWS).
	PartRows int64
	// Compress zstd-compresses shuffle reads between nodes (--compress).
	Compress bool

	// MemoryLimit is the bytes the node may use (--memory-limit,
	// $SLIPSTREAM_MEMORY_LIMIT); Auto: 80% of the cgroup's or machine's
	// memory, found by Resolve.
	MemoryLimit int64
	// OperatorMemory, when positive, is the most one operator may hold
	// before it spills, however much room its query has
	// (--operator-memory, $SLIPSTREAM_OPERATOR_MEMORY); 0: no limit but
	// the query's share. Small values make every operator that can spill
	// do so on small data (tests).
	OperatorMemory int64
	// SpillDir is where queries write spill files (--spill-dir); empty:
	// <DataDir>/spill.
	SpillDir string
	// SpillLimit is the most bytes of spill files at once; 0 turns
	// spilling off; Auto: half the free space of SpillDir's disk
	// (--spill-limit).
	SpillLimit int64
	// SpillCompression is the codec of spill files (--spill-compression):
	// s2, zstd or none.
	SpillCompression string
	// ReleaseMemoryAfter is how long the node waits, with no query
	// running, before it gives the memory its queries freed back to the
	// system (--release-memory-after); 0: never.
	ReleaseMemoryAfter time.Duration

	// MaxBatchSize is the most bytes one uploaded record batch, or one
	// batch of a user's IPC file, may decode to (--max-batch-size).
	MaxBatchSize int64
	// MaxQueryTime, when positive, is the longest a query may run before
	// the node cancels it (--max-query-time); 0: no limit.
	MaxQueryTime time.Duration
	// MaxClientStreams is the most calls one client connection may have
	// open at once (--max-client-streams).
	MaxClientStreams int

	// CPUProfile is a file to write a CPU profile to (--cpuprofile).
	CPUProfile string
	// LogFormat is how log lines are written to stderr: text or json
	// (--log-format).
	LogFormat string
	// OTLPEndpoint is the URL of an OTLP/HTTP collector's traces endpoint
	// that receives the node's spans, such as http://127.0.0.1:4318 (a URL
	// with no path gets /v1/traces) (--otlp-endpoint,
	// $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, $OTEL_EXPORTER_OTLP_ENDPOINT);
	// empty: no span is recorded.
	OTLPEndpoint string
}

// Default is a node's configuration before the environment and flags.
func Default() Node {
	return Node{
		Addr:             DefaultAddr,
		DataDir:          DefaultDataDir,
		Gossip:           DefaultGossip,
		Replication:      DefaultReplication,
		RepairGrace:      DefaultRepairGrace,
		RepairRate:       DefaultRepairRate,
		TasksPerNode:     DefaultTasksPerNode,
		BroadcastRows:    DefaultBroadcastRows,
		PartRows:         DefaultPartRows,
		MaxBatchSize:     DefaultMaxBatchSize,
		MaxClientStreams: DefaultClientStreams,
		MemoryLimit:      Auto,
		SpillLimit:       Auto,
		SpillCompression: "s2",
		// Long enough that a benchmark's or a notebook's queries run one
		// after the other do not each fault the heap in again (a 10^7-row
		// group-by: 1.5 s more), short beside a node idle for minutes.
		ReleaseMemoryAfter: 30 * time.Second,
		LogFormat:          LogText,
	}
}

// EnsureDefaults fills the zero fields the scheduler reads with their
// defaults: an Engine built directly (in tests) needs only what it sets.
func (c *Node) EnsureDefaults() {
	if c.Replication == 0 {
		c.Replication = DefaultReplication
	}
	if c.RepairGrace == 0 {
		c.RepairGrace = DefaultRepairGrace
	}
	if c.RepairRate == 0 {
		c.RepairRate = DefaultRepairRate
	}
	if c.TasksPerNode == 0 {
		c.TasksPerNode = DefaultTasksPerNode
	}
	if c.BroadcastRows == 0 {
		c.BroadcastRows = DefaultBroadcastRows
	}
	if c.PartRows == 0 {
		c.PartRows = DefaultPartRows
	}
	if c.MaxBatchSize == 0 {
		c.MaxBatchSize = DefaultMaxBatchSize
	}
	if c.MaxClientStreams == 0 {
		c.MaxClientStreams = DefaultClientStreams
	}
}

// FromEnv takes the defaults the environment gives (getenv is os.Getenv
// outside tests). Flags parsed after it win.
func (c *Node) FromEnv(getenv func(string) string) error {
	if v := getenv(EnvGossipKey); v != "" {
		c.EncryptKey = v
	}
	if v := getenv(EnvPartRows); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("$%s=%q: want a positive number of rows", EnvPartRows, v)
		}
		c.PartRows = n
	}
	if v := getenv(EnvMemoryLimit); v != "" {
		n, err := budget.ParseBytes(v)
		if err != nil {
			return fmt.Errorf("$%s: %w", EnvMemoryLimit, err)
		}
		c.MemoryLimit = n
	}
	if v := getenv(EnvOTLPEndpoint); v != "" {
		c.OTLPEndpoint = strings.TrimSuffix(v, "/") + "/v1/traces" // the standard's rule for the base URL
	}
	if v := getenv(EnvOTLPTracesEndpoint); v != "" {
		c.OTLPEndpoint = v
	}
	if v := getenv(EnvOperatorMemory); v != "" {
		n, err := budget.ParseBytes(v)
		if err != nil {
			return fmt.Errorf("$%s: %w", EnvOperatorMemory, err)
		}
		c.OperatorMemory = n
	}
	return nil
}

// Resolve fills what the machine decides, touching nothing: absolute
// directories, the allowed paths and the spill directory by the data
// directory, the memory
// limit (80% of what the process may use, else 4GiB), the spill limit
// (half the free space of the disk the spill directory will be on) and
// the name kept in the data directory, if one is.
func (c *Node) Resolve() error {
	var err error
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil {
		return err
	}
	if len(c.AllowPaths) == 0 {
		c.AllowPaths = []string{c.DataDir}
	}
	if c.SpillDir == "" {
		c.SpillDir = filepath.Join(c.DataDir, "spill")
	}
	if c.SpillDir, err = filepath.Abs(c.SpillDir); err != nil {
		return err
	}
	if c.MemoryLimit == Auto {
		if avail := budget.Available(); avail > 0 {
			c.MemoryLimit = avail / 10 * 8 &^ (1<<20 - 1) // whole MiB: it prints as it reads
		} else {
			c.MemoryLimit = 4 << 30
		}
	}
	if c.SpillLimit == Auto {
		c.SpillLimit = 0
		// The directory may not exist yet: its nearest existing parent is
		// on the same disk, as a rule.
		for dir := c.SpillDir; ; dir = filepath.Dir(dir) {
			var st syscall.Statfs_t
			if syscall.Statfs(dir, &st) == nil {
				c.SpillLimit = int64(st.Bavail) * st.Bsize / 2 &^ (1<<20 - 1)
				break
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	if c.Name == "" {
		if raw, err := os.ReadFile(filepath.Join(c.DataDir, NameFile)); err == nil {
			c.Name = strings.TrimSpace(string(raw))
		}
	}
	return nil
}

// NameFile is the file in the data directory that keeps the node's name.
const NameFile = "node-name"

// Validate says what is wrong with c, naming the flag to fix.
func (c *Node) Validate() error {
	addrs := []struct{ flag, v string }{{"--addr", c.Addr}, {"--gossip", c.Gossip}}
	if c.HTTP != "" {
		addrs = append(addrs, struct{ flag, v string }{"--http", c.HTTP})
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return fmt.Errorf("%s %q: want host:port: %v", a.flag, a.v, err)
		}
	}
	for _, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return fmt.Errorf("--join %q: want comma-separated host:port: %v", j, err)
		}
	}
	if c.EncryptKey != "" {
		key, err := base64.StdEncoding.DecodeString(c.EncryptKey)
		if err != nil {
			return fmt.Errorf("--encrypt-key: want base64 (standard encoding) of a 16, 24 or 32-byte key, e.g. from `openssl rand -base64 32`: %v", err)
		}
		if n := len(key); n != 16 && n != 24 && n != 32 {
			return fmt.Errorf("--encrypt-key decodes to %d bytes; want 16, 24 or 32", n)
		}
	}
	if tls := c.TLSCert + c.TLSKey + c.TLSCA; tls != "" && (c.TLSCert == "" || c.TLSKey == "" || c.TLSCA == "") {
		return fmt.Errorf("TLS needs all three of --tls-cert, --tls-key and --tls-ca (got cert %q, key %q, ca %q)", c.TLSCert, c.TLSKey, c.TLSCA)
	}
	if c.TLS() && c.EncryptKey == "" {
		return fmt.Errorf("with TLS on, gossip must be encrypted too: pass --encrypt-key (or $%s), the same base64 key on every node", EnvGossipKey)
	}
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir is empty")
	}
	if c.Replication < 1 {
		return fmt.Errorf("--replication %d: want at least 1", c.Replication)
	}
	if c.MinReplicas < 0 {
		return fmt.Errorf("--min-replicas %d: want at least 1, or auto", c.MinReplicas)
	}
	if c.MinReplicas > c.Replication {
		return fmt.Errorf("--min-replicas %d exceeds --replication %d: an upload cannot wait for more copies than it makes", c.MinReplicas, c.Replication)
	}
	if c.RepairGrace < 0 {
		return fmt.Errorf("--repair-grace %s: want a duration such as 1m (0: the default)", c.RepairGrace)
	}
	if c.RepairRate < 1 {
		v := Bytes(c.RepairRate)
		if c.RepairRate == Auto {
			v = "auto"
		}
		return fmt.Errorf("--repair-rate %s: want bytes per second, such as 64MiB", v)
	}
	if c.TasksPerNode < 1 {
		return fmt.Errorf("--tasks-per-node %d: want at least 1", c.TasksPerNode)
	}
	if c.PartRows < 1 {
		return fmt.Errorf("--part-rows %d: want at least 1", c.PartRows)
	}
	if c.MemoryLimit != Auto && c.MemoryLimit < MinMemoryLimit {
		return fmt.Errorf("--memory-limit %s is below the %s a node needs to run", Bytes(c.MemoryLimit), Bytes(MinMemoryLimit))
	}
	if c.OperatorMemory < 0 {
		return fmt.Errorf("--operator-memory %d: want a size, or 0 for no limit but the query's share", c.OperatorMemory)
	}
	if c.MaxBatchSize < 1<<20 {
		return fmt.Errorf("--max-batch-size %s: want at least 1MiB", Bytes(c.MaxBatchSize))
	}
	if c.ReleaseMemoryAfter < 0 {
		return fmt.Errorf("--release-memory-after %s: want a duration such as 30s, or 0 to keep freed memory", c.ReleaseMemoryAfter)
	}
	if c.MaxQueryTime < 0 {
		return fmt.Errorf("--max-query-time %s: want a duration such as 1h, or 0 for no limit", c.MaxQueryTime)
	}
	if c.MaxClientStreams < 1 {
		return fmt.Errorf("--max-client-streams %d: want at least 1", c.MaxClientStreams)
	}
	if c.SpillLimit < 0 && c.SpillLimit != Auto {
		return fmt.Errorf("--spill-limit %d: want a size (0 turns spilling off)", c.SpillLimit)
	}
	if !slices.Contains(budget.SpillCodecs, c.SpillCompression) {
		return fmt.Errorf("--spill-compression %q: want s2 (fast, the default), zstd (smaller files) or none (no CPU, larger files)", c.SpillCompression)
	}
	if c.LogFormat != LogText && c.LogFormat != LogJSON {
		return fmt.Errorf("--log-format %q: want %s or %s", c.LogFormat, LogText, LogJSON)
	}
	if c.OTLPEndpoint != "" {
		u, err := url.Parse(c.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--otlp-endpoint %q: want the URL of an OTLP/HTTP collector, such as http://127.0.0.1:4318", c.OTLPEndpoint)
		}
		if u.User != nil {
			return fmt.Errorf("--otlp-endpoint: the URL holds credentials, which would be printed and logged; give them in $OTEL_EXPORTER_OTLP_HEADERS instead")
		}
	}
	return nil
}

// TLS says whether the node serves Flight over TLS.
func (c *Node) TLS() bool { return c.TLSCert != "" }

// hiddenKey is printed in place of the gossip key.
const hiddenKey = "(set, not shown)"

// field is one printed setting: its flag's name and its value (a
// string, []string, bool or integer).
type field struct {
	name  string
	value any
}

func (c *Node) fields() []field {
	key := ""
	if c.EncryptKey != "" {
		key = hiddenKey
	}
	size := func(n int64) string {
		if n == Auto {
			return "auto"
		}
		return Bytes(n)
	}
	join := c.Join
	if join == nil {
		join = []string{}
	}
	allow := c.AllowPaths
	if allow == nil {
		allow = []string{}
	}
	return []field{
		{"name", c.Name},
		{"addr", c.Addr},
		{"http", c.HTTP},
		{"advertise", c.Advertise},
		{"data-dir", c.DataDir},
		{"allow-path", allow},
		{"insecure", c.Insecure},
		{"shm-results", c.ShmResults},
		{"gossip", c.Gossip},
		{"join", join},
		{"encrypt-key", key},
		{"auth", c.AuthFile},
		{"node-token-file", c.NodeTokenFile},
		{"tls-cert", c.TLSCert},
		{"tls-key", c.TLSKey},
		{"tls-ca", c.TLSCA},
		{"replication", c.Replication},
		{"min-replicas", (*autoInt)(&c.MinReplicas).String()},
		{"repair-grace", c.RepairGrace.String()},
		{"repair-rate", Bytes(c.RepairRate)},
		{"tasks-per-node", c.TasksPerNode},
		{"broadcast-rows", c.BroadcastRows},
		{"part-rows", c.PartRows},
		{"compress", c.Compress},
		{"memory-limit", size(c.MemoryLimit)},
		{"operator-memory", Bytes(c.OperatorMemory)},
		{"spill-dir", c.SpillDir},
		{"spill-limit", size(c.SpillLimit)},
		{"spill-compression", c.SpillCompression},
		{"release-memory-after", c.ReleaseMemoryAfter.String()},
		{"max-batch-size", Bytes(c.MaxBatchSize)},
		{"max-query-time", c.MaxQueryTime.String()},
		{"max-client-streams", c.MaxClientStreams},
		{"cpuprofile", c.CPUProfile},
		{"log-format", c.LogFormat},
		{"otlp-endpoint", c.OTLPEndpoint},
	}
}

// String is the configuration as `name = value` lines, one per flag, in
// the flags' terms: strings quoted, lists in brackets, sizes with units,
// "auto" for what the machine decides at start, the gossip key hidden.
func (c Node) String() string {
	var sb strings.Builder
	for _, f := range c.fields() {
		var v string
		switch x := f.value.(type) {
		case string:
			v = strconv.Quote(x)
		case []string:
			q := make([]string, len(x))
			for i, s := range x {
				q[i] = strconv.Quote(s)
			}
			v = "[" + strings.Join(q, ", ") + "]"
		default:
			v = fmt.Sprint(x)
		}
		fmt.Fprintf(&sb, "%s = %s\n", f.name, v)
	}
	return sb.String()
}

// LogValue logs the same settings as String, one attribute each.
func (c Node) LogValue() slog.Value {
	fs := c.fields()
	attrs := make([]slog.Attr, len(fs))
	for i, f := range fs {
		attrs[i] = slog.Any(f.name, f.value)
	}
	return slog.GroupValue(attrs...)
}

// Bytes writes a size exactly, in the largest binary unit that divides it
// (4GiB, 512MiB, 1000B), so that it reads back as the same number.
func Bytes(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return fmt.Sprintf("%d%s", n/u.m, u.s)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// Parse sets c's settings from text in String's form: `flag = value`
// lines (blank lines and lines starting with # are skipped). A setting the
// text does not name keeps its value, and so does the hidden gossip key.
func (c *Node) Parse(text string) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, raw, ok := strings.Cut(line, "=")
		name, raw = strings.TrimSpace(name), strings.TrimSpace(raw)
		if !ok || fs.Lookup(name) == nil {
			return fmt.Errorf("line %d: %q is not a setting (want `flag = value`, as --print-config prints)", i+1, line)
		}
		var err error
		switch {
		case name == "encrypt-key" && raw == strconv.Quote(hiddenKey):
			continue
		case strings.HasPrefix(raw, "["):
			var list []string
			if list, err = parseList(raw); err == nil {
				switch name {
				case "allow-path":
					c.AllowPaths = list
				case "join":
					c.Join = list
				default:
					err = fmt.Errorf("%s takes one value, not a list", name)
				}
			}
		case strings.HasPrefix(raw, `"`):
			var v string
			if v, err = strconv.Unquote(raw); err == nil {
				err = fs.Set(name, v)
			}
		default:
			err = fs.Set(name, raw)
		}
		if err != nil {
			return fmt.Errorf("line %d: %s: %v", i+1, name, err)
		}
	}
	return nil
}

// parseList reads ["a", "b"].
func parseList(raw string) ([]string, error) {
	rest := strings.TrimSpace(strings.TrimPrefix(raw, "["))
	out := []string{}
	for !strings.HasPrefix(rest, "]") {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, fmt.Errorf("bad list %s: want quoted strings in brackets", raw)
		}
		v, _ := strconv.Unquote(q)
		out = append(out, v)
		rest = strings.TrimSpace(rest[len(q):])
		rest = strings.TrimSpace(strings.TrimPrefix(rest, ","))
	}
	if strings.TrimSpace(rest[1:]) != "" {
		return nil, fmt.Errorf("bad list %s: text after the closing bracket", raw)
	}
	return out, nil
}
