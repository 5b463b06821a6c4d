"""Keeping a result on the cluster against pulling it to the client and pushing it back.

    python bench/bench_ctas.py                  # SF1 lineitem, one node and three
    python bench/bench_ctas.py --scale 0.1 --repeat 3 --nodes 1

For each cluster size (``sl.connect(nodes=N)``: N local node processes),
lineitem is uploaded once; then, --repeat times each, it prints the best
seconds of:

- ``CREATE TABLE AS SELECT * FROM lineitem`` (the nodes store the partitions
  they computed, replicated and durable as an upload is);
- the same from the DataFrame API, ``cl.table("lineitem").write_table(...)``;
- downloading lineitem with ``to_arrow()`` and uploading it again with
  ``from_arrow`` (what a user without CREATE TABLE AS does);
- ``COPY (SELECT * FROM lineitem) TO dir (FORMAT parquet)`` against
  downloading and writing the Parquet file in the client with pyarrow;

and the ratio of each pair. The peak resident memory of this (client)
process is printed too: CREATE TABLE AS moves no row through it.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent / "tpch"))
from data import ensure

import slipstream as sl


def best(fn: Callable[[int], object], repeat: int) -> float:
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return min(times)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(nodes: int, lineitem: Path, repeat: int, out: Path) -> None:
    with sl.connect(nodes=nodes, allow_paths=[str(out), str(lineitem.parent)]) as cl:
        cl.read_parquet(str(lineitem)).write_table("lineitem", mode="replace")
        rows = cl.table("lineitem").select(sl.len()).to_arrow()[0][0].as_py()
        rss0 = peak_rss_mib()
        ctas = best(
            lambda i: cl.execute("CREATE OR REPLACE TABLE li_ctas AS SELECT * FROM lineitem"),
            repeat,
        )
        frame = best(lambda i: cl.table("lineitem").write_table("li_frame", mode="replace"), repeat)
        rss1 = peak_rss_mib()

        def roundtrip(i: int) -> None:
            cl.from_arrow(cl.table("lineitem").to_arrow(), "li_roundtrip", mode="replace")

        trip = best(roundtrip, repeat)
        rss2 = peak_rss_mib()
        copy = best(
            lambda i: cl.execute(
                f"COPY (SELECT * FROM lineitem) TO '{out / f'copy{nodes}_{i}'}' (FORMAT parquet)"
            ),
            repeat,
        )

        def client_parquet(i: int) -> None:
            pq.write_table(cl.table("lineitem").to_arrow(), out / f"client{nodes}_{i}.parquet")

        pull = best(client_parquet, repeat)
        print(f"\n{nodes} node(s), lineitem {rows:,} rows, best of {repeat}")
        print(f"  CREATE TABLE AS            {ctas:7.2f} s")
        print(f"  write_table                {frame:7.2f} s")
        print(f"  download + upload          {trip:7.2f} s   ratio {trip / ctas:5.2f}x CTAS")
        print(f"  COPY TO parquet            {copy:7.2f} s")
        print(f"  download + write parquet   {pull:7.2f} s   ratio {pull / copy:5.2f}x COPY")
        print(
            f"  client peak RSS: {rss0:.0f} MiB before, {rss1:.0f} MiB after CTAS and "
            f"write_table, {rss2:.0f} MiB after the round trip"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--scale", type=float, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--nodes", default="1,3")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "slipstream" / "tpch")
    args = ap.parse_args()
    lineitem = ensure(args.scale, args.cache) / "lineitem.parquet"
    out = Path(tempfile.mkdtemp(prefix="slipstream-ctas-"))
    try:
        for n in (int(x) for x in args.nodes.split(",")):
            run(n, lineitem, args.repeat, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
