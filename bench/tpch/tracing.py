"""What tracing costs on TPC-H: the same queries with spans exported and without.

    python bench/tpch/tracing.py                 # SF1, one node each (make bench-tracing)
    python bench/tpch/tracing.py --nodes 3       # a local cluster of three each
    python bench/tpch/tracing.py --scale 0.1 --queries 1,3,6 --repeat 3

Two local Slipstream deployments run side by side, reading the same Parquet
files: one started with OTEL_EXPORTER_OTLP_ENDPOINT naming an OTLP/HTTP
receiver in this process (bench/otlp_sink.py: it accepts and discards), so
every query's spans are recorded, batched, encoded and sent, each query
started under a sampled traceparent as a traced notebook's would be; the
other with nothing configured, as a node runs by default. Each query runs on
both, in alternating order (best of --repeat each). Prints seconds per query,
the ratio of the totals and of the geometric means (on / off), the ratio of
the CPU time the node processes used (less swayed than elapsed time by other
work on a shared machine), and what the receiver got.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data import ensure
from otlp_sink import OTLPSink
from queries import QUERIES, TABLES
from run import best_of

import slipstream as sl

CLOCK = os.sysconf("SC_CLK_TCK")


def node_pids(cl: sl.Client) -> list[int]:
    """The node processes: the local node, or the children of ``slipstream local``."""
    assert cl._node is not None
    root = cl._node.proc.pid
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == root:
                        children.append(int(entry))
            except OSError:
                continue
    return children or [root]


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "slipstream" / "tpch")
    p.add_argument("--queries", help="comma-separated query numbers (default: all written)")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--nodes", type=int, default=1, help="nodes of each deployment")
    p.add_argument(
        "--control",
        action="store_true",
        help="trace neither deployment: the ratio then shows how much two equal runs differ here",
    )
    args = p.parse_args()
    numbers = sorted(QUERIES) if not args.queries else [int(q) for q in args.queries.split(",")]
    data = ensure(args.scale, args.cache)
    files = {t: str(data / f"{t}.parquet") for t in TABLES}

    sink = OTLPSink()
    off = sl.connect(nodes=args.nodes, allow_paths=[data])
    if not args.control:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.url
    try:
        on = sl.connect(nodes=args.nodes, allow_paths=[data])
    finally:
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    frames = {
        "off": {t: off.read_parquet(f) for t, f in files.items()},
        "on": {t: on.read_parquet(f) for t, f in files.items()},
    }

    pids = {"off": node_pids(off), "on": node_pids(on)}
    cpu: dict[str, float] = {"off": 0.0, "on": 0.0}

    def run(mode: str, q: int) -> float:
        def once() -> object:
            if mode == "off":
                return QUERIES[q][0](frames["off"], sl).to_arrow()
            with sl.traceparent(f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"):
                return QUERIES[q][0](frames["on"], sl).to_arrow()

        before = cpu_seconds(pids[mode])
        best = best_of(args.repeat, once)[0]
        cpu[mode] += cpu_seconds(pids[mode]) - before
        return best

    nodes = "one node" if args.nodes == 1 else f"{args.nodes} nodes"
    control = " (control: tracing off on both)" if args.control else ""
    print(f"TPC-H SF{args.scale:g} on {nodes}, best of {args.repeat}; seconds{control}")
    print(f"query {'off':>10}{'on':>10}{'on/off':>10}")
    times: dict[str, dict[int, float]] = {"off": {}, "on": {}}
    for i, q in enumerate(numbers):
        order = ["off", "on"] if i % 2 == 0 else ["on", "off"]
        for mode in order:
            times[mode][q] = run(mode, q)
        ratio = times["on"][q] / times["off"][q]
        print(f"q{q:<5}{times['off'][q]:10.3f}{times['on'][q]:10.3f}{ratio:10.3f}", flush=True)
    total = {m: sum(t.values()) for m, t in times.items()}
    geo = {m: math.exp(sum(math.log(v) for v in t.values()) / len(t)) for m, t in times.items()}
    print(f"total {total['off']:10.3f}{total['on']:10.3f}{total['on'] / total['off']:10.3f}")
    print(f"geomean{geo['off']:9.3f}{geo['on']:10.3f}{geo['on'] / geo['off']:10.3f}")
    print(f"node CPU{cpu['off']:8.1f}{cpu['on']:10.1f}{cpu['on'] / cpu['off']:10.3f}")
    # The node exports in batches every 5 s: wait for the last one.
    deadline = time.monotonic() + 15
    while sink.requests == 0 and not args.control and time.monotonic() < deadline:
        time.sleep(0.1)
    on.close()  # a node flushes what is left as it stops
    off.close()
    print(
        f"tracing on / off: {total['on'] / total['off']:.3f} (total time), "
        f"{cpu['on'] / cpu['off']:.3f} (node CPU); "
        f"the receiver got {sink.requests} exports, {sink.spans} spans "
        f"({sink.spans / (len(numbers) * args.repeat):.0f} a query), {sink.bytes} bytes"
    )
    sink.close()
    return 0 if sink.requests or args.control else 1


if __name__ == "__main__":
    raise SystemExit(main())
