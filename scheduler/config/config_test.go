package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parse is what `slipstream serve` does with its environment and flags.
func parse(t *testing.T, env map[string]string, args ...string) (Node, error) {
	t.Helper()
	c := Default()
	if err := c.FromEnv(func(k string) string { return env[k] }); err != nil {
		return c, err
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	c.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestFlagsWinOverTheEnvironmentWhichWinsOverDefaults(t *testing.T) {
	env := map[string]string{EnvPartRows: "700", EnvMemoryLimit: "1GiB", EnvGossipKey: "MDEyMzQ1Njc4OWFiY2RlZg=="}
	c, err := parse(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.PartRows != 700 || c.MemoryLimit != 1<<30 || c.EncryptKey != env[EnvGossipKey] {
		t.Errorf("environment not taken: %+v", c)
	}
	if c.Replication != DefaultReplication || c.BroadcastRows != DefaultBroadcastRows || c.Addr != DefaultAddr || c.SpillLimit != Auto {
		t.Errorf("defaults lost: %+v", c)
	}
	c, err = parse(t, env, "--part-rows", "10000", "--memory-limit", "512MiB", "--spill-limit", "0",
		"--join", "a:1, b:2", "--allow-path", "/x,/y", "--allow-path", "/z", "--replication", "3", "--broadcast-rows", "-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.PartRows != 10000 || c.MemoryLimit != 512<<20 || c.SpillLimit != 0 || c.Replication != 3 || c.BroadcastRows != -1 {
		t.Errorf("flags not taken: %+v", c)
	}
	if strings.Join(c.Join, " ") != "a:1 b:2" || strings.Join(c.AllowPaths, " ") != "/x /y /z" {
		t.Errorf("lists: join %q allow %q", c.Join, c.AllowPaths)
	}
}

// The collector's URL comes from OpenTelemetry's variables, the traces
// endpoint's winning, and --otlp-endpoint wins over both.
func TestOTLPEndpoint(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, nil, ""},
		{map[string]string{EnvOTLPEndpoint: "http://c:4318/"}, nil, "http://c:4318/v1/traces"},
		{map[string]string{EnvOTLPEndpoint: "http://c:4318", EnvOTLPTracesEndpoint: "http://t:4318/traces"}, nil, "http://t:4318/traces"},
		{map[string]string{EnvOTLPEndpoint: "http://c:4318"}, []string{"--otlp-endpoint", "http://f:4318"}, "http://f:4318"},
	} {
		c, err := parse(t, tc.env, tc.args...)
		if err != nil || c.OTLPEndpoint != tc.want {
			t.Errorf("%v %v: %q, %v; want %q", tc.env, tc.args, c.OTLPEndpoint, err, tc.want)
		}
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--replication", "0"}, "--replication 0"},
		{nil, []string{"--log-format", "xml"}, `--log-format "xml": want text or json`},
		{nil, []string{"--spill-compression", "lz4"}, `--spill-compression "lz4": want s2 (fast, the default), zstd (smaller files) or none`},
		{nil, []string{"--otlp-endpoint", "127.0.0.1:4318"}, "want the URL of an OTLP/HTTP collector"},
		{nil, []string{"--otlp-endpoint", "https://user:secret@collector:4318"}, "$OTEL_EXPORTER_OTLP_HEADERS"},
		{nil, []string{"--min-replicas", "3"}, "--min-replicas 3 exceeds --replication 2"},
		{nil, []string{"--min-replicas", "0"}, "want a positive number or auto"},
		{nil, []string{"--repair-grace", "-1s"}, "--repair-grace -1s"},
		{nil, []string{"--repair-rate", "auto"}, "--repair-rate auto: want bytes per second"},
		{nil, []string{"--repair-rate", "0"}, "--repair-rate 0B: want bytes per second"},
		{nil, []string{"--tasks-per-node", "-2"}, "--tasks-per-node -2"},
		{nil, []string{"--part-rows", "0"}, "--part-rows 0"},
		{nil, []string{"--memory-limit", "1MiB"}, "--memory-limit 1MiB is below the 16MiB"},
		{nil, []string{"--memory-limit", "lots"}, `"lots" is not a size`},
		{nil, []string{"--addr", "8815"}, `--addr "8815": want host:port`},
		{nil, []string{"--join", "a:1,nohost"}, `--join "nohost"`},
		{nil, []string{"--encrypt-key", "c2hvcnQ="}, "--encrypt-key decodes to 5 bytes"},
		{nil, []string{"--encrypt-key", "not base64!"}, "--encrypt-key: want base64"},
		{map[string]string{EnvPartRows: "many"}, nil, "$SLIPSTREAM_PART_ROWS"},
		{map[string]string{EnvMemoryLimit: "x"}, nil, "$SLIPSTREAM_MEMORY_LIMIT"},
	} {
		_, err := parse(t, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: got %v, want an error containing %q", tc.env, tc.args, err, tc.want)
		}
	}
}

func TestResolveFillsWhatTheMachineDecidesAndTouchesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c, err := parse(t, nil, "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if c.MemoryLimit < MinMemoryLimit || c.SpillLimit <= 0 {
		t.Errorf("limits not resolved: memory %d, spill %d", c.MemoryLimit, c.SpillLimit)
	}
	if c.SpillDir != filepath.Join(dir, "spill") || strings.Join(c.AllowPaths, ",") != dir {
		t.Errorf("directories: spill %q, allow %q", c.SpillDir, c.AllowPaths)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Resolve created the data directory: %v", err)
	}
	// A name kept in the data directory is the node's.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, NameFile), []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c = Default()
	c.DataDir = dir
	if err := c.Resolve(); err != nil || c.Name != "kept" {
		t.Errorf("name %q, %v", c.Name, err)
	}
}

func TestStringShowsEverySettingButTheKey(t *testing.T) {
	c, err := parse(t, nil, "--name", "n1", "--encrypt-key", "MDEyMzQ1Njc4OWFiY2RlZg==", "--memory-limit", "3GiB",
		"--allow-path", "/data/a b", "--compress")
	if err != nil {
		t.Fatal(err)
	}
	got := c.String()
	want := `name = "n1"
addr = "127.0.0.1:8815"
http = ""
advertise = ""
data-dir = "slipstream-data"
allow-path = ["/data/a b"]
insecure = false
shm-results = false
gossip = "127.0.0.1:0"
join = []
encrypt-key = "(set, not shown)"
auth = ""
node-token-file = ""
tls-cert = ""
tls-key = ""
tls-ca = ""
replication = 2
min-replicas = "auto"
repair-grace = "1m0s"
repair-rate = "64MiB"
tasks-per-node = 1
broadcast-rows = 250000
part-rows = 1048576
compress = true
memory-limit = "3GiB"
operator-memory = "0B"
spill-dir = ""
spill-limit = "auto"
spill-compression = "s2"
release-memory-after = "30s"
max-batch-size = "512MiB"
max-query-time = "0s"
max-client-streams = 256
cpuprofile = ""
log-format = "text"
otlp-endpoint = ""
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Every flag is printed, under its own name.
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.RegisterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(got, "\n"+f.Name+" = ") && !strings.HasPrefix(got, f.Name+" = ") {
			t.Errorf("flag --%s is not printed", f.Name)
		}
	})
	if strings.Contains(got, "MDEy") {
		t.Error("the gossip key was printed")
	}
}

func TestBytesReadsBackExactly(t *testing.T) {
	for n, want := range map[int64]string{4 << 30: "4GiB", 512 << 20: "512MiB", 1000: "1000B", 1536: "1536B", 0: "0B"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestEnsureDefaultsKeepsWhatIsSet(t *testing.T) {
	c := Node{BroadcastRows: -1, PartRows: 100}
	c.EnsureDefaults()
	if c.BroadcastRows != -1 || c.PartRows != 100 || c.Replication != DefaultReplication || c.TasksPerNode != DefaultTasksPerNode {
		t.Errorf("%+v", c)
	}
}

// The printed form reads back as the same configuration (the hidden key
// aside), so a printed configuration can be kept in a file and served.
func TestStringParsesBack(t *testing.T) {
	c, err := parse(t, nil, "--name", "n 1", "--addr", "127.0.0.1:0", "--allow-path", "/a, /b", "--join", "h:1,h:2",
		"--memory-limit", "3GiB", "--spill-limit", "0", "--broadcast-rows", "-1", "--compress", "--insecure", "--advertise", `grpc://"odd"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []Node{Default(), c} {
		text := src.String()
		var back Node
		if err := back.Parse(text); err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		if got := back.String(); got != text {
			t.Errorf("round trip:\n%s\nvs\n%s", got, text)
		}
	}
	// A partial file changes only what it names; the key is kept.
	d := Default()
	d.EncryptKey = "MDEyMzQ1Njc4OWFiY2RlZg=="
	err = d.Parse("# kept by hand\nreplication = 3\n\nencrypt-key = \"(set, not shown)\"\nallow-path = [\"/x\"]\n")
	if err != nil || d.Replication != 3 || d.EncryptKey == "" || strings.Join(d.AllowPaths, ",") != "/x" || d.PartRows != DefaultPartRows {
		t.Errorf("partial: %+v %v", d, err)
	}
	for text, want := range map[string]string{
		"replicas = 3":               `line 1: "replicas = 3" is not a setting`,
		"replication = many":         "line 1: replication",
		"x\nmemory-limit = \"lots\"": "line 1",
		"memory-limit = \"lots\"":    `"lots" is not a size`,
		"join = [\"a:1\"":            "bad list",
		"replication = [\"2\"]":      "takes one value",
	} {
		var n Node
		if err := n.Parse(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", text, err, want)
		}
	}
}
