package exec

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"slipstream/kernels"
)

// Arrow's IPC reader trusts the flatbuffer metadata of every message: it
// allocates by the lengths of the vectors it finds there and follows
// tables wherever their offsets point. A schema that declares four billion
// metadata entries makes it ask the runtime for tens of gigabytes (the
// process ends, it is not an error), and a field that names itself as its
// own child recurses until the stack is gone. So metadata that comes from
// outside the node (an upload, a user's IPC file) is walked here first,
// with every read bounds-checked: every table, vector and string Arrow
// reads must lie inside the message, every vector be no longer than the
// message could hold, and the fields form a tree of bounded depth.
//
// The flatbuffers library has no verifier for Go, and Arrow's generated
// accessors it would use are internal to arrow-go and unchecked, so the
// walk reads the format itself; the layout is Arrow's Message.fbs,
// Schema.fbs and File.fbs.

// fbTable describes a flatbuffer table: the fields that refer to other
// bytes, by slot (their order in the .fbs). Scalar fields need no check.
type fbTable struct {
	name    string
	fields  map[int]fbField
	unionOf map[byte]*fbTable // for a union field: the table of each type
}

type fbKind int

const (
	fbString fbKind = iota
	fbTableRef
	fbTables  // a vector of tables
	fbStructs // a vector of structs (or scalars) of size elem
	fbUnion   // a union whose type is in slot typeSlot
)

type fbField struct {
	kind     fbKind
	table    *fbTable
	elem     int
	typeSlot int
}

var (
	fbKeyValue = &fbTable{name: "KeyValue", fields: map[int]fbField{0: {kind: fbString}, 1: {kind: fbString}}}
	fbMetadata = fbField{kind: fbTables, table: fbKeyValue}
	fbPlain    = &fbTable{name: "Type"} // a type table with scalars only
	fbTypes    = map[byte]*fbTable{
		10: {name: "Timestamp", fields: map[int]fbField{1: {kind: fbString}}},
		14: {name: "Union", fields: map[int]fbField{1: {kind: fbStructs, elem: 4}}},
	}
	fbDictEncoding = &fbTable{name: "DictionaryEncoding", fields: map[int]fbField{1: {kind: fbTableRef, table: fbPlain}}}
	fbFieldTable   = &fbTable{name: "Field"}
	fbSchema       = &fbTable{name: "Schema", fields: map[int]fbField{
		1: {kind: fbTables, table: fbFieldTable}, 2: fbMetadata, 3: {kind: fbStructs, elem: 8}}}
	fbRecordBatch = &fbTable{name: "RecordBatch", fields: map[int]fbField{
		1: {kind: fbStructs, elem: 16}, 2: {kind: fbStructs, elem: 16}, 3: {kind: fbTableRef, table: fbPlain},
		4: {kind: fbStructs, elem: 8}}}
	fbDictBatch = &fbTable{name: "DictionaryBatch", fields: map[int]fbField{1: {kind: fbTableRef, table: fbRecordBatch}}}
	fbMessage   = &fbTable{name: "Message", fields: map[int]fbField{2: {kind: fbUnion, typeSlot: 1}, 4: fbMetadata},
		unionOf: map[byte]*fbTable{1: fbSchema, 2: fbDictBatch, 3: fbRecordBatch, 4: fbPlain, 5: fbPlain}}
	fbFooter = &fbTable{name: "Footer", fields: map[int]fbField{
		1: {kind: fbTableRef, table: fbSchema}, 2: {kind: fbStructs, elem: 24}, 3: {kind: fbStructs, elem: 24}, 4: fbMetadata}}
)

func init() {
	fbFieldTable.fields = map[int]fbField{0: {kind: fbString}, 3: {kind: fbUnion, typeSlot: 2},
		4: {kind: fbTableRef, table: fbDictEncoding}, 5: {kind: fbTables, table: fbFieldTable}, 6: fbMetadata}
	fbFieldTable.unionOf = fbTypes
}

// maxFieldDepth is deeper than any real schema nests.
const maxFieldDepth = 64

// fbWalk is one verification: the bytes, and the tables visited so far.
type fbWalk struct {
	b      []byte
	tables int
}

func (w *fbWalk) fail(format string, args ...any) error {
	return kernels.Errorf(kernels.Invalid, "malformed Arrow IPC metadata: "+format, args...)
}

func (w *fbWalk) u32(pos int) (int, error) {
	if pos < 0 || pos+4 > len(w.b) {
		return 0, w.fail("an offset at byte %d lies outside the %d bytes of the message", pos, len(w.b))
	}
	return int(binary.LittleEndian.Uint32(w.b[pos:])), nil
}

func (w *fbWalk) u16(pos int) (int, error) {
	if pos < 0 || pos+2 > len(w.b) {
		return 0, w.fail("a vtable entry at byte %d lies outside the message", pos)
	}
	return int(binary.LittleEndian.Uint16(w.b[pos:])), nil
}

// ref follows the offset stored at pos.
func (w *fbWalk) ref(pos int) (int, error) {
	off, err := w.u32(pos)
	if err != nil {
		return 0, err
	}
	if to := pos + off; off > 0 && to < len(w.b) {
		return to, nil
	}
	return 0, w.fail("an offset at byte %d points outside the message", pos)
}

// vector checks the vector at pos holds n elements of elem bytes within
// the message, and returns n and where its elements start.
func (w *fbWalk) vector(pos, elem int) (int, int, error) {
	n, err := w.u32(pos)
	if err != nil {
		return 0, 0, err
	}
	if n > (len(w.b)-pos-4)/elem {
		return 0, 0, w.fail("a vector at byte %d declares %d elements, more than the %d-byte message holds", pos, n, len(w.b))
	}
	return n, pos + 4, nil
}

// table checks the table at pos against its description, depth tables
// deep in the field tree.
func (w *fbWalk) table(pos int, t *fbTable, depth int) error {
	if w.tables++; w.tables > len(w.b)/4 {
		return w.fail("its tables refer to each other more often than a %d-byte message can hold (a loop)", len(w.b))
	}
	if depth > maxFieldDepth {
		return w.fail("fields nest more than %d deep", maxFieldDepth)
	}
	soff, err := w.u32(pos)
	if err != nil {
		return err
	}
	vt := pos - int(int32(soff))
	vtSize, err := w.u16(vt)
	if err != nil {
		return err
	}
	tableSize, err := w.u16(vt + 2)
	if err != nil {
		return err
	}
	if vtSize < 4 || vtSize%2 != 0 || vt+vtSize > len(w.b) || pos+tableSize > len(w.b) {
		return w.fail("the %s table at byte %d has a vtable outside the message", t.name, pos)
	}
	slot := func(i, size int) (int, bool, error) {
		if 4+2*i >= vtSize {
			return 0, false, nil
		}
		off, err := w.u16(vt + 4 + 2*i)
		if err != nil || off == 0 {
			return 0, false, err
		}
		if off+size > tableSize {
			return 0, false, w.fail("field %d of the %s table at byte %d lies outside it", i, t.name, pos)
		}
		return pos + off, true, nil
	}
	for i, f := range t.fields {
		at, ok, err := slot(i, 4)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		to, err := w.ref(at)
		if err != nil {
			return err
		}
		switch f.kind {
		case fbString:
			_, _, err = w.vector(to, 1)
		case fbStructs:
			_, _, err = w.vector(to, f.elem)
		case fbTableRef:
			err = w.table(to, f.table, depth)
		case fbTables:
			n, start, verr := w.vector(to, 4)
			err = verr
			for j := 0; err == nil && j < n; j++ {
				var el int
				if el, err = w.ref(start + 4*j); err == nil {
					err = w.table(el, f.table, depth+1)
				}
			}
		case fbUnion:
			typ := byte(0)
			if tp, ok, err := slot(f.typeSlot, 1); err != nil {
				return err
			} else if ok {
				typ = w.b[tp]
			}
			sub := t.unionOf[typ]
			if sub == nil {
				sub = fbPlain
			}
			err = w.table(to, sub, depth)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func verifyRoot(b []byte, t *fbTable) error {
	w := &fbWalk{b: b}
	root, err := w.ref(0)
	if err != nil {
		return err
	}
	return w.table(root, t, 0)
}

// VerifyIPCMessage checks the metadata of one Arrow IPC message (the
// flatbuffer of a Message table) before Arrow's reader reads it.
func VerifyIPCMessage(meta []byte) error { return verifyRoot(meta, fbMessage) }

// MaxIPCMetadata bounds the metadata of one IPC message from outside the
// node: far above any real schema, far below what would strain a node.
const MaxIPCMetadata = 16 << 20

// verifyIPCFile walks the messages of an Arrow IPC file or stream (and
// the footer and the blocks it points to, for a file) and verifies the
// metadata of each, reading no bodies.
func verifyIPCFile(f *os.File) error {
	defer f.Seek(0, io.SeekStart)
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	magic := make([]byte, 8)
	if n, _ := f.ReadAt(magic, 0); n >= 6 && string(magic[:6]) == "ARROW1" {
		if err := verifyFooter(f, size); err != nil {
			return err
		}
		return verifyMessages(f, 8, size)
	}
	return verifyMessages(f, 0, size)
}

// readMessageMeta reads the metadata of the message at off: its flatbuffer
// and where the message's body starts.
func readMessageMeta(f *os.File, off, size int64) ([]byte, int64, error) {
	var head [8]byte
	if _, err := f.ReadAt(head[:4], off); err != nil {
		return nil, 0, err
	}
	n := int64(int32(binary.LittleEndian.Uint32(head[:4])))
	start := off + 4
	if uint32(n) == 0xFFFFFFFF { // the continuation marker, then the length
		if _, err := f.ReadAt(head[4:], off+4); err != nil {
			return nil, 0, err
		}
		n = int64(int32(binary.LittleEndian.Uint32(head[4:])))
		start = off + 8
	}
	if n == 0 {
		return nil, 0, io.EOF
	}
	if n < 4 || n > MaxIPCMetadata || start+n > size {
		return nil, 0, kernels.Errorf(kernels.Invalid, "malformed Arrow IPC data: a message at byte %d declares %d bytes of metadata", off, n)
	}
	meta := make([]byte, n)
	if _, err := f.ReadAt(meta, start); err != nil {
		return nil, 0, err
	}
	return meta, start + n, nil
}

func verifyMessages(f *os.File, off, size int64) error {
	for off+4 <= size {
		meta, body, err := readMessageMeta(f, off, size)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := VerifyIPCMessage(meta); err != nil {
			return fmt.Errorf("at byte %d: %w", off, err)
		}
		w := &fbWalk{b: meta}
		bodyLen, err := messageBodyLength(w)
		if err != nil {
			return err
		}
		if bodyLen < 0 || bodyLen > size-body {
			return kernels.Errorf(kernels.Invalid, "malformed Arrow IPC data: the message at byte %d declares a body of %d bytes, past the end of the file", off, bodyLen)
		}
		off = body + bodyLen
	}
	return nil
}

// messageBodyLength reads Message.bodyLength (slot 3, a long) of a
// verified message.
func messageBodyLength(w *fbWalk) (int64, error) {
	root, _ := w.ref(0)
	soff, _ := w.u32(root)
	vt := root - int(int32(soff))
	vtSize, _ := w.u16(vt)
	if 4+2*3 >= vtSize {
		return 0, nil
	}
	off, _ := w.u16(vt + 4 + 2*3)
	if off == 0 {
		return 0, nil
	}
	if root+off+8 > len(w.b) {
		return 0, w.fail("the message's body length lies outside it")
	}
	return int64(binary.LittleEndian.Uint64(w.b[root+off:])), nil
}

// verifyFooter checks an IPC file's footer and the message each of its
// blocks points to.
func verifyFooter(f *os.File, size int64) error {
	if size < 18 {
		return nil // too short for a footer: Arrow's reader says so
	}
	var tail [10]byte
	if _, err := f.ReadAt(tail[:], size-10); err != nil {
		return err
	}
	if string(tail[4:]) != "ARROW1" {
		return nil // no footer: read as a stream
	}
	n := int64(int32(binary.LittleEndian.Uint32(tail[:4])))
	if n <= 0 || n > MaxIPCMetadata || n > size-18 {
		return kernels.Errorf(kernels.Invalid, "malformed Arrow IPC file: its footer declares %d bytes", n)
	}
	footer := make([]byte, n)
	if _, err := f.ReadAt(footer, size-10-n); err != nil {
		return err
	}
	if err := verifyRoot(footer, fbFooter); err != nil {
		return fmt.Errorf("in the footer: %w", err)
	}
	// Blocks (slots 2 and 3): offset long, metaDataLength int (+4 pad), bodyLength long.
	w := &fbWalk{b: footer}
	root, _ := w.ref(0)
	soff, _ := w.u32(root)
	vt := root - int(int32(soff))
	vtSize, _ := w.u16(vt)
	for _, s := range []int{2, 3} {
		if 4+2*s >= vtSize {
			continue
		}
		off, _ := w.u16(vt + 4 + 2*s)
		if off == 0 {
			continue
		}
		to, _ := w.ref(root + off)
		count, start, _ := w.vector(to, 24)
		end := size - 10 - n // where the footer starts
		for i := range count {
			blk := footer[start+24*i:]
			at := int64(binary.LittleEndian.Uint64(blk))
			metaLen := int64(int32(binary.LittleEndian.Uint32(blk[8:])))
			bodyLen := int64(binary.LittleEndian.Uint64(blk[16:]))
			if at < 8 || metaLen < 8 || bodyLen < 0 || at >= end || metaLen > end-at || bodyLen > end-at-metaLen {
				return kernels.Errorf(kernels.Invalid, "malformed Arrow IPC file: block %d (byte %d, %d bytes of metadata, %d of body) does not lie within the file's %d bytes of messages", i, at, metaLen, bodyLen, end)
			}
			meta, body, err := readMessageMeta(f, at, at+metaLen)
			if err == io.EOF {
				continue
			}
			if err != nil {
				return err
			}
			if err := VerifyIPCMessage(meta); err != nil {
				return fmt.Errorf("at byte %d: %w", at, err)
			}
			if declared, err := messageBodyLength(&fbWalk{b: meta}); err != nil || declared > bodyLen+at+metaLen-body {
				return kernels.Errorf(kernels.Invalid, "malformed Arrow IPC file: the message at byte %d declares a larger body than its block holds", at)
			}
		}
	}
	return nil
}
