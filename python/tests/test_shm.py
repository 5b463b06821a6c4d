"""Results of a node this client started come through shared memory, mapped."""

from __future__ import annotations

import glob
import os
import signal
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import ServerProcess, child_pids

import slipstream as sl

pytestmark = pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm here")

FOLDER = "/dev/shm/slipstream-results-"


def _shm_mappings() -> list[tuple[int, int]]:
    """The address ranges this process maps from nodes' result files."""
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            if FOLDER in line:
                start, end = line.split()[0].split("-")
                ranges.append((int(start, 16), int(end, 16)))
    return ranges


def _mapped(table: pa.Table) -> float:
    """The share of table's data bytes that lie in mapped result files (the
    node sends the first MiB of a result through the stream all the same)."""
    ranges = _shm_mappings()
    buffers = [
        b
        for column in table.columns
        for chunk in column.chunks
        for b in chunk.buffers()
        if b is not None and b.size > 0
    ]
    assert buffers
    mapped = sum(b.size for b in buffers if any(lo <= b.address < hi for lo, hi in ranges))
    return mapped / sum(b.size for b in buffers)


def _folders(pid: int) -> list[str]:
    return glob.glob(f"{FOLDER}{pid}-*")


def _sample(n: int) -> pa.Table:
    ids = np.arange(n)
    return pa.table(
        {
            "id": ids,
            "v": pa.array(ids * 0.5, mask=ids % 7 == 0),
            "name": pa.array([None if i % 11 == 0 else f"naïve-{i}-名" for i in range(n)]),
        }
    )


def _node_pids(client: sl.Client) -> list[int]:
    assert client._node is not None
    pid = client._node.proc.pid
    return child_pids(pid) if len(client._node.addresses) > 1 else [pid]


@pytest.mark.parametrize("nodes", [1, 3])
def test_a_local_nodes_result_is_mapped_from_shared_memory(nodes: int) -> None:
    want = _sample(1_000_000)
    with sl.connect(nodes=nodes) as client:
        got = client.from_arrow(want, name="t").sort("id").to_arrow()
        assert got.replace_schema_metadata(None).equals(want)
        assert _mapped(got) > 0.8, "the result's buffers are not the node's result files"
        # Each file was taken (unlinked) as it was mapped: nothing is left.
        pids = _node_pids(client)
        assert len(pids) == nodes
        for pid in pids:
            (folder,) = _folders(pid)
            assert os.listdir(folder) == []
        # A streamed result is mapped too, and an empty one is empty.
        streamed = pa.Table.from_batches(list(client.table("t").sort("id").to_batches()))
        assert streamed.replace_schema_metadata(None).equals(want)
        assert _mapped(streamed) > 0.8
        empty = client.table("t").filter(sl.col("id") < 0).to_arrow()
        assert empty.num_rows == 0 and empty.schema.names == want.schema.names
        # A small result comes through the stream: a file would cost it more.
        small = client.table("t").filter(sl.col("id") < 1000).to_arrow()
        assert small.num_rows == 1000 and _mapped(small) == 0
    # The table outlives the node and its folder.
    assert got.column("id").to_numpy()[-1] == 999_999
    for pid in pids:
        assert _folders(pid) == []


def test_a_node_reached_by_address_sends_the_result_through_the_socket(tmp_path: Path) -> None:
    # Even one that could use shared memory: the client asks only nodes it started.
    node = ServerProcess(tmp_path / "data", tmp_path / "node.log", None, "--shm-results")
    try:
        assert len(_folders(node.proc.pid)) == 1
        with sl.connect(node.address) as client:
            want = _sample(50_000)
            got = client.from_arrow(want, name="t").sort("id").to_arrow()
            assert got.replace_schema_metadata(None).equals(want)
            assert _mapped(got) == 0
    finally:
        node.stop()
    assert _folders(node.proc.pid) == []


def test_the_folder_a_killed_node_left_is_removed_by_the_next() -> None:
    client = sl.connect()
    pid = _node_pids(client)[0]
    assert len(_folders(pid)) == 1
    os.kill(pid, signal.SIGKILL)
    client._node.proc.wait(10)  # type: ignore[union-attr]
    assert len(_folders(pid)) == 1  # a killed node cannot remove it
    client.close()
    with sl.connect() as other:
        deadline = time.monotonic() + 5
        while _folders(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _folders(pid) == []
        assert other.from_arrow(_sample(10), name="t").to_arrow().num_rows == 10
