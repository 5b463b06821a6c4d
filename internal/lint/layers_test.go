package lint

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rank orders the layers: a package may import only its own layer or a
// lower one (higher rank). Dependencies point cmd -> flight -> scheduler ->
// kernels -> arrow.
func rank(pkg string) int {
	switch {
	case strings.HasPrefix(pkg, "slipstream/cmd"):
		return 0
	case strings.HasPrefix(pkg, "slipstream/flight"):
		return 1
	case strings.HasPrefix(pkg, "slipstream/scheduler"):
		return 2
	case strings.HasPrefix(pkg, "slipstream/kernels"):
		return 3
	}
	return -1
}

// allowedThirdParty lists, per layer, the only outside modules it may use
// (the standard library is always allowed).
var allowedThirdParty = map[int][]string{
	// The binary sets up tracing: otel's SDK and its OTLP exporter; toml: the tokens file;
	// gctuner: GOGC from the heap in use.
	0: {"github.com/apache/arrow-go/v18/", "google.golang.org/grpc", "google.golang.org/protobuf/", "go.opentelemetry.io/otel",
		"github.com/BurntSushi/toml", "github.com/bytedance/gopkg/util/gctuner"},
	// Traced gRPC calls (otelgrpc); metrics: the SDK and its Prometheus exporter; toml: the tokens file.
	1: {"github.com/apache/arrow-go/v18/", "google.golang.org/grpc", "google.golang.org/protobuf/", "go.opentelemetry.io/otel",
		"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc", "github.com/prometheus/client_golang/",
		"github.com/BurntSushi/toml"},
	// Spans of queries, stages and tasks and the metrics' instruments: otel's API; the SQL parser;
	// rate: the pace of copies between nodes; errgroup: the nodes storing a result at once.
	2: {"github.com/apache/arrow-go/v18/", "google.golang.org/protobuf/", "go.opentelemetry.io/otel",
		"github.com/pganalyze/pg_query_go/v6", "golang.org/x/time/rate", "golang.org/x/sync/errgroup"},
	// ristretto: caches counted in the budget; klauspost/compress: spill files' codecs.
	3: {"github.com/apache/arrow-go/v18/", "github.com/dgraph-io/ristretto/v2", "github.com/klauspost/compress/"},
}

func TestLayers(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "python" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := "slipstream/" + filepath.ToSlash(rel)
		from := rank(pkg)
		if from < 0 {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "slipstream/") {
				if to := rank(p); to >= 0 && to < from {
					t.Errorf("%s imports %s: %s must not depend on a layer above it (cmd -> flight -> scheduler -> kernels)", path, p, pkg)
				}
				continue
			}
			if !strings.Contains(strings.Split(p, "/")[0], ".") {
				continue // standard library
			}
			if strings.HasSuffix(path, "_test.go") && p == "github.com/cockroachdb/datadriven" {
				continue // golden-file tests may use it anywhere
			}
			// The HTTP side serves /metrics (ARCHITECTURE.md: flight owns it).
			metricsInFlight := strings.HasPrefix(pkg, "slipstream/flight") &&
				(strings.HasPrefix(p, "go.opentelemetry.io/otel/sdk/metric") || strings.HasPrefix(p, "go.opentelemetry.io/otel/exporters/prometheus"))
			if !metricsInFlight && (strings.HasPrefix(p, "go.opentelemetry.io/otel/sdk") || strings.HasPrefix(p, "go.opentelemetry.io/otel/exporters")) {
				// Which spans are kept and where they go is the binary's
				// choice; tests collect spans in memory.
				if !strings.HasPrefix(pkg, "slipstream/cmd") && !strings.HasSuffix(path, "_test.go") {
					t.Errorf("%s imports %s: only cmd (and tests) may set up otel's SDK and exporters", path, p)
				}
				continue
			}
			if strings.Contains(p, "hashicorp/serf") && !strings.HasPrefix(pkg, "slipstream/scheduler/cluster") {
				t.Errorf("%s imports %s: only scheduler/cluster may touch Serf", path, p)
				continue
			}
			ok := strings.HasPrefix(pkg, "slipstream/scheduler/cluster") && strings.Contains(p, "hashicorp/")
			for _, prefix := range allowedThirdParty[from] {
				ok = ok || strings.HasPrefix(p, prefix) || p == strings.TrimSuffix(prefix, "/")
			}
			if !ok {
				t.Errorf("%s imports %s, which layer %s may not use", path, p, pkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d files; is the walk rooted at the module?", checked)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal("module root not found")
	}
}
