"""End-to-end figures for Slipstream on one node (prints numbers, asserts nothing).

(a) Transfer: upload (``from_arrow``, and ``from_pandas``) and download
    (``to_arrow``) throughput in MB/s of a ~1 GB table through Slipstream,
    against a minimal pyarrow.flight server (defined here, run in its own
    process) that keeps the same table in memory. Ratios are
    Slipstream / baseline (higher is better for Slipstream). Note the
    baseline does less: Slipstream acknowledges an upload only once it is
    durable under its data directory.
(b) Query: a 10-million-row group-by + sort through ``sl.connect()`` against
    DuckDB and polars on the same data, each limited to 2 threads
    (GOMAXPROCS=2 for the node). Ratios are Slipstream time / other time
    (lower is better for Slipstream). The upload is not part of the time.

Usage:
    python bench/bench_e2e.py                       # full size (~1 GB, 10M rows)
    python bench/bench_e2e.py --mb 50 --rows 1e6    # quick
"""

from __future__ import annotations

import os

# Fix the thread budgets before the libraries start their pools.
os.environ.setdefault("POLARS_MAX_THREADS", "2")
os.environ.setdefault("GOMAXPROCS", "2")

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as fl

import slipstream as sl
from slipstream import col

GRPC_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
WORDS = [f"vendor-{i:05d}-ü" for i in range(1000)]


# ---------------------------------------------------------------- baseline Flight server


class BaselineServer(fl.FlightServerBase):
    """The least a Flight server can do: keep uploads in memory and stream them back."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.tables: dict[bytes, pa.Table] = {}

    def do_put(self, context, descriptor, reader, writer):  # type: ignore[no-untyped-def]
        self.tables[descriptor.path[0]] = reader.read_all()
        writer.write(pa.py_buffer(b"stored"))

    def get_flight_info(self, context, descriptor):  # type: ignore[no-untyped-def]
        t = self.tables[descriptor.path[0]]
        ep = fl.FlightEndpoint(descriptor.path[0], [])
        return fl.FlightInfo(t.schema, descriptor, [ep], t.num_rows, t.nbytes)

    def do_get(self, context, ticket):  # type: ignore[no-untyped-def]
        return fl.RecordBatchStream(self.tables[ticket.ticket])


def serve_baseline() -> None:
    server = BaselineServer("grpc://127.0.0.1:0")
    print(server.port, flush=True)
    server.serve()


# ---------------------------------------------------------------- helpers


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def transfer_table(mb: float, seed: int = 0) -> pa.Table:
    """About ``mb`` megabytes of Arrow data: integers, floats and short strings."""
    rng = np.random.default_rng(seed)
    bytes_per_row = 8 + 8 + 4 + 8 + 8 + 4 + 14  # + the string's average length
    n = int(mb * 1e6 / bytes_per_row)
    return pa.table(
        {
            "id": np.arange(n, dtype=np.int64),
            "a": rng.integers(-(10**12), 10**12, n),
            "b": rng.integers(0, 10**6, n, dtype=np.int32),
            "x": rng.normal(size=n),
            "y": rng.random(n),
            "s": pa.array(WORDS).take(pa.array(rng.integers(0, len(WORDS), n))),
        }
    )


def query_table(rows: int, groups: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    keys = pa.array([f"key-{i}" for i in range(groups)])
    return pa.table(
        {
            "k": keys.take(pa.array(rng.integers(0, groups, rows))),
            "x": rng.gamma(2.0, 10.0, rows),
            "y": rng.integers(0, 1000, rows),
        }
    )


def mbps(table: pa.Table, seconds: float) -> float:
    return table.nbytes / 1e6 / seconds


# ---------------------------------------------------------------- (a) transfer


def bench_transfer(cl: sl.Client, mb: float, repeat: int) -> None:
    table = transfer_table(mb)
    size = table.nbytes / 1e6
    print(f"\n(a) transfer: {table.num_rows:,} rows, {size:,.0f} MB in Arrow, best of {repeat}")

    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-baseline"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        base = fl.FlightClient(
            f"grpc://127.0.0.1:{proc.stdout.readline().strip()}", generic_options=GRPC_OPTIONS
        )
        desc = fl.FlightDescriptor.for_path("bench")

        def base_up() -> None:
            writer, ack = base.do_put(desc, table.schema)
            for batch in table.to_batches(max_chunksize=128 * 1024):
                writer.write_batch(batch)
            writer.done_writing()
            ack.read()
            writer.close()

        def base_down() -> pa.Table:
            info = base.get_flight_info(desc)
            return base.do_get(info.endpoints[0].ticket).read_all()

        t_base_up, _ = best_of(repeat, base_up)
        t_base_down, got = best_of(repeat, base_down)
        assert got.num_rows == table.num_rows
        base.close()
    finally:
        proc.kill()
        proc.wait()

    t_up, _ = best_of(repeat, lambda: cl.from_arrow(table, "bench", mode="replace"))
    t_down, got = best_of(repeat, lambda: cl.table("bench").to_arrow())
    if got.num_rows != table.num_rows:
        print(f"  WARNING: downloaded {got.num_rows} rows, expected {table.num_rows}")
    df = table.to_pandas()
    t_pandas, _ = best_of(repeat, lambda: cl.from_pandas(df, "bench_pd", mode="replace"))
    t_to_pandas, _ = best_of(repeat, lambda: cl.table("bench").to_pandas())
    cl.drop("bench_pd")

    rows = [
        ("upload   from_arrow", mbps(table, t_up), mbps(table, t_base_up), t_up),
        ("download to_arrow  ", mbps(table, t_down), mbps(table, t_base_down), t_down),
    ]
    print(f"  {'':22s}{'slipstream':>14s}{'pyarrow.flight':>16s}{'ratio':>8s}")
    for name, ours, theirs, secs in rows:
        print(
            f"  {name:22s}{ours:10,.0f} MB/s{theirs:10,.0f} MB/s{ours / theirs:8.2f}"
            f"   ({secs:.2f}s)"
        )
    print(
        f"  upload   from_pandas {mbps(table, t_pandas):10,.0f} MB/s   ({t_pandas:.2f}s,"
        " pandas -> Arrow conversion included)"
    )
    print(
        f"  download to_pandas   {mbps(table, t_to_pandas):10,.0f} MB/s   ({t_to_pandas:.2f}s,"
        " Arrow -> pandas conversion included)"
    )
    cl.drop("bench")


# ---------------------------------------------------------------- (b) query


def bench_query(cl: sl.Client, rows: int, groups: int, repeat: int) -> None:
    import duckdb
    import polars as pl

    table = query_table(rows, groups)
    print(
        f"\n(b) group-by + sort: {rows:,} rows, {groups:,} groups, 2 threads each, best of {repeat}"
    )
    t0 = time.perf_counter()
    t = cl.from_arrow(table, "groupby", mode="replace")
    print(f"  (upload to slipstream: {time.perf_counter() - t0:.2f}s, not counted)")

    q = (
        t.group_by("k")
        .agg(col("x").sum().alias("total"), col("y").mean().alias("mean_y"), sl.len().alias("n"))
        .sort("total", descending=True)
    )
    t_sl, r_sl = best_of(repeat, q.to_arrow)

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.register("t", table)
    sql = (
        "select k, sum(x) as total, avg(y) as mean_y, count(*) as n from t "
        "group by k order by total desc"
    )
    t_duck, r_duck = best_of(repeat, lambda: con.sql(sql).to_arrow_table())

    lf = pl.from_arrow(table).lazy()  # type: ignore[union-attr]
    plq = (
        lf.group_by("k")
        .agg(
            pl.col("x").sum().alias("total"),
            pl.col("y").mean().alias("mean_y"),
            pl.len().alias("n"),
        )
        .sort("total", descending=True)
    )
    t_pl, r_pl = best_of(repeat, plq.collect)

    for name, other in (("duckdb", r_duck), ("polars", r_pl.to_arrow())):
        a = r_sl.column("k").to_pylist()[:10]
        b = other.column("k").to_pylist()[:10]
        if a != b or r_sl.num_rows != other.num_rows:
            print(f"  WARNING: slipstream and {name} disagree: {a[:3]} vs {b[:3]}")
    print(f"  slipstream {t_sl:8.3f}s")
    print(f"  duckdb     {t_duck:8.3f}s   slipstream/duckdb = {t_sl / t_duck:.2f}")
    print(f"  polars     {t_pl:8.3f}s   slipstream/polars = {t_sl / t_pl:.2f}")
    cl.drop("groupby")


def main() -> int:
    if "--serve-baseline" in sys.argv:
        serve_baseline()
        return 0
    p = argparse.ArgumentParser(description="Slipstream end-to-end benchmark")
    p.add_argument("--mb", type=float, default=1000, help="transfer table size in MB (Arrow)")
    p.add_argument("--rows", type=float, default=10e6, help="rows of the group-by table")
    p.add_argument("--groups", type=int, default=10_000, help="distinct group-by keys")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--address", help="an existing node (default: start one with sl.connect())")
    p.add_argument("--only", choices=["transfer", "query"])
    args = p.parse_args()

    cl = sl.connect(args.address) if args.address else sl.connect()
    print(
        f"slipstream {cl.health().get('version')} at {cl.address}; "
        f"{os.cpu_count()} CPUs; pyarrow {pa.__version__}"
    )
    with cl:
        if args.only in (None, "transfer"):
            bench_transfer(cl, args.mb, args.repeat)
        if args.only in (None, "query"):
            bench_query(cl, int(args.rows), args.groups, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
