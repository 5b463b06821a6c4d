"""Traces and logs of a query on a cluster of three node processes.

The nodes run with ``--log-format json`` and export their spans over OTLP/HTTP
to a receiver in this process (bench/otlp_sink.py). A query started in a
``traceparent`` block, or under an active OpenTelemetry span, joins that trace
on every node: its status says so, the nodes' exported spans carry the trace
id, and every log line about it carries its query id and trace id.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import slipstream as sl
from slipstream import col
from slipstream._node import find_binary

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from otlp_sink import OTLPSink

NODE = re.compile(r"^slipstream: node (n\d) serving on (grpc://\S+)")
GOSSIP_KEY = "MDEyMzQ1Njc4OWFiY2RlZg=="
HEADER_SECRET = "s3cret-" + secrets.token_hex(4)


class Traced:
    def __init__(self, cl: sl.Client, sink: OTLPSink, log: Path) -> None:
        self.cl, self.sink, self.log = cl, sink, log

    def log_lines(self) -> list[dict[str, Any]]:
        """The nodes' log lines so far, each a JSON object."""
        out = []
        for line in self.log.read_text().splitlines():
            if line.startswith("slipstream local:"):  # the launcher's own notes
                continue
            out.append(json.loads(line))  # raises on a line that is not JSON
        return out


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    tmp = tmp_path_factory.mktemp("traced")
    sink = OTLPSink(keep=True)
    env = dict(os.environ)
    env.update(
        SLIPSTREAM_PART_ROWS="100",  # the table spreads over every node
        OTEL_BSP_SCHEDULE_DELAY="100",  # export within 0.1 s instead of 5 s
        OTEL_EXPORTER_OTLP_HEADERS=f"authorization=Bearer {HEADER_SECRET}",
    )
    serve_args = f"--log-format json --otlp-endpoint {sink.url} --encrypt-key {GOSSIP_KEY}"
    log_path = tmp / "nodes.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            find_binary(),
            "local",
            "--nodes",
            "3",
            "--data-dir",
            str(tmp / "data"),
            "--serve-args",
            serve_args,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    addresses = []
    for raw in proc.stdout:
        line = raw.decode()
        if m := NODE.match(line):
            addresses.append(m.group(2))
        if "cluster of 3 nodes ready" in line:
            break
    assert len(addresses) == 3, f"the cluster did not start: {log_path.read_text()[-2000:]}"
    cl = sl.connect(addresses)
    n = 1000
    cl.from_arrow(
        pa.table({"k": pa.array([i % 7 for i in range(n)]), "v": pa.array(range(n))}), name="nums"
    )
    try:
        yield Traced(cl, sink, log_path)
    finally:
        cl.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        log.close()
        sink.close()


def grouped(cl: sl.Client) -> sl.DataFrame:
    return cl.table("nums").group_by("k").agg(col("v").sum().alias("total")).sort("k")


def wait_for(ok: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_traceparent_joins_the_cluster_trace(traced: Traced) -> None:
    trace_id = secrets.token_hex(16)
    with sl.traceparent(f"00-{trace_id}-{secrets.token_hex(8)}-01"):
        table = grouped(traced.cl).to_arrow()
    assert table.column("total").to_pylist() == [sum(range(k, 1000, 7)) for k in range(7)]
    status = traced.cl.query_status(traced.cl.last_query_id)
    assert status["trace_id"] == trace_id
    assert {r["node"] for r in status["receipts"]} == {"n1", "n2", "n3"}
    # Every node exports spans of that trace (the OTLP bodies hold the trace
    # id as 16 raw bytes, and the node's name as its service.instance.id).
    raw = bytes.fromhex(trace_id)

    def every_node_exported() -> bool:
        bodies = [b for b in traced.sink.received() if raw in b]
        return all(any(name.encode() in b for b in bodies) for name in ("n1", "n2", "n3"))

    wait_for(every_node_exported, f"spans of trace {trace_id} from n1, n2 and n3")
    assert any(raw in b and b"slipstream.query_id" in b for b in traced.sink.received())
    assert traced.sink.spans > 0


def test_active_opentelemetry_span_joins(traced: Traced) -> None:
    otel_trace = pytest.importorskip("opentelemetry.trace")
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    tracer = sdk.TracerProvider().get_tracer("notebook")
    with otel_trace.use_span(tracer.start_span("cell"), end_on_exit=True) as span:
        grouped(traced.cl).to_arrow()
        expected = format(span.get_span_context().trace_id, "032x")
    assert traced.cl.query_status(traced.cl.last_query_id)["trace_id"] == expected
    # Outside the span, a query starts a trace of its own.
    grouped(traced.cl).to_arrow()
    other = traced.cl.query_status(traced.cl.last_query_id)["trace_id"]
    assert other and other != expected


def test_json_logs_carry_query_and_trace_ids(traced: Traced) -> None:
    trace_id = secrets.token_hex(16)
    with sl.traceparent(f"00-{trace_id}-{secrets.token_hex(8)}-01"):
        grouped(traced.cl).to_arrow()
    query_id = traced.cl.last_query_id

    def logged() -> list[dict[str, Any]]:
        return [line for line in traced.log_lines() if line.get("query_id") == query_id]

    wait_for(lambda: bool(logged()), f"a log line about query {query_id}")
    for line in logged():
        assert line["trace_id"] == trace_id, line
    done = [line for line in logged() if line["msg"] == "query done"]
    assert done and done[0]["level"] == "INFO" and done[0]["nodes"] == 3
    # A failed query is logged too, with its error.
    with pytest.raises(sl.PlanError):
        traced.cl.table("nums").select(col("no_such_column")).to_arrow()
    # Every line about any query names it and its trace; no secret is logged.
    text = traced.log.read_text()
    assert GOSSIP_KEY not in text and HEADER_SECRET not in text
    for line in traced.log_lines():
        if "query_id" in line:
            assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"]), line


def test_bad_traceparent_is_refused() -> None:
    for bad in ["", "00-xyz", f"00-{'0' * 32}-{'1' * 16}-01", f"ff-{'1' * 32}-{'1' * 16}-01"]:
        with pytest.raises(ValueError, match="W3C trace context"), sl.traceparent(bad):
            pass
