package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
		cfg  Config
		want string // "" when allowed
	}{
		{Config{Addr: "127.0.0.1:8815", Gossip: "127.0.0.1:0"}, ""},
		{Config{Addr: "localhost:8815", Gossip: "[::1]:0"}, ""},
		{Config{Addr: "0.0.0.0:8815", Gossip: "127.0.0.1:0"}, "no authentication is configured; bind to 127.0.0.1 or pass --insecure"},
		{Config{Addr: ":8815", Gossip: "127.0.0.1:0"}, "--insecure"},
		{Config{Addr: "10.1.2.3:8815", Gossip: "127.0.0.1:0"}, "--insecure"},
		{Config{Addr: "0.0.0.0:8815", Gossip: "127.0.0.1:0", Insecure: true}, ""},
		// Gossip beyond loopback: encrypted, or --insecure.
		{Config{Addr: "127.0.0.1:8815", Gossip: "0.0.0.0:7946"}, "--encrypt-key"},
		{Config{Addr: "127.0.0.1:8815", Gossip: ""}, "--encrypt-key"}, // the default bind is every interface
		{Config{Addr: "127.0.0.1:8815", Gossip: "10.0.0.1:7946", EncryptKey: "k"}, ""},
		{Config{Addr: "127.0.0.1:8815", Gossip: "10.0.0.1:7946", Insecure: true}, ""},
		// An encrypted gossip does not make the Flight port safe.
		{Config{Addr: "10.0.0.1:8815", Gossip: "10.0.0.1:7946", EncryptKey: "k"}, "--insecure"},
	} {
		err := checkExposure(c.cfg)
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
	var l pathList
	for _, v := range []string{"/x", "/y, /z", withComma, ""} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"/x", "/y", "/z", withComma}; !slices.Equal(l, want) {
		t.Errorf("got %q, want %q", l, want)
	}
}
