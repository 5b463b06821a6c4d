"""Results spread over several endpoints (as a cluster will return them).

The node answers with one endpoint today, so these tests stand in a small
pyarrow.flight server for the cluster: the client must fetch every endpoint,
in parallel, from the node each one names, and assemble them in endpoint order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.flight as fl
import pytest

import slipstream as sl

SCHEMA = pa.schema([("part", pa.int64()), ("x", pa.int64())])


class Partitions(fl.FlightServerBase):
    """Serves partition i as ``rows`` rows after ``delay[i]`` seconds."""

    def __init__(self, delays: list[float], rows: int = 1000, other: str | None = None) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self.delays = delays
        self.rows = rows
        self.other = other  # endpoints with odd numbers name this node
        self.gets: list[int] = []

    def get_flight_info(self, context, descriptor):  # type: ignore[no-untyped-def]
        eps = []
        for i in range(len(self.delays)):
            where = [fl.Location(self.other)] if self.other and i % 2 else []
            eps.append(fl.FlightEndpoint(str(i).encode(), where))
        return fl.FlightInfo(SCHEMA, descriptor, eps, -1, -1)

    def do_get(self, context, ticket):  # type: ignore[no-untyped-def]
        i = int(ticket.ticket)
        self.gets.append(i)
        time.sleep(self.delays[i])
        table = pa.table({"part": [i] * self.rows, "x": list(range(self.rows))}, schema=SCHEMA)
        return fl.RecordBatchStream(table)

    def do_action(self, context, action):  # type: ignore[no-untyped-def]
        return [b'{"status": "ok", "version": "fake"}']


def _serve(server: Partitions) -> Iterator[Partitions]:
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture
def slow_first() -> Iterator[Partitions]:
    yield from _serve(Partitions([0.8, 0.0, 0.6, 0.0]))


def test_endpoints_are_fetched_in_parallel_and_kept_in_order(slow_first: Partitions) -> None:
    with sl.connect(f"grpc://127.0.0.1:{slow_first.port}") as cl:
        started = time.perf_counter()
        table = cl.table("t").to_arrow()
        elapsed = time.perf_counter() - started
    parts = table.column("part").to_pylist()
    assert parts == [0] * 1000 + [1] * 1000 + [2] * 1000 + [3] * 1000
    assert elapsed < 1.2, f"endpoints fetched one after another ({elapsed:.2f}s)"
    assert sorted(slow_first.gets) == [0, 1, 2, 3]


def test_to_batches_keeps_endpoint_order(slow_first: Partitions) -> None:
    with sl.connect(f"grpc://127.0.0.1:{slow_first.port}") as cl:
        parts = [b.column("part")[0].as_py() for b in cl.table("t").to_batches()]
    assert parts == [0, 1, 2, 3]


def test_each_endpoint_is_fetched_from_the_node_it_names() -> None:
    other = Partitions([0.0, 0.0, 0.0, 0.0])
    other_thread = threading.Thread(target=other.serve, daemon=True)
    other_thread.start()
    try:
        first = Partitions([0.0, 0.0, 0.0, 0.0], other=f"grpc://127.0.0.1:{other.port}")
        for server in _serve(first):
            with sl.connect(f"grpc://127.0.0.1:{server.port}") as cl:
                table = cl.table("t").to_arrow()
        assert table.column("part").to_pylist()[::1000] == [0, 1, 2, 3]
        assert sorted(first.gets) == [0, 2]
        assert sorted(other.gets) == [1, 3]
    finally:
        other.shutdown()
