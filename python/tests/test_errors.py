"""Bad input: each gives the right exception class and message, and the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl
import pytest
from google.protobuf import any_pb2

import slipstream as sl
from slipstream import col
from slipstream._auth import flight_client
from slipstream._errors import translate
from slipstream._proto import plan_pb2 as pb


@pytest.fixture(scope="module")
def trips(cl: sl.Client) -> sl.DataFrame:
    data = pa.table(
        {
            "vendor": ["a", "b", "a"],
            "fare": [1.5, 20.0, 30.0],
            "passengers": pa.array([1, 2, 3], pa.int32()),
            "name": ["x", "y", "z"],
        }
    )
    return cl.from_arrow(data, "trips_errors", mode="replace")


@pytest.fixture(autouse=True)
def still_serving(cl: sl.Client, trips: sl.DataFrame) -> Iterator[None]:
    """After every bad request the same node answers a good query correctly."""
    yield
    assert cl.health()["status"] == "ok"
    got = trips.group_by("vendor").agg(col("fare").sum().alias("s")).sort("vendor").to_arrow()
    assert got.to_pylist() == [{"vendor": "a", "s": 31.5}, {"vendor": "b", "s": 20.0}]


def test_unknown_column_names_it_and_suggests(trips: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError) as info:
        trips.select("fair").to_arrow()
    msg = str(info.value)
    assert "fair" in msg and "fare" in msg, msg
    assert info.value.code == "INVALID_ARGUMENT"
    assert "gRPC client debug context" not in msg and "Flight returned" not in msg


def test_unknown_column_in_filter_and_schema(trips: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError, match="passenger"):
        trips.filter(col("pasengers") > 1).to_arrow()
    with pytest.raises(sl.PlanError, match="vendor"):
        _ = trips.group_by("vendr").agg(sl.len()).schema


def test_type_mismatch_names_both_types(trips: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError) as info:
        trips.select(x=col("name") + col("passengers")).to_arrow()
    msg = str(info.value).lower()
    assert "int32" in msg, msg
    assert "utf8" in msg or "string" in msg, msg


def test_comparing_string_with_number(trips: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError) as info:
        trips.filter(col("name") > 5).to_arrow()
    msg = str(info.value).lower()
    assert "utf8" in msg or "string" in msg, msg


def test_filter_needs_a_boolean(trips: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError):
        trips.filter(col("fare")).to_arrow()


def test_aggregate_as_group_key(trips: sl.DataFrame) -> None:
    # (An aggregate beside columns in select is broadcast, as in polars.)
    with pytest.raises(sl.PlanError, match="inside group_by"):
        trips.group_by(col("fare").sum()).agg(sl.len()).to_arrow()


def test_integer_modulo_by_zero(trips: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError):
        trips.select(m=col("passengers") % (col("passengers") - col("passengers"))).to_arrow()


def test_bad_cast(cl: sl.Client) -> None:
    t = cl.from_arrow(pa.table({"s": ["1", "abc"]}), "bad_cast", mode="replace")
    with pytest.raises(sl.PlanError, match="abc"):
        t.select(col("s").cast("int64")).to_arrow()


def test_unknown_table(cl: sl.Client) -> None:
    with pytest.raises(sl.NotFoundError, match="no_such_table") as info:
        cl.table("no_such_table").to_arrow()
    assert info.value.code == "NOT_FOUND"
    assert isinstance(info.value, LookupError)
    with pytest.raises(sl.NotFoundError):
        _ = cl.table("no_such_table").schema
    with pytest.raises(sl.NotFoundError):
        cl.table("no_such_table").explain()


def test_missing_file(cl: sl.Client, tmp_path: Path) -> None:
    with pytest.raises(sl.NotFoundError, match=r"missing\.parquet"):
        cl.read_parquet(tmp_path / "missing.parquet").to_arrow()
    # Outside the directories the node may read, whether it exists or not.
    with pytest.raises(sl.PermissionDeniedError, match="--allow-path") as info:
        cl.read_parquet("/definitely/missing.parquet").to_arrow()
    assert info.value.code == "PERMISSION_DENIED"
    assert isinstance(info.value, PermissionError)


def test_unknown_function(cl: sl.Client, trips: sl.DataFrame) -> None:
    expr = pb.Expr(
        call=pb.Call(function="frobnicate", args=[pb.Expr(column=pb.Column(name="fare"))])
    )
    query = pb.Query(root=pb.Node(select=pb.Select(input=trips._node, exprs=[expr])))
    with pytest.raises(sl.PlanError, match="frobnicate"):
        cl._collect(query)


def _raw(cl: sl.Client) -> fl.FlightClient:
    return flight_client(cl.address, cl._creds)  # a plain pyarrow client with cl's token


@pytest.mark.parametrize(
    "cmd",
    [
        pytest.param(b"\xff\x00 definitely not protobuf", id="garbage"),
        pytest.param(
            any_pb2.Any(
                type_url="type.googleapis.com/slipstream.plan.v1.Query", value=b"\xff\xff\xff"
            ).SerializeToString(),
            id="any_with_garbage_query",
        ),
        pytest.param(
            any_pb2.Any(type_url="type.googleapis.com/nope.Nope", value=b"").SerializeToString(),
            id="any_of_unknown_type",
        ),
        pytest.param(pb.Query().SerializeToString(), id="empty_query_not_wrapped"),
    ],
)
def test_malformed_plan_bytes(cl: sl.Client, cmd: bytes) -> None:
    raw = _raw(cl)
    try:
        with pytest.raises(pa.ArrowInvalid, match="invalid argument") as info:
            raw.get_flight_info(fl.FlightDescriptor.for_command(cmd))
    finally:
        raw.close()
    err = translate(info.value)
    assert isinstance(err, sl.PlanError)
    assert err.message and "Flight returned" not in err.message


def test_empty_plan(cl: sl.Client) -> None:
    with pytest.raises(sl.PlanError):
        cl._collect(pb.Query())


def test_malformed_upload_command(cl: sl.Client) -> None:
    raw = _raw(cl)
    schema = pa.schema([("a", pa.int64())])
    try:
        writer, _ = raw.do_put(fl.FlightDescriptor.for_command(b"\x00garbage"), schema)
        with pytest.raises(pa.ArrowInvalid, match="invalid argument"):
            writer.write_table(pa.table({"a": [1]}))
            writer.close()
    finally:
        raw.close()


def test_bad_ticket(cl: sl.Client) -> None:
    raw = _raw(cl)
    try:
        with pytest.raises(pa.ArrowException) as info:
            raw.do_get(fl.Ticket(b"not a ticket")).read_all()
    finally:
        raw.close()
    assert isinstance(translate(info.value), sl.PlanError)


def test_unknown_action(cl: sl.Client) -> None:
    with pytest.raises(sl.SlipstreamError):
        cl._action("no_such_action")


def test_connect_to_nothing_is_unavailable() -> None:
    with pytest.raises(sl.UnavailableError):
        sl.connect("grpc://127.0.0.1:1")
