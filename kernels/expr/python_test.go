package expr

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestPythonClientMatchesRegistry reads the Python client's expression
// module: every function it calls by name must be in the registry (or be
// one the planner itself reads: window functions, filter and sort_by; or
// one DataFrame.select rewrites: value_counts, mode), and its list
// of aggregates must be exactly the registry's aggregates.
func TestPythonClientMatchesRegistry(t *testing.T) {
	src, err := os.ReadFile("../../python/slipstream/_expr.py")
	if err != nil {
		t.Skipf("no Python client next to the Go code: %v", err)
	}
	text := string(src)
	planner := map[string]bool{ // read by scheduler/plan, not the registry
		"filter": true, "sort_by": true, "rolling": true, "row_number": true, "rank": true, "dense_rank": true, "lag": true, "lead": true,
		"cum_sum": true, "cum_count": true, "cum_min": true, "cum_max": true, "cum_prod": true,
		"fill_forward": true, "fill_backward": true, "ewm_mean": true,
		// rewritten by the client's DataFrame.select into group_by and len
		"value_counts": true, "mode": true, "explode": true,
	}
	calls := regexp.MustCompile(`_(?:call|rcall|window)\(\s*"([a-z_0-9]+)"|function="([a-z_0-9]+)"|_horizontal\("([a-z_0-9]+)"`)
	seen := map[string]bool{}
	for _, m := range calls.FindAllStringSubmatch(text, -1) {
		name := m[1] + m[2] + m[3]
		if seen[name] {
			continue
		}
		seen[name] = true
		if _, ok := Lookup(name); !ok && !planner[name] {
			t.Errorf("the Python client calls %q, which the registry does not have", name)
		}
	}
	if len(seen) < 40 {
		t.Fatalf("found only %d function names in _expr.py; has its style changed?", len(seen))
	}
	block := regexp.MustCompile(`(?s)_AGGREGATES = frozenset\(\s*\{(.*?)\}`).FindStringSubmatch(text)
	if block == nil {
		t.Fatal("_AGGREGATES not found in _expr.py")
	}
	var py []string
	for _, q := range regexp.MustCompile(`"([a-z_]+)"`).FindAllStringSubmatch(block[1], -1) {
		py = append(py, q[1])
	}
	var goAggs []string
	for _, n := range Names() {
		if f, _ := Lookup(n); f.Kind == Aggregate {
			goAggs = append(goAggs, n)
		}
	}
	sort.Strings(py)
	if strings.Join(py, " ") != strings.Join(goAggs, " ") {
		t.Errorf("Python's aggregates\n  %v\nare not the registry's\n  %v", py, goAggs)
	}
}
