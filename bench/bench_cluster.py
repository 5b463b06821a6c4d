"""The price of distribution, and of a node's death.

    python bench/bench_cluster.py                      # TPC-H scale factor 1
    python bench/bench_cluster.py --scale 0.1 --queries 1,3,6 --repeat 3

On the same machine and the same Parquet files, each TPC-H query runs on one
node and on a three-node cluster on loopback (``sl.connect(nodes=3)``); it
prints seconds (best of --repeat), the ratio three/one, and the bytes the
cluster shuffled between stages. Then it runs a query on a three-node cluster,
kills a node that is not the coordinator with SIGKILL in the middle, and
prints how long the cluster took to mark it failed and the query to finish
(and checks the answer is unchanged).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "tpch"))
from data import ensure
from queries import QUERIES, TABLES
from run import best_of

import slipstream as sl
from slipstream._node import find_binary


def price_of_distribution(data: Path, queries: list[int], repeat: int) -> None:
    files = {t: str(data / f"{t}.parquet") for t in TABLES}
    one, three = sl.connect(allow_paths=[data]), sl.connect(nodes=3, allow_paths=[data])
    frames = {
        name: {t: cl.read_parquet(p) for t, p in files.items()}
        for name, cl in (("one", one), ("three", three))
    }
    print(f"{'query':>5} {'1 node s':>9} {'3 nodes s':>10} {'ratio':>6} {'shuffled MB':>12}")
    ratios = []
    for q in queries:
        build = QUERIES[q][0]
        t1, _ = best_of(repeat, lambda b=build: b(frames["one"], sl).to_arrow())
        t3, _ = best_of(repeat, lambda b=build: b(frames["three"], sl).to_arrow())
        shuffled = three.query_status()["bytes_shuffled"] / 1e6
        ratios.append(t3 / t1)
        print(f"{'q' + str(q):>5} {t1:9.3f} {t3:10.3f} {t3 / t1:6.2f} {shuffled:12.1f}", flush=True)
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"geometric mean of 3-node / 1-node time: {geo:.2f}")
    one.close()
    three.close()


NODE_LINE = re.compile(r"^slipstream: node (\S+) serving on (\S+) \(pid (\d+)\)")


def time_to_recover(data: Path, query: int) -> None:
    tmp = tempfile.mkdtemp(prefix="slipstream-bench-")
    proc = subprocess.Popen(
        [find_binary(), "local", "--nodes", "3", "--data-dir", tmp, "--allow-path", str(data)],
        stdout=subprocess.PIPE,
        stderr=open(os.path.join(tmp, "log"), "wb"),  # noqa: SIM115
        text=True,
    )
    nodes: dict[str, tuple[str, int]] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        m = NODE_LINE.match(line)
        if m:
            nodes[m.group(1)] = (m.group(2), int(m.group(3)))
        if line.startswith("slipstream: cluster of"):
            break
    try:
        files = {t: str(data / f"{t}.parquet") for t in TABLES}
        cl = sl.connect(nodes["n1"][0])
        frames = {t: cl.read_parquet(p) for t, p in files.items()}
        build = QUERIES[query][0]
        want = build(frames, sl).to_arrow()
        started = time.perf_counter()
        build(frames, sl).to_arrow()
        normal = time.perf_counter() - started
        box: dict[str, Any] = {}

        def run() -> None:
            box["result"] = build(frames, sl).to_arrow()
            box["done"] = time.perf_counter()

        worker = threading.Thread(target=run)
        started = time.perf_counter()
        worker.start()
        time.sleep(normal / 3)
        os.kill(nodes["n2"][1], signal.SIGKILL)
        killed = time.perf_counter()
        watcher = sl.connect(nodes["n3"][0])
        while any(m["name"] == "n2" and m["state"] == "alive" for m in watcher.cluster()):
            time.sleep(0.05)
        detected = time.perf_counter() - killed
        worker.join()
        status = cl.query_status()
        retried = sum(1 for r in status["receipts"] if r["attempt"] > 0)
        print(
            f"q{query}: {normal:.2f}s undisturbed; n2 killed {killed - started:.2f}s in; "
            f"marked failed by gossip {detected:.2f}s after the kill; "
            f"query finished {box['done'] - killed:.2f}s after the kill "
            f"({box['done'] - started:.2f}s in all, {retried} task attempts re-run); "
            f"same answer: {box['result'].equals(want)}"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1)
    ap.add_argument("--queries", default=",".join(str(q) for q in sorted(QUERIES)))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--kill-query", type=int, default=9)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "slipstream" / "tpch")
    args = ap.parse_args()
    data = ensure(args.scale, args.cache)
    price_of_distribution(data, [int(q) for q in args.queries.split(",")], args.repeat)
    time_to_recover(data, args.kill_query)


if __name__ == "__main__":
    main()
