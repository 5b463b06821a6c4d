"""connect(): the local node's life, remote addresses, the packaged binary."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import ServerProcess, child_pids

import slipstream as sl
from slipstream._node import find_binary


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_close_stops_the_local_node() -> None:
    cl = sl.connect()
    assert cl._node is not None
    pid, tmp = cl._node.proc.pid, cl._node._tmp
    assert _alive(pid) and os.path.isdir(tmp)
    cl.from_arrow(pa.table({"a": [1]}), "t")
    cl.close()
    assert cl.closed
    assert _wait_dead(pid)
    assert not os.path.exists(tmp), "the temporary data dir is removed"
    with pytest.raises(RuntimeError, match="closed"):
        cl.tables()
    cl.close()  # idempotent


def test_context_manager_and_garbage_collection() -> None:
    with sl.connect() as cl:
        assert cl._node is not None
        pid = cl._node.proc.pid
        assert cl.health()["status"] == "ok"
    assert _wait_dead(pid)

    cl = sl.connect()
    assert cl._node is not None
    pid = cl._node.proc.pid
    del cl
    gc.collect()
    assert _wait_dead(pid), "an unreachable client stops its node"


def test_node_stops_at_interpreter_exit(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import slipstream as sl
        cl = sl.connect()
        print(cl._node.proc.pid, cl._node._tmp, flush=True)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    pid_s, tmp = out.stdout.split()
    assert _wait_dead(int(pid_s)), "the node outlived the interpreter"
    assert not os.path.exists(tmp)


@pytest.mark.parametrize("nodes", [1, 3])
def test_nodes_stop_when_the_interpreter_is_killed(nodes: int) -> None:
    """A notebook kernel killed with SIGKILL runs no finalizer: the node (or
    the cluster of ``slipstream local`` and its nodes) still stops, on the
    end of the pipe to its standard input."""
    script = textwrap.dedent(
        f"""
        import sys, time
        import slipstream as sl
        cl = sl.connect(nodes={nodes})
        print(cl._node.proc.pid, flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pid = int(proc.stdout.readline())
        pids = [pid, *child_pids(pid)]
        assert len(pids) == (1 if nodes == 1 else 1 + nodes), pids
    finally:
        proc.kill()
        proc.wait()
    for p in pids:
        assert _wait_dead(p, timeout=30), f"process {p} outlived the killed interpreter"


def test_connect_to_an_existing_node(server: ServerProcess) -> None:
    host_port = server.address.removeprefix("grpc://")
    with sl.connect(host_port) as cl:  # the scheme is optional
        assert cl.address == server.address
        assert cl.health()["status"] == "ok"
    # closing a remote client leaves the node running
    assert server.proc.poll() is None
    with pytest.raises(ValueError, match="data_dir"):
        sl.connect(server.address, data_dir="x")


def test_server_prints_exactly_one_line(server: ServerProcess) -> None:
    assert server.first_line == f"slipstream: serving on {server.address}"


def test_version(remote_client: sl.Client) -> None:
    out = subprocess.run(
        [find_binary(), "version"], capture_output=True, text=True, timeout=30, check=True
    )
    version = remote_client.health()["version"]
    assert version and version in out.stdout


def test_startup_failure_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(sl.UnavailableError, match=r"exited|did not start"):
        sl.connect(data_dir=blocker / "data")


def test_installed_package_ships_the_binary() -> None:
    pkg = Path(sl.__file__).resolve().parent
    if (pkg.parent.parent / "pyproject.toml").exists():
        pytest.skip("slipstream is imported from the source tree, not from an installed wheel")
    binary = pkg / "bin" / "slipstream"
    assert binary.is_file() and os.access(binary, os.X_OK)
    if "SLIPSTREAM_BIN" not in os.environ:
        assert find_binary() == str(binary)


def test_connect_sets_the_local_nodes_memory_limit(tmp_path: Path) -> None:
    """memory_limit and spill_limit reach the local node: with spilling off,
    a sort of more than the limit fails alone, and the node goes on."""
    import numpy as np
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    path = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"x": rng.random(3_000_000), "i": np.arange(3_000_000)}), path)
    with sl.connect(memory_limit="40MiB", spill_limit=0, allow_paths=[tmp_path]) as cl:
        df = cl.read_parquet(str(path))
        with pytest.raises(sl.ResourceExhaustedError, match="memory-limit"):
            df.sort("x").to_arrow()
        small = df.filter(sl.col("i") < 3).select("i").sort("i").to_arrow()
        assert small.to_pydict() == {"i": [0, 1, 2]}
    with sl.connect(memory_limit=256 << 20, allow_paths=[tmp_path]) as cl:
        got = cl.read_parquet(str(path)).sort("x").select("i").to_arrow()
        assert got.num_rows == 3_000_000


def test_connect_checks_sizes() -> None:
    with pytest.raises(ValueError, match=r"not a size.*4GiB"):
        sl.connect(memory_limit="four gigs")
    with pytest.raises(TypeError, match="memory_limit"):
        sl.connect(memory_limit=4.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="memory_limit"):
        sl.connect("grpc://127.0.0.1:1", memory_limit="1GiB")
