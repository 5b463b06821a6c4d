"""concat (union all), compared with DuckDB."""

from __future__ import annotations

import pyarrow as pa
import pytest
from _oracle import assert_same

import slipstream as sl
from slipstream import col

A = pa.table({"k": ["x", "ü", None], "v": pa.array([1, 2, None], pa.int32())})
B = pa.table({"k": ["x", "", "🙂"], "v": pa.array([10, None, 30], pa.int64())})


@pytest.fixture(scope="module")
def ab(cl: sl.Client) -> tuple[sl.DataFrame, sl.DataFrame]:
    return (
        cl.from_arrow(A, name="concat_a", mode="replace"),
        cl.from_arrow(B, name="concat_b", mode="replace"),
    )


def test_concat_keeps_order_and_widens_types(ab: tuple[sl.DataFrame, sl.DataFrame]) -> None:
    a, b = ab
    got = sl.concat([a, b, a]).to_arrow()
    assert got.schema.field("v").type == pa.int64()
    assert got.column("k").to_pylist() == ["x", "ü", None, "x", "", "🙂", "x", "ü", None]
    assert_same(
        sl.concat([a, b, a]),
        "select * from a union all select * from b union all select * from a",
        ordered=True,
        a=A,
        b=B,
    )


def test_concat_then_aggregate(ab: tuple[sl.DataFrame, sl.DataFrame]) -> None:
    a, b = ab
    q = sl.concat([a, b]).group_by("k").agg(col("v").sum().alias("s"), sl.len().alias("n"))
    assert_same(
        q,
        "select k, coalesce(sum(v), 0) as s, count(*) as n "
        "from (select * from a union all select * from b) group by k",
        a=A,
        b=B,
    )


def test_concat_errors(ab: tuple[sl.DataFrame, sl.DataFrame]) -> None:
    a, b = ab
    with pytest.raises(sl.PlanError, match="same order"):
        sl.concat([a, b.select("v", "k")]).to_arrow()
    with pytest.raises(sl.PlanError, match="is utf8 in input 1"):
        sl.concat([a, b.select(col("v").alias("k"), col("k").alias("v"))]).to_arrow()
    with pytest.raises(ValueError, match="at least one"):
        sl.concat([])
    assert sl.concat([a]) is a


def test_unique(cl: sl.Client) -> None:
    t = pa.table({"k": ["x", "x", None, None, "ü", "x"], "v": [1, 1, 2, 2, 3, 4], "i": range(6)})
    df = cl.from_arrow(t, name="unique_t", mode="replace")
    assert_same(df.unique(), "select distinct * from t", t=t)
    assert_same(df.select("k", "v").unique(), "select distinct k, v from t", t=t)
    first = "select k, first(v order by i) as v, min(i) as i from t group by k"
    last = "select k, last(v order by i) as v, max(i) as i from t group by k"
    assert_same(df.unique("k", keep="first"), first, t=t)
    assert_same(df.unique(["k"], keep="last"), last, t=t)
    assert df.unique("k").to_arrow().num_rows == 3
    with pytest.raises(ValueError, match="no column"):
        df.unique("nope")
