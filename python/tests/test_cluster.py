"""A real cluster: node processes on loopback, killed, restarted and joined.

Each test starts its own ``slipstream serve`` processes so that it can kill
one at an exact moment: ``SLIPSTREAM_FAULT`` makes a node SIGKILL itself
(as ``kill -9`` would) when it reaches a named point of a query.
"""

from __future__ import annotations

import base64
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.flight as fl
import pytest

import slipstream as sl
from slipstream import col
from slipstream._node import find_binary

SERVING = re.compile(r"^slipstream: serving on (grpc://\S+)$")
GOSSIP = re.compile(r"^slipstream: node \S+ gossip on (\S+)$")


class Node:
    """One ``slipstream serve`` process of a test cluster."""

    def __init__(self, root: Path, name: str, *args: str, env: dict[str, str] | None = None):
        self.root, self.name, self.args = root, name, list(args)
        self.start(env)

    def start(
        self,
        env: dict[str, str] | None = None,
        addr: str = "127.0.0.1:0",
        gossip: str = "127.0.0.1:0",
    ) -> None:
        self.log = open(self.root / f"{self.name}.log", "ab")  # noqa: SIM115
        cmd = [find_binary(), "serve", "--addr", addr, "--gossip", gossip]
        cmd += ["--name", self.name, "--data-dir", str(self.root / self.name), *self.args]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        lines = self._lines(2, timeout=30)
        m, g = SERVING.match(lines[0]), GOSSIP.match(lines[1])
        assert m and g, f"unexpected output of {self.name}: {lines}"
        self.address, self.gossip = m.group(1), g.group(1)

    def _lines(self, n: int, timeout: float) -> list[str]:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        deadline = time.monotonic() + timeout
        while buf.count(b"\n") < n:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                # SIGQUIT makes Go write every goroutine's stack to the log:
                # where the start hangs.
                self.proc.send_signal(signal.SIGQUIT)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                log = self.log_text()
                at = log.rfind("goroutine 1 [")
                main = log[at : log.find("\n\n", at)] if at >= 0 else log[-3000:]
                raise AssertionError(f"{self.name} did not start within {timeout}s:\n{main}")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"{self.name} exited early: {self.log_text()[-2000:]}")
            buf += chunk
        return buf.decode().splitlines()[:n]

    def log_text(self) -> str:
        self.log.flush()
        return (self.root / f"{self.name}.log").read_text(errors="replace")

    def restart(self) -> None:
        """Start again as an operator would: same name, data, ports."""
        self.log.close()
        self.start(addr=self.address.removeprefix("grpc://"), gossip=self.gossip)

    def kill(self) -> None:
        """kill -9."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: dict[str, Node] = {}

    def add(self, name: str, *args: str, env: dict[str, str] | None = None) -> Node:
        join = [
            a for n in self.nodes.values() if n.proc.poll() is None for a in ("--join", n.gossip)
        ]
        node = Node(self.root, name, *args, *join[:2], env=env)
        self.nodes[name] = node
        return node

    def stop(self) -> None:
        for n in self.nodes.values():
            n.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    yield c
    c.stop()


def wait_for(what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def alive(cl: sl.Client) -> list[str]:
    return [m["name"] for m in cl.cluster() if m["state"] == "alive"]


ROWS = 120_000


def events(seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 3000, ROWS)
    return pa.table(
        {
            "k": pa.array(k, pa.int64()),
            "v": pa.array(rng.integers(-1000, 1000, ROWS), pa.int64()),
            "s": pa.array(rng.choice(["a", "β", "ü", "long string value"], ROWS)),
        }
    )


def dims() -> pa.Table:
    return pa.table(
        {"k": pa.array(range(0, 3000, 2), pa.int64()), "name": [f"d{i}" for i in range(1500)]}
    )


GROUPED_SQL = "select k, sum(v) as total, count(*) as n from events group by k order by k"
JOINED_SQL = (
    "select name, count(*) as n, sum(v) as total from events join dims using (k) "
    "group by name order by name"
)


def grouped(t: sl.DataFrame) -> sl.DataFrame:
    return t.group_by("k").agg(col("v").sum().alias("total"), sl.len().alias("n")).sort("k")


def joined(t: sl.DataFrame, d: sl.DataFrame) -> sl.DataFrame:
    return (
        t.join(d, on="k")
        .group_by("name")
        .agg(sl.len().alias("n"), col("v").sum().alias("total"))
        .sort("name")
    )


def oracle(sql: str, **tables: pa.Table) -> pa.Table:
    con = duckdb.connect()
    for name, tbl in tables.items():
        con.register(name, tbl)
    return con.sql(sql).to_arrow_table()


def same(got: pa.Table, want: pa.Table) -> None:
    assert got.column_names == want.column_names
    for name in got.column_names:
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name


SMALL_PARTS = ("--part-rows", "10000")
PARTITIONED = ("--broadcast-rows", "-1")  # joins shuffle both sides


def test_results_are_the_same_on_one_and_three_nodes_and_any_partition_count(
    cluster: Cluster, tmp_path: Path
) -> None:
    ev, dm = events(), dims()
    want_grouped = oracle(GROUPED_SQL, events=ev)
    want_joined = oracle(JOINED_SQL, events=ev, dims=dm)
    with sl.connect(data_dir=tmp_path / "one") as one:
        t, d = one.from_arrow(ev, name="events"), one.from_arrow(dm, name="dims")
        same(grouped(t).to_arrow(), want_grouped)
        same(joined(t, d).to_arrow(), want_joined)
    for per_node, extra in ((1, ()), (3, (*PARTITIONED, "--compress"))):
        for i in (1, 2, 3):
            cluster.add(f"p{per_node}n{i}", *SMALL_PARTS, "--tasks-per-node", str(per_node), *extra)
        with sl.connect(cluster.nodes[f"p{per_node}n2"].address) as cl:
            t, d = cl.from_arrow(ev, name="events"), cl.from_arrow(dm, name="dims")
            same(grouped(t).to_arrow(), want_grouped)
            same(joined(t, d).to_arrow(), want_joined)
            status = cl.query_status()
            assert status["state"] == "done"
            assert {r["node"] for r in status["receipts"]} == {
                f"p{per_node}n{i}" for i in (1, 2, 3)
            }
            assert status["bytes_shuffled"] > 0
        cluster.stop()
        cluster.nodes.clear()


def test_uploads_are_sharded_and_replicated(cluster: Cluster) -> None:
    for i in (1, 2, 3):
        cluster.add(f"n{i}", *SMALL_PARTS)
    with sl.connect(cluster.nodes["n1"].address) as cl:
        cl.from_arrow(events(), name="events")
        members = cl.cluster()
        assert [m["state"] for m in members] == ["alive"] * 3
        assert all(m["address"].startswith("grpc://127.0.0.1:") for m in members)
        assert all(m["cores"] >= 1 and m["memory_bytes"] > 0 for m in members)
        # 12 partitions, 2 replicas each, spread over every node.
        held = [m["partitions"] for m in members]
        assert sum(held) == 2 * 12 and min(held) > 0
    # Every node knows the table, whichever was asked.
    for n in cluster.nodes.values():
        with sl.connect(n.address) as cl:
            assert [t.name for t in cl.tables()] == ["events"]
            assert cl.tables()[0].rows == ROWS


def test_every_node_serves_result_partitions_to_a_plain_flight_client(cluster: Cluster) -> None:
    for i in (1, 2, 3):
        cluster.add(f"n{i}", *SMALL_PARTS)
    with sl.connect(cluster.nodes["n1"].address) as cl:
        t = cl.from_arrow(events(), name="events")
        query = t.filter(col("v") > 0).select("k", "v")
        desc = fl.FlightDescriptor.for_command(sl._client._any(query._query()))
    client = fl.connect(cluster.nodes["n3"].address)
    info = client.get_flight_info(desc)
    locations = {ep.locations[0].uri.decode() for ep in info.endpoints}
    assert len(info.endpoints) == 12 and len(locations) == 3
    parts = [
        fl.connect(ep.locations[0].uri.decode()).do_get(ep.ticket).read_all()
        for ep in info.endpoints
    ]
    got = pa.concat_tables(parts)
    assert got.num_rows == info.total_records
    want = events().filter(pa.compute.greater(events().column("v"), 0)).select(["k", "v"])
    assert got.equals(want)  # in table order, endpoint after endpoint


@pytest.mark.parametrize("point", ["task:0", "shuffle-read"])
def test_kill_9_during_a_shuffle_gives_the_same_answer(cluster: Cluster, point: str) -> None:
    ev, dm = events(), dims()
    cluster.add("n1", *SMALL_PARTS, *PARTITIONED)
    cluster.add("n2", *SMALL_PARTS, *PARTITIONED, env={"SLIPSTREAM_FAULT": point})
    cluster.add("n3", *SMALL_PARTS, *PARTITIONED)
    with sl.connect(cluster.nodes["n1"].address) as cl:
        t, d = cl.from_arrow(ev, name="events"), cl.from_arrow(dm, name="dims")
        started = time.monotonic()
        got = joined(t, d).to_arrow()
        took = time.monotonic() - started
        same(got, oracle(JOINED_SQL, events=ev, dims=dm))
        assert cluster.nodes["n2"].proc.wait(10) == -signal.SIGKILL
        status = cl.query_status()
        assert status["state"] == "done"
        on_n2 = [r for r in status["receipts"] if r["node"] == "n2"]
        assert on_n2 and all(r["state"] in ("failed", "lost") for r in on_n2)
        retried = [r for r in status["receipts"] if r["attempt"] > 0]
        assert retried and all(r["node"] != "n2" for r in retried)
        print(
            f"\n{point}: killed mid-query, answered in {took:.2f}s; {len(retried)} attempts re-run"
        )
        # The cluster sees the death, and later queries avoid the node.
        wait_for("n2 to be marked failed", lambda: "n2" not in alive(cl))
        same(grouped(t).to_arrow(), oracle(GROUPED_SQL, events=ev))


def test_a_hung_node_costs_the_failure_detection_time_not_a_hang(cluster: Cluster) -> None:
    ev, dm = events(), dims()
    cluster.add("n1", *SMALL_PARTS, *PARTITIONED)
    cluster.add("n2", *SMALL_PARTS, *PARTITIONED, env={"SLIPSTREAM_FAULT": "stop@task:0"})
    cluster.add("n3", *SMALL_PARTS, *PARTITIONED)
    with sl.connect(cluster.nodes["n1"].address) as cl:
        t, d = cl.from_arrow(ev, name="events"), cl.from_arrow(dm, name="dims")
        started = time.monotonic()
        got = joined(t, d).to_arrow()  # n2 freezes (SIGSTOP) inside its first task
        took = time.monotonic() - started
        same(got, oracle(JOINED_SQL, events=ev, dims=dm))
        assert took < 30
        assert any(
            r["node"] == "n2" and r["state"] == "failed" for r in cl.query_status()["receipts"]
        )
        print(f"\na frozen node cost {took:.2f}s")
    cluster.nodes["n2"].kill()


def test_when_every_replica_is_gone_the_query_fails_fast_naming_what_is_lost(
    cluster: Cluster,
) -> None:
    for i in (1, 2, 3):
        cluster.add(f"n{i}", *SMALL_PARTS, "--replication", "1")
    with sl.connect(cluster.nodes["n1"].address) as cl:
        t = cl.from_arrow(events(), name="events")
        cluster.nodes["n3"].kill()
        started = time.monotonic()
        with pytest.raises(
            sl.UnavailableError, match=r"partition \d+ of table \"events\" is lost.*n3"
        ):
            grouped(t).to_arrow()
        assert time.monotonic() - started < 30
        # The same after the cluster has noticed.
        wait_for("n3 to be marked failed", lambda: "n3" not in alive(cl))
        with pytest.raises(sl.UnavailableError, match="is lost"):
            t.select(sl.len()).to_arrow()


def test_a_plan_error_is_not_taken_for_a_dead_node(cluster: Cluster) -> None:
    for i in (1, 2, 3):
        cluster.add(f"n{i}", *SMALL_PARTS)
    with sl.connect(cluster.nodes["n1"].address) as cl:
        t = cl.from_arrow(events(), name="events")
        with pytest.raises(sl.PlanError, match="cast utf8 to int64"):
            t.select(col("s").cast("int64")).to_arrow()
        status = cl.query_status()
        assert status["state"] == "failed"
        assert all(r["attempt"] == 0 for r in status["receipts"])
        assert alive(cl) == ["n1", "n2", "n3"]


def test_a_node_that_joins_learns_the_catalog_and_gets_work(cluster: Cluster) -> None:
    cluster.add("n1", *SMALL_PARTS)
    cluster.add("n2", *SMALL_PARTS)
    with sl.connect(cluster.nodes["n1"].address) as cl:
        t = cl.from_arrow(events(), name="events")
        want = oracle(GROUPED_SQL, events=events())
        same(grouped(t).to_arrow(), want)
        cluster.add("n3", *SMALL_PARTS)
        wait_for("n3 to be seen alive", lambda: alive(cl) == ["n1", "n2", "n3"])
        with sl.connect(cluster.nodes["n3"].address) as late:
            wait_for("n3 to learn the table", lambda: [x.name for x in late.tables()] == ["events"])
            same(grouped(late.table("events")).to_arrow(), want)
        same(grouped(t).to_arrow(), want)
        assert "n3" in {r["node"] for r in cl.query_status()["receipts"]}


def test_a_restarted_node_keeps_its_data(cluster: Cluster) -> None:
    for i in (1, 2, 3):
        cluster.add(f"n{i}", *SMALL_PARTS, "--replication", "1")
    ev = events()
    with sl.connect(cluster.nodes["n1"].address) as cl:
        t = cl.from_arrow(ev, name="events")
        n2 = cluster.nodes["n2"]
        n2.kill()
        wait_for("n2 to be marked failed", lambda: "n2" not in alive(cl))
        n2.args += ["--join", cluster.nodes["n1"].gossip]
        n2.restart()
        wait_for("n2 to be alive again", lambda: alive(cl) == ["n1", "n2", "n3"])
        # With one replica, every partition n2 held must have survived on its disk.
        same(grouped(t).to_arrow(), oracle(GROUPED_SQL, events=ev))


def test_connect_fails_over_to_the_next_address(cluster: Cluster) -> None:
    for i in (1, 2):
        cluster.add(f"n{i}", *SMALL_PARTS)
    addresses = [cluster.nodes["n1"].address, cluster.nodes["n2"].address]
    with sl.connect(addresses) as cl:
        t = cl.from_arrow(events(), name="events")
        cluster.nodes["n1"].kill()
        same(grouped(t).to_arrow(), oracle(GROUPED_SQL, events=events()))
        assert cl.address == addresses[1]


def test_gossip_encryption(cluster: Cluster) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    cluster.add("n1", "--encrypt-key", key)
    cluster.add("n2", "--encrypt-key", key)
    with sl.connect(cluster.nodes["n1"].address) as cl:
        wait_for("two members", lambda: alive(cl) == ["n1", "n2"])
    other = base64.b64encode(bytes(32)).decode()
    with pytest.raises(AssertionError, match="could not join"):
        cluster.add("n3", "--encrypt-key", other)


def test_local_cluster_from_python(tmp_path: Path) -> None:
    with sl.connect(nodes=3, data_dir=tmp_path) as cl:
        assert alive(cl) == ["n1", "n2", "n3"]
        t = cl.from_arrow(events(), name="events")
        same(grouped(t).to_arrow(), oracle(GROUPED_SQL, events=events()))
