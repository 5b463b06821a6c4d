package catalog

import (
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"slipstream/kernels"
	"slipstream/kernels/expr"
	"slipstream/scheduler/config"
)

// Mode says what an upload does to an existing table.
type Mode int

const (
	Create  Mode = iota // fail if the table exists
	Replace             // swap the old contents out atomically
	Append              // add rows with the same schema
)

// CheckUpload says what is wrong with uploading schema to name in mode
// given the table as it is now (nil: none), if anything.
func CheckUpload(old *Table, name string, mode Mode, schema *arrow.Schema) error {
	if err := CheckName(name); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range schema.Fields() {
		if seen[f.Name] {
			return kernels.Errorf(kernels.Invalid, "column name %q appears twice; column names must be unique", f.Name)
		}
		seen[f.Name] = true
	}
	switch {
	case mode == Create && old != nil:
		return kernels.Errorf(kernels.AlreadyExists, "table %q already exists; use mode=\"replace\" to overwrite it or mode=\"append\" to add rows", name)
	case mode == Append && old == nil:
		return kernels.Errorf(kernels.NotFound, "cannot append to table %q: it does not exist; create it first", name)
	case mode == Append && !old.Schema.Equal(schema):
		return kernels.Errorf(kernels.Invalid, "cannot append to table %q: schema differs.\nstored:\n%s\nuploaded:\n%s", name, schemaText(old.Schema), schemaText(schema))
	}
	return nil
}

// Current is the table named name, or nil when there is none.
func (c *Catalog) Current(name string) *Table {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if t, ok := c.tables[name]; ok && !t.M.Dropped {
		return t
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

// PartWriter writes one partition into an upload's staging; nothing is
// visible until a manifest naming it commits.
type PartWriter struct {
	f      *os.File
	sum    hash.Hash32
	w      *ipc.FileWriter
	Rows   int64
	Ranges Ranges
}

// StagePart opens partition id of upload for writing.
func (c *Catalog) StagePart(upload, id string, schema *arrow.Schema) (*PartWriter, error) {
	stage := filepath.Join(c.dir, "tmp", upload)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(stage, id+".arrow"))
	if err != nil {
		return nil, err
	}
	sum := crc32.New(castagnoli)
	w, err := ipc.NewFileWriter(io.MultiWriter(f, sum), ipc.WithSchema(schema), ipc.WithAllocator(c.mem))
	if err != nil {
		f.Close()
		return nil, err
	}
	return &PartWriter{f: f, sum: sum, w: w}, nil
}

// Write appends a batch.
func (p *PartWriter) Write(b arrow.RecordBatch) error {
	if err := p.w.Write(b); err != nil {
		return err
	}
	p.Rows += b.NumRows()
	p.Ranges.Add(b)
	return nil
}

// Checksum is the checksum of the file written (once closed).
func (p *PartWriter) Checksum() string { return fmt.Sprintf("crc32c:%08x", p.sum.Sum32()) }

// Close finishes the file and makes it durable.
func (p *PartWriter) Close() error {
	err := p.w.Close()
	if err == nil {
		err = p.f.Sync()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Abort discards the staging of an upload.
func (c *Catalog) Abort(upload string) {
	os.RemoveAll(filepath.Join(c.dir, "tmp", upload))
}

// Upload stores a table on this node alone (every partition held here):
// the one-node path and the tests. Not safe for concurrent use; many
// uploads may run at once.
type Upload struct {
	// PartRows is the rows after which the upload starts a new partition
	// (config.DefaultPartRows unless changed before the first Write).
	PartRows int64

	c      *Catalog
	id     string
	name   string
	mode   Mode
	schema *arrow.Schema
	parts  []Part
	w      *PartWriter
	rows   int64
}

// BeginUpload checks name, mode and schema and opens the staging area.
func (c *Catalog) BeginUpload(name string, mode Mode, schema *arrow.Schema) (*Upload, error) {
	if err := CheckUpload(c.Current(name), name, mode, schema); err != nil {
		return nil, err
	}
	return &Upload{PartRows: config.DefaultPartRows, c: c, id: NewID(), name: name, mode: mode, schema: schema}, nil
}

// Write appends a batch; it starts a new partition every u.PartRows rows.
func (u *Upload) Write(b arrow.RecordBatch) error {
	if !b.Schema().Equal(u.schema) {
		return kernels.Errorf(kernels.Invalid, "a batch's schema differs from the stream's schema")
	}
	if u.w == nil {
		if err := u.open(); err != nil {
			return err
		}
	}
	if err := u.w.Write(b); err != nil {
		return err
	}
	u.rows += b.NumRows()
	if u.w.Rows >= u.PartRows {
		return u.close()
	}
	return nil
}

func (u *Upload) open() error {
	id := NewID()
	w, err := u.c.StagePart(u.id, id, u.schema)
	if err != nil {
		return err
	}
	u.w = w
	u.parts = append(u.parts, Part{ID: id, Holders: []string{u.c.self}})
	return nil
}

func (u *Upload) close() error {
	if u.w == nil {
		return nil
	}
	err := u.w.Close()
	u.parts[len(u.parts)-1].Rows = u.w.Rows
	u.parts[len(u.parts)-1].Ranges = u.w.Ranges.List()
	u.parts[len(u.parts)-1].Checksum = u.w.Checksum()
	u.w = nil
	return err
}

// Abort discards the upload.
func (u *Upload) Abort() {
	if u.w != nil {
		u.w.Close()
		u.w = nil
	}
	u.c.Abort(u.id)
}

// Commit makes the upload durable and visible; it returns the table's row count.
func (u *Upload) Commit() (int64, error) {
	if len(u.parts) == 0 { // an empty upload still stores a partition
		if err := u.open(); err != nil {
			u.Abort()
			return 0, err
		}
	}
	if err := u.close(); err != nil {
		u.Abort()
		return 0, err
	}
	var total int64
	err := u.c.Update(u.name, u.id, func(old *Table) (*Manifest, error) {
		m, err := NewManifest(old, u.name, u.mode, u.schema, u.parts, u.c)
		if err == nil {
			total = rowsOf(m.Parts)
		}
		return m, err
	})
	if err != nil {
		u.Abort()
	}
	return total, err
}

// NewManifest is the manifest after storing parts into name in mode,
// given the table as it is now (checked again: another upload may have
// committed meanwhile).
func NewManifest(old *Table, name string, mode Mode, schema *arrow.Schema, parts []Part, c *Catalog) (*Manifest, error) {
	if err := CheckUpload(old, name, mode, schema); err != nil {
		return nil, err
	}
	m := &Manifest{Name: name, Version: c.NextVersionLocked(old), Schema: EncodeSchema(schema, c.mem)}
	if mode == Append {
		m.Parts = append(m.Parts, old.M.Parts...)
		for _, p := range parts {
			if p.Rows > 0 { // appending nothing adds no partition
				m.Parts = append(m.Parts, p)
			}
		}
		return m, nil
	}
	m.Parts = parts
	return m, nil
}

func rowsOf(parts []Part) int64 {
	var n int64
	for _, p := range parts {
		n += p.Rows
	}
	return n
}
