"""The same query over the same Parquet files, several times: what a notebook's next query costs.

    python bench/rescan.py DIR_OR_FILES... [--repeat 6] [--key k100] [--value v]

Starts a local node, reads the Parquet files in place (``read_parquet``) and
runs ``group_by(key).agg(sum(value), len())`` --repeat times, printing each
run's seconds: the first run decodes the column chunks, the next ones find
them decoded (exec/chunkcache.go) when the node's cache holds them.
``python bench/highcard.py`` writes a 10^7-row table to use
(``~/.cache/slipstream/highcard/rows10000000-seed42/big``).
"""

from __future__ import annotations

import argparse
import glob
import os
import time

import slipstream as sl
from slipstream import col


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="+", help="Parquet files, or folders of them")
    p.add_argument("--repeat", type=int, default=6)
    p.add_argument("--key", default="k100")
    p.add_argument("--value", default="v")
    args = p.parse_args()
    files: list[str] = []
    for path in args.paths:
        found = sorted(glob.glob(os.path.join(path, "*.parquet")))
        files.extend(found if os.path.isdir(path) else [path])
    with sl.connect() as cl:
        t = cl.read_parquet(files)
        for i in range(args.repeat):
            started = time.perf_counter()
            out = t.group_by(args.key).agg(col(args.value).sum(), sl.len()).collect()
            print(f"run {i}: {time.perf_counter() - started:.3f} s ({out.height} groups)")


if __name__ == "__main__":
    main()
