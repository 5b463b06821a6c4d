package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"slipstream/kernels"
	"slipstream/kernels/budget"
	"slipstream/kernels/fsroot"
	"slipstream/kernels/pqread"
)

// Format is a file format a scan reads.
type Format int

const (
	Parquet Format = iota
	CSV
	IPC
)

func (f Format) String() string { return [...]string{"parquet", "csv", "ipc"}[f] }

// CSVOptions say how to read CSV files.
type CSVOptions struct {
	NoHeader  bool
	Delimiter rune // 0: ','
}

// Scan reads files of one format and schema, one after the other. It reads
// only the columns asked for and, for Parquet, skips row groups whose
// statistics rule out every Bound.
type Scan struct {
	Format  Format
	Paths   []string
	Columns []int // indices into the file schema; nil reads every column
	Bounds  []Bound
	CSV     CSVOptions
	// RowGroups, when set, lists for each path the Parquet row groups this
	// scan reads (nil for a path: all of them); see ParquetRowGroups.
	RowGroups [][]int
	// Roots, when set, are the directories Paths may be read from: each
	// file is opened through them, so a symbolic link swapped in after
	// planning cannot lead out (nil: anywhere, as for stored tables).
	Roots *fsroot.Roots
	// Read, when set, counts the rows and bytes (in memory) the scan
	// produced: a query's progress ("rows read").
	Read *ReadCount

	fileSchema *arrow.Schema
	raw        *arrow.Schema // projected, as the files hold it
	out        *arrow.Schema // projected and normalized
	mem        memory.Allocator

	next int // next path to open
	cur  array.RecordReader
	// Late reads are a plan decision (ReadLate sets them; EXPLAIN shows
	// them). dictionaries: a Filter right above reads this scan; string
	// columns with small dictionaries come out as dictionary arrays, which
	// the Filter tests on the dictionary and expands only for the rows
	// kept. readLate: the operator right above (a Filter, or a join's
	// probe) chooses rows before it needs every column. A Parquet file
	// read by pqread then leaves all columns out of its batches (null
	// arrays in their place), and the operator has each read
	// (lateBatch.fill) when it needs it, for the rows it still holds then.
	// lateReader is that operator, once built over the scan: a scan set to
	// read late with no such operator above fails rather than hand out
	// batches that do not match its schema.
	dictionaries, readLate bool
	lateReader             Operator
	filling                *pqread.Reader // the reader of the last batch, if it left columns out
	closers                []io.Closer
	cacheShare             *atomic.Int64 // what the query may still take of the decoded-chunk cache

	// RowGroupsRead and RowGroupsSkipped count Parquet row groups, for EXPLAIN ANALYZE and tests.
	RowGroupsRead, RowGroupsSkipped int
}

// NewScan makes a scan of paths whose files all have fileSchema.
func NewScan(mem memory.Allocator, format Format, paths []string, fileSchema *arrow.Schema, columns []int, bounds []Bound, csvOpts CSVOptions) *Scan {
	raw := projectSchema(fileSchema, columns)
	return &Scan{Format: format, Paths: paths, Columns: columns, Bounds: bounds, CSV: csvOpts,
		fileSchema: fileSchema, raw: raw, out: NormalizeSchema(raw), mem: mem}
}

func (s *Scan) Schema() *arrow.Schema { return s.out }

func (s *Scan) String() string {
	cols := make([]string, s.raw.NumFields())
	for i, f := range s.raw.Fields() {
		cols[i] = f.Name
	}
	txt := fmt.Sprintf("Scan %s files=%d columns=[%s]", s.Format, len(s.Paths), strings.Join(cols, ", "))
	if s.RowGroups != nil {
		txt += fmt.Sprintf(" row_groups=%v", s.RowGroups)
	}
	if s.readLate {
		txt += " read_late"
	}
	if s.dictionaries {
		txt += " dictionaries"
	}
	if len(s.Bounds) > 0 {
		b := make([]string, len(s.Bounds))
		for i, x := range s.Bounds {
			b[i] = x.String(s.fileSchema)
		}
		txt += " row_group_filter=[" + strings.Join(b, ", ") + "]"
	}
	return txt
}

func (s *Scan) Next(ctx context.Context) (b arrow.RecordBatch, err error) {
	defer func() {
		// Arrow's Parquet, CSV and IPC readers trust a file's metadata: a
		// corrupt or hostile file can make one follow a nil pointer or index
		// out of range (FuzzFileScan found a dictionary page without its
		// header). That says the file is malformed; the node stays up.
		if p := recover(); p != nil {
			s.cur = nil // its state is unknown: dropped, not closed
			path := "a file"
			if s.next > 0 {
				path = s.Paths[s.next-1]
			}
			b, err = nil, malformed(path, p)
		}
	}()
	b, err = s.read(ctx)
	if err == nil && s.Read != nil {
		s.Read.rows.Add(b.NumRows())
		s.Read.bytes.Add(BatchBytes(b))
	}
	return b, err
}

// malformed is the error for a file whose reading panicked in Arrow.
func malformed(path string, p any) error {
	return kernels.Errorf(kernels.Invalid, "cannot read %s: the file is malformed (%v)", path, p)
}

// ReadCount counts what scans read; the scans of a query share one.
type ReadCount struct{ rows, bytes atomic.Int64 }

// Load is the rows and bytes counted so far.
func (r *ReadCount) Load() (rows, bytes int64) {
	if r == nil {
		return 0, 0
	}
	return r.rows.Load(), r.bytes.Load()
}

func (s *Scan) read(ctx context.Context) (arrow.RecordBatch, error) {
	if s.readLate && s.lateReader == nil {
		return nil, kernels.Errorf(kernels.Internal, "%s is set to read columns late, but no Filter or join probe reads it (a plan error)", s)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.cur == nil {
			if s.next >= len(s.Paths) {
				return nil, io.EOF
			}
			path := s.Paths[s.next]
			s.next++
			r, err := s.open(ctx, path)
			if err != nil {
				return nil, err
			}
			if r == nil {
				continue // every row group skipped
			}
			s.cur = r
		}
		if s.cur.Next() {
			b := s.cur.RecordBatch()
			b.Retain()
			s.filling, _ = s.cur.(*pqread.Reader)
			if !s.readLate {
				s.filling = nil
			}
			if s.Format != Parquet {
				b = project(b, s.raw, s.Columns)
			}
			if s.dictionaries || s.filling != nil {
				return b, nil // the operator above fills, expands and normalizes
			}
			return normalizeBatch(ctx, s.mem, s.out, b)
		}
		err := s.cur.Err()
		s.closeCurrent()
		if err != nil && !errors.Is(err, io.EOF) {
			if s.Format == CSV {
				return nil, kernels.Errorf(kernels.Invalid, "read %s: %v (CSV column types are inferred from the first %d rows; this value does not fit the type inferred for its column)", s.Paths[s.next-1], err, InferRows)
			}
			if kernels.KindOf(err) == kernels.Internal {
				// A reader's own error: the file's bytes are not what they claim.
				return nil, kernels.Errorf(kernels.Invalid, "cannot read %s: %v", s.Paths[s.next-1], err)
			}
			return nil, fmt.Errorf("read %s: %w", s.Paths[s.next-1], err)
		}
	}
}

// ReadLate sets input, about to become the input of a Filter (or, with
// forJoin, the probe of a HashJoin whose kind ReadsProbeLate), to leave
// columns unread until that operator needs them, when input can: a
// Parquet scan with nothing to normalize, or, for a join, a Filter over
// one, which then hands the columns it did not read on to the join. The
// physical planner decides; it reports whether input was set.
func ReadLate(input Operator, forJoin bool) bool {
	if f, ok := input.(*Filter); ok && forJoin && f.scan != nil {
		f.handOff = true
		return true
	}
	s, ok := input.(*Scan)
	if !ok || s.Format != Parquet || s.raw != s.out {
		return false // other formats, or types to normalize
	}
	s.readLate = true
	s.dictionaries = !forJoin // a Filter expands what it keeps
	return true
}

// lateScan is input when it is a scan set to read late; the caller, the
// operator built over it, claims it.
func lateScan(input Operator, reader Operator) *Scan {
	s, ok := input.(*Scan)
	if !ok || !s.readLate {
		return nil
	}
	s.lateReader = reader
	return s
}

// lateBatch tracks which columns of the last batch of a scan that reads
// them late are still unread (null arrays in the batch at hand), and which
// of the scan batch's rows the batch at hand holds.
type lateBatch struct {
	r      *pqread.Reader // says which columns are unread
	schema *arrow.Schema  // the batch's types once read
	rows   []int64        // the scan batch's rows held, ascending; nil: all
	// plain: fill expands dictionary arrays (string columns a Filter reads
	// as such) into the schema's plain types.
	plain bool
}

// late is the lateBatch of the batch s returned last, or nil when that
// batch holds every column.
func (s *Scan) late() *lateBatch {
	if s == nil || s.filling == nil {
		return nil
	}
	return &lateBatch{r: s.filling, schema: s.out}
}

// narrow records that the batch at hand now holds only its rows sel.
func (l *lateBatch) narrow(sel []int64) {
	if l.rows == nil {
		l.rows = slices.Clone(sel)
		return
	}
	rows := make([]int64, len(sel))
	for i, r := range sel {
		rows[i] = l.rows[r]
	}
	l.rows = rows
}

// fill has those of the columns cols of b, the batch at hand, still unread
// read for the rows b holds, and puts them in place, taking ownership of
// b. Each column is read once: a later fill of it does nothing.
func (l *lateBatch) fill(ctx context.Context, b arrow.RecordBatch, cols []int) (arrow.RecordBatch, error) {
	var need []int
	for _, i := range cols {
		if l.r.Unread(i) && !slices.Contains(need, i) {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return b, nil
	}
	defer b.Release()
	filled, err := l.r.Fill(need, l.rows)
	if err != nil {
		return nil, err
	}
	defer func() { releaseArrays(filled) }()
	if l.plain {
		for k, a := range filled {
			plain, err := plainOf(ctx, a, l.schema.Field(need[k]).Type)
			if err != nil {
				return nil, err
			}
			if plain != nil {
				a.Release()
				filled[k] = plain
			}
		}
	}
	arrs := slices.Clone(b.Columns())
	for k, i := range need {
		arrs[i] = filled[k]
	}
	return array.NewRecordBatch(batchSchema(l.schema, arrs), arrs, b.NumRows()), nil
}

// all lists every column of the batch, for a fill of whatever is unread.
func (l *lateBatch) all() []int {
	out := make([]int, l.schema.NumFields())
	for i := range out {
		out[i] = i
	}
	return out
}

// batchSchema is schema with the types of cols: schema itself when they
// are its types.
func batchSchema(schema *arrow.Schema, cols []arrow.Array) *arrow.Schema {
	for i, c := range cols {
		if !arrow.TypeEqual(c.DataType(), schema.Field(i).Type) {
			fields := slices.Clone(schema.Fields())
			for i, c := range cols {
				fields[i].Type = c.DataType()
			}
			return arrow.NewSchema(fields, nil)
		}
	}
	return schema
}

func (s *Scan) closeCurrent() {
	s.filling = nil
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	for _, c := range s.closers {
		c.Close()
	}
	s.closers = nil
}

func (s *Scan) Close() error {
	s.closeCurrent()
	s.next = len(s.Paths)
	return nil
}

// intersect keeps the elements of a (sorted) that are in b (sorted).
func intersect(a, b []int) []int {
	out := a[:0:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			out = append(out, a[i])
			i, j = i+1, j+1
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return out
}

// ParquetRowGroups is the number of row groups of a Parquet file, opened
// through roots (nil: anywhere).
func ParquetRowGroups(roots *fsroot.Roots, path string) (int, error) {
	meta, err := parquetFooter(roots, path)
	if err != nil {
		return 0, err
	}
	return meta.NumRowGroups(), nil
}

// ParquetRows is the number of rows of a Parquet file, from its metadata.
func ParquetRows(roots *fsroot.Roots, path string) (int64, error) {
	meta, err := parquetFooter(roots, path)
	if err != nil {
		return 0, err
	}
	return meta.GetNumRows(), nil
}

// footers caches the parsed footers of Parquet files by path, size and
// modification time: planning a query asks for a file's row count and row
// groups several times (and a query is planned for GetFlightInfo and again
// for DoGet), and each scan opens the file again; parsing lineitem's footer
// once per ask cost tens of milliseconds a query.
// A decoded footer takes several times its encoded size in memory.
var footers = sizedCache[*metadata.FileMetaData]{name: "parquet-footers", maxCost: 64 << 20, counters: 100_000,
	size: func(m *metadata.FileMetaData) int64 { return 4*int64(m.Size()) + 4096 }}

// fileVersion names one version of a file (path, size, modification
// time): what is cached of a file is kept per version.
func fileVersion(roots *fsroot.Roots, path string) (string, error) {
	st, err := roots.Stat(path)
	if err != nil {
		return "", OpenError(path, err)
	}
	return fmt.Sprintf("%s\x00%d\x00%d", path, st.Size(), st.ModTime().UnixNano()), nil
}

func parquetFooter(roots *fsroot.Roots, path string) (*metadata.FileMetaData, error) {
	meta, _, err := parquetFooterVersion(roots, path)
	return meta, err
}

// parquetFooterVersion is the file's footer and the version it is of.
func parquetFooterVersion(roots *fsroot.Roots, path string) (*metadata.FileMetaData, string, error) {
	version, err := fileVersion(roots, path)
	if err != nil {
		return nil, "", err
	}
	meta, err := footers.get(version, func() (*metadata.FileMetaData, error) {
		pf, err := openParquet(roots, path)
		if err != nil {
			return nil, OpenError(path, err)
		}
		defer pf.Close()
		return pf.MetaData(), nil
	})
	return meta, version, err
}

// openParquet opens a Parquet file through roots (nil: anywhere); closing
// the reader closes the file.
func openParquet(roots *fsroot.Roots, path string, opts ...file.ReadOption) (*file.Reader, error) {
	f, err := roots.Open(path)
	if err != nil {
		return nil, err
	}
	// Pages are read from the file straight into the page reader's buffer.
	// Unbuffered, a column chunk is first read whole into a new buffer (which
	// Go clears, cold) and each page then copied out of it.
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = 64 << 10
	opts = append([]file.ReadOption{file.WithReadProps(props)}, opts...)
	pf, err := file.NewParquetReader(f, opts...)
	if err != nil {
		f.Close()
		return nil, err
	}
	return pf, nil
}

// OpenError turns a failure to open path into an error a user can act on;
// an error that already has a kind (a path outside the allowed
// directories) keeps it.
func OpenError(path string, err error) error {
	var known *kernels.Error
	if errors.As(err, &known) {
		return err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return kernels.Errorf(kernels.NotFound, "file %s does not exist", path)
	}
	return kernels.Errorf(kernels.Invalid, "cannot read %s: %v", path, err)
}

func (s *Scan) open(ctx context.Context, path string) (array.RecordReader, error) {
	switch s.Format {
	case Parquet:
		meta, version, err := parquetFooterVersion(s.Roots, path)
		if err != nil {
			return nil, err
		}
		pf, err := openParquet(s.Roots, path, file.WithMetadata(meta))
		if err != nil {
			return nil, OpenError(path, err)
		}
		s.closers = append(s.closers, pf)
		groups := s.keepRowGroups(pf)
		total := pf.NumRowGroups()
		if s.RowGroups != nil && s.RowGroups[s.next-1] != nil {
			groups = intersect(groups, s.RowGroups[s.next-1])
			total = len(s.RowGroups[s.next-1])
		}
		s.RowGroupsRead += len(groups)
		s.RowGroupsSkipped += total - len(groups)
		if len(groups) == 0 {
			s.closeCurrent()
			return nil, nil
		}
		if s.Columns != nil && len(s.Columns) == 0 {
			// No column to read (len() alone), which pqarrow refuses: the
			// row counts are in the metadata.
			return rowCounts(pf, groups, s.raw)
		}
		cols := s.Columns
		if cols == nil {
			cols = make([]int, s.fileSchema.NumFields())
			for i := range cols {
				cols[i] = i
			}
		}
		props := pqarrow.ArrowReadProperties{BatchSize: BatchRows}
		if s.dictionaries {
			readSmallDictionaries(&props, pf, groups[0], s.fileSchema, cols)
		}
		if sc, err := pqarrow.FromParquet(pf.MetaData().Schema, &props, pf.MetaData().KeyValueMetadata()); err == nil {
			if r, ok := pqread.Open(pf, projectSchema(sc, cols), cols, groups, s.mem, BatchRows); ok {
				if s.cacheShare == nil {
					s.cacheShare = queryShare(s.mem)
				}
				if chunks := chunksOf(version, s.cacheShare); chunks != nil {
					r.SetChunks(chunks)
				}
				if s.readLate {
					all := make([]int, len(cols))
					for i := range all {
						all[i] = i
					}
					r.SetLate(all)
				}
				return r, nil
			}
		}
		fr, err := pqarrow.NewFileReader(pf, props, s.mem)
		if err != nil {
			return nil, OpenError(path, err)
		}
		return fr.GetRecordReader(ctx, cols, groups)
	case CSV:
		f, err := s.Roots.Open(path)
		if err != nil {
			return nil, OpenError(path, err)
		}
		s.closers = append(s.closers, f)
		return csv.NewReader(f, s.fileSchema, s.CSV.readerOptions(s.mem)...), nil
	default:
		f, err := s.Roots.Open(path)
		if err != nil {
			return nil, OpenError(path, err)
		}
		s.closers = append(s.closers, f)
		if r, ok, err := openHot(f, path); ok {
			return r, err
		}
		return OpenIPC(f, s.mem)
	}
}

// readSmallDictionaries asks pqarrow for the dictionary-encoded string
// columns of a flat file whose dictionaries are small (judged on row group
// rg) as dictionary arrays. A large dictionary (a comment column) is not
// worth it: expanding it costs what decoding does.
func readSmallDictionaries(props *pqarrow.ArrowReadProperties, pf *file.Reader, rg int, fileSchema *arrow.Schema, cols []int) {
	if pf.MetaData().Schema.NumColumns() != fileSchema.NumFields() {
		return // nested columns: field and leaf indices differ
	}
	meta := pf.MetaData().RowGroup(rg)
	for _, c := range cols {
		if id := fileSchema.Field(c).Type.ID(); id != arrow.STRING && id != arrow.LARGE_STRING {
			continue
		}
		cc, err := meta.ColumnChunk(c)
		if err != nil || !cc.HasDictionaryPage() {
			continue
		}
		// Under a byte of dictionary per row: few distinct values.
		if dict := cc.DataPageOffset() - cc.DictionaryPageOffset(); dict > 0 && dict < meta.NumRows() {
			props.SetReadDict(c, true)
		}
	}
}

// rowCounts is a reader of column-less batches as long as the row groups.
func rowCounts(pf *file.Reader, groups []int, schema *arrow.Schema) (array.RecordReader, error) {
	var batches []arrow.RecordBatch
	for _, rg := range groups {
		for n := pf.MetaData().RowGroup(rg).NumRows(); n > 0; n -= BatchRows {
			batches = append(batches, array.NewRecordBatch(schema, nil, min(n, BatchRows)))
		}
	}
	defer ReleaseAll(batches)
	return array.NewRecordReader(schema, batches)
}

func (o CSVOptions) readerOptions(mem memory.Allocator) []csv.Option {
	delim := o.Delimiter
	if delim == 0 {
		delim = ','
	}
	return []csv.Option{csv.WithAllocator(mem), csv.WithHeader(!o.NoHeader), csv.WithComma(delim),
		csv.WithChunk(BatchRows), csv.WithNullReader(true, "")}
}

// OpenIPC reads an Arrow IPC file, or failing that an IPC stream, from f.
// The file is a user's, so it is read as untrusted input: no buffer may
// declare more than the node's memory limit, and every batch is validated
// before an operator sees it.
func OpenIPC(f *os.File, mem memory.Allocator) (array.RecordReader, error) {
	if q, ok := mem.(*budget.Query); ok {
		mem = budget.Untrusted(mem, q.Limit(), "--memory-limit")
	}
	if err := verifyIPCFile(f); err != nil {
		return nil, kernels.Errorf(kernels.Invalid, "cannot read %s: %v", f.Name(), err)
	}
	if fr, err := ipc.NewFileReader(f, ipc.WithAllocator(mem), ipc.WithMetadataSizeLimit(MaxIPCMetadata)); err == nil {
		return &validated{RecordReader: &ipcFile{r: fr}, name: f.Name()}, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r, err := ipc.NewReader(f, ipc.WithAllocator(mem), ipc.WithMetadataSizeLimit(MaxIPCMetadata))
	if err != nil {
		return nil, OpenError(f.Name(), fmt.Errorf("not an Arrow IPC file or stream: %w", err))
	}
	return &validated{RecordReader: r, name: f.Name()}, nil
}

// validated checks each batch of a reader with ValidateBatch.
type validated struct {
	array.RecordReader
	name string
	n    int
	err  error
}

func (v *validated) Next() bool {
	if v.err != nil || !v.RecordReader.Next() {
		return false
	}
	v.n++
	v.err = ValidateBatch(v.RecordReader.RecordBatch(), fmt.Sprintf("%s, batch %d", v.name, v.n))
	return v.err == nil
}

func (v *validated) Err() error {
	if v.err != nil {
		return v.err
	}
	return v.RecordReader.Err()
}

// ipcFile adapts ipc.FileReader, which reads by index, to array.RecordReader.
type ipcFile struct {
	r   *ipc.FileReader
	i   int
	cur arrow.RecordBatch
	err error
}

func (f *ipcFile) Retain() {}
func (f *ipcFile) Release() {
	if f.cur != nil {
		f.cur.Release()
		f.cur = nil
	}
	f.r.Close()
}
func (f *ipcFile) Schema() *arrow.Schema { return f.r.Schema() }
func (f *ipcFile) Next() bool {
	if f.cur != nil {
		f.cur.Release()
		f.cur = nil
	}
	if f.i >= f.r.NumRecords() {
		return false
	}
	f.cur, f.err = f.r.RecordBatchAt(f.i)
	f.i++
	return f.err == nil
}
func (f *ipcFile) RecordBatch() arrow.RecordBatch { return f.cur }
func (f *ipcFile) Record() arrow.RecordBatch      { return f.cur }
func (f *ipcFile) Err() error                     { return f.err }

// FileSchema reads the schema of one file, opened through roots (nil:
// anywhere), without reading its data. For CSV the types are inferred from
// the first rows.
func FileSchema(mem memory.Allocator, roots *fsroot.Roots, format Format, path string, opts CSVOptions) (s *arrow.Schema, err error) {
	defer func() {
		// As in Scan.Next: Arrow's readers trust a file's metadata (FuzzFileScan:
		// an IPC schema with a time unit out of range panics in arrow/ipc).
		if p := recover(); p != nil {
			s, err = nil, malformed(path, p)
		}
	}()
	switch format {
	case Parquet:
		meta, err := parquetFooter(roots, path)
		if err != nil {
			return nil, err
		}
		s, err := pqarrow.FromParquet(meta.Schema, &pqarrow.ArrowReadProperties{}, meta.KeyValueMetadata())
		if err != nil {
			return nil, OpenError(path, err)
		}
		return s, nil
	case CSV:
		return InferCSV(roots, path, opts)
	default:
		f, err := roots.Open(path)
		if err != nil {
			return nil, OpenError(path, err)
		}
		defer f.Close()
		r, err := OpenIPC(f, mem)
		if err != nil {
			return nil, err
		}
		defer r.Release()
		return r.Schema(), nil
	}
}
