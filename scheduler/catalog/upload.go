package catalog

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"slipstream/kernels"
	"slipstream/kernels/expr"
)

// Mode says what an upload does to an existing table.
type Mode int

const (
	Create  Mode = iota // fail if the table exists
	Replace             // swap the old contents out atomically
	Append              // add rows with the same schema
)

// Upload writes one table's batches into staging; nothing is visible until
// Commit. Not safe for concurrent use; many uploads may run at once.
type Upload struct {
	c      *Catalog
	name   string
	mode   Mode
	schema *arrow.Schema
	stage  string

	parts []part
	w     *ipc.FileWriter
	f     *os.File
	rows  int64
}

// BeginUpload checks name, mode and schema, and opens the staging area.
func (c *Catalog) BeginUpload(name string, mode Mode, schema *arrow.Schema) (*Upload, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := checkSchema(schema); err != nil {
		return nil, err
	}
	if err := c.checkMode(name, mode, schema); err != nil {
		return nil, err
	}
	stage := filepath.Join(c.dir, "tmp", newID())
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, err
	}
	return &Upload{c: c, name: name, mode: mode, schema: schema, stage: stage}, nil
}

func checkSchema(s *arrow.Schema) error {
	seen := map[string]bool{}
	for _, f := range s.Fields() {
		if seen[f.Name] {
			return kernels.Errorf(kernels.Invalid, "column name %q appears twice; column names must be unique", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

func (c *Catalog) checkMode(name string, mode Mode, schema *arrow.Schema) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.checkModeLocked(name, mode, schema)
}

func (c *Catalog) checkModeLocked(name string, mode Mode, schema *arrow.Schema) error {
	t, exists := c.tables[name]
	switch {
	case mode == Create && exists:
		return kernels.Errorf(kernels.AlreadyExists, "table %q already exists; use mode=\"replace\" to overwrite it or mode=\"append\" to add rows", name)
	case mode == Append && !exists:
		return kernels.Errorf(kernels.NotFound, "cannot append to table %q: it does not exist; create it first", name)
	case mode == Append && !t.Schema.Equal(schema):
		return kernels.Errorf(kernels.Invalid, "cannot append to table %q: schema differs.\nstored:\n%s\nuploaded:\n%s", name, schemaText(t.Schema), schemaText(schema))
	}
	return nil
}

func schemaText(s *arrow.Schema) string {
	out := ""
	for _, f := range s.Fields() {
		out += fmt.Sprintf("  %s: %s\n", f.Name, expr.TypeName(f.Type))
	}
	return out
}

// Write appends a batch; it starts a new partition every PartRows rows.
func (u *Upload) Write(b arrow.RecordBatch) error {
	if !b.Schema().Equal(u.schema) {
		return kernels.Errorf(kernels.Invalid, "a batch's schema differs from the stream's schema")
	}
	if u.w == nil {
		if err := u.openPart(); err != nil {
			return err
		}
	}
	if err := u.w.Write(b); err != nil {
		return err
	}
	u.parts[len(u.parts)-1].Rows += b.NumRows()
	u.rows += b.NumRows()
	if u.parts[len(u.parts)-1].Rows >= PartRows {
		return u.closePart()
	}
	return nil
}

func (u *Upload) openPart() error {
	p := part{File: fmt.Sprintf("part-%06d.arrow", len(u.parts))}
	f, err := os.Create(filepath.Join(u.stage, p.File))
	if err != nil {
		return err
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(u.schema), ipc.WithAllocator(u.c.mem))
	if err != nil {
		f.Close()
		return err
	}
	u.f, u.w = f, w
	u.parts = append(u.parts, p)
	return nil
}

func (u *Upload) closePart() error {
	if u.w == nil {
		return nil
	}
	err := u.w.Close()
	if err == nil {
		err = u.f.Sync()
	}
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	u.w, u.f = nil, nil
	return err
}

// Abort discards the upload.
func (u *Upload) Abort() {
	if u.w != nil {
		u.w.Close()
		u.f.Close()
		u.w = nil
	}
	os.RemoveAll(u.stage)
}

// Commit makes the upload durable and visible; it returns the table's row count.
func (u *Upload) Commit() (int64, error) {
	if len(u.parts) == 0 { // an empty upload still records the schema
		if err := u.openPart(); err != nil {
			u.Abort()
			return 0, err
		}
	}
	if err := u.closePart(); err != nil {
		u.Abort()
		return 0, err
	}
	if err := syncDir(u.stage); err != nil {
		u.Abort()
		return 0, err
	}
	c := u.c
	c.mu.Lock()
	defer c.mu.Unlock()
	// Check again under the lock: another upload may have committed meanwhile.
	if err := c.checkModeLocked(u.name, u.mode, u.schema); err != nil {
		u.Abort()
		return 0, err
	}
	old, exists := c.tables[u.name]
	c.version++
	if u.mode == Append && exists {
		return u.commitAppend(old)
	}
	dir := filepath.Join(c.dir, "tables", newID())
	if err := os.Rename(u.stage, dir); err != nil {
		u.Abort()
		return 0, err
	}
	m := manifest{Name: u.name, Version: c.version, Parts: u.parts}
	if err := writeManifest(dir, m); err != nil {
		os.RemoveAll(dir)
		return 0, err
	}
	if err := syncDir(filepath.Join(c.dir, "tables")); err != nil {
		return 0, err
	}
	t := &Table{Name: u.name, Schema: u.schema, Rows: u.rows, dir: dir, m: m}
	c.tables[u.name] = t
	if exists {
		os.RemoveAll(old.dir)
	}
	return t.Rows, nil
}

// commitAppend moves the new parts into the table's directory, then
// rewrites its manifest; the caller holds c.mu.
func (u *Upload) commitAppend(t *Table) (int64, error) {
	m := manifest{Name: t.Name, Version: u.c.version, Parts: append([]part{}, t.m.Parts...)}
	next := len(t.m.Parts)
	for _, p := range u.parts {
		if p.Rows == 0 {
			continue // appending nothing adds no partition
		}
		name := fmt.Sprintf("part-%06d-%s.arrow", next, newID())
		next++
		if err := os.Rename(filepath.Join(u.stage, p.File), filepath.Join(t.dir, name)); err != nil {
			u.Abort()
			return 0, err
		}
		m.Parts = append(m.Parts, part{File: name, Rows: p.Rows})
	}
	os.RemoveAll(u.stage)
	if err := writeManifest(t.dir, m); err != nil {
		return 0, err
	}
	nt := &Table{Name: t.Name, Schema: t.Schema, Rows: t.Rows + u.rows, dir: t.dir, m: m}
	u.c.tables[t.Name] = nt
	return nt.Rows, nil
}
