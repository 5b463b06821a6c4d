package cluster

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// wait is generous: the machine may be loaded; detection is bounded by
// memberlist timings, not by this.
const wait = 20 * time.Second

func testLogger() *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func start(t *testing.T, cfg Config) *Serf {
	t.Helper()
	if cfg.Bind == "" {
		cfg.Bind = "127.0.0.1:0"
	}
	cfg.Logger = testLogger()
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", cfg.Name, err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	return s
}

func node(name string, i int, join ...string) Config {
	return Config{
		Name:        name,
		Addr:        fmt.Sprintf("grpc://127.0.0.1:%d", 8800+i),
		Cores:       i + 1,
		MemoryBytes: int64(i+1) << 30,
		Join:        join,
	}
}

func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > wait {
			t.Fatalf("after %v: %s", wait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(t0)
}

// signalled waits for a change signal. Serf updates its member list before
// the event reaches our channel, so a state already seen may not have
// signalled yet.
func signalled(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(wait):
		return false
	}
}

func stateOf(m Membership, name string) State {
	for _, x := range m.Members() {
		if x.Name == name {
			return x.State
		}
	}
	return ""
}

func names(ms []Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name+"="+string(m.State))
	}
	return strings.Join(s, ",")
}

// threeNodes starts a, b, c, each joining the previous, and waits until
// everyone sees three alive members.
func threeNodes(t *testing.T) []*Serf {
	a := start(t, node("a", 0))
	b := start(t, node("b", 1, a.Self().Gossip))
	c := start(t, node("c", 2, b.Self().Gossip))
	all := []*Serf{a, b, c}
	for _, s := range all {
		waitFor(t, s.Self().Name+" sees 3 alive", func() bool { return len(s.Alive()) == 3 })
	}
	return all
}

func TestThreeNodesSeeEachOther(t *testing.T) {
	t.Parallel()
	all := threeNodes(t)
	want := map[string]Member{}
	for _, s := range all {
		self := s.Self()
		if strings.HasSuffix(self.Gossip, ":0") || self.State != Alive {
			t.Fatalf("self = %+v, want a real gossip port and alive", self)
		}
		want[self.Name] = self
	}
	for _, s := range all {
		got := s.Alive()
		if names(got) != "a=alive,b=alive,c=alive" {
			t.Fatalf("%s: Alive = %s", s.Self().Name, names(got))
		}
		for i, m := range got {
			w := want[m.Name]
			if m != w {
				t.Errorf("%s sees %+v, want %+v", s.Self().Name, m, w)
			}
			if wc := i + 1; m.Cores != wc || m.MemoryBytes != int64(wc)<<30 || m.Addr != fmt.Sprintf("grpc://127.0.0.1:%d", 8800+i) {
				t.Errorf("tags of %s: %+v", m.Name, m)
			}
		}
	}
	if !signalled(all[0].Changes()) {
		t.Error("a: no change signalled after others joined")
	}
}

func TestFailureDetectedAndRejoin(t *testing.T) {
	t.Parallel()
	all := threeNodes(t)
	a, b, c := all[0], all[1], all[2]
	cBind := c.Self().Gossip

	// Drain pending signals so we see the failure's own.
	select {
	case <-a.Changes():
	default:
	}
	t0 := time.Now()
	if err := c.Shutdown(); err != nil { // no Leave: looks like a crash
		t.Fatal(err)
	}
	for _, s := range []*Serf{a, b} {
		waitFor(t, s.Self().Name+" sees c failed", func() bool { return stateOf(s, "c") == Failed })
		t.Logf("%s saw c Failed after %v", s.Self().Name, time.Since(t0).Round(time.Millisecond))
	}
	if !signalled(a.Changes()) {
		t.Error("a: no change signalled for the failure")
	}
	if got := names(a.Alive()); got != "a=alive,b=alive" {
		t.Errorf("a.Alive after failure = %s", got)
	}
	if got := names(a.Members()); got != "a=alive,b=alive,c=failed" {
		t.Errorf("a.Members after failure = %s (failed members must stay listed)", got)
	}

	// Restart c with the same name and gossip port.
	cfg := node("c", 2, a.Self().Gossip)
	cfg.Bind = cBind
	t0 = time.Now()
	c2 := start(t, cfg)
	for _, s := range []*Serf{a, b, c2} {
		waitFor(t, s.Self().Name+" sees c alive again", func() bool { return stateOf(s, "c") == Alive && len(s.Alive()) == 3 })
	}
	t.Logf("restarted c alive everywhere after %v", time.Since(t0).Round(time.Millisecond))
}

func TestLeaveShowsLeft(t *testing.T) {
	t.Parallel()
	a := start(t, node("a", 0))
	b := start(t, node("b", 1, a.Self().Gossip))
	waitFor(t, "a sees b", func() bool { return len(a.Alive()) == 2 })
	if err := b.Leave(); err != nil {
		t.Fatal(err)
	}
	if err := b.Leave(); err != nil {
		t.Fatalf("second Leave: %v", err)
	}
	waitFor(t, "a sees b left", func() bool { return stateOf(a, "b") == Left })
	if got := names(a.Alive()); got != "a=alive" {
		t.Errorf("a.Alive = %s", got)
	}
	if err := a.Leave(); err != nil {
		t.Fatal(err)
	}
	if s := a.Self().State; s != Left {
		t.Errorf("a.Self after Leave: %s", s)
	}
}

func TestEncryption(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	other := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210"))

	ac := node("a", 0)
	ac.EncryptKey = key
	a := start(t, ac)
	bc := node("b", 1, a.Self().Gossip)
	bc.EncryptKey = key
	b := start(t, bc)
	waitFor(t, "a and b see each other", func() bool { return len(a.Alive()) == 2 && len(b.Alive()) == 2 })

	for _, k := range []string{other, ""} {
		cc := node("c", 2, a.Self().Gossip)
		cc.EncryptKey = k
		cc.Bind = "127.0.0.1:0"
		c, err := Start(cc)
		if err == nil {
			_ = c.Shutdown()
			t.Fatalf("key %q: joined a cluster with another key", k)
		}
		if !strings.Contains(err.Error(), a.Self().Gossip) {
			t.Errorf("error does not name the join address: %v", err)
		}
	}
	if got := names(a.Members()); got != "a=alive,b=alive" {
		t.Errorf("a.Members = %s", got)
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for _, k := range []string{
		"not base64!",
		base64.StdEncoding.EncodeToString([]byte("short")),
		base64.StdEncoding.EncodeToString(make([]byte, 33)),
	} {
		_, err := Start(Config{Name: "x", Bind: "127.0.0.1:0", EncryptKey: k})
		if err == nil || !strings.Contains(err.Error(), "16, 24 or 32-byte") {
			t.Errorf("key %q: err = %v, want it to name the expected format", k, err)
		}
	}
	if _, err := Start(Config{Name: "x", Bind: "127.0.0.1"}); err == nil {
		t.Error("bind without port accepted")
	}
}

func TestJoinUnreachable(t *testing.T) {
	t.Parallel()
	port, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("127.0.0.1:%d", port)
	_, err = Start(Config{Name: "x", Bind: "127.0.0.1:0", Join: []string{dead}})
	if err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("err = %v, want it to name %s", err, dead)
	}
}

func TestNodeName(t *testing.T) {
	host, _ := os.Hostname()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Name: "n1", Addr: "grpc://10.0.0.1:8815"}, "n1"},
		{Config{Addr: "grpc://10.0.0.1:8815"}, "10.0.0.1:8815"},
		{Config{Addr: "grpc://0.0.0.0:8815"}, host + ":8815"},
		{Config{}, host + ":7946"},
	} {
		if got := nodeName(c.cfg, 7946); got != c.want {
			t.Errorf("nodeName(%+v) = %q, want %q", c.cfg, got, c.want)
		}
	}
}
