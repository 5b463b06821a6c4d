package flight

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"slipstream/kernels"
	"slipstream/scheduler/catalog"
	pb "slipstream/scheduler/planpb"
)

// bigPart uploads rows ints as a table and returns its first partition
// (of up to --part-rows, 1 Mi rows: 8 MiB).
func bigPart(t testing.TB, n *testNode, rows int) catalog.Part {
	rec := ints(rows)
	defer rec.Release()
	if _, err := n.put(t, "big", pb.Upload_CREATE, rec); err != nil {
		t.Fatal(err)
	}
	tbl, err := n.cat.Table("big")
	if err != nil || len(tbl.M.Parts) == 0 {
		t.Fatalf("%+v %v", tbl, err)
	}
	return tbl.M.Parts[0]
}

// fetch_part streams a copy of many chunks over a real connection, whole
// and with its checksum; a damaged copy is refused, and a partition the
// node does not hold is NotFound.
func TestFetchPartStreamsInChunks(t *testing.T) {
	n := startNode(t)
	p := bigPart(t, n, 1<<20)
	peers := NewPeers(memory.NewGoAllocator())
	defer peers.Close()
	path := filepath.Join(n.cat.Dir(), "parts", p.ID+".arrow")
	want, err := os.ReadFile(path)
	if err != nil || len(want) < 4*catalog.ChunkSize {
		t.Fatalf("want a file of several chunks: %d bytes, %v", len(want), err)
	}
	var got bytes.Buffer
	sum, err := peers.FetchPart(context.Background(), n.addr, "big", p.ID, &got)
	if err != nil || sum != p.Checksum || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("fetched %d of %d bytes, sum %s (want %s): %v", got.Len(), len(want), sum, p.Checksum, err)
	}
	if _, err := peers.FetchPart(context.Background(), n.addr, "big", "0123456789abcdef", io.Discard); kernels.KindOf(err) != kernels.NotFound {
		t.Fatalf("an unknown partition: %v", err)
	}
	want[len(want)/2] ^= 4
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = peers.FetchPart(context.Background(), n.addr, "big", p.ID, io.Discard)
	if kernels.KindOf(err) != kernels.NotFound || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a damaged copy: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the damaged copy is still there: %v", err)
	}
}

// BenchmarkFetchPart is the throughput of one unpaced copy over loopback
// gRPC, checksums included (go test -bench FetchPart -run - ./flight/).
func BenchmarkFetchPart(b *testing.B) {
	n := startNode(b)
	p := bigPart(b, n, 1<<20)
	peers := NewPeers(memory.NewGoAllocator())
	defer peers.Close()
	st, err := os.Stat(filepath.Join(n.cat.Dir(), "parts", p.ID+".arrow"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, err := peers.FetchPart(context.Background(), n.addr, "big", p.ID, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
