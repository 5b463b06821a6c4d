"""Time from Ctrl-C to every node idle, on a local cluster (median of N runs).

Usage: python scripts/cancel_latency.py [--nodes 3] [--runs 20]

Each run starts the long join of python/tests/test_steer.py, sends this
process SIGINT after a second, and measures from the signal to (1) the
query's status saying ``cancelled`` (every node has stopped its tasks and
freed what they held) and (2) every node process using under 0.05 cores over
a 100 ms window, read from /proc/<pid>/stat.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python" / "tests"))

import pyarrow as pa
import test_steer as ts


def main() -> None:
    """Run the measurement and print the medians."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    cl = ts._connect(args.nodes)
    n = 200_000
    big = pa.table(
        {
            "a": pa.array(range(n), pa.int64()),
            "b": pa.array([i % 13 for i in range(n)], pa.int64()),
        }
    )
    cl.from_arrow(big, name="big")
    cl.from_arrow(big.slice(0, 20_000).rename_columns(["c", "d"]), name="small")
    pids = ts.node_pids(cl)
    to_cancelled, to_idle, to_raise = [], [], []
    for _ in range(args.runs):
        sent: list[float] = []

        def interrupt(sent: list[float] = sent) -> None:
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Timer(1.0, interrupt)
        timer.start()
        try:
            ts.long_query(cl).to_arrow(progress=False)
            raise SystemExit("the query ended before the interrupt: make it longer")
        except KeyboardInterrupt:
            to_raise.append(time.monotonic() - sent[0])
        timer.join()
        query_id = cl.last_query_id or ""
        while cl.query_status(query_id)["state"] != "cancelled":
            time.sleep(0.005)
        to_cancelled.append(time.monotonic() - sent[0])
        while sum(ts.cpu_use(pids, 0.1)) >= 0.05 * len(pids):
            pass
        to_idle.append(time.monotonic() - sent[0])
    cl.close()

    def ms(xs: list[float]) -> str:
        return f"median {1000 * statistics.median(xs):.0f} ms, max {1000 * max(xs):.0f} ms"

    print(f"{args.nodes} nodes, {args.runs} runs, interrupted after 1 s")
    print(f"Ctrl-C to KeyboardInterrupt raised: {ms(to_raise)}")
    print(f"Ctrl-C to status cancelled:         {ms(to_cancelled)}")
    print(f"Ctrl-C to every node idle:          {ms(to_idle)} (end of the first idle 100 ms)")


if __name__ == "__main__":
    main()
