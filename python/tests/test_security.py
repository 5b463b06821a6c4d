"""Safe defaults: a node reads files only under its ``--allow-path``
directories, and without tokens or TLS listens beyond loopback only with
``--insecure`` (tokens and TLS: test_auth.py)."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from conftest import ServerProcess

import slipstream as sl
from slipstream._node import default_allow_paths, find_binary

DATA = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})
SECRET = pa.table({"id": [42], "name": ["secret"]})
WANT = DATA.to_pydict()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``allowed/`` (the one directory the server may read) and ``outside/``
    beside it, with links from the first leading into the second."""
    base = tmp_path_factory.mktemp("security")
    allowed, outside = base / "allowed", base / "outside"
    (allowed / "clean").mkdir(parents=True)
    outside.mkdir()
    pq.write_table(DATA, allowed / "clean" / "data.parquet")
    pacsv.write_csv(DATA, allowed / "clean" / "data.csv")
    pq.write_table(SECRET, outside / "secret.parquet")
    pacsv.write_csv(SECRET, outside / "secret.csv")
    feather.write_feather(SECRET, outside / "secret.arrow")
    (allowed / "link.parquet").symlink_to(outside / "secret.parquet")
    (allowed / "rel_link.csv").symlink_to("../outside/secret.csv")
    (allowed / "dir_out").symlink_to("../outside")
    (allowed / "inside_link.parquet").symlink_to("clean/data.parquet")
    return allowed, outside


@pytest.fixture(scope="module")
def guarded(tree: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``slipstream serve`` allowed to read ``allowed/`` only; its address."""
    allowed, _ = tree
    root = tmp_path_factory.mktemp("guarded")
    server = ServerProcess(root / "data", root / "server.log", allow=[allowed])
    yield server.address
    assert server.stop() == 0
    log = (root / "server.log").read_text()
    assert "loopback only" in log
    assert f"allow-path={allowed}" in log


def escapes(allowed: Path, outside: Path) -> list[tuple[str, str]]:
    """(reader, path) pairs that must be refused."""
    depth = "../" * (len(Path.cwd().parts) + 2)
    return [
        ("parquet", "/etc/passwd"),
        ("csv", "/etc/passwd"),
        ("ipc", "/etc/passwd"),
        ("parquet", "/etc/*"),
        ("csv", "/*/passwd"),
        ("parquet", str(outside / "secret.parquet")),
        ("ipc", str(outside / "secret.arrow")),
        ("parquet", f"{allowed}/../outside/secret.parquet"),
        ("parquet", f"{allowed}/../outside/*.parquet"),
        ("parquet", f"{allowed}/clean/../../outside/secret.parquet"),
        ("csv", f"{depth}etc/passwd"),  # relative to the server's working directory
        ("parquet", str(allowed / "link.parquet")),
        ("csv", str(allowed / "rel_link.csv")),
        ("parquet", str(allowed / "dir_out" / "secret.parquet")),
        ("parquet", str(allowed / "dir_out")),
        ("parquet", str(allowed / "*.parquet")),  # the glob lists link.parquet
    ]


def read(cl: sl.Client, reader: str, path: str) -> dict[str, list[object]]:
    """The rows read_<reader>(path) gives, as columns."""
    return getattr(cl, f"read_{reader}")(path).to_arrow().to_pydict()  # type: ignore[no-any-return]


def test_paths_outside_the_allowed_directories_are_refused(
    guarded: str, tree: tuple[Path, Path]
) -> None:
    allowed, outside = tree
    with sl.connect(guarded) as cl:
        for reader, path in escapes(allowed, outside):
            with pytest.raises(sl.PermissionDeniedError, match="--allow-path") as info:
                read(cl, reader, path)
            assert str(allowed) in info.value.message, info.value.message
            assert info.value.code == "PERMISSION_DENIED"
        # Still up, and a legitimate read works.
        assert cl.health()["status"] == "ok"
        assert read(cl, "parquet", str(allowed / "clean" / "data.parquet")) == WANT


def test_reads_inside_the_allowed_directories_work(guarded: str, tree: tuple[Path, Path]) -> None:
    allowed, _ = tree
    with sl.connect(guarded) as cl:
        assert read(cl, "parquet", str(allowed / "clean" / "*.parquet")) == WANT
        assert read(cl, "parquet", str(allowed / "clean")) == WANT
        assert read(cl, "parquet", str(allowed / "inside_link.parquet")) == WANT
        assert read(cl, "csv", str(allowed / "clean" / "data.csv")) == WANT
        with pytest.raises(sl.NotFoundError, match="nope"):
            read(cl, "parquet", str(allowed / "nope.parquet"))


def test_local_node_allow_paths(tree: tuple[Path, Path]) -> None:
    allowed, outside = tree
    with sl.connect(allow_paths=[allowed]) as cl:
        assert read(cl, "parquet", str(allowed / "clean" / "data.parquet")) == WANT
        with pytest.raises(sl.PermissionDeniedError, match="--allow-path"):
            read(cl, "parquet", str(outside / "secret.parquet"))
    with pytest.raises(ValueError, match="allow_paths"):
        sl.connect("grpc://127.0.0.1:1", allow_paths=[allowed])
    with pytest.raises(TypeError, match="list"):
        sl.connect(allow_paths=str(allowed))  # type: ignore[arg-type]


def test_local_cluster_passes_allow_paths_to_its_nodes(tree: tuple[Path, Path]) -> None:
    allowed, outside = tree
    with sl.connect(nodes=2, allow_paths=[allowed]) as cl:
        assert read(cl, "parquet", str(allowed / "clean" / "data.parquet")) == WANT
        with pytest.raises(sl.PermissionDeniedError, match="--allow-path"):
            read(cl, "parquet", str(outside / "secret.parquet"))


def test_default_allow_paths_are_the_users_own() -> None:
    paths = default_allow_paths()
    assert os.getcwd() in paths
    assert "/" not in paths
    assert all(os.path.isdir(p) and os.path.isabs(p) for p in paths)


def serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_binary(), "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


@pytest.mark.parametrize("addr", ["0.0.0.0:0", ":0", "[::]:0"])
def test_serve_refuses_to_listen_beyond_loopback_without_insecure(
    addr: str, tmp_path: Path
) -> None:
    done = serve("--addr", addr, "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode != 0
    assert "no authentication is configured" in done.stderr
    assert "--insecure" in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "data").exists()


def test_serve_refuses_open_gossip_without_a_key(tmp_path: Path) -> None:
    done = serve("--gossip", "0.0.0.0:0", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode != 0
    assert "--encrypt-key" in done.stderr and "--insecure" in done.stderr


def test_serve_needs_existing_allow_paths(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    done = serve("--data-dir", str(tmp_path / "data"), "--allow-path", str(missing), cwd=tmp_path)
    assert done.returncode != 0
    assert "--allow-path" in done.stderr and str(missing) in done.stderr
    assert "does not exist" in done.stderr


def test_serve_insecure_listens_everywhere_and_warns(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    cmd = [find_binary(), "serve", "--addr", "0.0.0.0:0", "--insecure"]
    cmd += ["--data-dir", str(tmp_path / "data")]
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    try:
        line = _first_line(proc, timeout=30)
        m = re.match(r"^slipstream: serving on grpc://.*:(\d+)$", line)
        assert m, line
        with sl.connect(f"grpc://127.0.0.1:{m.group(1)}") as cl:
            assert cl.health()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert proc.stdout is not None
        proc.stdout.close()
    text = log.read_text()
    assert re.search(r"level=WARN msg=\"?INSECURE", text), text


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(left):
            raise AssertionError(f"no address within {timeout}s")
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            raise AssertionError(f"exited early with code {proc.wait()}")
        buf += chunk
    return buf.split(b"\n", 1)[0].decode()
