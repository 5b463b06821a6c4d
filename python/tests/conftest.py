"""Fixtures: real Slipstream server processes and the shared test data."""

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
import pytest
from _data import make_alltypes

import slipstream as sl
from slipstream._node import find_binary

READY = re.compile(r"^slipstream: serving on (grpc://127\.0\.0\.1:\d+)$")

# The tiny-limit mode (`make test-spill`): every node the suite starts runs
# with --memory-limit $SLIPSTREAM_TEST_MEMORY_LIMIT and --operator-memory
# $SLIPSTREAM_TEST_OPERATOR_MEMORY (default 64KiB), so that every operator
# that can spill does, even on the suite's small tables (a memory limit alone
# cannot go low enough for that: a node needs 16MiB to run). The fixtures
# pass the memory limit; every node, those that tests start themselves
# included, reads both from SLIPSTREAM_MEMORY_LIMIT and
# SLIPSTREAM_OPERATOR_MEMORY, set below for the session.
TEST_MEMORY_LIMIT = os.environ.get("SLIPSTREAM_TEST_MEMORY_LIMIT", "").strip() or None
TEST_OPERATOR_MEMORY = (
    os.environ.get("SLIPSTREAM_TEST_OPERATOR_MEMORY", "").strip() or "64KiB"
    if TEST_MEMORY_LIMIT
    else None
)


# The secure mode (`make test-secure`): the nodes connect() starts serve over
# TLS, call each other with mutual TLS and gossip encrypted (they always
# need a token).
TEST_TLS = os.environ.get("SLIPSTREAM_TEST_TLS", "") not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    # Every node the suite starts overwrites the buffers its queries free,
    # which they may reuse at once: code that reads a buffer after releasing
    # it gives wrong answers here instead of passing by luck.
    os.environ["SLIPSTREAM_POISON_FREED"] = "1"
    if TEST_MEMORY_LIMIT and TEST_OPERATOR_MEMORY:
        os.environ["SLIPSTREAM_MEMORY_LIMIT"] = TEST_MEMORY_LIMIT
        os.environ["SLIPSTREAM_OPERATOR_MEMORY"] = TEST_OPERATOR_MEMORY


def pytest_report_header(config: pytest.Config) -> str | None:
    if TEST_TLS:
        return "secure mode: local nodes serve TLS, call each other with mutual TLS"
    if TEST_MEMORY_LIMIT:
        return (
            f"tiny-limit mode: every node runs with --memory-limit {TEST_MEMORY_LIMIT} "
            f"--operator-memory {TEST_OPERATOR_MEMORY}"
        )
    return None


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the nodes of ``slipstream local``)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if parent == pid:
            children.append(int(entry))
    return children


class ServerProcess:
    """``slipstream serve`` started the way a user would, on a free port.

    ``allow`` are its ``--allow-path`` directories (default: its data directory);
    ``flags`` more of serve's flags.
    """

    def __init__(
        self, data_dir: Path, log_path: Path, allow: list[Path] | None = None, *flags: str
    ) -> None:
        self.data_dir = data_dir
        self.log = open(log_path, "ab")  # noqa: SIM115
        cmd = [find_binary(), "serve", "--addr", "127.0.0.1:0", "--data-dir", str(data_dir)]
        cmd += flags
        for path in allow or []:
            cmd += ["--allow-path", str(path)]
        if TEST_MEMORY_LIMIT and TEST_OPERATOR_MEMORY:
            cmd += ["--memory-limit", TEST_MEMORY_LIMIT, "--operator-memory", TEST_OPERATOR_MEMORY]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
        )
        self.first_line = self._first_line(timeout=30)
        m = READY.match(self.first_line)
        assert m, f"unexpected first stdout line: {self.first_line!r}"
        self.address = m.group(1)

    def _first_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.proc.kill()
                raise AssertionError(f"server did not print its address within {timeout}s")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"server exited early with code {self.proc.wait()}")
            buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server ignored SIGTERM for {timeout}s") from None
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A ``slipstream serve`` process shared by the session; it may read the
    session's temporary directories (where tests write their files)."""
    root = tmp_path_factory.mktemp("server")
    s = ServerProcess(root / "data", root / "server.log", allow=[tmp_path_factory.getbasetemp()])
    yield s
    s.stop()


@pytest.fixture(scope="session")
def remote_client(server: ServerProcess) -> Iterator[sl.Client]:
    with sl.connect(server.address) as c:
        yield c


@pytest.fixture(scope="session")
def local_client() -> Iterator[sl.Client]:
    """A node started by ``sl.connect()`` from the installed binary."""
    with sl.connect(memory_limit=TEST_MEMORY_LIMIT, tls=TEST_TLS) as c:
        yield c


@pytest.fixture(scope="session")
def cluster_client() -> Iterator[sl.Client]:
    """Three node processes on loopback (``sl.connect(nodes=3)``), with small
    partitions so that even test tables are spread over every node."""
    old = os.environ.get("SLIPSTREAM_PART_ROWS")
    os.environ["SLIPSTREAM_PART_ROWS"] = "700"
    try:
        c = sl.connect(nodes=3, memory_limit=TEST_MEMORY_LIMIT, tls=TEST_TLS)
    finally:
        if old is None:
            del os.environ["SLIPSTREAM_PART_ROWS"]
        else:
            os.environ["SLIPSTREAM_PART_ROWS"] = old
    with c:
        yield c


@pytest.fixture(scope="session", params=["local", "cluster"])
def cl(request: pytest.FixtureRequest) -> sl.Client:
    """Each query test runs on one node and on a three-node cluster."""
    return request.getfixturevalue(f"{request.param}_client")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def alltypes() -> pa.Table:
    return make_alltypes(3000, seed=7)


@pytest.fixture(scope="session")
def t(cl: sl.Client, alltypes: pa.Table) -> sl.DataFrame:
    """The alltypes table stored on the node under test."""
    return cl.from_arrow(alltypes, name="alltypes", mode="replace")
