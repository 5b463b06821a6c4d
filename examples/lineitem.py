"""Slipstream's main job on one node: TPC-H lineitem, a Q1-style query, the time it took.

Generates TPC-H ``lineitem`` with ``tpchgen-cli`` as Parquet into a cache
directory (once per scale factor), starts a local node with ``sl.connect()``,
loads the rows into it, runs a filter / group-by / sort query in the spirit of
TPC-H Q1, prints the result and the timings, and exits 0.

Loading: by default the Parquet file is read here with pyarrow and uploaded
with ``cl.from_arrow`` (Flight DoPut; the node stores it under its data
directory). ``--scan`` instead queries the Parquet file in place with
``cl.read_parquet`` (nothing is uploaded; the node reads the file itself).

Every sum is exact decimal arithmetic, as TPC-H asks; the averages are
float64.

Usage: python examples/lineitem.py [--scale-factor 1] [--cache-dir DIR] [--scan]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

import slipstream as sl
from slipstream import col


def tpchgen() -> str:
    found = shutil.which("tpchgen-cli") or str(Path(sys.executable).parent / "tpchgen-cli")
    if not os.access(found, os.X_OK):
        sys.exit("tpchgen-cli not found: pip install tpchgen-cli (or slipstream[dev])")
    return found


def generate(scale: float, cache: Path) -> Path:
    out = cache / f"sf{scale:g}"
    path = out / "lineitem.parquet"
    if path.exists():
        print(f"using cached {path}")
        return path
    out.mkdir(parents=True, exist_ok=True)
    print(f"generating TPC-H lineitem at scale factor {scale:g} into {out} ...", flush=True)
    started = time.perf_counter()
    tmp = out / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [tpchgen(), "parquet", "-s", f"{scale:g}", "--tables=lineitem", f"--output-dir={tmp}"]
    subprocess.run(cmd, check=True)
    (tmp / "lineitem.parquet").rename(path)  # only a complete file lands in the cache
    tmp.rmdir()
    print(f"generated in {time.perf_counter() - started:.1f}s")
    return path


def q1(lineitem: sl.DataFrame) -> sl.DataFrame:
    """TPC-H Q1: pricing summary of the line items shipped by 1998-09-02."""
    disc_price = col("l_extendedprice") * (1 - col("l_discount"))
    charge = disc_price * (1 + col("l_tax"))
    return (
        lineitem.filter(col("l_shipdate") <= dt.date(1998, 9, 2))
        .group_by("l_returnflag", "l_linestatus")
        .agg(
            col("l_quantity").sum().alias("sum_qty"),
            col("l_extendedprice").sum().alias("sum_base_price"),
            disc_price.sum().alias("sum_disc_price"),
            charge.sum().alias("sum_charge"),
            col("l_quantity").mean().alias("avg_qty"),
            col("l_extendedprice").mean().alias("avg_price"),
            col("l_discount").mean().alias("avg_disc"),
            sl.len().alias("count_order"),
        )
        .sort("l_returnflag", "l_linestatus")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale-factor", "-s", type=float, default=1.0)
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    parser.add_argument("--cache-dir", type=Path, default=default_cache / "slipstream" / "tpch")
    parser.add_argument("--scan", action="store_true", help="query the Parquet file in place")
    args = parser.parse_args()

    path = generate(args.scale_factor, args.cache_dir)

    started = time.perf_counter()
    # The node reads files only under allow_paths: the cache, wherever --cache-dir put it.
    with sl.connect(allow_paths=[path.parent]) as cl:
        print(f"local node at {cl.address} (started in {time.perf_counter() - started:.2f}s)")
        if args.scan:
            lineitem = cl.read_parquet(str(path.resolve()))
            rows = pq.ParquetFile(path).metadata.num_rows
            print(f"scanning {path} in place: {rows:,} rows")
        else:
            t0 = time.perf_counter()
            table = pq.read_table(path)
            t1 = time.perf_counter()
            lineitem = cl.from_arrow(table, "lineitem", mode="replace")
            t2 = time.perf_counter()
            mb = table.nbytes / 1e6
            print(
                f"loaded {table.num_rows:,} rows ({mb:,.0f} MB in Arrow): read Parquet "
                f"{t1 - t0:.2f}s, upload {t2 - t1:.2f}s ({mb / (t2 - t1):,.0f} MB/s)"
            )
            del table

        query = q1(lineitem)
        t0 = time.perf_counter()
        result = query.to_pandas()
        elapsed = time.perf_counter() - t0

    print(result.to_string(index=False))
    print(f"query (filter / group-by / sort, TPC-H Q1 style) took {elapsed:.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
