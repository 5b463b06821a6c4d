package flight

import (
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowflight "github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"slipstream/kernels/fsroot"
	"slipstream/scheduler"
	"slipstream/scheduler/catalog"
	"slipstream/scheduler/config"
	pb "slipstream/scheduler/planpb"
)

// A table and a column named with markup: the API hands them back as
// plain strings, byte for byte.
const (
	hostileTable  = `<img src=x onerror=window.__xss=1>`
	hostileColumn = `</td><script>window.__xss=2</script>`
)

// startHTTPNode runs a node's Flight service and its HTTP side (with
// metrics) on loopback ports.
func startHTTPNode(t *testing.T) (*testNode, *httptest.Server) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	dir := t.TempDir()
	cat, err := catalog.Open(dir, mem, "n1")
	if err != nil {
		t.Fatal(err)
	}
	roots, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { roots.Close() })
	metrics, err := NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Name, cfg.DataDir, cfg.HTTP = "n1", dir, "127.0.0.1:0"
	engine := &scheduler.Engine{Catalog: cat, Mem: mem, Roots: roots, Config: cfg, MeterProvider: metrics.Provider()}
	svc := NewService(engine, "grpc://"+lis.Addr().String())
	srv := arrowflight.NewServerWithMiddleware(nil, ServerOptions(0)...)
	srv.InitListener(lis)
	srv.RegisterFlightService(svc)
	go srv.Serve()
	web := httptest.NewServer(svc.HTTPHandler(metrics, nil))
	svc.SetDashboard(web.URL + "/")
	client, err := arrowflight.NewClientWithMiddleware(lis.Addr().String(), nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		web.Close()
		srv.Shutdown()
		metrics.Shutdown(t.Context())
		mem.AssertSize(t, 0)
	})
	return &testNode{client: client, mem: mem, addr: "grpc://" + lis.Addr().String()}, web
}

func get(t *testing.T, web *httptest.Server, path string) (int, http.Header, []byte) {
	t.Helper()
	res, err := web.Client().Get(web.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, body
}

func getJSON(t *testing.T, web *httptest.Server, path string, into any) {
	t.Helper()
	code, h, body := get(t, web, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func hostileBatch() arrow.RecordBatch {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues([]int64{1, 2, 3}, nil)
	arr := b.NewArray()
	defer arr.Release()
	s := arrow.NewSchema([]arrow.Field{{Name: hostileColumn, Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	return array.NewRecordBatch(s, []arrow.Array{arr}, 3)
}

func TestHTTPAPI(t *testing.T) {
	n, web := startHTTPNode(t)
	rec := hostileBatch()
	defer rec.Release()
	if _, err := n.put(t, hostileTable, pb.Upload_CREATE, rec); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.query(t, scan(hostileTable)); err != nil {
		t.Fatal(err)
	}

	var node map[string]any
	getJSON(t, web, "/api/node", &node)
	if node["name"] != "n1" || node["dashboard"] != web.URL+"/" {
		t.Fatalf("/api/node: %v", node)
	}

	var cl struct {
		Members []map[string]any `json:"members"`
	}
	getJSON(t, web, "/api/cluster", &cl)
	if len(cl.Members) != 1 || cl.Members[0]["name"] != "n1" || cl.Members[0]["state"] != "alive" || cl.Members[0]["self"] != true {
		t.Fatalf("/api/cluster members: %v", cl.Members)
	}
	if _, ok := cl.Members[0]["memory_used"].(float64); !ok {
		t.Fatalf("/api/cluster: no memory_used for this node: %v", cl.Members[0])
	}

	// The hostile names come back as the strings they are, and the raw
	// body carries no markup the browser could parse were it ever served
	// as HTML (Go's encoder writes < > & as \u escapes).
	code, _, raw := get(t, web, "/api/tables")
	if code != http.StatusOK || strings.ContainsAny(string(raw), "<>") {
		t.Fatalf("/api/tables: %d %s", code, raw)
	}
	var tables struct {
		Tables []tableView `json:"tables"`
	}
	getJSON(t, web, "/api/tables", &tables)
	if len(tables.Tables) != 1 {
		t.Fatalf("/api/tables: %+v", tables)
	}
	tv := tables.Tables[0]
	if tv.Name != hostileTable || tv.Rows != 3 || len(tv.Columns) != 1 || tv.Columns[0].Name != hostileColumn || tv.Columns[0].Type != "int64" {
		t.Fatalf("table view: %+v", tv)
	}
	if len(tv.Parts) != 1 || len(tv.Parts[0].Holders) != 1 || tv.Parts[0].Holders[0] != "n1" || tv.Parts[0].Bytes <= 0 ||
		!tv.Parts[0].Here || tv.Bytes != tv.Parts[0].Bytes || tv.BytesHere != tv.Bytes {
		t.Fatalf("partition placement: %+v", tv.Parts)
	}

	var qs struct {
		Queries []scheduler.QuerySummary `json:"queries"`
	}
	getJSON(t, web, "/api/queries", &qs)
	if len(qs.Queries) != 1 || qs.Queries[0].State != "done" {
		t.Fatalf("/api/queries: %+v", qs)
	}
	var q map[string]any
	getJSON(t, web, "/api/queries/"+qs.Queries[0].ID, &q)
	if q["id"] != qs.Queries[0].ID || q["state"] != "done" {
		t.Fatalf("/api/queries/{id}: %v", q)
	}

	var cfg struct{ Node, Text string }
	getJSON(t, web, "/api/config", &cfg)
	if cfg.Node != "n1" || !strings.Contains(cfg.Text, `http = "127.0.0.1:0"`) || !strings.Contains(cfg.Text, "replication = 2") {
		t.Fatalf("/api/config: %+v", cfg)
	}

	// Mistakes get a status and a message saying what exists.
	for path, want := range map[string]int{"/api/queries/no-such-query": 404, "/api/nope": 404} {
		code, h, body := get(t, web, path)
		var e map[string]string
		if code != want || h.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || e["error"] == "" {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	res, err := web.Client().Post(web.URL+"/api/tables", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /api/tables: %d", res.StatusCode)
	}
}

func TestDashboardPage(t *testing.T) {
	_, web := startHTTPNode(t)
	code, h, body := get(t, web, "/")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(string(body), `<script src="/static/app.js"`) {
		t.Fatalf("GET /: %d %q %s", code, h.Get("Content-Type"), body)
	}
	// No inline script may run, whatever reaches the page.
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers: %v", h)
	}
	for _, f := range []string{"/static/app.js", "/static/style.css"} {
		if code, _, _ := get(t, web, f); code != 200 {
			t.Fatalf("GET %s: %d", f, code)
		}
	}
	if code, _, _ := get(t, web, "/static/nope.js"); code != 404 {
		t.Fatalf("GET a missing file: %d", code)
	}
}

// TestDashboardBuildsDOMAsText: the page's script never parses a string
// as HTML, so no name or query text can become markup.
func TestDashboardBuildsDOMAsText(t *testing.T) {
	html := regexp.MustCompile(`\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|\beval\(|new Function\(`)
	err := fs.WalkDir(dashboardFiles, "dashboard", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		src, err := dashboardFiles.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if code, _, _ := strings.Cut(line, "//"); html.MatchString(code) {
				t.Errorf("%s:%d parses strings as HTML: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	n, web := startHTTPNode(t)
	rec := ints(1000)
	defer rec.Release()
	if _, err := n.put(t, "m", pb.Upload_CREATE, rec); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.query(t, scan("m")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.query(t, scan("no_such_table")); err == nil {
		t.Fatal("a scan of a missing table ran")
	}
	code, h, body := get(t, web, "/metrics")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %v", code, h)
	}
	text := string(body)
	for _, want := range []string{
		"slipstream_queries_started_total 2",
		`slipstream_queries_ended_total{state="done"} 1`,
		`slipstream_queries_ended_total{state="failed"} 1`,
		`slipstream_query_duration_seconds_count{state="done"} 1`,
		"slipstream_upload_rows_total 1000",
		"slipstream_upload_bytes_total 8000",
		`slipstream_cluster_members{state="alive"} 1`,
		`slipstream_memory_bytes{kind="limit"}`,
		`slipstream_memory_bytes{kind="reserved"}`,
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

func TestDashboardURL(t *testing.T) {
	for _, c := range []struct{ addr, advertise, want string }{
		{"127.0.0.1:8080", "grpc://127.0.0.1:8815", "http://127.0.0.1:8080/"},
		{"0.0.0.0:8080", "grpc://node1.example:8815", "http://node1.example:8080/"},
		{"[::]:8080", "grpc://10.0.0.5:8815", "http://10.0.0.5:8080/"},
		{"[::1]:8080", "grpc://[::1]:8815", "http://[::1]:8080/"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := DashboardURL(addr, c.advertise); got != c.want {
			t.Errorf("DashboardURL(%s, %s) = %s, want %s", c.addr, c.advertise, got, c.want)
		}
	}
}
