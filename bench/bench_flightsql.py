"""Flight SQL against the native client and DuckDB, in one run.

    python bench/bench_flightsql.py                 # TPC-H SF1, best of 2
    python bench/bench_flightsql.py --scale 0.1 --queries 1,6 --repeat 1

1. The 22 TPC-H queries in their standard SQL text, through the ADBC Flight SQL
   driver, through the native client (``cl.sql``) and in DuckDB (2 threads, on
   the same Parquet files): seconds per query, best of --repeat, and the
   ratios ADBC / DuckDB and ADBC / native with their geometric means. The node
   holds the tables (uploaded once from the Parquet files), as a Flight SQL
   client finds them.
2. Time to the first row of a small query over ADBC, over JDBC (the Java
   program in java/, one connection) and over the native client: the median
   of --runs runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flight_sql
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent / "tpch"))
from data import ensure
from queries import QUERIES, TABLES

import slipstream as sl

THREADS = 2
ROOT = Path(__file__).resolve().parents[1]
SMALL = "SELECT n_name, n_regionkey FROM nation WHERE n_nationkey = 7"


def best_of(repeat: int, run: Callable[[], pa.Table]) -> tuple[float, pa.Table]:
    best, out = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    assert out is not None
    return best, out


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else math.nan


def jdbc_classpath() -> str:
    subprocess.run(
        ["mvn", "-q", "-B", "-Dstyle.color=never", "package", "dependency:copy-dependencies"],
        cwd=ROOT / "java",
        check=True,
    )
    return f"{ROOT / 'java/target/classes'}:{ROOT / 'java/target/dependency'}/*"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "slipstream" / "tpch")
    p.add_argument("--queries", help="comma-separated query numbers (default: all 22)")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--runs", type=int, default=50, help="runs of the small query")
    p.add_argument("--memory-limit", help="the node's --memory-limit (default: the node's own)")
    args = p.parse_args()
    data = ensure(args.scale, args.cache)
    numbers = [int(q) for q in args.queries.split(",")] if args.queries else sorted(QUERIES)

    cl = sl.connect(memory_limit=args.memory_limit)
    start = time.perf_counter()
    for t in TABLES:
        cl.from_arrow(pq.read_table(data / f"{t}.parquet"), name=t, mode="replace")
    print(f"uploaded TPC-H SF{args.scale:g} to the node in {time.perf_counter() - start:.1f}s")
    con = flight_sql.connect(
        cl.address,
        db_kwargs={
            adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value: f"Bearer {cl.token}"
        },
        autocommit=True,
    )
    duck = duckdb.connect()
    duck.execute(f"SET threads = {THREADS}")
    for t in TABLES:
        duck.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{data / t}.parquet')")

    def adbc(sql: str) -> pa.Table:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetch_arrow_table()

    print(f"\nTPC-H SF{args.scale:g}, SQL text; best of {args.repeat}; seconds")
    head = ("query", "adbc", "native", "duckdb", "adbc/duck", "adbc/native")
    print("{:>5} {:>8} {:>8} {:>8} {:>10} {:>12}".format(*head))
    vs_duck, vs_native = [], []
    for q in numbers:
        sql = QUERIES[q][1]
        t_adbc, got = best_of(args.repeat, lambda sql=sql: adbc(sql))
        t_native, native = best_of(args.repeat, lambda sql=sql: cl.sql(sql).to_arrow())
        t_duck, want = best_of(args.repeat, lambda sql=sql: duck.sql(sql).to_arrow_table())
        assert got.num_rows == want.num_rows == native.num_rows, f"q{q}: row counts differ"
        vs_duck.append(t_adbc / t_duck)
        vs_native.append(t_adbc / t_native)
        print(
            f"{'q' + str(q):>5} {t_adbc:8.3f} {t_native:8.3f} {t_duck:8.3f} "
            f"{vs_duck[-1]:10.2f} {vs_native[-1]:12.2f}",
            flush=True,
        )
    print(f"{'geomean':>32} {geomean(vs_duck):10.2f} {geomean(vs_native):12.2f}")

    print(f"\ntime to first row of {SMALL!r}, median of {args.runs} runs; ms")
    first: dict[str, float] = {}
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        with con.cursor() as cur:
            cur.execute(SMALL)
            assert cur.fetchone() is not None
        times.append((time.perf_counter() - start) * 1000)
    first["adbc"] = statistics.median(times)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        assert cl.sql(SMALL).to_arrow().num_rows == 1
        times.append((time.perf_counter() - start) * 1000)
    first["native (cl.sql)"] = statistics.median(times)
    host = cl.address.removeprefix("grpc://")
    url = f"jdbc:arrow-flight-sql://{host}/?useEncryption=false&token={cl.token}"
    out = subprocess.run(
        [
            "java",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "-cp",
            jdbc_classpath(),
            "slipstream.JdbcCheck",
            "ttfr",
            url,
            SMALL,
            str(args.runs),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    first["jdbc"] = float(out.split()[-1])
    for name, ms in first.items():
        print(f"{name:>16} {ms:8.2f}")
    con.close()
    cl.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
