"""TPC-H under a memory limit: Slipstream against DuckDB with the same limit, 2 threads each.

    python bench/tpch/memory.py --scale 10 --limits 2GiB,4GiB
    python bench/tpch/memory.py --scale 1 --limits 256MiB --queries 1,9,18

For every limit, a Slipstream node runs with ``--memory-limit`` and a DuckDB
worker process with ``memory_limit`` and a temp directory; each query runs on
one then the other. Per query it prints both times and their ratio, each
engine's peak resident memory during that query, read from outside the
process (``VmHWM``, reset before each query through ``/proc/<pid>/clear_refs``),
the most bytes Slipstream had in its spill folder at once (sampled), and
whether the answers agree. A query that fails (``ResourceExhaustedError``, a
node killed) is reported and the run goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pyarrow as pa
import pyarrow.ipc as ipc
from data import ensure
from queries import QUERIES, TABLES
from run import differs

import slipstream as sl
from slipstream._node import find_binary

THREADS = 2

# The DuckDB side: a process of its own so that its memory is its own.
WORKER = r"""
import pickle, sys, time, duckdb, pyarrow.ipc as ipc
files, limit, tmp, threads = pickle.loads(bytes.fromhex(sys.argv[1]))
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET enable_progress_bar = false")
con.execute(f"SET memory_limit = '{limit}'")
con.execute(f"SET temp_directory = '{tmp}'")
for t, p in files.items():
    con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{p}')")
print("ready", flush=True)
for line in sys.stdin:
    sql, out = pickle.loads(bytes.fromhex(line.strip()))
    started = time.perf_counter()
    try:
        table = con.sql(sql).to_arrow_table()
        took = time.perf_counter() - started
        with ipc.new_file(out, table.schema) as w:
            w.write_table(table)
        print(f"ok {took}", flush=True)
    except Exception as e:
        print("error " + f"{type(e).__name__}: {e}".replace(chr(10), " ")[:300], flush=True)
"""


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid: int) -> None:
    """Start a new peak: writing 5 to clear_refs resets VmHWM to the current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def folder_bytes(path: Path) -> int:
    total = 0
    for root, _, names in os.walk(path):
        for n in names:
            with contextlib.suppress(OSError):  # a file removed meanwhile
                total += os.stat(os.path.join(root, n)).st_size
    return total


class SpillSampler:
    """The most bytes seen in a folder, sampled every 50 ms while running."""

    def __init__(self, path: Path) -> None:
        self.path, self.peak, self._stop = path, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, folder_bytes(self.path))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


class Node:
    def __init__(self, limit: str, data: Path, root: Path) -> None:
        self.root = root
        self.log = open(root / "node.log", "ab")  # noqa: SIM115
        cmd = [
            find_binary(),
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            str(root / "data"),
            "--allow-path",
            str(data),
            "--memory-limit",
            limit,
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL
        )
        assert self.proc.stdout is not None
        m = re.search(r"(grpc://\S+)", self.proc.stdout.readline().decode())
        if not m:
            raise RuntimeError(f"node did not start; see {root / 'node.log'}")
        self.client = sl.connect(m.group(1))
        self.frames = {t: self.client.read_parquet(str(data / f"{t}.parquet")) for t in TABLES}

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


class Duck:
    def __init__(self, limit: str, data: Path, tmp: Path) -> None:
        files = {t: str(data / f"{t}.parquet") for t in TABLES}
        duck_limit = limit.replace("iB", "B")  # DuckDB's sizes: "2GB" is 2 GiB there
        arg = pickle.dumps((files, duck_limit, str(tmp), THREADS)).hex()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, arg],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        self.out = tmp / "result.arrow"

    def run(self, sql: str) -> tuple[float, pa.Table]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(pickle.dumps((sql, str(self.out))).hex() + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        if not reply.startswith("ok "):
            raise RuntimeError(reply or "the DuckDB worker died")
        with ipc.open_file(str(self.out)) as r:
            return float(reply[3:]), r.read_all()

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(60)


def mib(n: int) -> str:
    return f"{n / 2**20:8.0f}"


def run_limit(limit: str, data: Path, numbers: list[int]) -> None:
    root = Path(tempfile.mkdtemp(prefix="slipstream-membench-"))
    (root / "duck").mkdir()
    node, duck = Node(limit, data, root), Duck(limit, data, root / "duck")
    print(f"\n--memory-limit {limit} (DuckDB memory_limit the same), {THREADS} threads each")
    print(
        f"{'query':6}{'slip s':>9}{'duck s':>9}{'ratio':>7}{'slip MiB':>9}{'duck MiB':>9}"
        f"{'spill MiB':>10}  answer"
    )
    ratios, rows = [], []
    for q in numbers:
        build, sql = QUERIES[q]
        reset_peak(node.proc.pid)
        sampler = SpillSampler(root / "data" / "spill")
        started = time.perf_counter()
        got: Any = None
        try:
            got = build(node.frames, sl).to_arrow()
            slip_t = time.perf_counter() - started
            slip = f"{slip_t:9.2f}"
        except Exception as e:  # a failure is a figure too
            slip_t, slip = math.nan, f"{'failed':>9}"
            print(f"  q{q} slipstream: {type(e).__name__}: {str(e)[:300]}", flush=True)
        spill = sampler.stop()
        if node.proc.poll() is not None:
            print(f"  q{q}: the node died (exit {node.proc.returncode}); restarting it")
            node.log.close()
            node = Node(limit, data, root)
            slip_rss = 0
        else:
            slip_rss = peak_rss(node.proc.pid)
        reset_peak(duck.proc.pid)
        want = None
        try:
            duck_t, want = duck.run(sql)
            dk = f"{duck_t:9.2f}"
        except Exception as e:
            duck_t, dk = math.nan, f"{'failed':>9}"
            print(f"  q{q} duckdb: {str(e)[:300]}", flush=True)
        duck_rss = peak_rss(duck.proc.pid)
        answer = "-"
        if got is not None and want is not None:
            why = differs(got, want, "order by" in sql.lower())
            answer = "same" if why is None else f"DIFFERS: {why}"
        ratio = slip_t / duck_t
        if not math.isnan(ratio):
            ratios.append(ratio)
        rows.append((q, slip_rss, duck_rss, spill))
        cells = f"{slip}{dk}{ratio:7.2f}{mib(slip_rss)} {mib(duck_rss)}{mib(spill):>10}"
        print(f"q{q:<5}{cells}  {answer}", flush=True)
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"geomean time ratio slipstream/duckdb over {len(ratios)} queries: {geo:.2f}")
    most = [max(r[i] for r in rows) >> 20 for i in (1, 2, 3)]
    print(f"most peak RSS: slipstream {most[0]} MiB, duckdb {most[1]} MiB; spilled {most[2]} MiB")
    node.stop()
    duck.stop()
    shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=float, default=10.0)
    p.add_argument("--limits", default="2GiB,4GiB", help="comma-separated memory limits")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "slipstream" / "tpch")
    p.add_argument("--queries", help="comma-separated query numbers (default: all)")
    args = p.parse_args()
    numbers = sorted(QUERIES) if not args.queries else [int(q) for q in args.queries.split(",")]
    data = ensure(args.scale, args.cache)
    print(f"TPC-H SF{args.scale:g} from Parquet")
    for limit in args.limits.split(","):
        run_limit(limit.strip(), data, numbers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
