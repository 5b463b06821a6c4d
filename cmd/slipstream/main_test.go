package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"slipstream/scheduler/config"
)

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8815":       true,
		"127.1.2.3:0":          true,
		"[::1]:8815":           true,
		"[::ffff:127.0.0.1]:0": true,
		"localhost:0":          true,
		"0.0.0.0:8815":         false,
		"[::]:8815":            false,
		":8815":                false,
		"10.1.2.3:8815":        false,
		"192.168.0.1:0":        false,
		"[fe80::1%lo]:0":       false,
		"8.8.8.8:53":           false,
	} {
		got, err := loopback(addr)
		if err != nil || got != want {
			t.Errorf("loopback(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
	for _, bad := range []string{"127.0.0.1", "nohost-port", "[::1"} {
		if _, err := loopback(bad); err == nil {
			t.Errorf("loopback(%q) accepted a malformed address", bad)
		}
	}
}

func TestExposureNeedsInsecure(t *testing.T) {
	for _, c := range []struct {
		cfg  config.Node
		want string // "" when allowed
	}{
		{config.Node{Addr: "127.0.0.1:8815", Gossip: "127.0.0.1:0"}, ""},
		{config.Node{Addr: "localhost:8815", Gossip: "[::1]:0"}, ""},
		{config.Node{Addr: "0.0.0.0:8815", Gossip: "127.0.0.1:0"}, "no authentication is configured; bind to 127.0.0.1 or pass --insecure"},
		{config.Node{Addr: ":8815", Gossip: "127.0.0.1:0"}, "--insecure"},
		{config.Node{Addr: "10.1.2.3:8815", Gossip: "127.0.0.1:0"}, "--insecure"},
		{config.Node{Addr: "0.0.0.0:8815", Gossip: "127.0.0.1:0", Insecure: true}, ""},
		// Gossip beyond loopback: encrypted, or --insecure.
		{config.Node{Addr: "127.0.0.1:8815", Gossip: "0.0.0.0:7946"}, "--encrypt-key"},
		{config.Node{Addr: "127.0.0.1:8815", Gossip: ""}, "--encrypt-key"}, // the default bind is every interface
		{config.Node{Addr: "127.0.0.1:8815", Gossip: "10.0.0.1:7946", EncryptKey: "k"}, ""},
		{config.Node{Addr: "127.0.0.1:8815", Gossip: "10.0.0.1:7946", Insecure: true}, ""},
		// An encrypted gossip does not make the Flight port safe.
		{config.Node{Addr: "10.0.0.1:8815", Gossip: "10.0.0.1:7946", EncryptKey: "k"}, "--insecure"},
		// The dashboard's port follows the Flight port's rule.
		{config.Node{Addr: "127.0.0.1:8815", Gossip: "127.0.0.1:0", HTTP: "127.0.0.1:0"}, ""},
		{config.Node{Addr: "127.0.0.1:8815", Gossip: "127.0.0.1:0", HTTP: "0.0.0.0:8080"}, "--http 0.0.0.0:8080 is not a loopback address and no tokens are configured (--auth)"},
		{config.Node{Addr: "127.0.0.1:8815", Gossip: "127.0.0.1:0", HTTP: ":8080"}, "--insecure"},
		{config.Node{Addr: "0.0.0.0:8815", Gossip: "0.0.0.0:0", HTTP: "0.0.0.0:8080", Insecure: true}, ""},
	} {
		err := checkExposure(c.cfg, false)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: refused: %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: got %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
	// Tokens (--auth, a node token) or TLS lift the loopback rule for
	// the Flight port; gossip beyond loopback still needs its key.
	for _, c := range []struct {
		cfg    config.Node
		authOn bool
		want   string
	}{
		{config.Node{Addr: "0.0.0.0:8815", Gossip: "127.0.0.1:0"}, true, ""},
		{config.Node{Addr: "0.0.0.0:8815", Gossip: "127.0.0.1:0", TLSCert: "c", TLSKey: "k", TLSCA: "ca"}, false, ""},
		{config.Node{Addr: "0.0.0.0:8815", Gossip: "0.0.0.0:7946"}, true, "--encrypt-key"},
		// The dashboard checks tokens; TLS client certificates do not reach it.
		{config.Node{Addr: "0.0.0.0:8815", Gossip: "127.0.0.1:0", HTTP: "0.0.0.0:8080"}, true, ""},
		{config.Node{Addr: "0.0.0.0:8815", Gossip: "127.0.0.1:0", HTTP: "0.0.0.0:8080", TLSCert: "c", TLSKey: "k", TLSCA: "ca"}, false, "--auth"},
	} {
		err := checkExposure(c.cfg, c.authOn)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: refused: %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: got %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
}

// serve refuses before it creates anything.
func TestServeRefusesBeforeStarting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	err := serve([]string{"--addr", "0.0.0.0:0", "--data-dir", dir})
	if err == nil || !strings.Contains(err.Error(), "--addr 0.0.0.0:0 is not a loopback address and no authentication is configured") {
		t.Fatalf("serve on 0.0.0.0: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the refused serve created its data directory: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	err = serve([]string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--allow-path", missing})
	if err == nil || !strings.Contains(err.Error(), "--allow-path") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("serve with a missing --allow-path: %v", err)
	}
}

func TestPathList(t *testing.T) {
	withComma := filepath.Join(t.TempDir(), "a,b")
	if err := os.Mkdir(withComma, 0o755); err != nil {
		t.Fatal(err)
	}
	var l config.PathList
	for _, v := range []string{"/x", "/y, /z", withComma, ""} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"/x", "/y", "/z", withComma}; !slices.Equal(l, want) {
		t.Errorf("got %q, want %q", l, want)
	}
}

// --print-config prints the configuration the flags and environment give,
// resolved as at start, and creates nothing.
func TestPrintConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"SLIPSTREAM_PART_ROWS": "700", "SLIPSTREAM_MEMORY_LIMIT": "2GiB"}
	cfg, run, err := serveConfig([]string{"--print-config", "--data-dir", dir, "--replication", "3"}, func(k string) string { return env[k] })
	if err != nil || !run.printOnly {
		t.Fatalf("%v %v", run.printOnly, err)
	}
	got := cfg.String()
	for _, want := range []string{"replication = 3\n", "part-rows = 700\n", `memory-limit = "2GiB"`, `data-dir = "` + dir + `"`,
		`spill-dir = "` + filepath.Join(dir, "spill") + `"`, `allow-path = ["` + dir + `"]`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, `spill-limit = "auto"`) {
		t.Errorf("spill limit not resolved:\n%s", got)
	}
	if err := serve([]string{"--print-config", "--data-dir", dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--print-config created the data directory: %v", err)
	}
	if _, _, err := serveConfig([]string{"--replication", "0"}, os.Getenv); err == nil || !strings.Contains(err.Error(), "--replication") {
		t.Errorf("a bad flag was accepted: %v", err)
	}
}

// A configuration printed by --print-config serves again with --config;
// the flags given win over the file.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := serveConfig([]string{"--data-dir", filepath.Join(dir, "data"), "--replication", "3", "--allow-path", dir, "--memory-limit", "1GiB"}, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "node.conf")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	again, _, err := serveConfig([]string{"--config", file}, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if again.String() != cfg.String() {
		t.Errorf("served from the file:\n%s\nprinted:\n%s", again, cfg)
	}
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	over, _, err := serveConfig([]string{"--config", file, "--replication", "1", "--allow-path", other}, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if over.Replication != 1 || strings.Join(over.AllowPaths, ",") != other || over.MemoryLimit != 1<<30 {
		t.Errorf("flags over the file: %+v", over)
	}
	if err := os.WriteFile(file, []byte("replicas = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := serveConfig([]string{"--config", file}, os.Getenv); err == nil || !strings.Contains(err.Error(), "--config "+file+": line 1") {
		t.Errorf("a bad file: %v", err)
	}
}
