"""High-cardinality group-bys, joins and sorts: Slipstream against DuckDB and polars.

    python bench/highcard.py                      # 10^7 rows
    python bench/highcard.py --rows 100000000 --summarize  # 10^8 rows (2.6 GB of Parquet);
                                                  # each engine sums its group-by answers
    python bench/highcard.py --only gb --repeat 3 # the group-bys, best of 3

Random data made by this script (numpy, fixed seed) is written once as Parquet
under --cache and read in place by every engine: a table ``big`` of --rows rows
(int keys of 10 to 10^7 values, string keys of 10^3 to 10^7 values, nulls in
some of them, values), and three tables to join it with: ``small`` (10^3 rows),
``medium`` (10^6 rows) and ``other`` (--rows / 2 rows). Each query runs on a
local Slipstream node through the client, on DuckDB (2 threads) and on polars
(2 threads), in this process; the engines take turns, one run each per round,
so what one leaves behind falls on the others alike; one untimed round of
the first query comes first (--warmup), so that no query pays for reading
the files into the system's cache. The table gives
seconds (best of --repeat rounds), Slipstream's time over each peer's, and whether
the answers agree: the same row count and checksum (a sum of the aggregates of
every group; for sorts, a hash of the row order). Timings are figures, not
assertions; a peer's error is printed and the run goes on.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("POLARS_MAX_THREADS", "2")  # before polars is imported

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import slipstream as sl

THREADS = 2
ROWS_PER_FILE = 5_000_000
ROW_GROUP = 1_000_000
SMALL, MEDIUM = 1_000, 1_000_000


# ---------------------------------------------------------------- data


def _with_nulls(rng: np.random.Generator, arr: pa.Array, share: float) -> pa.Array:
    mask = pa.array(rng.random(len(arr)) < share)
    return pc.if_else(mask, pa.scalar(None, arr.type), arr)


def _strings(prefix: str, keys: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(keys), pa.string()), "")


def _big_chunk(seed: int, start: int, rows: int, total: int) -> pa.Table:
    rng = np.random.default_rng([seed, start])
    high = min(total, 10_000_000)  # about one group per row up to 10^7 rows
    k10m = rng.integers(0, high, rows)
    names = _strings("name-", np.arange(1000))
    return pa.table(
        {
            # a unique id: ``other`` holds the even ones
            "id": np.arange(start, start + rows, dtype=np.int64) * 7919 % total,
            "k10": rng.integers(0, 10, rows),
            "k100": rng.integers(0, 100, rows),
            "a": rng.integers(0, SMALL, rows),
            "k1m": _with_nulls(rng, pa.array(rng.integers(0, MEDIUM, rows)), 0.01),
            "s1k": _with_nulls(rng, names.take(pa.array(rng.integers(0, 1000, rows))), 0.05),
            "s10k": _strings("tag ", rng.integers(0, 10_000, rows)),
            "k10m": k10m,
            "s10m": _strings("user-", k10m),
            "q": rng.integers(0, 1000, rows).astype(np.int32),
            "v": rng.random(rows),
        }
    )


def ensure(rows: int, cache: Path, seed: int) -> Path:
    """The directory of the Parquet files for ``rows`` rows, made once."""
    out = cache / f"rows{rows}-seed{seed}"
    if (out / "done").exists():
        return out
    if math.gcd(7919, rows) != 1:
        raise SystemExit(f"--rows {rows}: must not be a multiple of 7919")
    print(f"generating {rows:,} rows under {out} ...", file=sys.stderr, flush=True)
    (out / "big").mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, rows, ROWS_PER_FILE)):
        chunk = _big_chunk(seed, start, min(ROWS_PER_FILE, rows - start), rows)
        pq.write_table(chunk, out / "big" / f"part-{i:04d}.parquet", row_group_size=ROW_GROUP)
    rng = np.random.default_rng([seed, 1])
    pq.write_table(
        pa.table(
            {
                "key": np.arange(SMALL),
                "name": _strings("city ", rng.permutation(SMALL)),
                "w": rng.random(SMALL),
            }
        ),
        out / "small.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "key": rng.permutation(MEDIUM),
                "tag": _strings("segment ", rng.integers(0, 5000, MEDIUM)),
                "w": rng.random(MEDIUM),
            }
        ),
        out / "medium.parquet",
        row_group_size=ROW_GROUP,
    )
    half = rows // 2
    pq.write_table(
        pa.table({"id": rng.permutation(half) * 2, "x": rng.random(half)}),
        out / "other.parquet",
        row_group_size=ROW_GROUP,
    )
    (out / "done").write_text("")
    return out


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    """One query in each engine's own API, and how its answers are compared."""

    name: str
    what: str
    sql: str
    slipstream: Callable[[dict[str, sl.DataFrame]], sl.DataFrame]
    polars: Callable[[dict[str, Any], Any], Any]
    ordered_by: str | None = None  # sorts: the column whose order is checked
    # group-bys: the aggregates --summarize sums inside each engine
    summed: tuple[str, ...] = ()


def _group_by(name: str, what: str, keys: list[str]) -> Query:
    k = ", ".join(keys)
    return Query(
        name,
        what,
        f"SELECT {k}, sum(v) AS sv, count(*) AS n, max(q) AS mq FROM big GROUP BY {k}",
        lambda t: (
            t["big"]
            .group_by(*keys)
            .agg(sl.col("v").sum().alias("sv"), sl.len().alias("n"), sl.col("q").max().alias("mq"))
        ),
        lambda t, pl: (
            t["big"]
            .group_by(keys)
            .agg(pl.col("v").sum().alias("sv"), pl.len().alias("n"), pl.col("q").max().alias("mq"))
        ),
        summed=("sv", "n", "mq"),
    )


def _join(name: str, what: str, right: str, left_on: str, right_on: str, value: str) -> Query:
    return Query(
        name,
        what,
        f"SELECT count(*) AS n, sum(big.v * r.{value}) AS s FROM big "
        f"JOIN {right} r ON big.{left_on} = r.{right_on}",
        lambda t: (
            t["big"]
            .join(t[right], left_on=left_on, right_on=right_on)
            .select(sl.len().alias("n"), (sl.col("v") * sl.col(value)).sum().alias("s"))
        ),
        lambda t, pl: (
            t["big"]
            .join(t[right], left_on=left_on, right_on=right_on)
            .select(pl.len().alias("n"), (pl.col("v") * pl.col(value)).sum().alias("s"))
        ),
    )


QUERIES = [
    _group_by("gb-1int-100", "group-by 1 int key, 100 groups", ["k100"]),
    _group_by("gb-2mix-10k", "group-by int + string (nulls), 10^4 groups", ["k10", "s1k"]),
    _group_by("gb-1int-1m", "group-by 1 int key (nulls), 10^6 groups", ["k1m"]),
    _group_by("gb-3mix-1m", "group-by int, string, int, 10^6 groups", ["k10", "s1k", "k100"]),
    _group_by("gb-1str-10m", "group-by 1 string key, ~10^7 groups", ["s10m"]),
    _group_by(
        "gb-6mix-10m",
        "group-by 6 keys (ints, strings, nulls), ~1 group/row",
        ["k100", "k10", "s1k", "k1m", "s10k", "a"],
    ),
    _join("join-small", "join big x small (10^3 rows)", "small", "a", "key", "w"),
    _join("join-medium", "join big x medium (10^6, nulls)", "medium", "k1m", "key", "w"),
    _join("join-big", "join big x other (rows/2)", "other", "id", "id", "x"),
    Query(
        "sort-str",
        "sort by a string key (~10^7 values), id",
        "SELECT s10m, id FROM big ORDER BY s10m, id",
        lambda t: t["big"].select("s10m", "id").sort("s10m", "id"),
        lambda t, pl: t["big"].select("s10m", "id").sort("s10m", "id"),
        ordered_by="id",
    ),
    Query(
        "sort-3keys",
        "sort by int, string desc (nulls last), float",
        "SELECT k100, s1k, v, id FROM big ORDER BY k100, s1k DESC NULLS LAST, v",
        lambda t: (
            t["big"]
            .select("k100", "s1k", "v", "id")
            .sort("k100", "s1k", "v", descending=[False, True, False], nulls_last=True)
        ),
        lambda t, pl: (
            t["big"]
            .select("k100", "s1k", "v", "id")
            .sort(["k100", "s1k", "v"], descending=[False, True, False], nulls_last=True)
        ),
        ordered_by="id",
    ),
]


# ---------------------------------------------------------------- answers


def checksum(table: pa.Table, ordered_by: str | None) -> tuple[int, float]:
    """Rows, and a sum of every number (for sorts: a hash of ``ordered_by``'s order)."""
    if ordered_by is not None:
        ids = table.column(ordered_by).to_numpy().astype(np.uint64)
        weights = np.arange(1, len(ids) + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return table.num_rows, float(int(np.sum(ids * weights, dtype=np.uint64)))
    total = 0.0
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            total += float(pc.sum(column).as_py() or 0)
    return table.num_rows, total


class OrderSum:
    """A sort's checksum (as ``checksum`` gives it for the whole answer) taken batch
    by batch as the answer streams in (--summarize): 10^8 sorted rows from three
    engines would not fit in this process. ``secs`` is the time spent here, which
    ``interleaved`` takes off the engine's."""

    def __init__(self, batches: Any, column: str) -> None:
        self.rows, self.secs = 0, 0.0
        acc = 0
        for batch in batches:
            started = time.perf_counter()
            ids = batch.column(column).to_numpy(zero_copy_only=False).astype(np.uint64)
            first = np.uint64(self.rows + 1)
            weights = np.arange(first, first + np.uint64(len(ids)), dtype=np.uint64)
            acc += int(np.sum(ids * (weights * np.uint64(0x9E3779B97F4A7C15)), dtype=np.uint64))
            self.rows += len(ids)
            self.secs += time.perf_counter() - started
        self.sum = float(acc % 2**64)


def summed_sql(q: Query) -> str:
    """The query, or with --summarize its answer's rows and sums of aggregates."""
    if not q.summed:
        return q.sql
    sums = ", ".join(f"sum(CAST({c} AS DOUBLE)) AS {c}" for c in q.summed)
    return f"SELECT count(*) AS groups, {sums} FROM ({q.sql})"


def summed_slipstream(q: Query, frames: dict[str, sl.DataFrame]) -> sl.DataFrame:
    df = q.slipstream(frames)
    if not q.summed:
        return df
    return df.select(
        sl.len().alias("groups"), *(sl.col(c).cast("float64").sum().alias(c) for c in q.summed)
    )


def summed_polars(q: Query, lazy: dict[str, Any], pl: Any) -> Any:
    df = q.polars(lazy, pl)
    if not q.summed:
        return df
    # summed as floats: polars sums an Int32 column in 32 bits
    return df.select(
        pl.len().alias("groups"), *(pl.col(c).cast(pl.Float64).sum().alias(c) for c in q.summed)
    )


def summary_checksum(table: pa.Table) -> tuple[int, float]:
    """The checksum of a --summarize answer: the rows it stands for, and its sums."""
    row = table.to_pylist()[0]
    return int(row["groups"]), float(sum(float(v or 0) for k, v in row.items() if k != "groups"))


def agree(a: tuple[int, float], b: tuple[int, float], ordered: bool) -> bool:
    if a[0] != b[0]:
        return False
    return a[1] == b[1] if ordered else math.isclose(a[1], b[1], rel_tol=1e-9, abs_tol=1e-6)


def interleaved(
    repeat: int, runs: dict[str, Callable[[], Any]], ordered_by: str | None
) -> tuple[dict[str, float], dict[str, tuple[int, float]]]:
    """Each engine's best time and the checksum of its answer, the engines taking
    turns (one run each, ``repeat`` rounds): whatever one leaves behind (busy
    threads, memory being returned) falls on the others alike."""
    secs: dict[str, float] = {}
    sums: dict[str, tuple[int, float]] = {}
    failed: set[str] = set()
    for _ in range(repeat):
        for name, run in runs.items():
            if name in failed:
                continue
            try:
                started = time.perf_counter()
                result = run()
                took = time.perf_counter() - started
                if isinstance(result, OrderSum):
                    took -= result.secs
                    sums[name] = (result.rows, result.sum)
                elif "groups" in result.column_names and result.num_rows == 1:
                    sums[name] = summary_checksum(result)
                else:
                    sums[name] = checksum(result, ordered_by)
                del result
            except Exception as exc:  # a failure is a figure too
                failed.add(name)
                secs.pop(name, None)
                sums.pop(name, None)
                print(f"  {name}: {type(exc).__name__}: {str(exc)[:300]}", file=sys.stderr)
                continue
            secs[name] = min(took, secs.get(name, took))
    return secs, sums


# ---------------------------------------------------------------- main


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000, help="rows of big (default 10^7)")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "slipstream" / "highcard")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="untimed rounds of the first query, every engine, before timing (default 1)",
    )
    p.add_argument("--only", help="run the queries whose name contains this text")
    p.add_argument(
        "--memory-limit",
        help="the Slipstream node's --memory-limit, and DuckDB's memory_limit (default their "
        "own: each takes a share of the machine, as if it were alone)",
    )
    p.add_argument(
        "--summarize",
        action="store_true",
        help="each engine sums a group-by's answer itself (its rows and the sums of its "
        "aggregates) and hands over one row, and a sort's answer is checked batch by "
        "batch as it streams in: at 10^8 rows an answer of 10^8 groups or sorted rows "
        "would not fit beside the engines in this process",
    )
    p.add_argument(
        "--engines",
        default="slipstream,duckdb,polars",
        help="comma-separated engines to run (default all three; e.g. slipstream alone "
        "to compare two builds through SLIPSTREAM_BIN)",
    )
    args = p.parse_args()

    import duckdb
    import polars as pl

    data = ensure(args.rows, args.cache, args.seed)
    files = {
        "big": str(data / "big" / "*.parquet"),
        "small": str(data / "small.parquet"),
        "medium": str(data / "medium.parquet"),
        "other": str(data / "other.parquet"),
    }
    cl = sl.connect(allow_paths=[data], memory_limit=args.memory_limit)
    frames = {t: cl.read_parquet(f) for t, f in files.items()}
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    if args.memory_limit:  # the same bound for both engines that take one
        con.execute(f"SET memory_limit = '{args.memory_limit.replace('i', '')}'")
    for t, f in files.items():
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{f}')")
    lazy = {t: pl.scan_parquet(f) for t, f in files.items()}

    def streamed(q: Query, batches: Callable[[], Any]) -> Callable[[], Any]:
        column = q.ordered_by or ""
        return lambda: OrderSum(batches(), column)

    engines: dict[str, Callable[[Query], Callable[[], Any]]] = {
        "slipstream": lambda q: (
            streamed(q, lambda: q.slipstream(frames).to_batches())
            if q.ordered_by
            else lambda: summed_slipstream(q, frames).to_arrow()
        ),
        "duckdb": lambda q: (
            streamed(q, lambda: con.sql(q.sql).to_arrow_reader(1_000_000))
            if q.ordered_by
            else lambda: con.sql(summed_sql(q)).to_arrow_table()
        ),
        "polars": lambda q: (
            streamed(q, lambda: q.polars(lazy, pl).collect().to_arrow().to_batches())
            if q.ordered_by
            else lambda: summed_polars(q, lazy, pl).collect().to_arrow()
        ),
    }
    if not args.summarize:
        engines = {
            "slipstream": lambda q: lambda: q.slipstream(frames).to_arrow(),
            "duckdb": lambda q: lambda: con.sql(q.sql).to_arrow_table(),
            "polars": lambda q: lambda: q.polars(lazy, pl).collect().to_arrow(),
        }
    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in wanted if e not in engines]
    if unknown:
        choices = ", ".join(engines)
        raise SystemExit(f"--engines: unknown {', '.join(unknown)}; choose from {choices}")
    engines = {n: make for n, make in engines.items() if n in wanted}

    queries = [q for q in QUERIES if not args.only or args.only in q.name]
    print(
        f"high cardinality, big = {args.rows:,} rows; {THREADS} threads for DuckDB and polars, "
        f"a local Slipstream node ({os.cpu_count()} cores); best of {args.repeat} "
        f"after {args.warmup} untimed round(s) of the first query, "
        "the engines taking turns; seconds"
    )
    header = f"{'query':<13}{'slipstream':>11}{'duckdb':>9}{'polars':>9}{'sl/duck':>9}{'sl/pol':>8}"
    print(f"{header}  answers  {'rows':>11}  what")
    ratios: dict[str, list[float]] = {"duckdb": [], "polars": []}
    wrong = 0
    if queries and args.warmup:
        # Untimed: the first query's first round would otherwise also pay for
        # reading the files into the system's cache and for a node just started.
        interleaved(args.warmup, {n: make(queries[0]) for n, make in engines.items()}, None)
    for q in queries:
        runs = {n: make(q) for n, make in engines.items()}
        secs, sums = interleaved(args.repeat, runs, q.ordered_by)
        cells = [
            f"{secs[n]:>{w}.2f}" if n in secs else f"{'error' if n in engines else '-':>{w}}"
            for n, w in (("slipstream", 11), ("duckdb", 9), ("polars", 9))
        ]
        for peer, w in (("duckdb", 9), ("polars", 8)):
            if "slipstream" in secs and peer in secs:
                r = secs["slipstream"] / secs[peer]
                ratios[peer].append(r)
                cells.append(f"{r:>{w}.2f}")
            else:
                cells.append(f"{'-':>{w}}")
        ref = sums.get("duckdb") or sums.get("polars") or sums.get("slipstream")
        ok = [n for n in sums if ref is not None and agree(sums[n], ref, q.ordered_by is not None)]
        verdict = "agree" if len(ok) == len(engines) else "DIFFER"
        if verdict == "DIFFER":
            wrong += 1
            detail = ", ".join(f"{n}: {s[0]} rows, {s[1]:.6g}" for n, s in sums.items())
            print(f"  {q.name} answers: {detail}", file=sys.stderr)
        rows = f"{ref[0]:>11,}" if ref else f"{'?':>11}"
        print(f"{q.name:<13}{''.join(cells)}  {verdict:<7}  {rows}  {q.what}", flush=True)
    for peer, rs in ratios.items():
        if rs:
            geo = math.exp(sum(math.log(r) for r in rs) / len(rs))
            print(f"slipstream / {peer}: geometric mean {geo:.2f} over {len(rs)} queries")
    cl.close()
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
