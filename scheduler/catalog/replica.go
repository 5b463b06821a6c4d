package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
)

// Copies of partitions: how a partition file is encoded once and stored
// byte for byte on each holder, how its checksum is kept and checked, and
// how a node finds the copies it should hold but lacks.
//
// Every partition file carries a CRC-32C of its bytes, recorded in the
// manifest (Part.Checksum). A copy is checked when it is staged (against
// the sum the uploader computed), when it is copied to another node (by the
// sender and by the receiver), when a task reads it (PartFiles) and when a
// node reconciles its copies with the catalog (Reconcile).

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the checksum of a partition file's bytes, as a manifest
// records it.
func Checksum(data []byte) string {
	return fmt.Sprintf("crc32c:%08x", crc32.Checksum(data, castagnoli))
}

// StagingTTL is how long a staged partition that no manifest has named
// is kept: an upload's coordinator that died leaves its holders' staging
// behind, and a holder that restarts must keep what it staged until the
// manifest naming it reaches it.
const StagingTTL = time.Hour

// EncodePart writes batches as one partition file: Arrow IPC file bytes
// and their checksum. Every holder stores exactly these bytes.
func EncodePart(schema *arrow.Schema, batches []arrow.RecordBatch, mem memory.Allocator) ([]byte, string, error) {
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		return nil, "", err
	}
	for _, b := range batches {
		if err := w.Write(b); err != nil {
			w.Close()
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	data := buf.Bytes()
	return data, Checksum(data), nil
}

// Damaged says a copy of a partition fails its checksum. Its kind is
// NotFound: the node does not hold a good copy.
type Damaged struct {
	Node, Table, Part, File string
	Want, Got               string
}

func (e *Damaged) Error() string {
	return fmt.Sprintf("node %s: the copy of partition %s of table %q is damaged: file %s has checksum %s, the manifest says %s",
		e.Node, e.Part, e.Table, e.File, e.Got, e.Want)
}

var errNotHeld = &kernels.Error{Kind: kernels.NotFound, Msg: "partition not held"}

// Unwrap gives the error its kind, NotFound.
func (e *Damaged) Unwrap() error { return errNotHeld }

// StageBytes stores data, a partition file whose checksum must be sum,
// into an upload's staging durably (file and directories fsynced).
func (c *Catalog) StageBytes(upload, id, table string, data []byte, sum string) error {
	if err := checkID(upload); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	if got := Checksum(data); got != sum {
		return kernels.Errorf(kernels.Invalid, "partition %s of %q arrived damaged: checksum %s, the sender computed %s", id, table, got, sum)
	}
	stage := filepath.Join(c.dir, "tmp", upload)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return err
	}
	if err := writeDurably(stage, id+".arrow", data); err != nil {
		return err
	}
	return syncDir(filepath.Join(c.dir, "tmp"))
}

// checkID refuses an identifier that could name a path outside the data
// directory (ids are hex from NewID).
func checkID(id string) error {
	if id == "" || strings.ContainsAny(id, `/\.`) {
		return kernels.Errorf(kernels.Invalid, "bad upload or partition id %q: want the hex of catalog.NewID", id)
	}
	return nil
}

// writeDurably writes data to dir/name through a temporary name, fsyncs
// it, renames it into place and fsyncs dir.
func writeDurably(dir, name string, data []byte) error {
	return writeDurablyFrom(dir, name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeDurablyFrom is writeDurably of the bytes fill writes: nothing is
// in place unless fill succeeds.
func writeDurablyFrom(dir, name string, fill func(io.Writer) error) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// Fetch writes the bytes of a copy of a partition fetched from another
// node to w and returns the checksum the sender gives for them.
type Fetch func(w io.Writer) (string, error)

// receive writes the copy fetch brings durably as dir/name once its bytes
// match want (the manifest's checksum; "": the sender's).
func receive(dir, name, table, id, want string, fetch Fetch) error {
	return writeDurablyFrom(dir, name, func(w io.Writer) error {
		h := crc32.New(castagnoli)
		sent, err := fetch(io.MultiWriter(w, h))
		if err != nil {
			return err
		}
		if want == "" {
			want = sent
		}
		if got := fmt.Sprintf("crc32c:%08x", h.Sum32()); got != want {
			return kernels.Errorf(kernels.Unavailable, "the copy of partition %s of table %q fetched from another node is damaged: checksum %s, want %s", id, table, got, want)
		}
		return nil
	})
}

// StageFrom stores the copy fetch brings into staging under upload,
// durably, once its bytes match sum ("": the manifest's, else the
// sender's) (re-replication and rebalancing: a manifest naming this node
// moves it into place).
func (c *Catalog) StageFrom(upload, id, table, sum string, fetch Fetch) error {
	if err := checkID(upload); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	if sum == "" {
		sum = c.PartChecksum(table, id)
	}
	stage := filepath.Join(c.dir, "tmp", upload)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return err
	}
	if err := receive(stage, id+".arrow", table, id, sum, fetch); err != nil {
		return err
	}
	return syncDir(filepath.Join(c.dir, "tmp"))
}

// part finds partition id of table in the manifest this node has.
func (c *Catalog) part(table, id string) (Part, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tables[table]
	if !ok || t.M.Dropped {
		return Part{}, false
	}
	for _, p := range t.M.Parts {
		if p.ID == id {
			return p, true
		}
	}
	return Part{}, false
}

// PartChecksum is the checksum the manifest records for partition id of
// table ("" when unknown).
func (c *Catalog) PartChecksum(table, id string) string {
	p, _ := c.part(table, id)
	return p.Checksum
}

// stamp identifies a version of a file cheaply: a copy verified under one
// stamp is not read again until it changes.
type stamp struct {
	size  int64
	mtime time.Time
}

// verify checks the file of partition p of table against its checksum
// (a part without one, from before checksums, passes). With cached, a file
// verified before and unchanged since is not read again. A damaged copy is
// removed, reported in the log, queued for repair and returned as *Damaged.
func (c *Catalog) verify(table string, p Part, cached bool) error {
	path := c.partPath(p.ID)
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if p.Checksum == "" {
		return nil
	}
	now := stamp{st.Size(), st.ModTime()}
	c.vmu.Lock()
	ok := c.verified[p.ID] == now
	c.vmu.Unlock()
	if ok && cached {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	h := crc32.New(castagnoli)
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	got := fmt.Sprintf("crc32c:%08x", h.Sum32())
	if got != p.Checksum {
		d := &Damaged{Node: c.self, Table: table, Part: p.ID, File: path, Want: p.Checksum, Got: got}
		// Two reads may find the same damage at once: the one that removes
		// the file reports and counts it (and a copy repaired meanwhile,
		// another version of the file, stays).
		if st, err := os.Stat(path); err == nil && (stamp{st.Size(), st.ModTime()}) == now && os.Remove(path) == nil {
			slog.Error("a stored partition is damaged; removing it and repairing it from a replica", "err", d)
			c.vmu.Lock()
			delete(c.verified, p.ID)
			c.damaged++
			c.vmu.Unlock()
		}
		c.wantRepair()
		return d
	}
	c.vmu.Lock()
	c.verified[p.ID] = now
	c.vmu.Unlock()
	return nil
}

// DamagedFound is how many damaged copies this node has found since it started.
func (c *Catalog) DamagedFound() int {
	c.vmu.Lock()
	defer c.vmu.Unlock()
	return c.damaged
}

// RepairWanted is signalled when a copy this node should hold is found
// missing or damaged.
func (c *Catalog) RepairWanted() <-chan struct{} { return c.repair }

func (c *Catalog) wantRepair() {
	select {
	case c.repair <- struct{}{}:
	default:
	}
}

// ChunkSize is the most bytes of a partition file SendPart hands over at
// once: a copy travels between nodes as a stream of such chunks, so no
// message nears gRPC's 2 GiB limit and a throttle paces it finely.
const ChunkSize = 1 << 20

// SendPart hands this node's copy of partition id of table to send in
// chunks of at most ChunkSize, each with the checksum the manifest records
// (for a node copying it), checking the bytes as they go. A node without
// the copy answers NotFound before sending anything; a copy that fails its
// checksum is removed, reported and answered as a *Damaged once sent.
func (c *Catalog) SendPart(table, id string, send func(sum string, chunk []byte) error) error {
	p, ok := c.part(table, id)
	if !ok {
		return kernels.Errorf(kernels.NotFound, "node %s knows no partition %s of table %q", c.self, id, table)
	}
	f, err := os.Open(c.partPath(id))
	if errors.Is(err, os.ErrNotExist) {
		c.wantRepair()
		return kernels.Errorf(kernels.NotFound, "node %s does not hold partition %s of table %q", c.self, id, table)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	buf := make([]byte, ChunkSize)
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			h.Write(buf[:n])
			if err := send(p.Checksum, buf[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if got := fmt.Sprintf("crc32c:%08x", h.Sum32()); p.Checksum != "" && got != p.Checksum {
		c.verify(table, p, false) // removes and reports it
		return &Damaged{Node: c.self, Table: table, Part: id, File: c.partPath(id), Want: p.Checksum, Got: got}
	}
	return nil
}

// InstallFrom stores a copy of partition id of table that fetch brings
// from another holder (repair), once its bytes match the manifest's
// checksum.
func (c *Catalog) InstallFrom(table, id string, fetch Fetch) error {
	if err := checkID(id); err != nil {
		return err
	}
	p, ok := c.part(table, id)
	if !ok {
		return kernels.Errorf(kernels.NotFound, "table %q has no partition %s any more", table, id)
	}
	if err := receive(filepath.Join(c.dir, "parts"), id+".arrow", table, id, p.Checksum, fetch); err != nil {
		return err
	}
	if st, err := os.Stat(c.partPath(id)); err == nil {
		c.vmu.Lock()
		c.verified[id] = stamp{st.Size(), st.ModTime()}
		c.vmu.Unlock()
	}
	return nil
}

// PartRef names one partition of a table and the nodes holding it.
type PartRef struct {
	Table   string
	Part    Part
	Problem string // "missing" or "damaged"
}

// Reconcile checks every copy the catalog says this node holds: a file
// that is missing (staged copies are moved into place first) or fails its
// checksum is listed, for repair. full reads every file; otherwise copies
// verified before and unchanged since are trusted.
func (c *Catalog) Reconcile(full bool) []PartRef {
	var want []PartRef
	for _, t := range c.Tables() {
		for _, p := range t.M.Parts {
			if !contains(p.Holders, c.self) {
				continue
			}
			c.adoptStaged(p.ID)
			err := c.verify(t.Name, p, !full)
			switch {
			case err == nil:
			case errors.As(err, new(*Damaged)):
				want = append(want, PartRef{Table: t.Name, Part: p, Problem: "damaged"})
			default:
				want = append(want, PartRef{Table: t.Name, Part: p, Problem: "missing"})
			}
		}
	}
	return want
}

// adoptStaged moves a staged copy of partition id into place if there is
// one and none is in place: a holder that missed an upload's commit.
func (c *Catalog) adoptStaged(id string) {
	if _, err := os.Stat(c.partPath(id)); err == nil {
		return
	}
	if staged, _ := filepath.Glob(filepath.Join(c.dir, "tmp", "*", id+".arrow")); len(staged) == 1 {
		if os.Rename(staged[0], c.partPath(id)) == nil {
			syncDir(filepath.Join(c.dir, "parts"))
		}
	}
}

// writing says whether e is a repaired copy being written (InstallPart's
// temporary file, touched in the last minute), which collection spares.
func writing(e os.DirEntry) bool {
	if !strings.HasSuffix(e.Name(), ".tmp") {
		return false
	}
	info, err := e.Info()
	return err == nil && time.Since(info.ModTime()) < time.Minute
}

// removeOldStaging removes the staging of uploads untouched for longer
// than StagingTTL (their coordinator died or gave up without an abort).
func removeOldStaging(dir string) {
	entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > StagingTTL {
			os.RemoveAll(filepath.Join(dir, "tmp", e.Name()))
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Dir is the data directory.
func (c *Catalog) Dir() string { return c.dir }

// DropSurplus removes the copies this node holds of partitions whose
// manifest names other holders and not this node (it was moved away by
// rebalancing, or replaced while this node was gone), once each has been
// so for longer than keep and safe says its named holders can do without
// it. The wait covers a query planned before the change that reads this
// copy, and an upload committed meanwhile from an older manifest that
// names this node again. It returns how many copies it removed.
func (c *Catalog) DropSurplus(keep time.Duration, safe func(table string, p Part) bool) int {
	type held struct {
		table string
		part  Part
	}
	surplus := map[string]held{}
	for _, t := range c.Tables() {
		for _, p := range t.M.Parts {
			if len(p.Holders) > 0 && !contains(p.Holders, c.self) {
				surplus[p.ID] = held{t.Name, p}
			}
		}
	}
	now := time.Now()
	dropped := 0
	c.vmu.Lock()
	defer c.vmu.Unlock()
	for id := range c.surplus {
		if _, ok := surplus[id]; !ok {
			delete(c.surplus, id)
		}
	}
	for id, h := range surplus {
		path := c.partPath(id)
		if _, err := os.Stat(path); err != nil {
			delete(c.surplus, id)
			continue
		}
		since, ok := c.surplus[id]
		if !ok {
			c.surplus[id] = now
			continue
		}
		if now.Sub(since) < keep || !safe(h.table, h.part) {
			continue
		}
		if os.Remove(path) == nil {
			delete(c.surplus, id)
			delete(c.verified, id)
			dropped++
			slog.Info("removed a copy this node no longer holds", "table", h.table, "part", id, "holders", strings.Join(h.part.Holders, ","))
		}
	}
	return dropped
}
