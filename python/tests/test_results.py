"""Result conversions, laziness, schema/explain/repr, streaming and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import slipstream as sl
from slipstream import col


@pytest.fixture(scope="module")
def trips(cl: sl.Client) -> sl.DataFrame:
    rng = np.random.default_rng(1)
    n = 300_000
    df = pd.DataFrame(
        {
            "vendor": rng.choice(["acme", "βeta", "ç-cabs", "東京タクシー"], n),
            "fare": np.where(rng.random(n) < 0.05, np.nan, rng.gamma(2.0, 8.0, n)),
            "zero": np.zeros(n, dtype=np.int64),
            "n": np.arange(n, dtype=np.int64),
        }
    )
    return cl.from_pandas(df, "trips_results", mode="replace")


@pytest.fixture
def top(trips: sl.DataFrame) -> sl.DataFrame:
    return (
        trips.filter(col("fare") > 10)
        .group_by("vendor")
        .agg(col("fare").sum().alias("total"), sl.len().alias("n"))
        .sort("total", descending=True)
        .limit(3)
    )


def test_conversions_agree(top: sl.DataFrame) -> None:
    table = top.to_arrow()
    assert table.column_names == ["vendor", "total", "n"]
    assert table.num_rows == 3
    totals = table.column("total").to_pylist()
    assert totals == sorted(totals, reverse=True)

    pdf = top.to_pandas()
    assert isinstance(pdf, pd.DataFrame)
    pd.testing.assert_frame_equal(pdf, table.to_pandas())

    pldf = top.to_polars()
    assert isinstance(pldf, pl.DataFrame)
    assert pldf.to_dicts() == table.to_pylist()

    assert pa.table(top).equals(table)  # __arrow_c_stream__
    assert pl.DataFrame(top).to_dicts() == table.to_pylist()
    reader = pa.RecordBatchReader.from_stream(top)
    assert reader.read_all().equals(table)
    wanted = pa.schema(
        [("vendor", pa.large_string()), ("total", pa.float64()), ("n", pa.float64())]
    )
    cast = pa.RecordBatchReader.from_stream(top, schema=wanted).read_all()  # requested_schema
    assert cast.schema == wanted
    assert cast.column("n").to_pylist() == [float(v) for v in table.column("n").to_pylist()]


def test_nan_from_pandas_is_null(trips: sl.DataFrame) -> None:
    got = trips.select(nulls=col("fare").is_null().cast("int64").sum()).to_arrow()
    assert got.column("nulls")[0].as_py() > 0


def test_to_batches_streams_in_order(trips: sl.DataFrame) -> None:
    q = trips.sort("n").select("n", "vendor")
    batches = q.to_batches()
    first = next(iter(batches))
    assert isinstance(first, pa.RecordBatch)
    assert first.column("n")[0].as_py() == 0
    rest = list(batches)
    table = pa.Table.from_batches([first, *rest])
    assert table.num_rows == 300_000
    assert table.column("n").to_pylist() == list(range(300_000))


def test_abandoning_a_stream_leaves_the_server_healthy(cl: sl.Client, trips: sl.DataFrame) -> None:
    for _ in range(3):
        it = trips.to_batches()
        next(it)
        it.close()  # type: ignore[attr-defined]
    assert trips.select(sl.len().alias("n")).to_arrow().column("n")[0].as_py() == 300_000


def test_schema_and_columns_do_not_run_the_query(trips: sl.DataFrame) -> None:
    # integer % 0 only fails when the query runs
    q = trips.select("vendor", m=col("n") % col("zero"))
    assert q.columns == ["vendor", "m"]
    assert q.schema.field("m").type == pa.int64()
    html = q._repr_html_()
    assert "vendor" in html and "int64" in html and "m" in html
    with pytest.raises(sl.PlanError):
        q.to_arrow()


def test_schema_matches_result(top: sl.DataFrame) -> None:
    assert top.schema == top.to_arrow().schema


def test_explain(top: sl.DataFrame) -> None:
    text = top.explain()
    assert isinstance(text, str)
    assert "trips_results" in text
    assert "total" in text and "fare" in text
    assert repr(text) == str(text)  # prints as plain text in a notebook


def test_repr_html_shows_plan_and_schema(top: sl.DataFrame) -> None:
    html = top._repr_html_()
    assert "trips_results" in html
    assert "total" in html and "double" in html and "vendor" in html
    assert "lazy" in html


def test_repr_html_of_a_bad_query_shows_the_error(trips: sl.DataFrame) -> None:
    html = trips.select("nope")._repr_html_()
    assert "PlanError" in html and "nope" in html


def test_repr_does_not_contact_the_server() -> None:
    dead = sl.Client("grpc://127.0.0.1:1")
    q = dead.table("t").filter(col("a") > 1).group_by("b").agg(sl.len().alias("n"))
    text = repr(q)
    assert 'TABLE "t"' in text and 'col("a") > 1' in text and "AGGREGATE" in text
    dead.close()


def test_lazy_until_collected(cl: sl.Client) -> None:
    q = cl.table("not_yet").filter(col("x") > 1)
    cl.from_arrow(pa.table({"x": [1, 2, 3]}), "not_yet", mode="replace")
    assert q.to_arrow().column("x").to_pylist() == [2, 3]


def test_expressions_are_not_booleans() -> None:
    with pytest.raises(TypeError, match="&"):
        bool(col("a") > 1)
    with pytest.raises(TypeError, match="&"):
        _ = (col("a") > 1) and (col("b") > 2)


def test_agg_of_a_column_name_collects_lists(trips: sl.DataFrame) -> None:
    """As polars: agg("fare") gives each group's fares as a list."""
    lists = trips.group_by("vendor").agg("fare").to_arrow()
    assert pa.types.is_list(lists.schema.field("fare").type)
    got = {
        v: sorted(f, key=lambda x: (x is None, x or 0))
        for v, f in zip(
            lists.column("vendor").to_pylist(), lists.column("fare").to_pylist(), strict=True
        )
    }
    rows = trips.select("vendor", "fare").to_arrow()
    want: dict[object, list[object]] = {}
    for v, f in zip(
        rows.column("vendor").to_pylist(), rows.column("fare").to_pylist(), strict=True
    ):
        want.setdefault(v, []).append(f)
    assert got == {v: sorted(f, key=lambda x: (x is None, x or 0)) for v, f in want.items()}


_SLOW_SERVER = textwrap.dedent(
    """
    import sys, time
    import pyarrow as pa, pyarrow.flight as fl

    class Slow(fl.FlightServerBase):
        def get_flight_info(self, context, descriptor):
            schema = pa.schema([("x", pa.int64())])
            eps = [fl.FlightEndpoint(b"a", []), fl.FlightEndpoint(b"b", [])]
            return fl.FlightInfo(schema, descriptor, eps, -1, -1)

        def do_get(self, context, ticket):
            schema = pa.schema([("x", pa.int64())])
            def batches():
                while not context.is_cancelled():
                    time.sleep(0.05)
                    yield pa.record_batch([pa.array([1])], schema=schema)
            return fl.GeneratorStream(schema, batches())

        def do_action(self, context, action):
            return [b'{"status": "ok", "version": "slow"}']

    s = Slow("grpc://127.0.0.1:0")
    print(s.port, flush=True)
    s.serve()
    """
)

_CLIENT = textwrap.dedent(
    """
    import sys
    import slipstream as sl
    cl = sl.connect(sys.argv[1])
    print("collecting", flush=True)
    cl.table("t").to_arrow()
    """
)


def test_ctrl_c_during_to_arrow_does_not_hang(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A query whose stream never ends: SIGINT raises KeyboardInterrupt within seconds."""
    server = subprocess.Popen(
        [sys.executable, "-c", _SLOW_SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        client = subprocess.Popen(
            [sys.executable, "-c", _CLIENT, f"grpc://127.0.0.1:{port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "collecting"
        time.sleep(1.0)
        assert client.poll() is None, "the endless query must still be running"
        started = time.monotonic()
        client.send_signal(signal.SIGINT)
        try:
            _, err = client.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            client.kill()
            pytest.fail("Ctrl-C did not interrupt to_arrow() within 10 s")
        assert time.monotonic() - started < 10
        assert "KeyboardInterrupt" in err
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
