"""The price of security on downloads: ``to_arrow()`` of one table from a node
served three ways, one after the other in one run, same binary and machine:

- ``open``: no authentication, plain gRPC (loopback only);
- ``auth``: ``--auth`` tokens, a bearer checked on every call, plain gRPC;
- ``tls+auth``: tokens and TLS (``--tls-cert/--tls-key/--tls-ca``, certificates
  from ``slipstream certs``; gossip encrypted as TLS requires).

    python bench/bench_auth.py                       # 10 M rows, best of 5
    python bench/bench_auth.py --rows 2000000 --repeat 5
    python bench/bench_auth.py --tpch 1 --nodes 3    # TPC-H SF1 instead, see below

Each node gets the same table (an int64, a float64 and a short string column),
uploaded once; the three download it in turn, ``--repeat`` rounds, and each
keeps its best time. Printed: MB/s (Arrow bytes of the table over the time) and each
configuration's time as a ratio to ``open``.

With ``--tpch SCALE``: the TPC-H queries (``bench/tpch``, data read in place
with read_parquet) on ``sl.connect(nodes=N)`` — tokens on every call, node
tokens between nodes — and on ``sl.connect(nodes=N, tls=True)`` — also TLS,
mutual TLS between nodes — query after query in turn; per-query seconds and
the geometric means' ratio.
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import slipstream as sl
from slipstream._node import find_binary

READY = re.compile(r"^slipstream: serving on (\S+)$")


def table(rows: int) -> pa.Table:
    rng = np.random.default_rng(7)
    return pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "x": rng.random(rows),
            "s": pa.array(np.char.add("k", (np.arange(rows) % 1000).astype(str))),
        }
    )


def serve(binary: str, data: Path, flags: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    cmd = [binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", str(data), *flags]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )


def address(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    m = READY.match(proc.stdout.readline().strip())
    assert m, "the node did not start"
    return m.group(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tpch", type=float, help="run TPC-H at this scale factor instead")
    ap.add_argument("--nodes", type=int, default=1, help="nodes per cluster (--tpch)")
    args = ap.parse_args()
    if args.tpch:
        bench_tpch(args.tpch, args.nodes, min(args.repeat, 2))
        return
    binary = find_binary()
    data = table(args.rows)
    mb = data.nbytes / 1e6
    print(f"to_arrow() of {args.rows:,} rows ({mb:,.0f} MB in Arrow), best of {args.repeat}")
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        base = Path(tmp)
        tokens = base / "tokens.toml"
        create = [binary, "token", "create", "--name", "bench", "--role", "admin"]
        out = subprocess.run(
            [*create, "--auth", str(tokens)], capture_output=True, text=True, check=True
        )
        token = out.stdout.strip()
        subprocess.run(
            [binary, "certs", "--out", str(base / "certs"), "--hosts", "n1"],
            capture_output=True, check=True,
        )  # fmt: skip
        certs = base / "certs"
        tls = ["--tls-cert", str(certs / "n1.crt"), "--tls-key", str(certs / "n1.key")]
        tls += ["--tls-ca", str(certs / "ca.crt")]
        env = dict(os.environ, SLIPSTREAM_GOSSIP_KEY=base64.b64encode(os.urandom(32)).decode())
        configs: list[tuple[str, list[str], dict[str, object]]] = [
            ("open", [], {}),
            ("auth", ["--auth", str(tokens)], {"token": token}),
            (
                "tls+auth",
                ["--auth", str(tokens), *tls],
                {"token": token, "tls_root_certs": certs / "ca.crt"},
            ),
        ]
        procs = [serve(binary, base / name, flags, env) for name, flags, _ in configs]
        try:
            clients = {}
            for (name, _, kw), proc in zip(configs, procs, strict=True):
                clients[name] = sl.connect(address(proc), **kw)  # type: ignore[arg-type]
                clients[name].from_arrow(data, name="t")
            # Round after round, each configuration in turn: the machine's
            # noise falls on all three alike.
            times = dict.fromkeys(clients, float("inf"))
            for _ in range(args.repeat):
                for name, cl in clients.items():
                    start = time.perf_counter()
                    got = cl.table("t").to_arrow()
                    times[name] = min(times[name], time.perf_counter() - start)
                    assert got.num_rows == args.rows
                    del got
            for name, best in times.items():
                print(f"  {name:9s} {best:7.3f} s  {mb / best:8,.0f} MB/s")
            for cl in clients.values():
                cl.close()
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)
        for name in ("auth", "tls+auth"):
            print(f"  {name} / open: {times[name] / times['open']:.2f}x the time")


def bench_tpch(scale: float, nodes: int, repeat: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent / "tpch"))
    from data import ensure
    from queries import QUERIES, TABLES

    data = ensure(scale, Path.home() / ".cache" / "slipstream" / "tpch")
    print(f"TPC-H SF{scale:g} on {nodes} node(s), best of {repeat}; seconds")
    clients = {
        "auth": sl.connect(nodes=nodes, allow_paths=[data]),
        "tls+auth": sl.connect(nodes=nodes, allow_paths=[data], tls=True),
    }
    try:
        frames = {
            name: {t: cl.read_parquet(str(data / f"{t}.parquet")) for t in TABLES}
            for name, cl in clients.items()
        }
        times: dict[str, list[float]] = {name: [] for name in clients}
        print("query " + "".join(f"{name:>10}" for name in clients))
        for q in sorted(QUERIES):
            for name in clients:
                best = float("inf")
                for _ in range(repeat):
                    start = time.perf_counter()
                    QUERIES[q][0](frames[name], sl).to_arrow()
                    best = min(best, time.perf_counter() - start)
                times[name].append(best)
            print(f"q{q:<5}" + "".join(f"{times[n][-1]:10.3f}" for n in clients), flush=True)
        geo = {n: math.exp(sum(math.log(t) for t in ts) / len(ts)) for n, ts in times.items()}
        print("geomean" + "".join(f"{g:10.3f}" for g in geo.values()))
        print(f"  tls+auth / auth: {geo['tls+auth'] / geo['auth']:.2f}x the time")
    finally:
        for cl in clients.values():
            cl.close()


if __name__ == "__main__":
    main()
