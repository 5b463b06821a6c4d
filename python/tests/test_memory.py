"""Queries bigger than the memory limit: they spill and answer as in memory.

The node runs as a real process with ``--memory-limit`` well below what the
queries need; its peak resident memory is read from outside the process
(``VmHWM`` in ``/proc/<pid>/status``, and the cgroup's own peak when the
cgroup-v1 memory controller is writable). DuckDB is the oracle.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import slipstream as sl
from slipstream import col
from slipstream._node import find_binary

ROWS = 2_000_000
LIMIT_MIB = 128
# What the work may add to the idle process's resident memory, as a share
# of the limit: the queries' budget, and beyond it the Go runtime's slack,
# gRPC buffers, result batches in flight, spill file buffers. Measured at
# 1.0-1.15x; without spilling these queries add 4-8 times the limit (the
# figures are printed with -s). The idle node (about 50 MiB, most of it the
# binary's own pages, which the kernel may drop) is measured at start and
# left out: the limit is the queries' budget, not the program's size. The
# cgroup's peak also counts the page cache of the spill files, which the
# kernel reclaims under pressure.
MARGIN = 1.3
CGROUP = Path("/sys/fs/cgroup/memory")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rows with one group per row, a key with two rows a group, strings."""
    rng = np.random.default_rng(3)
    ids = rng.permutation(ROWS)
    t = pa.table(
        {
            "id": ids,
            "k": ids // 2,
            "s": pa.array([f"comment {i % 99991} ünïcode {i}" for i in range(ROWS)]),
            "v": rng.random(ROWS),
        }
    )
    path = tmp_path_factory.mktemp("big") / "big.parquet"
    pq.write_table(t, path, row_group_size=256_000)
    return path


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6M rows whose id, k and s columns take about 3x the limit in memory."""
    n = 6_000_000
    ids = np.random.default_rng(5).permutation(n)
    s = pa.array(np.char.add("a longer comment of row number ", ids.astype(str)))
    path = tmp_path_factory.mktemp("wide") / "wide.parquet"
    pq.write_table(pa.table({"id": ids, "k": ids % 1000, "s": s}), path, row_group_size=256_000)
    return path


class Node:
    """``slipstream serve`` with a memory limit, maybe inside a cgroup."""

    def __init__(self, root: Path, *flags: str, cgroup_bytes: int = 0) -> None:
        self.cgroup: Path | None = None
        if cgroup_bytes and os.access(CGROUP, os.W_OK):
            self.cgroup = CGROUP / f"slipstream-test-{uuid.uuid4().hex[:8]}"
            self.cgroup.mkdir()
            (self.cgroup / "memory.limit_in_bytes").write_text(str(cgroup_bytes))
        self.log = open(root / "node.log", "ab")  # noqa: SIM115
        cmd = [
            find_binary(),
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            str(root / "data"),
            "--allow-path",
            tempfile.gettempdir(),
            *flags,
        ]
        if self.cgroup is not None:
            # Enter the cgroup before exec, so that every byte is counted.
            procs = self.cgroup / "cgroup.procs"
            cmd = ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *cmd]
        # Its own limits, also in the suite's tiny-limit mode.
        mode = ("SLIPSTREAM_MEMORY_LIMIT", "SLIPSTREAM_OPERATOR_MEMORY")
        env = {k: v for k, v in os.environ.items() if k not in mode}
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, env=env
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        m = re.search(r"(grpc://\S+)", line)
        assert m, f"node did not start: {line!r}"
        self.address = m.group(1)
        self.spill = root / "data" / "spill"
        self.client = sl.connect(self.address)
        self.idle_rss = self.rss("VmRSS")

    def rss(self, field: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field}")

    def peak_rss(self) -> int:
        return self.rss("VmHWM")

    def cgroup_peak(self) -> int | None:
        if self.cgroup is None:
            return None
        return int((self.cgroup / "memory.max_usage_in_bytes").read_text())

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()
        if self.cgroup is not None:
            self.cgroup.rmdir()


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path, "--memory-limit", f"{LIMIT_MIB}MiB", cgroup_bytes=4 * LIMIT_MIB << 20)
    yield n
    n.stop()


def _group_by(df: sl.DataFrame) -> sl.DataFrame:
    return df.group_by("id").agg(
        col("v").sum().alias("v"), col("s").first().alias("s"), sl.len().alias("n")
    )


def _group_by_sql(path: Path) -> str:
    return f"SELECT id, sum(v) AS v, first(s) AS s, count(*) AS n FROM '{path}' GROUP BY id"


def _pairs(df: sl.DataFrame) -> sl.DataFrame:
    return df.group_by("k").agg(col("s").n_unique().alias("u"), col("v").max().alias("m"))


def _pairs_sql(path: Path) -> str:
    return f"SELECT k, count(DISTINCT s) AS u, max(v) AS m FROM '{path}' GROUP BY k"


def _oracle(sql: str, keys: list[str]) -> pa.Table:
    got = duckdb.sql(sql).arrow()
    table = got.read_all() if hasattr(got, "read_all") else got
    return table.sort_by([(k, "ascending") for k in keys]) if keys else table


def _same(got: pa.Table, want: pa.Table, keys: list[str]) -> None:
    got = got.sort_by([(k, "ascending") for k in keys])
    assert got.num_rows == want.num_rows
    for name in want.column_names:
        a, b = got.column(name).to_pylist(), want.column(name).to_pylist()
        if isinstance(b[0], float):
            assert np.allclose(np.array(a, dtype=float), np.array(b, dtype=float)), name
        else:
            assert a == b, name


def _within(node: Node, what: str) -> None:
    if os.environ.get("SLIPSTREAM_GUARD_FREED"):
        pytest.skip("make test-guard gives every buffer whole pages: the RSS is not the node's")
    peak = node.peak_rss()
    added = peak - node.idle_rss
    bound = LIMIT_MIB * MARGIN * (1 << 20)
    cg = node.cgroup_peak()
    print(
        f"{what}: peak RSS {peak >> 20} MiB ({node.idle_rss >> 20} MiB idle), "
        f"cgroup peak {cg}, limit {LIMIT_MIB} MiB"
    )
    assert added <= bound, (
        f"{what}: peak RSS {peak / 2**20:.0f} MiB is {added / 2**20:.0f} MiB over the idle "
        f"node's {node.idle_rss / 2**20:.0f} MiB, more than {LIMIT_MIB} MiB x {MARGIN}"
    )


def test_group_by_one_group_per_row_spills(node: Node, data: Path) -> None:
    got = _group_by(node.client.read_parquet(str(data))).to_arrow()
    _same(got, _oracle(_group_by_sql(data), ["id"]), ["id"])
    _within(node, "group-by one group per row")


def test_n_unique_per_key_spills(node: Node, data: Path) -> None:
    got = _pairs(node.client.read_parquet(str(data))).to_arrow()
    _same(got, _oracle(_pairs_sql(data), ["k"]), ["k"])
    _within(node, "n_unique per key")


def test_n_unique_of_the_whole_table_spills(node: Node, data: Path) -> None:
    """Two million distinct strings counted over the whole table, from the
    DataFrame API and from SQL (a set of one group could not be split)."""
    df = node.client.read_parquet(str(data))
    got = df.select(col("s").n_unique().alias("u"), col("id").n_unique().alias("i")).to_arrow()
    want = _oracle(f"SELECT count(DISTINCT s) AS u, count(DISTINCT id) AS i FROM '{data}'", [])
    assert got.to_pylist() == want.to_pylist() == [{"u": ROWS, "i": ROWS}]
    sql = node.client.sql(f"SELECT count(DISTINCT s) AS u FROM read_parquet('{data}')")
    assert sql.to_arrow().to_pylist() == [{"u": ROWS}]
    _within(node, "n_unique of the whole table")


def test_median_and_quantile_of_the_whole_table_spill(tmp_path: Path, data: Path) -> None:
    """Two million values at a 16 MiB limit: the values of one group, sorted
    through spill files rather than held; answers as DuckDB's."""
    small = Node(tmp_path, "--memory-limit", "16MiB")
    try:
        df = small.client.read_parquet(str(data))
        got = df.select(
            col("v").median().alias("m"),
            col("v").quantile(0.9, "linear").alias("p90"),
            col("v").quantile(0.25, "nearest").alias("p25"),
        )
        answer = got.to_arrow()
        want = _oracle(
            f"SELECT median(v) AS m, quantile_cont(v, 0.9) AS p90 FROM '{data}'", []
        ).to_pylist()[0]
        row = answer.to_pylist()[0]
        assert row["m"] == pytest.approx(want["m"]) and row["p90"] == pytest.approx(want["p90"])
        values = np.sort(pq.read_table(data, columns=["v"]).column("v").to_numpy())
        assert row["p25"] == values[round(0.25 * (len(values) - 1))]  # polars' "nearest"
        plan = str(df.select(col("v").median()).explain(analyze=True))
        assert "Quantiles" in plan and "spilled=0B" not in plan, plan
        # Medians of two columns beside other aggregates: each column's
        # quantiles sorted apart (through spill files), not one group's state.
        mixed = df.select(
            col("v").median().alias("mv"),
            col("id").quantile(0.9, "linear").alias("p90"),
            col("v").sum().alias("s"),
            col("id").median().alias("mi"),
            sl.len().alias("n"),
        )
        row = mixed.to_arrow().to_pylist()[0]
        want = _oracle(
            "SELECT median(v) AS mv, quantile_cont(id, 0.9) AS p90, sum(v) AS s, "
            f"median(id) AS mi, count(*) AS n FROM '{data}'",
            [],
        ).to_pylist()[0]
        assert row == pytest.approx(want)
        plan = str(mixed.explain(analyze=True))
        sorts = [line for line in plan.splitlines() if "Quantiles quantile" in line]
        assert len(sorts) == 2 and not any("spilled=0B" in line for line in sorts), plan
    finally:
        small.stop()


def test_sort_whole_input_spills(node: Node, data: Path) -> None:
    got = node.client.read_parquet(str(data)).sort("s", "id").select("id", "s").to_arrow()
    want = _oracle(f"SELECT id, s FROM '{data}' ORDER BY s, id", [])
    assert got.column("id").to_pylist() == want.column("id").to_pylist()
    _within(node, "sort of the whole input")


def _self_join(df: sl.DataFrame) -> sl.DataFrame:
    """A join whose build side is the whole input, summed so that the
    answer is small and every build column is used."""
    return df.join(df, on="id").select(
        sl.len().alias("n"),
        col("s_right").str.len_bytes().sum().alias("b"),
        col("k_right").sum().alias("k"),
    )


def test_join_build_side_three_times_the_limit_spills(node: Node, wide: Path) -> None:
    got = _self_join(node.client.read_parquet(str(wide))).to_arrow()
    want = _oracle(
        f"SELECT count(*) AS n, sum(strlen(b.s)) AS b, sum(b.k) AS k "
        f"FROM '{wide}' a JOIN '{wide}' b USING (id)",
        [],
    )
    assert got.to_pylist() == want.to_pylist()
    _within(node, "join with a build side of 3x the limit")


def test_a_huge_query_does_not_starve_a_small_one(node: Node, data: Path) -> None:
    """While a group-by several times the limit spills, small queries on the
    same node keep answering, and both answers are right."""
    import threading

    box: dict[str, object] = {}

    def huge() -> None:
        try:
            box["got"] = _group_by(node.client.read_parquet(str(data))).to_arrow()
        except BaseException as e:  # reported below
            box["error"] = e

    worker = threading.Thread(target=huge)
    worker.start()
    df = node.client.read_parquet(str(data))
    small = 0
    while worker.is_alive() or small == 0:
        got = df.filter(col("id") < 1000).group_by("k").agg(col("v").sum()).to_arrow()
        assert got.num_rows == 500
        small += 1
    worker.join()
    assert "error" not in box, box.get("error")
    got = box["got"]
    assert isinstance(got, pa.Table)
    _same(got, _oracle(_group_by_sql(data), ["id"]), ["id"])
    print(f"small queries answered while the huge one ran: {small}")
    assert small >= 2


def test_cluster_node_short_of_memory_is_not_dead(tmp_path: Path) -> None:
    """A task over its node's budget fails its query with ResourceExhausted;
    no node is taken for dead, tasks are not re-run everywhere, and the
    cluster answers the next query. With spilling on, the same query runs."""
    rng = np.random.default_rng(1)
    path = tmp_path / "f.parquet"
    n = 3_000_000
    pq.write_table(pa.table({"x": rng.random(n), "i": np.arange(n)}), path)
    for spill_limit, fails in ((0, True), (None, False)):
        with sl.connect(
            nodes=3, memory_limit="40MiB", spill_limit=spill_limit, allow_paths=[tmp_path]
        ) as cl:
            q = cl.read_parquet(str(path)).group_by("i").agg(col("x").sum())
            if fails:
                with pytest.raises(sl.ResourceExhaustedError, match="memory-limit"):
                    q.to_arrow()
            else:
                assert q.to_arrow().num_rows == n
            assert [m["state"] for m in cl.cluster()] == ["alive"] * 3
            small = cl.read_parquet(str(path)).filter(col("i") < 3).select("i").sort("i")
            assert small.to_arrow().column("i").to_pylist() == [0, 1, 2]


def test_an_idle_node_gives_memory_back(tmp_path: Path, data: Path) -> None:
    """Go keeps the pages a query freed until its heap nears the limit: a
    node that ran one big query would hold them while idle, beside the
    notebook and the other programs that need them. Idle for a while
    (``--release-memory-after``, 30 s unless set), it gives them back."""
    n = Node(tmp_path, "--memory-limit", "4GiB", "--release-memory-after", "1s")
    try:
        got = _group_by(n.client.read_parquet(data)).to_arrow()
        assert got.num_rows == ROWS
        del got
        grown = n.peak_rss() - n.idle_rss
        assert grown > 200 << 20, f"the query took only {grown >> 20} MiB: nothing to give back"
        deadline = time.monotonic() + 15
        while n.rss("VmRSS") - n.idle_rss > grown // 3 and time.monotonic() < deadline:
            time.sleep(0.25)
        held = n.rss("VmRSS") - n.idle_rss
        print(f"idle node: peak +{grown >> 20} MiB, held after idle +{held >> 20} MiB")
        assert held <= grown // 3, (
            f"idle for 15 s, the node still holds {held >> 20} MiB of the {grown >> 20} MiB "
            "its query took"
        )
    finally:
        n.stop()


def test_without_spilling_the_query_fails_alone(tmp_path: Path, data: Path) -> None:
    """The negative control: the same queries with --spill-limit 0 fail
    with ResourceExhaustedError, and the node goes on serving."""
    n = Node(tmp_path, "--memory-limit", f"{LIMIT_MIB}MiB", "--spill-limit", "0")
    try:
        df = n.client.read_parquet(str(data))
        for q in (_group_by(df), df.sort("s", "id"), _self_join(df)):
            with pytest.raises(sl.ResourceExhaustedError, match="memory-limit"):
                q.to_arrow()
        small = df.filter(col("id") < 10).select("id").sort("id").to_arrow()
        assert small.column("id").to_pylist() == list(range(10))
        assert n.client.health()["status"] == "ok"
    finally:
        n.stop()


def test_spill_folder_is_emptied(tmp_path: Path, data: Path) -> None:
    """Spill files go when the query ends; a folder left by a crash goes at start."""
    left = tmp_path / "data" / "spill" / "1-crashed"
    left.mkdir(parents=True)
    (left / "00001.arrows").write_bytes(b"x" * 100)
    n = Node(tmp_path, "--memory-limit", f"{LIMIT_MIB}MiB")
    try:
        assert not left.exists()
        _group_by(n.client.read_parquet(str(data))).to_arrow()
        assert list((tmp_path / "data" / "spill").iterdir()) == []
    finally:
        n.stop()


# ------------------------------------------------------------ explain(analyze=True)

_FIGURES = re.compile(r"^\s*(?P<op>\S.*?)  peak=(?P<peak>\S+) spilled=(?P<spilled>\S+)$", re.M)
_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def _bytes(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)([KMGT]?i?B)?", text)
    assert m, f"not a size: {text!r}"
    return float(m.group(1)) * _UNITS[m.group(2) or "B"]


def _figures(plan: str, operator: str) -> tuple[float, float]:
    """The peak and spilled bytes on the plan line of ``operator``."""
    for m in _FIGURES.finditer(plan):
        if m.group("op").startswith(operator):
            return _bytes(m.group("peak")), _bytes(m.group("spilled"))
    raise AssertionError(f"no {operator} line with figures in:\n{plan}")


def test_explain_analyze_shows_what_spilled(node: Node, data: Path) -> None:
    df = node.client.read_parquet(str(data))
    for q, operator in ((_group_by(df), "HashAggregate keys=[id]"), (df.sort("s", "id"), "Sort s")):
        plan = q.explain(analyze=True)
        peak, spilled = _figures(plan, operator)
        assert peak > 0 and spilled > 0, plan
        assert f"rows={ROWS} " in plan, plan
        status = node.client.query_status()
        assert status["state"] == "done" and status["rows"] == ROWS
        assert status["spilled_bytes"] >= spilled * 0.99 > 0  # the plan rounds its figures
        ops = [o for o in status["operators"] if o["operator"].startswith(operator)]
        assert ops and sum(o["spilled_bytes"] for o in ops) > 0, status["operators"]
        assert status["plan"] in plan
    # The same node without pressure: a small sort holds its rows, spills nothing.
    small = df.filter(col("id") < 50_000).sort("s")
    plan = small.explain(analyze=True)
    peak, spilled = _figures(plan, "Sort s")
    assert peak > 0 and spilled == 0, plan
    assert "rows=50000 " in plan
    assert node.client.query_status()["spilled_bytes"] == 0


def test_query_status_of_a_collected_query(node: Node, data: Path) -> None:
    got = node.client.read_parquet(str(data)).sort("s", "id").head(3).to_arrow()
    assert got.num_rows == 3
    status = node.client.query_status()
    assert status["state"] == "done" and status["rows"] == 3
    (topk,) = status["operators"]
    assert topk["operator"].startswith("TopK k=3") and topk["peak_bytes"] > 0
    assert node.client.query_status(status["id"]) == status
    with pytest.raises(sl.NotFoundError):
        node.client.query_status("no-such-query")


def test_explain_analyze_on_a_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a cluster the figures come from the tasks on every node, by stage."""
    rng = np.random.default_rng(5)
    n = 200_000
    rows = pa.table({"k": rng.integers(0, n, n), "s": [f"text {i}" for i in range(n)]})
    # Every node's --operator-memory: their aggregates spill on this small table.
    monkeypatch.setenv("SLIPSTREAM_OPERATOR_MEMORY", "256KiB")
    with sl.connect(nodes=2, data_dir=tmp_path) as cl:
        df = cl.from_arrow(rows, name="spread")
        plan = df.group_by("k").agg(col("s").max().alias("m")).explain(analyze=True)
        assert "== memory by stage (analyzed) ==" in plan
        peak, spilled = _figures(plan, "HashAggregate keys=[k]")
        assert peak > 0 and spilled > 0, plan
        status = cl.query_status()
        assert status["state"] == "done" and status["receipts"]
        assert status["spilled_bytes"] > 0
        aggs = [o for o in status["operators"] if o["operator"].startswith("HashAggregate")]
        assert aggs and all(o["count"] >= 1 and o["stage"] >= 0 for o in aggs), status["operators"]
        # Without pressure nothing spills.
        plan = df.filter(col("k") < 100).group_by("k").len().explain(analyze=True)
        assert _figures(plan, "HashAggregate keys=[k]")[1] == 0, plan


# ------------------------------------------------------------ memory_limit on local nodes


def test_connect_starts_a_node_with_a_memory_limit(tmp_path: Path) -> None:
    with sl.connect(memory_limit="64MiB", spill_dir=tmp_path / "spill") as cl:
        (member,) = cl.cluster()
        # The queries' share of the limit: it is what the node's budget holds.
        assert 0 < member["memory_bytes"] <= 64 << 20
        assert (tmp_path / "spill").is_dir()
    with pytest.raises(ValueError, match="spill_dir applies to one node"):
        sl.connect(nodes=2, spill_dir=tmp_path)
    # sizes and remote addresses: test_lifecycle.py


@pytest.mark.skipif(
    not os.environ.get("SLIPSTREAM_TEST_MEMORY_LIMIT"),
    reason="checks the tiny-limit mode (make test-spill)",
)
def test_tiny_limit_mode_reaches_every_node(cl: sl.Client, t: sl.DataFrame) -> None:
    limit = _bytes(os.environ["SLIPSTREAM_TEST_MEMORY_LIMIT"].replace(" ", ""))
    members = cl.cluster()
    assert members
    for m in members:
        assert 0 < m["memory_bytes"] <= limit, m
    if len(members) == 1:  # and its small sorts spill
        plan = t.sort("i64").explain(analyze=True)
        assert _figures(plan, "Sort i64")[1] > 0, plan


# ------------------------------------------------------------ cancel and crash mid-spill

# A client in its own process, as a user's script or notebook would be.
_CLIENT = """
import sys
import slipstream as sl
cl = sl.connect(sys.argv[1])
print("collecting", flush=True)
cl.read_parquet(sys.argv[2]).sort("s", "id").to_arrow()
print("finished", flush=True)
"""


def _spill_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _start_spilling(node: Node, data: Path) -> subprocess.Popen[str]:
    """A client process whose sort is writing spill files on ``node``."""
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, node.address, str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not _spill_files(node.spill):
        if client.poll() is not None:
            raise AssertionError(f"the client ended before the node spilled: {client.stderr}")
        if time.monotonic() > deadline:
            client.kill()
            raise AssertionError("the sort wrote no spill file within 60 s")
        time.sleep(0.02)
    return client


def _until(what: str, ok: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not ok():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["ctrl-c", "client killed"])
def test_cancelled_mid_spill_the_node_frees_everything(node: Node, data: Path, how: str) -> None:
    """Ctrl-C in the client (which cancels its stream) or a client that dies:
    the node stops the query, empties its spill folder and goes on."""
    client = _start_spilling(node, data)
    client.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
    _, err = client.communicate(timeout=15)
    if how == "ctrl-c":
        assert "KeyboardInterrupt" in err
    _until("the spill folder is emptied", lambda: not _spill_files(node.spill))
    _until(
        "the query is recorded as cancelled",
        lambda: node.client.query_status()["state"] == "cancelled",
    )
    status = node.client.query_status()
    assert status["spilled_bytes"] > 0 and status["rows"] == 0
    assert node.client.health()["status"] == "ok"
    df = node.client.read_parquet(str(data))
    small = df.filter(col("id") < 5).sort("id").to_arrow()
    assert small.column("id").to_pylist() == [0, 1, 2, 3, 4]


def test_killed_mid_spill_the_node_restarts_clean(tmp_path: Path, data: Path) -> None:
    """kill -9 while spilling leaves spill files; the restarted node removes
    them before serving, keeps its tables, and runs spilling queries."""
    node = Node(tmp_path, "--memory-limit", f"{LIMIT_MIB}MiB")
    try:
        node.client.from_arrow(pa.table({"x": [1, 2, 3]}), name="kept")
        client = _start_spilling(node, data)
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(10)
        client.communicate(timeout=30)
        assert client.returncode != 0
        assert _spill_files(node.spill), "the crash left no spill file: nothing is tested"
    finally:
        node.stop()
    node = Node(tmp_path, "--memory-limit", f"{LIMIT_MIB}MiB")
    try:
        assert node.spill.is_dir() and list(node.spill.iterdir()) == []
        assert node.client.table("kept").to_arrow().column("x").to_pylist() == [1, 2, 3]
        got = _group_by(node.client.read_parquet(str(data))).to_arrow()
        _same(got, _oracle(_group_by_sql(data), ["id"]), ["id"])
        assert node.client.query_status()["spilled_bytes"] > 0
        assert _spill_files(node.spill) == []
    finally:
        node.stop()
