// Package catalog keeps the tables of a cluster as one node sees them:
// every node holds the manifest of every table (its schema and its
// partitions, with the nodes that hold each), and the files of the
// partitions this node holds.
//
// Layout (docs/storage.md):
//
//	<data-dir>/tables/<hex of name>.json   the manifest of a table
//	<data-dir>/parts/<part id>.arrow       Arrow IPC files, one partition each
//	<data-dir>/tmp/<upload id>/            partitions staged by uploads in progress
//
// Invariants: a partition is written to staging and fsynced before any
// manifest names it; a manifest is written to a temporary name, fsynced and
// renamed into place, so a crash leaves the old manifest or the new one.
// A manifest with a higher version replaces a lower one, on every node, in
// any order: that is how a node that missed a commit catches up.
package catalog

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

// Part is one partition of a table.
type Part struct {
	ID      string   `json:"id"`
	Rows    int64    `json:"rows"`
	Holders []string `json:"holders"` // names of the nodes whose copy is durable
	Ranges  []Range  `json:"ranges,omitempty"`
	// Checksum is the CRC-32C of the partition file (Checksum), the same
	// on every holder; empty in manifests written before checksums.
	Checksum string `json:"checksum,omitempty"`
	// Bytes is the size of the partition file, the same on every holder
	// (0 in manifests written before it was kept).
	Bytes int64 `json:"bytes,omitempty"`
}

// Manifest is a table's description, the same on every node.
type Manifest struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	Schema  string `json:"schema"` // base64 of the IPC-serialized schema
	Parts   []Part `json:"parts"`
	Dropped bool   `json:"dropped,omitempty"` // a tombstone: the table was dropped
}

// Table is a stored table as the catalog sees it.
type Table struct {
	Name   string
	Schema *arrow.Schema
	Rows   int64
	M      Manifest
}

// Catalog is the set of tables as this node knows it. Safe for concurrent use.
type Catalog struct {
	dir  string
	mem  memory.Allocator
	self string // this node's name, as in Part.Holders

	mu     sync.RWMutex
	tables map[string]*Table // including tombstones
	// generation counts the manifests applied, so that what was planned
	// against the tables can tell they changed.
	generation uint64

	vmu      sync.Mutex
	verified map[string]stamp     // partition id -> the file version that passed its checksum
	damaged  int                  // damaged copies found since start
	repair   chan struct{}        // signalled when a copy is found missing or damaged
	surplus  map[string]time.Time // partition id -> when this node first saw its copy named by no manifest as a holder
}

// Open loads the catalog under dataDir, creating the directory if needed,
// and removes what unfinished uploads left behind long ago (StagingTTL:
// a staged copy is durable, and a manifest naming it may still reach this
// node). self names this node.
func Open(dataDir string, mem memory.Allocator, self string) (*Catalog, error) {
	c := &Catalog{dir: dataDir, mem: mem, self: self, tables: map[string]*Table{},
		verified: map[string]stamp{}, repair: make(chan struct{}, 1), surplus: map[string]time.Time{}}
	removeOldStaging(dataDir)
	for _, d := range []string{"tables", "parts", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dataDir, "tables"))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue // a manifest whose rename never happened
		}
		raw, err := os.ReadFile(filepath.Join(dataDir, "tables", e.Name()))
		if err != nil {
			return nil, err
		}
		var m Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", e.Name(), err)
		}
		t, err := c.table(m)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", e.Name(), err)
		}
		c.tables[m.Name] = t
	}
	c.collect()
	return c, nil
}

func (c *Catalog) table(m Manifest) (*Table, error) {
	t := &Table{Name: m.Name, M: m}
	if m.Dropped {
		return t, nil
	}
	raw, err := base64.StdEncoding.DecodeString(m.Schema)
	if err != nil {
		return nil, err
	}
	if t.Schema, err = flight.DeserializeSchema(raw, c.mem); err != nil {
		return nil, err
	}
	for _, p := range m.Parts {
		t.Rows += p.Rows
	}
	return t, nil
}

// Self is the name of this node, as partitions' holders name it.
func (c *Catalog) Self() string { return c.self }

// EncodeSchema is a schema as a Manifest carries it.
func EncodeSchema(s *arrow.Schema, mem memory.Allocator) string {
	return base64.StdEncoding.EncodeToString(flight.SerializeSchema(s, mem))
}

// Tables lists the stored tables by name.
func (c *Catalog) Tables() []*Table {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Table, 0, len(c.tables))
	for _, t := range c.tables {
		if !t.M.Dropped {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Manifests lists every manifest, tombstones included (for a node catching up).
func (c *Catalog) Manifests() []Manifest {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Manifest, 0, len(c.tables))
	for _, t := range c.tables {
		out = append(out, t.M)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Table finds a table, or returns a NotFound error naming the tables there are.
func (c *Catalog) Table(name string) (*Table, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tables[name]
	if !ok || t.M.Dropped {
		names := make([]string, 0, len(c.tables))
		for n, t := range c.tables {
			if !t.M.Dropped {
				names = append(names, n)
			}
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

// TableFiles lists the partition files of a table, in order, for a node
// that is alone; every partition must be held by this node. A partition
// only other nodes hold is Unavailable, naming it and its holders.
func (c *Catalog) TableFiles(name string) ([]string, error) {
	t, err := c.Table(name)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(t.M.Parts))
	for i, p := range t.M.Parts {
		ids[i] = p.ID
		if len(p.Holders) > 0 && !contains(p.Holders, c.self) {
			return nil, kernels.Errorf(kernels.Unavailable, "partition %d of table %q is held by %s, which this node (%s, alone) cannot reach",
				i, name, strings.Join(p.Holders, ", "), c.self)
		}
	}
	return c.PartFiles(name, ids)
}

// PartFiles returns the files of the given partitions of a table, which
// this node must hold, each checked against its checksum (a copy verified
// before and unchanged since is trusted). A missing copy is a NotFound
// error; a damaged one is removed, queued for repair and returned as a
// *Damaged naming the file.
func (c *Catalog) PartFiles(table string, ids []string) ([]string, error) {
	files := make([]string, len(ids))
	var missing []string
	for i, id := range ids {
		files[i] = c.partPath(id)
		p, ok := c.part(table, id)
		if !ok {
			p = Part{ID: id}
		}
		if err := c.verify(table, p, true); err != nil {
			var d *Damaged
			if errors.As(err, &d) {
				return nil, d
			}
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		c.wantRepair()
		return nil, kernels.Errorf(kernels.NotFound, "node %s does not hold partitions %s of table %q", c.self, strings.Join(missing, ", "), table)
	}
	return files, nil
}

func (c *Catalog) partPath(id string) string { return filepath.Join(c.dir, "parts", id+".arrow") }

// PartBytes is the size of this node's file of partition id, unchecked
// (the dashboard); ok is false when the node has none.
func (c *Catalog) PartBytes(id string) (int64, bool) {
	fi, err := os.Stat(c.partPath(id))
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

// NextVersion is a version higher than any this node has seen for name:
// the clock in nanoseconds, so that versions from different coordinators
// order by time.
func (c *Catalog) NextVersion(name string) int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.NextVersionLocked(c.tables[name])
}

// NextVersionLocked is NextVersion given the table as it is (nil: none).
func (c *Catalog) NextVersionLocked(old *Table) int64 {
	v := time.Now().UnixNano()
	if old != nil && old.M.Version >= v {
		v = old.M.Version + 1
	}
	return v
}

// Commit adopts m when it is newer than what this node has for its table:
// partitions this node holds move from the upload's staging into place,
// the manifest is written durably, and partitions no manifest names any
// more are removed. It reports whether m was adopted.
func (c *Catalog) Commit(m Manifest, uploadID string) (bool, error) {
	adopted := false
	err := c.Update(m.Name, uploadID, func(old *Table) (*Manifest, error) {
		if old != nil && old.M.Version >= m.Version {
			return nil, nil
		}
		adopted = true
		return &m, nil
	})
	return adopted && err == nil, err
}

// Update commits the manifest build returns, given the table as it is now
// (nil: none), all under the catalog's lock so that concurrent appends on
// this node each see the other's partitions; a nil manifest changes nothing.
func (c *Catalog) Update(name, uploadID string, build func(old *Table) (*Manifest, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.tables[name]
	if old != nil && old.M.Dropped {
		old = nil
	}
	m, err := build(old)
	if err != nil || m == nil {
		return err
	}
	t, err := c.table(*m)
	if err != nil {
		return kernels.Errorf(kernels.Invalid, "malformed manifest of %q: %v", m.Name, err)
	}
	if uploadID == "" {
		// A node that missed a commit may still have the partitions staged.
		for _, p := range m.Parts {
			c.adoptStaged(p.ID)
		}
	} else {
		stage := filepath.Join(c.dir, "tmp", uploadID)
		for _, p := range m.Parts {
			src := filepath.Join(stage, p.ID+".arrow")
			if _, err := os.Stat(src); err != nil {
				continue // held elsewhere, or committed before
			}
			if err := os.Rename(src, c.partPath(p.ID)); err != nil {
				return err
			}
		}
		if err := syncDir(filepath.Join(c.dir, "parts")); err != nil {
			return err
		}
		os.RemoveAll(stage)
	}
	if err := writeFile(filepath.Join(c.dir, "tables"), hex.EncodeToString([]byte(m.Name))+".json", m); err != nil {
		return err
	}
	c.tables[m.Name] = t
	c.generation++
	c.collectLocked()
	return nil
}

// Generation changes whenever a table does.
func (c *Catalog) Generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.generation
}

// collect removes partition files no manifest names.
func (c *Catalog) collect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.collectLocked()
}

func (c *Catalog) collectLocked() {
	live := map[string]bool{}
	for _, t := range c.tables {
		for _, p := range t.M.Parts {
			live[p.ID+".arrow"] = true
		}
	}
	entries, _ := os.ReadDir(filepath.Join(c.dir, "parts"))
	for _, e := range entries {
		if live[e.Name()] || writing(e) {
			continue
		}
		os.Remove(filepath.Join(c.dir, "parts", e.Name()))
	}
}

// Drop removes a table on this node by committing a tombstone, which it
// returns (for the other nodes); nil when there was no table.
func (c *Catalog) Drop(name string) (*Manifest, error) {
	if _, err := c.Table(name); err != nil {
		return nil, nil
	}
	tomb := &Manifest{Name: name, Version: c.NextVersion(name), Dropped: true}
	if _, err := c.Commit(*tomb, ""); err != nil {
		return nil, err
	}
	return tomb, nil
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

// NewID is a random identifier for uploads and partitions.
func NewID() string {
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

// writeFile durably replaces dir/name with v as JSON.
func writeFile(dir, name string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, name+".tmp")
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
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}
