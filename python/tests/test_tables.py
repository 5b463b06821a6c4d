"""Uploads (create / replace / append), listing, dropping, and persistence."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from _data import make_alltypes
from _oracle import assert_same, rows
from conftest import ServerProcess

import slipstream as sl
from slipstream import col


def _sorted_rows(table: pa.Table, by: str = "id") -> list[tuple]:
    return rows(table.sort_by(by))


def test_create_replace_append(cl: sl.Client) -> None:
    name = "modes"
    cl.drop(name, if_exists=True)
    first = pa.table({"id": [1, 2], "v": ["a", "b"]})
    t = cl.from_arrow(first, name)
    assert _sorted_rows(t.to_arrow()) == [(1, "a"), (2, "b")]

    with pytest.raises(sl.AlreadyExistsError, match=name):
        cl.from_arrow(first, name)
    with pytest.raises(sl.AlreadyExistsError):
        cl.from_arrow(first, name, mode="create")
    assert t.to_arrow().num_rows == 2, "a refused create must not change the table"

    cl.from_arrow(pa.table({"id": [3], "v": ["ç"]}), name, mode="append")
    assert _sorted_rows(t.to_arrow()) == [(1, "a"), (2, "b"), (3, "ç")]

    cl.from_arrow(pa.table({"id": [9], "v": ["z"]}), name, mode="replace")
    assert _sorted_rows(t.to_arrow()) == [(9, "z")]

    # replace may change the schema
    cl.from_arrow(pa.table({"x": [1.5]}), name, mode="replace")
    assert t.to_arrow().to_pylist() == [{"x": 1.5}]
    assert t.schema == pa.schema([("x", pa.float64())])


def test_append_with_other_schema_is_refused(cl: sl.Client) -> None:
    name = "append_mismatch"
    t = cl.from_arrow(pa.table({"id": [1], "v": ["a"]}), name, mode="replace")
    with pytest.raises(sl.PlanError):
        cl.from_arrow(pa.table({"id": [2], "w": [1.0]}), name, mode="append")
    assert t.to_arrow().to_pylist() == [{"id": 1, "v": "a"}]
    assert cl.health()["status"] == "ok"


def test_append_to_missing_table(cl: sl.Client) -> None:
    """polars/pandas habit: appending to a table that does not exist creates it or says so."""
    cl.drop("append_new", if_exists=True)
    try:
        t = cl.from_arrow(pa.table({"id": [1]}), "append_new", mode="append")
    except sl.NotFoundError as e:
        assert "append_new" in str(e)
    else:
        assert t.to_arrow().to_pylist() == [{"id": 1}]


def test_invalid_mode_and_name(cl: sl.Client) -> None:
    with pytest.raises(ValueError, match="mode"):
        cl.from_arrow(pa.table({"a": [1]}), "x", mode="upsert")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        cl.from_arrow(pa.table({"a": [1]}), "")


def test_drop(cl: sl.Client) -> None:
    cl.from_arrow(pa.table({"a": [1]}), "to_drop", mode="replace")
    assert "to_drop" in [i.name for i in cl.tables()]
    assert cl.drop("to_drop") is True
    assert "to_drop" not in [i.name for i in cl.tables()]
    with pytest.raises(sl.NotFoundError, match="to_drop"):
        cl.drop("to_drop")
    assert cl.drop("to_drop", if_exists=True) is False
    with pytest.raises(sl.NotFoundError):
        cl.table("to_drop").to_arrow()


def test_tables_lists_rows_and_schema(cl: sl.Client, alltypes: pa.Table, t: sl.DataFrame) -> None:
    infos = {i.name: i for i in cl.tables()}
    info = infos["alltypes"]
    assert info.rows == alltypes.num_rows
    assert info.schema.names == alltypes.column_names
    assert info.schema.field("i8").type == pa.int8()
    assert info.schema.field("dec").type == pa.decimal128(12, 2)
    assert info.schema.field("ts").type == pa.timestamp("us")
    names = [i.name for i in cl.tables()]
    assert names == sorted(names)


def test_alltypes_round_trip_exactly(t: sl.DataFrame, alltypes: pa.Table) -> None:
    """Every type comes back with its values; string_view comes back as large_utf8."""
    got = t.to_arrow().sort_by("id")
    assert got.num_rows == alltypes.num_rows
    for name in alltypes.column_names:
        want = alltypes.column(name)
        have = got.column(name)
        if name == "sv":
            assert have.type in (pa.large_string(), pa.string_view())
        else:
            assert have.type == want.type, name
        assert have.to_pylist() == want.to_pylist(), name


def test_from_pandas(cl: sl.Client) -> None:
    df = pd.DataFrame(
        {
            "vendor": ["ç", "日本", None, "ç"],
            "fare": [1.5, None, 3.0, 4.25],
            "n": np.array([1, 2, 3, 4], dtype=np.int16),
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", None, "2024-01-04"]),
            "cat": pd.Categorical(["x", "y", "x", None]),
        },
        index=pd.Index([10, 11, 12, 13], name="row"),
    )
    t = cl.from_pandas(df, "pandas_in", mode="replace")
    assert t.columns == ["vendor", "fare", "n", "when", "cat"], "the index is not uploaded"
    back = t.sort("n").to_pandas()
    assert back["vendor"].tolist()[:2] == ["ç", "日本"]
    assert back["fare"].isna().tolist() == [False, True, False, False]
    assert back["n"].tolist() == [1, 2, 3, 4]
    assert back["when"].isna().tolist() == [False, False, True, False]
    assert back["cat"].tolist()[:3] == ["x", "y", "x"], "categoricals arrive as their values"

    t2 = cl.from_pandas(df, "pandas_in_index", mode="replace", include_index=True)
    assert t2.columns[0] == "row"
    assert sorted(t2.to_arrow().column("row").to_pylist()) == [10, 11, 12, 13]


def test_from_polars_sends_string_view(cl: sl.Client) -> None:
    df = pl.DataFrame(
        {
            "name": ["Ångström", None, "東京", "emoji 🙂"],
            "x": pl.Series([1, 2, None, 4], dtype=pl.Int32),
            "d": [dt.date(2020, 1, 1), None, dt.date(1969, 12, 31), dt.date(2100, 1, 1)],
            "dec": pl.Series(
                [Decimal("1.10"), Decimal("-2.25"), None, Decimal("0.01")],
                dtype=pl.Decimal(10, 2),
            ),
        }
    )
    # what from_polars sends: polars' own string_view layout
    assert df.to_arrow(compat_level=pl.CompatLevel.newest()).schema.field("name").type == (
        pa.string_view()
    )
    t = cl.from_polars(df, "polars_in", mode="replace")
    back = t.to_polars()
    assert back.columns == df.columns
    assert sorted(back["name"].to_list(), key=str) == sorted(df["name"].to_list(), key=str)
    q = t.filter(col("name") == "東京").select("x", "d").to_polars()
    assert q.to_dicts() == [{"x": None, "d": dt.date(1969, 12, 31)}]
    agg = t.group_by("name").agg(col("dec").sum().alias("s")).sort("name", nulls_last=True)
    # byte order of UTF-8: "emoji" < "Ångström" < "東京", then the null key
    # a sum of nothing but nulls is 0, as polars answers
    assert agg.to_arrow().column("s").to_pylist() == [
        Decimal("0.01"),
        Decimal("1.10"),
        Decimal("0.00"),
        Decimal("-2.25"),
    ]


@pytest.mark.parametrize("kind", ["table", "batch", "reader", "c_stream", "chunked"])
def test_from_arrow_inputs(cl: sl.Client, kind: str) -> None:
    data = make_alltypes(500, seed=3).drop_columns(["sv"])
    if kind == "table":
        src: object = data
    elif kind == "batch":
        src = data.combine_chunks().to_batches()[0]
    elif kind == "reader":
        src = pa.RecordBatchReader.from_batches(data.schema, data.to_batches(max_chunksize=37))
    elif kind == "c_stream":
        src = pl.from_arrow(data)
    else:
        src = pa.concat_tables([data.slice(0, 1), data.slice(1, 200), data.slice(201)])
    t = cl.from_arrow(src, f"from_arrow_{kind}", mode="replace")
    assert_same(
        t.select("id", "k", "i32", "dec", "d"), "select id, k, i32, dec, d from data", data=data
    )


def test_from_arrow_rejects_other_objects(cl: sl.Client) -> None:
    with pytest.raises(TypeError, match="from_arrow"):
        cl.from_arrow([1, 2, 3], "nope")


def test_empty_table(cl: sl.Client) -> None:
    empty = pa.table(
        {
            "k": pa.array([], pa.string()),
            "v": pa.array([], pa.int64()),
            "f": pa.array([], pa.float64()),
        }
    )
    t = cl.from_arrow(empty, "empty", mode="replace")
    got = t.to_arrow()
    assert got.num_rows == 0
    assert got.schema.names == ["k", "v", "f"]
    assert t.filter(col("v") > 1).to_arrow().num_rows == 0
    assert t.group_by("k").agg(col("v").sum().alias("s")).to_arrow().num_rows == 0
    # the sum of no rows is 0, as polars answers (SQL's sum says null)
    assert t.select(col("v").sum().alias("s"), sl.len().alias("n")).to_arrow().to_pylist() == [
        {"s": 0, "n": 0}
    ]
    assert t.sort("v").head(3).to_pandas().empty
    assert {i.name: i.rows for i in cl.tables()}["empty"] == 0
    assert list(t.to_batches()) == [] or sum(b.num_rows for b in t.to_batches()) == 0


def test_upload_in_many_batches(cl: sl.Client) -> None:
    n = 400_000
    data = pa.table({"id": np.arange(n), "g": np.arange(n) % 13, "x": np.ones(n)})
    t = cl.from_arrow(data, "many_batches", mode="replace")
    assert {i.name: i.rows for i in cl.tables()}["many_batches"] == n
    got = t.group_by("g").agg(col("x").sum().alias("s"), sl.len().alias("n")).to_arrow()
    assert_same(got, "select g, sum(x) as s, count(*) as n from data group by g", data=data)
    assert (
        t.select(col("id").sum().alias("s")).to_arrow().column("s")[0].as_py() == n * (n - 1) // 2
    )


def test_batch_larger_than_4_mib_both_ways(cl: sl.Client) -> None:
    """One row of 6 MiB: no batch split can keep a gRPC message under the 4 MiB default."""
    big = "x" * (6 * 1024 * 1024)
    data = pa.table({"id": [1, 2, 3], "blob": [big, "small", big + "y"]})
    t = cl.from_arrow(data, "big_rows", mode="replace")
    got = t.sort("id").to_arrow()
    assert got.column("blob").to_pylist() == [big, "small", big + "y"]
    one = t.filter(col("id") == 3).select("blob").to_arrow()
    assert one.column("blob")[0].as_py() == big + "y"


def test_data_survives_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = make_alltypes(2000, seed=11)
    s = ServerProcess(tmp_path / "data", tmp_path / "log1")
    try:
        with sl.connect(s.address) as c:
            c.from_arrow(data, "kept")
            c.from_arrow(data.slice(0, 10), "kept", mode="append")
            c.from_arrow(data.slice(0, 5), "dropped")
            c.drop("dropped")
    finally:
        assert s.stop() == 0, "SIGTERM must shut the server down cleanly (exit code 0)"
    s2 = ServerProcess(tmp_path / "data", tmp_path / "log2")
    try:
        with sl.connect(s2.address) as c:
            infos = {i.name: i for i in c.tables()}
            assert set(infos) == {"kept"}
            assert infos["kept"].rows == 2010
            expected = pa.concat_tables([data, data.slice(0, 10)])
            assert_same(c.table("kept"), "select * from data", data=expected)
    finally:
        assert s2.stop() == 0


def test_local_node_data_dir_persists(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "mine"
    with sl.connect(data_dir=data_dir) as c:
        c.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), "persisted")
    assert data_dir.exists() and any(data_dir.iterdir()), "the given data_dir is kept"
    with sl.connect(data_dir=data_dir) as c:
        assert sorted(c.table("persisted").to_arrow().column("a").to_pylist()) == [1, 2, 3]
