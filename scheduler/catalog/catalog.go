// Package catalog stores named tables under the data directory and knows
// their schemas, partitions and row counts.
//
// Layout (docs/storage.md):
//
//	<data-dir>/tables/<id>/manifest.json   name, version, parts and their row counts
//	<data-dir>/tables/<id>/part-NNNNNN.arrow   Arrow IPC files, one partition each
//	<data-dir>/tmp/<id>/                   uploads in progress
//
// Invariants: a table is visible only once its manifest is durable (files
// fsynced, then the manifest written to a temporary name, fsynced and
// renamed over the old one, then the directory fsynced), so an upload is
// acknowledged only when a restart would keep it, and a crash at any point
// leaves either the old table or the new one, never a mix.
package catalog

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/kernels/exec"
)

// PartRows is the number of rows after which an upload starts a new
// partition (a variable so that tests can make it small).
var PartRows int64 = 1 << 20

// Table is a stored table as the catalog sees it.
type Table struct {
	Name   string
	Schema *arrow.Schema
	Rows   int64
	dir    string
	m      manifest
}

type part struct {
	File string `json:"file"`
	Rows int64  `json:"rows"`
}

type manifest struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	Parts   []part `json:"parts"`
}

// Catalog is the set of stored tables of one node. Safe for concurrent use.
type Catalog struct {
	dir string
	mem memory.Allocator

	mu      sync.RWMutex
	tables  map[string]*Table
	version int64
}

// Open loads the catalog under dataDir, creating the directory if needed,
// and removes what unfinished uploads left behind.
func Open(dataDir string, mem memory.Allocator) (*Catalog, error) {
	c := &Catalog{dir: dataDir, mem: mem, tables: map[string]*Table{}}
	if err := os.RemoveAll(filepath.Join(dataDir, "tmp")); err != nil {
		return nil, err
	}
	for _, d := range []string{"tables", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dataDir, "tables"))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		dir := filepath.Join(dataDir, "tables", e.Name())
		t, err := c.load(dir)
		if err != nil {
			// A directory without a complete manifest is an interrupted commit.
			os.RemoveAll(dir)
			continue
		}
		c.version = max(c.version, t.m.Version)
		if old, ok := c.tables[t.Name]; ok {
			// A crash between a replace's commit and its clean-up: newest wins.
			if old.m.Version > t.m.Version {
				os.RemoveAll(dir)
				continue
			}
			os.RemoveAll(old.dir)
		}
		c.tables[t.Name] = t
	}
	return c, nil
}

func (c *Catalog) load(dir string) (*Table, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if len(m.Parts) == 0 {
		return nil, errors.New("manifest lists no parts")
	}
	schema, err := exec.FileSchema(c.mem, exec.IPC, filepath.Join(dir, m.Parts[0].File), exec.CSVOptions{})
	if err != nil {
		return nil, err
	}
	t := &Table{Name: m.Name, Schema: schema, dir: dir, m: m}
	for _, p := range m.Parts {
		t.Rows += p.Rows
	}
	return t, nil
}

// Tables lists the stored tables by name.
func (c *Catalog) Tables() []*Table {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Table, 0, len(c.tables))
	for _, t := range c.tables {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Table finds a table, or returns a NotFound error naming the closest names.
func (c *Catalog) Table(name string) (*Table, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tables[name]
	if !ok {
		names := make([]string, 0, len(c.tables))
		for n := range c.tables {
			names = append(names, n)
		}
		sort.Strings(names)
		have := "there are no tables yet"
		if len(names) > 0 {
			have = "tables: " + strings.Join(names, ", ")
		}
		return nil, kernels.Errorf(kernels.NotFound, "table %q does not exist (%s)", name, have)
	}
	return t, nil
}

// TableSchema implements plan.Resolver.
func (c *Catalog) TableSchema(name string) (*arrow.Schema, error) {
	t, err := c.Table(name)
	if err != nil {
		return nil, err
	}
	return t.Schema, nil
}

// TableRows is the number of rows of a table.
func (c *Catalog) TableRows(name string) (int64, error) {
	t, err := c.Table(name)
	if err != nil {
		return 0, err
	}
	return t.Rows, nil
}

// TableFiles lists the partition files of a table, in order.
func (c *Catalog) TableFiles(name string) ([]string, error) {
	t, err := c.Table(name)
	if err != nil {
		return nil, err
	}
	files := make([]string, len(t.m.Parts))
	for i, p := range t.m.Parts {
		files[i] = filepath.Join(t.dir, p.File)
	}
	return files, nil
}

// Drop removes a table; it reports whether there was one.
func (c *Catalog) Drop(name string) (bool, error) {
	c.mu.Lock()
	t, ok := c.tables[name]
	delete(c.tables, name)
	c.mu.Unlock()
	if !ok {
		return false, nil
	}
	// Remove the manifest first: a crash mid-way must not resurrect the table.
	if err := os.Remove(filepath.Join(t.dir, "manifest.json")); err != nil {
		return true, err
	}
	return true, os.RemoveAll(t.dir)
}

// CheckName says what is wrong with a table name, if anything.
func CheckName(name string) error {
	if name == "" {
		return kernels.Errorf(kernels.Invalid, "a table needs a non-empty name")
	}
	if len(name) > 255 {
		return kernels.Errorf(kernels.Invalid, "table name is %d bytes long; the limit is 255", len(name))
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return kernels.Errorf(kernels.Invalid, "table name %q contains a control character", name)
		}
	}
	return nil
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeManifest durably replaces dir's manifest.
func writeManifest(dir string, m manifest) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "manifest.json.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "manifest.json")); err != nil {
		return err
	}
	return syncDir(dir)
}
