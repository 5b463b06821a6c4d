"""Acknowledged means replicated: real node processes killed mid-upload,
copies damaged and removed on disk, and what a user sees afterwards.

An upload is acknowledged only when every partition is durable on
``--min-replicas`` nodes; a read goes to each holder in turn; a node repairs
its missing or damaged copies from a replica.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from test_cluster import Cluster, alive, wait_for

import slipstream as sl
from slipstream import col

PARTS = ("--part-rows", "2000")


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    yield c
    c.stop()


def batch(seed: int, rows: int = 9_000) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": pa.array(np.arange(rows) + seed * 1_000_000, pa.int64()),
            "v": pa.array(rng.integers(-1000, 1000, rows), pa.int64()),
        }
    )


def summary(t: pa.Table) -> tuple[int, int, int]:
    return (t.num_rows, pc.sum(t["id"]).as_py() or 0, pc.sum(t["v"]).as_py() or 0)


def read_summary(df: sl.DataFrame) -> tuple[int, int, int]:
    got = df.select(
        sl.len().alias("n"), col("id").sum().alias("ids"), col("v").sum().alias("vs")
    ).to_arrow()
    return (got["n"][0].as_py(), got["ids"][0].as_py() or 0, got["vs"][0].as_py() or 0)


def part_files(node_dir: Path) -> list[Path]:
    return sorted((node_dir / "parts").glob("*.arrow"))


# The soak (make soak-replicas) runs the kill test for many more rounds.
ROUNDS = int(os.environ.get("SLIPSTREAM_SOAK_ROUNDS", "4"))
SEED = int(os.environ.get("SLIPSTREAM_SOAK_SEED", "17"))


def test_kill_9_during_uploads_loses_no_acknowledged_row(nodes: Cluster) -> None:
    """The issue's scenario: uploads, appends and CREATE TABLE AS through one
    node while another is killed with SIGKILL at a random moment and restarted, round
    after round (the node uploaded through and the one killed change at
    random). Afterwards every acknowledged upload is whole with any one node
    down, and a refused one is not visible at all."""
    for i in (1, 2, 3):
        nodes.add(f"n{i}", *PARTS)
    # n1 joined no one when it started: on a restart it joins n2.
    nodes.nodes["n1"].args += ["--join", nodes.nodes["n2"].gossip]
    rng = random.Random(SEED)
    acked: dict[str, tuple[int, int, int]] = {}
    refused: list[str] = []
    with sl.connect(nodes.nodes["n1"].address) as cl:
        wait_for("three nodes alive", lambda: alive(cl) == ["n1", "n2", "n3"])
        cl.from_arrow(batch(0), name="log")
        acked["log"] = summary(batch(0))
        seed = batch(1)
        cl.from_arrow(seed, name="seed")
        acked["seed"] = summary(seed)
        positive = summary(seed.filter(pc.greater(seed["v"], 0)))
    for rnd in range(ROUNDS):
        through, victim = (nodes.nodes[n] for n in rng.sample(["n1", "n2", "n3"], 2))
        stop = threading.Event()
        errors: list[BaseException] = []

        def upload(
            rnd: int = rnd,
            stop: threading.Event = stop,
            errors: list[BaseException] = errors,
            address: str = through.address,
        ) -> None:
            i = 0
            with sl.connect(address) as cl:
                while not stop.is_set():
                    name, data = f"r{rnd}_{i}", batch(rnd * 100 + i)
                    try:
                        if i % 4 == 2:  # an append to one table, acknowledged or not
                            cl.from_arrow(data, name="log", mode="append")
                            old = acked["log"]
                            new = summary(data)
                            acked["log"] = (old[0] + new[0], old[1] + new[1], old[2] + new[2])
                        elif i % 4 == 3:  # a query's result stored by the nodes
                            cl.execute(f"CREATE TABLE {name} AS SELECT id, v FROM seed WHERE v > 0")
                            acked[name] = positive
                        else:
                            cl.from_arrow(data, name=name)
                            acked[name] = summary(data)
                    except sl.UnavailableError as e:
                        refused.append(name if i % 4 != 2 else f"append {name}")
                        # A stored query result may also lose a node mid-query.
                        assert "refused" in str(e) or i % 4 == 3, e
                    except BaseException as e:  # reported below
                        errors.append(e)
                        return
                    i += 1

        th = threading.Thread(target=upload, daemon=True)
        th.start()
        try:
            time.sleep(rng.uniform(0.2, 1.5))
            victim.kill()
            time.sleep(rng.uniform(0.5, 2.0))
            victim.restart()
            time.sleep(rng.uniform(0.2, 1.0))
        finally:  # a failed restart must not leave the uploads running
            stop.set()
            th.join(60)
        assert not errors, f"round {rnd} through {through.name}, {victim.name} killed: {errors}"
        with sl.connect(through.address) as cl:
            wait_for("every node alive again", lambda cl=cl: alive(cl) == ["n1", "n2", "n3"])
    assert len(acked) > 2 * ROUNDS, f"too few uploads were acknowledged to test anything: {acked}"
    print(f"\n{len(acked)} tables acknowledged over {ROUNDS} rounds, refused: {refused}")

    for down in ("n1", "n2", "n3"):
        nodes.nodes[down].kill()
        ask = nodes.nodes["n2" if down == "n1" else "n1"]
        with sl.connect(ask.address) as cl:
            wait_for(
                f"{ask.name} to know every acknowledged table",
                lambda cl=cl: {t.name for t in cl.tables()} >= set(acked),
            )
            names = {t.name for t in cl.tables()}
            assert names == set(acked), f"with {down} down: visible {names ^ set(acked)}"
            for name, want in acked.items():
                assert read_summary(cl.table(name)) == want, f"{name} with {down} down"
            # Refused uploads are not visible, not even in part.
            for name in refused:
                assert name.startswith("append") or name not in names
        nodes.nodes[down].restart()
        for n in nodes.nodes.values():  # every node sees every other again
            with sl.connect(n.address) as cl:
                wait_for(f"{n.name} to see all alive", lambda cl=cl: len(alive(cl)) == 3)


def test_an_upload_is_refused_when_too_few_nodes_can_hold_it(nodes: Cluster) -> None:
    for i in (1, 2, 3):
        nodes.add(f"n{i}", *PARTS, "--min-replicas", "2")
    with sl.connect(nodes.nodes["n1"].address) as cl:
        cl.from_arrow(batch(1), name="kept")
        nodes.nodes["n2"].kill()
        nodes.nodes["n3"].kill()
        for _ in range(2):  # before and after the cluster notices
            with pytest.raises(sl.UnavailableError, match=r"refused: partition 0 .* 2 copies"):
                cl.from_arrow(batch(2), name="lost")
            with pytest.raises(sl.UnavailableError, match="refused"):
                cl.from_arrow(batch(3), name="kept", mode="append")
            wait_for("n2 and n3 marked failed", lambda: alive(cl) == ["n1"])
        assert [t.name for t in cl.tables()] == ["kept"]


def test_flipped_bits_are_detected_reported_and_repaired(nodes: Cluster) -> None:
    for i in (1, 2, 3):
        nodes.add(f"n{i}", *PARTS)
    data = batch(5, rows=40_000)
    with sl.connect(nodes.nodes["n1"].address) as cl:
        t = cl.from_arrow(data, name="t")
        n2_dir = nodes.root / "n2"
        files = part_files(n2_dir)
        assert files, "n2 holds no partition"
        original = {f: f.read_bytes() for f in files}
        rng = random.Random(3)
        for f in files:
            raw = bytearray(original[f])
            pos = rng.randrange(len(raw))
            raw[pos] ^= 1 << rng.randrange(8)
            f.write_bytes(bytes(raw))
        # With n3 down, what n2 shares with n3 has no good copy left: the
        # query fails at once, naming a partition and both holders.
        nodes.nodes["n3"].kill()
        with pytest.raises(sl.UnavailableError, match=r"partition \d+ of table \"t\" is lost.*n2"):
            read_summary(t)
        log = nodes.nodes["n2"].log_text()
        assert "damaged" in log and str(n2_dir / "parts") in log
        # n3 comes back: n2 repairs every damaged copy from a replica.
        nodes.nodes["n3"].restart()
        wait_for(
            "n2's copies repaired",
            lambda: all(f.exists() and f.read_bytes() == original[f] for f in files),
            timeout=60,
        )
        assert read_summary(t) == summary(data)
        # Each damaged copy was repaired, whether a read or a check found it.
        nodes.nodes["n1"].kill()
        with sl.connect(nodes.nodes["n2"].address) as c2:
            assert read_summary(c2.table("t")) == summary(data)


def test_a_restarted_node_fetches_the_copies_it_lost(nodes: Cluster) -> None:
    for i in (1, 2, 3):
        nodes.add(f"n{i}", *PARTS)
    data = batch(7, rows=20_000)
    with sl.connect(nodes.nodes["n1"].address) as cl:
        cl.from_arrow(data, name="t")
        n2 = nodes.nodes["n2"]
        n2.kill()
        files = part_files(nodes.root / "n2")
        assert len(files) >= 2
        saved = {f: f.read_bytes() for f in files}
        for f in files[::2]:
            f.unlink()
        files[1].write_bytes(b"\0" * len(saved[files[1]]))  # damaged while down
        # While n2 is down, the cluster shows its partitions under-replicated.
        under = wait_for(
            "n2's partitions shown under-replicated",
            lambda: [u for u in cl.cluster().under_replicated if "n2" in u["holders"]],
        )
        assert all(u["table"] == "t" and "n2" not in u["alive_holders"] for u in under)
        n2.restart()
        wait_for(
            "n2 to fetch its lost copies",
            lambda: all(f.exists() and f.read_bytes() == saved[f] for f in files),
            timeout=60,
        )
        assert "repaired a partition" in n2.log_text()
        wait_for("nothing under-replicated", lambda: not cl.cluster().under_replicated)
        with sl.connect(n2.address) as c2:
            view = c2.cluster()
            assert view.repairs_pending == 0 and view.repaired >= len(files[::2]) + 1
            assert view.min_replicas == 2
    # n2 alone with n1 down serves what it held.
    nodes.nodes["n1"].kill()
    with sl.connect(nodes.nodes["n2"].address) as c2:
        assert read_summary(c2.table("t")) == summary(data)


def test_a_node_gone_past_the_grace_period_is_re_replicated(nodes: Cluster) -> None:
    """n3 is lost for good: its partitions are copied from the survivors,
    paced by --repair-rate, and the cluster status and a query's status show
    what is short of copies and what is being copied until it is done."""
    for i in (1, 2, 3):
        nodes.add(f"n{i}", *PARTS, "--repair-grace", "2s", "--repair-rate", "32KiB")
    data = batch(9, rows=30_000)
    with sl.connect(nodes.nodes["n1"].address) as cl:
        t = cl.from_arrow(data, name="t")
        nodes.nodes["n3"].kill()  # for good
        # Watch the copies in progress from now on (n1 drives them, one at a
        # time, each for some 1 s at 32KiB/s).
        seen: list[dict] = []
        done = threading.Event()

        def watch() -> None:
            with sl.connect(nodes.nodes["n1"].address) as c:
                while not done.is_set():
                    seen.extend(c.cluster().repairs)
                    time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        wait_for("n3's partitions shown under-replicated", lambda: cl.cluster().under_replicated)
        assert read_summary(t) == summary(data)
        status = cl.query_status()
        assert status["under_replicated"], status
        assert all(u["table"] == "t" for u in status["under_replicated"])
        view = cl.cluster()
        shown = [u["partition"] for u in view.under_replicated]
        assert view.tables["t"]["under_replicated"] == shown
        try:
            wait_for("replication restored", lambda: not cl.cluster().under_replicated, timeout=90)
        finally:
            done.set()
            watcher.join()
        assert seen, "no copy was shown in progress"
        assert all(c["kind"] == "re-replication" and c["table"] == "t" for c in seen), seen
        assert all(c["to"] in ("n1", "n2") and c["from"] in ("n1", "n2") for c in seen), seen
        view = cl.cluster()
        assert view.re_replicated > 0 and view.tables["t"]["under_replicated"] == []
        assert "re-replicated a partition" in nodes.nodes["n1"].log_text()
        assert read_summary(cl.table("t")) == summary(data)
        assert cl.query_status()["under_replicated"] == []
        wait_for("no copy in progress", lambda: not cl.cluster().repairs)
    # Every partition is now on n1 and n2: either alone reads it whole.
    nodes.nodes["n2"].kill()
    with sl.connect(nodes.nodes["n1"].address) as cl:
        assert read_summary(cl.table("t")) == summary(data)


def test_a_node_joining_a_loaded_cluster_receives_its_share(nodes: Cluster) -> None:
    """Two nodes hold every partition of several tables (replication 2); a
    third joins and the cluster moves partitions to it until placement is
    even, never leaving a partition short of copies, while queries run and
    answer right throughout."""
    for i in (1, 2):
        nodes.add(f"n{i}", *PARTS)
    tables = {f"t{i}": batch(40 + i, rows=20_000) for i in range(4)}
    with sl.connect(nodes.nodes["n1"].address) as cl:
        wait_for("two nodes alive", lambda: alive(cl) == ["n1", "n2"])
        for name, data in tables.items():
            cl.from_arrow(data, name=name)
        copies = sum(m["partitions"] for m in cl.cluster())
        assert copies == 2 * 40, cl.cluster()

        stop = threading.Event()
        errors: list[BaseException] = []
        reads = [0]

        def query() -> None:
            with sl.connect(nodes.nodes["n2"].address) as c2:
                while not stop.is_set():
                    for name, data in tables.items():
                        try:
                            assert read_summary(c2.table(name)) == summary(data), name
                            # The catalog never names fewer than two holders.
                            under = c2.cluster().under_replicated
                            assert all(len(u["holders"]) >= 2 for u in under), under
                        except BaseException as e:  # reported below
                            errors.append(e)
                            return
                        reads[0] += 1

        th = threading.Thread(target=query)
        th.start()
        try:
            nodes.add("n3", *PARTS)

            def even() -> bool:
                view = cl.cluster()
                held = {m["name"]: m["partitions"] for m in view if m["state"] == "alive"}
                return (
                    len(held) == 3
                    and max(held.values()) - min(held.values()) <= 1
                    and sum(held.values()) == copies
                    and not errors
                )

            wait_for("placement even with n3", even, timeout=120)
        finally:
            stop.set()
            th.join(60)
        assert not errors, errors
        assert reads[0] >= len(tables), "no query ran while partitions moved"
        view = cl.cluster()
        assert view.rebalanced >= 26 and not view.under_replicated, view
        assert "moved a partition to even out placement" in nodes.nodes["n1"].log_text()
    # n3's copies are real: with n1 down, n2 and n3 read every table whole.
    nodes.nodes["n1"].kill()
    with sl.connect(nodes.nodes["n3"].address) as c3:
        for name, data in tables.items():
            assert read_summary(c3.table(name)) == summary(data), name
