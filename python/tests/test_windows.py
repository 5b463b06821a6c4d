"""Window expressions (``expr.over``), compared with DuckDB's window functions."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from _oracle import assert_same

import slipstream as sl
from slipstream import col

rng = random.Random(11)
N = 400
W = pa.table(
    {
        "id": pa.array(range(N), pa.int64()),
        "g": pa.array([rng.choice(["a", "ü", None, "b"]) for _ in range(N)]),
        "o": pa.array([rng.randint(0, 20) for _ in range(N)], pa.int32()),
        "v": pa.array([None if rng.random() < 0.15 else rng.randint(-50, 50) for _ in range(N)]),
        "f": pa.array([rng.uniform(-1, 1) for _ in range(N)]),
    }
)
ROWS = "rows between unbounded preceding and current row"

CASES = [
    ("agg_over_partition", col("v").sum().over("g").alias("x"), "sum(v) over (partition by g)"),
    ("mean_over_partition", col("f").mean().over("g").alias("x"), "avg(f) over (partition by g)"),
    ("count_over_all", col("v").count().over().alias("x"), "count(v) over ()"),
    ("rank", col("o").rank("min").over("g").alias("x"), "rank() over (partition by g order by o)"),
    (
        "dense_rank_desc",
        col("o").rank("dense", descending=True).over("g").alias("x"),
        "dense_rank() over (partition by g order by o desc)",
    ),
    (
        "row_number",
        col("id").rank("ordinal").over("g").alias("x"),
        "row_number() over (partition by g order by id)",
    ),
    (
        "lag",
        col("v").shift(1).over("g", order_by=["o", "id"]).alias("x"),
        "lag(v) over (partition by g order by o, id)",
    ),
    (
        "lead2",
        col("v").shift(-2).over("g", order_by=["o", "id"]).alias("x"),
        "lead(v, 2) over (partition by g order by o, id)",
    ),
    (
        "cum_sum",
        col("v").cum_sum().over("g", order_by=["o", "id"]).alias("x"),
        # polars: a null stays null in a running aggregate.
        f"case when v is not null then sum(v) over (partition by g order by o, id {ROWS}) end",
    ),
    (
        "cum_count",
        col("v").cum_count().over(order_by="id").alias("x"),
        f"count(v) over (order by id {ROWS})",
    ),
    (
        "cum_max",
        col("v").cum_max().over("g", order_by="id").alias("x"),
        f"case when v is not null then max(v) over (partition by g order by id {ROWS}) end",
    ),
    (
        "expression_of_windows",
        (col("v") - col("v").mean().over("g")).alias("x"),
        "v - avg(v) over (partition by g)",
    ),
]


@pytest.fixture(scope="module")
def w(cl: sl.Client) -> sl.DataFrame:
    return cl.from_arrow(W, name="windows_t", mode="replace")


@pytest.mark.parametrize(("expr", "sql"), [pytest.param(e, s, id=n) for n, e, s in CASES])
def test_window_matches_duckdb(w: sl.DataFrame, expr: sl.Expr, sql: str) -> None:
    got = w.with_columns(expr)
    result = assert_same(got, f"select *, {sql} as x from w order by id", w=W, rel=1e-9)
    # Rows keep their input order.
    assert result.column("id").to_pylist() == list(range(N))


def test_window_in_select_and_filter(w: sl.DataFrame) -> None:
    q = w.select("id", "g", col("o").rank("ordinal").over("g").alias("rn")).filter(col("rn") <= 2)
    assert_same(
        q,
        "select * from (select id, g, row_number() over (partition by g order by o, id) as rn "
        "from w) where rn <= 2",
        w=W,
    )


def test_window_errors(w: sl.DataFrame) -> None:
    with pytest.raises(ValueError, match="method"):
        col("o").rank("random")
    with pytest.raises(sl.PlanError, match='unknown column "gg"'):
        w.with_columns(col("v").sum().over("gg")).to_arrow()
