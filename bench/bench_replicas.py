"""The price of durability and of repair on three local nodes.

    python bench/bench_replicas.py                     # 8 M rows, 3 uploads each; SF1 lineitem
    python bench/bench_replicas.py --rows 2000000 --repeat 5 --rates 64MiB

Upload throughput: each configuration starts its own ``slipstream local
--nodes 3`` (same binary, same machine, one after the other) with
``--replication W --min-replicas W``, uploads the same table --repeat times
through one node and prints the best MB/s (Arrow bytes of the table over the
time until the upload is acknowledged, i.e. every partition fsynced on W
nodes).

Repair: for each --repair-rate in --rates, a W=2 cluster with
``--repair-grace 1s`` stores TPC-H lineitem at SF1 (6 M rows, generated once
with tpchgen-cli into --cache), then n3 is killed with SIGKILL for good and
the script polls ``cl.cluster()`` until nothing is under-replicated. It
prints the time from the kill to full replication (failure detection and the
grace included), the repair throughput (MB of the files n3 held over the time
from the first copy to the last) and the median time of an aggregate over
lineitem before the loss; then once more at the first rate with that
aggregate run over and over beside the copies, and its median time then.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent / "tpch"))
from data import ensure

import slipstream as sl
from slipstream import col
from slipstream._node import find_binary

NODE = re.compile(r"^slipstream: node (\S+) serving on (\S+) \(pid (\d+)\)$")
READY = re.compile(r"^slipstream: cluster of \d+ nodes ready")


def table(rows: int) -> pa.Table:
    rng = np.random.default_rng(1)
    return pa.table(
        {
            "id": pa.array(np.arange(rows), pa.int64()),
            "x": pa.array(rng.random(rows)),
            "k": pa.array(rng.integers(0, 1000, rows), pa.int32()),
            "s": pa.array(rng.choice(["alpha", "beta", "gamma", "delta"], rows)),
        }
    )


class Local:
    """``slipstream local --nodes 3`` with extra serve flags."""

    def __init__(self, data: Path, flags: list[str]) -> None:
        cmd = [find_binary(), "local", "--nodes", "3", "--data-dir", str(data)]
        cmd += ["--serve-args", " ".join(flags)]
        self.log = open(data.parent / f"{data.name}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL
        )
        self.nodes: dict[str, tuple[str, int]] = {}
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf, deadline = b"", time.monotonic() + 60
        while True:
            if b"\n" not in buf:
                if time.monotonic() > deadline or not sel.select(5):
                    raise RuntimeError("the local cluster did not start")
                buf += os.read(self.proc.stdout.fileno(), 4096)
                continue
            line, buf = buf.split(b"\n", 1)
            text = line.decode()
            if m := NODE.match(text):
                self.nodes[m.group(1)] = (m.group(2), int(m.group(3)))
            if READY.match(text):
                break
        self.address = next(iter(self.nodes.values()))[0]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def upload_throughput(root: Path, w: int, data: pa.Table, repeat: int) -> float:
    local = Local(root / f"w{w}", ["--replication", str(w), "--min-replicas", str(w)])
    try:
        with sl.connect(local.address) as cl:
            while len([m for m in cl.cluster() if m["state"] == "alive"]) < 3:
                time.sleep(0.2)
            best = float("inf")
            for i in range(repeat):
                start = time.perf_counter()
                cl.from_arrow(data, name=f"t{i}")
                best = min(best, time.perf_counter() - start)
        return data.nbytes / 1e6 / best
    finally:
        local.stop()


def aggregate(cl: sl.Client) -> float:
    """Seconds of one aggregate over lineitem."""
    start = time.perf_counter()
    cl.table("lineitem").group_by("l_returnflag").agg(col("l_extendedprice").sum()).to_arrow()
    return time.perf_counter() - start


def re_replication(root: Path, data: pa.Table, rate: str, queries: bool) -> None:
    where = root / f"loss-{rate}-{queries}"
    local = Local(where, ["--repair-grace", "1s", "--repair-rate", rate])
    try:
        with sl.connect(local.address) as cl:  # n1: it drives re-replication
            while len([m for m in cl.cluster() if m["state"] == "alive"]) < 3:
                time.sleep(0.2)
            cl.from_arrow(data, name="lineitem")
            idle = statistics.median(aggregate(cl) for _ in range(5))
            lost = sum(f.stat().st_size for f in (where / "n3" / "parts").glob("*.arrow"))
            os.kill(local.nodes["n3"][1], signal.SIGKILL)
            killed = time.perf_counter()
            copying = threading.Event()
            stop = threading.Event()
            during: list[float] = []

            def query() -> None:
                with sl.connect(local.address) as c:
                    copying.wait()
                    while not stop.is_set():
                        t = aggregate(c)
                        if not stop.is_set():
                            during.append(t)

            th = threading.Thread(target=query)
            if queries:
                th.start()
            first = None
            while True:
                view = cl.cluster()
                if first is None and (view.re_replicated > 0 or view.repairs):
                    first = time.perf_counter()
                    copying.set()
                if not view.under_replicated and first is not None:
                    break
                time.sleep(0.05)
            done = time.perf_counter()
            stop.set()
            copying.set()
            if queries:
                th.join()
        busy = f"{statistics.median(during):.2f} s ({len(during)})" if during else "-"
        print(
            f"{rate:>9} {'yes' if queries else 'no':>8} {lost / 1e6:8.0f} {done - killed:9.1f} "
            f"{lost / 1e6 / max(done - first, 1e-3):8.1f} {idle:8.2f} s {busy:>14}",
            flush=True,
        )
    finally:
        local.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=8_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rates", default="64MiB,1GiB", help="--repair-rate values to time repair at")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "slipstream" / "tpch")
    args = ap.parse_args()
    data = table(args.rows)
    root = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    try:
        print(f"upload of {args.rows:,} rows ({data.nbytes / 1e6:.0f} MB) to three local nodes")
        print(f"{'copies':>6} {'MB/s':>8}")
        rates = {}
        for w in (1, 2):
            rates[w] = upload_throughput(root, w, data, args.repeat)
            print(f"{'W=' + str(w):>6} {rates[w]:8.1f}", flush=True)
        print(f"W=2 / W=1 throughput: {rates[2] / rates[1]:.2f}")
        del data
        lineitem = pq.read_table(ensure(1, args.cache) / "lineitem.parquet")
        print(
            f"\nn3 lost for good, SF1 lineitem ({lineitem.num_rows:,} rows, "
            f"{lineitem.nbytes / 1e6:.0f} MB) stored with 2 copies; aggregate over lineitem:"
        )
        print(
            f"{'rate':>9} {'queries':>8} {'lost MB':>8} {'full in s':>9} {'MB/s':>8} "
            f"{'idle':>10} {'during (n)':>14}"
        )
        rates = args.rates.split(",")
        for rate in rates:
            re_replication(root, lineitem, rate, queries=False)
        re_replication(root, lineitem, rates[0], queries=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
