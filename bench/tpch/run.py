"""TPC-H through each engine's Python API, one engine after the other, 2 threads each.

    python bench/tpch/run.py                 # scale factor 1
    python bench/tpch/run.py --scale 10      # on demand
    python bench/tpch/run.py --scale 0.1 --queries 1,3,6 --repeat 3
    python bench/tpch/run.py --engines duckdb   # Slipstream and DuckDB only

Prints seconds per query (best of --repeat), each engine's geometric mean
over the queries every engine ran, and Slipstream's ratio to each peer.
Slipstream reads the Parquet files in place (read_parquet), as the others do.
polars runs the queries of queries.POLARS written its way (q21: its joins
take no condition beyond the keys).
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
import pyarrow as pa
from data import ensure
from queries import POLARS, QUERIES, TABLES

import slipstream as sl

THREADS = 2


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, object]:
    """The best time of ``repeat`` runs, and the last run's result."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def differs(got: pa.Table, want: pa.Table, ordered: bool) -> str | None:
    """Why ``got`` is not ``want`` (floats to a relative 1e-9), or None."""
    if got.column_names != want.column_names:
        return f"columns {got.column_names} != {want.column_names}"
    if got.num_rows != want.num_rows:
        return f"{got.num_rows} rows, expected {want.num_rows}"
    g, w = got.to_pylist(), want.to_pylist()
    if not ordered:
        key = lambda row: [(v is None, str(v)) for v in row.values()]  # noqa: E731
        g, w = sorted(g, key=key), sorted(w, key=key)
    for i, (a, b) in enumerate(zip(g, w, strict=True)):
        for name in got.column_names:
            x, y = a[name], b[name]
            if isinstance(x, float) or isinstance(y, float):
                same = None not in (x, y) and math.isclose(float(x), float(y), rel_tol=1e-9)
            else:
                same = x == y
            if not same:
                return f"row {i} column {name}: {x!r}, expected {y!r}"
    return None


def engines(data: Path) -> dict[str, Callable[[int], Callable[[], object]]]:
    """For each engine: query number -> a function that runs it to an Arrow result."""
    import datafusion
    import duckdb
    import polars as pl

    files = {t: str(data / f"{t}.parquet") for t in TABLES}
    cl = sl.connect(allow_paths=[data])  # the node reads files only under allow_paths
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
        "polars": lambda q: lambda: POLARS.get(q, QUERIES[q][0])(pl_frames, pl).collect(),
        "datafusion": lambda q: lambda: ctx.sql(QUERIES[q][1]).to_arrow_table(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "slipstream" / "tpch")
    p.add_argument("--queries", help="comma-separated query numbers (default: all written)")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--engines", help="comma-separated engines to run (default: all)")
    p.add_argument("--check", action="store_true", help="check answers against DuckDB's")
    args = p.parse_args()
    numbers = sorted(QUERIES) if not args.queries else [int(q) for q in args.queries.split(",")]
    data = ensure(args.scale, args.cache)
    runners = engines(data)
    if args.engines:
        wanted = args.engines.split(",")
        unknown = sorted(set(wanted) - set(runners) - {"slipstream"})
        if unknown:
            p.error(f"unknown engine {', '.join(unknown)}; choose from {', '.join(runners)}")
        runners = {n: r for n, r in runners.items() if n == "slipstream" or n in wanted}
    print(f"TPC-H SF{args.scale:g}, {THREADS} threads each, best of {args.repeat}; seconds")
    print("query " + "".join(f"{name:>12}" for name in runners))
    times: dict[str, dict[int, float]] = {name: {} for name in runners}
    wrong = []
    for q in numbers:
        cells = []
        results = {}
        for name, make in runners.items():
            try:
                times[name][q], results[name] = best_of(args.repeat, make(q))
                cells.append(f"{times[name][q]:12.3f}")
            except Exception as exc:  # a peer's failure is a figure too
                cells.append(f"{'error':>12}")
                print(f"  q{q} {name}: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
        print(f"q{q:<5}" + "".join(cells), flush=True)
        if args.check and "slipstream" in results and "duckdb" in results:
            ordered = "order by" in QUERIES[q][1].lower()
            why = differs(results["slipstream"], results["duckdb"], ordered)
            if why:
                wrong.append(q)
                print(f"  q{q} differs from DuckDB: {why}", flush=True)
    common = [q for q in numbers if all(q in t for t in times.values())]
    geo = {n: math.exp(sum(math.log(t[q]) for q in common) / len(common)) for n, t in times.items()}
    print(f"geomean over {len(common)} queries " + "".join(f"{g:12.3f}" for g in geo.values()))
    for name, g in geo.items():
        if name != "slipstream":
            print(f"slipstream / {name}: {geo['slipstream'] / g:.2f}")
    if "duckdb" in times:
        ratio = {q: times["slipstream"][q] / times["duckdb"][q] for q in common}
        slow = sorted(common, key=ratio.__getitem__, reverse=True)
        print("furthest behind DuckDB: " + ", ".join(f"q{q} ({ratio[q]:.1f}x)" for q in slow[:5]))
    if args.check:
        print(
            f"results equal to DuckDB's: {len(numbers) - len(wrong)} of {len(numbers)}"
            + (f"; wrong: {', '.join(f'q{q}' for q in wrong)}" if wrong else "")
        )
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
