"""TPC-H through each engine's Python API, one engine after the other, 2 threads each.

    python bench/tpch/run.py                 # scale factor 1
    python bench/tpch/run.py --scale 10      # on demand
    python bench/tpch/run.py --scale 0.1 --queries 1,3,6 --repeat 3

Prints seconds per query (best of --repeat), each engine's geometric mean
over the queries every engine ran, and Slipstream's ratio to each peer.
Slipstream reads the Parquet files in place (read_parquet), as the others do.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")  # before polars is imported

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import ensure
from queries import QUERIES, TABLES

import slipstream as sl

THREADS = 2


def best_of(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def engines(data: Path) -> dict[str, Callable[[int], Callable[[], object]]]:
    """For each engine: query number -> a function that runs it to an Arrow result."""
    import datafusion
    import duckdb
    import polars as pl

    files = {t: str(data / f"{t}.parquet") for t in TABLES}
    cl = sl.connect()
    sl_frames = {t: cl.read_parquet(p) for t, p in files.items()}
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    for t, p in files.items():
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{p}')")
    pl_frames = {t: pl.scan_parquet(p) for t, p in files.items()}
    ctx = datafusion.SessionContext(datafusion.SessionConfig().with_target_partitions(THREADS))
    for t, p in files.items():
        ctx.register_parquet(t, p)
    return {
        "slipstream": lambda q: lambda: QUERIES[q][0](sl_frames, sl).to_arrow(),
        "duckdb": lambda q: lambda: con.sql(QUERIES[q][1]).to_arrow_table(),
        "polars": lambda q: lambda: QUERIES[q][0](pl_frames, pl).collect(),
        "datafusion": lambda q: lambda: ctx.sql(QUERIES[q][1]).to_arrow_table(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "slipstream" / "tpch")
    p.add_argument("--queries", help="comma-separated query numbers (default: all written)")
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    numbers = sorted(QUERIES) if not args.queries else [int(q) for q in args.queries.split(",")]
    data = ensure(args.scale, args.cache)
    runners = engines(data)
    print(f"TPC-H SF{args.scale:g}, {THREADS} threads each, best of {args.repeat}; seconds")
    print("query " + "".join(f"{name:>12}" for name in runners))
    times: dict[str, dict[int, float]] = {name: {} for name in runners}
    for q in numbers:
        cells = []
        for name, make in runners.items():
            try:
                times[name][q] = best_of(args.repeat, make(q))
                cells.append(f"{times[name][q]:12.3f}")
            except Exception as exc:  # a peer's failure is a figure too
                cells.append(f"{'error':>12}")
                print(f"  q{q} {name}: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
        print(f"q{q:<5}" + "".join(cells), flush=True)
    common = [q for q in numbers if all(q in t for t in times.values())]
    geo = {n: math.exp(sum(math.log(t[q]) for q in common) / len(common)) for n, t in times.items()}
    print(f"geomean over {len(common)} queries " + "".join(f"{g:12.3f}" for g in geo.values()))
    for name, g in geo.items():
        if name != "slipstream":
            print(f"slipstream / {name}: {geo['slipstream'] / g:.2f}")
    slow = sorted(common, key=lambda q: times["slipstream"][q] / times["duckdb"][q], reverse=True)
    print(
        "furthest behind DuckDB: "
        + ", ".join(f"q{q} ({times['slipstream'][q] / times['duckdb'][q]:.1f}x)" for q in slow[:3])
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
