"""Joins, compared with DuckDB on the same data: every join type, one and
several keys, keys of different types, null keys, duplicates, unicode,
name clashes and empty sides."""

from __future__ import annotations

import pyarrow as pa
import pytest
from _oracle import assert_same

import slipstream as sl
from slipstream import col

LEFT = pa.table(
    {
        "k": pa.array([1, 2, 2, 3, None, 5, 7, 7], pa.int64()),
        "s": ["a", "ü", "ü", "c", "d", None, "ß", "ß"],
        "v": pa.array([10.0, 20.0, 21.0, None, 50.0, 60.0, 70.0, 71.0]),
    }
)
RIGHT = pa.table(
    {
        "k": pa.array([2, 2, 3, None, 6, 7], pa.int32()),
        "s": ["ü", "x", "c", "d", "e", "ß"],
        "v": pa.array([200, 201, 300, 400, 600, 700], pa.int16()),
        "w": ["two", "two bis", "three", "null", "six", "seven"],
    }
)


@pytest.fixture(scope="module")
def sides(cl: sl.Client) -> tuple[sl.DataFrame, sl.DataFrame]:
    return (
        cl.from_arrow(LEFT, name="join_left", mode="replace"),
        cl.from_arrow(RIGHT, name="join_right", mode="replace"),
    )


CASES = [
    (
        "inner",
        lambda lf, r: lf.join(r, on="k"),
        "select l.k, l.s, l.v, r.s as s_right, r.v as v_right, r.w from l join r on l.k = r.k",
    ),
    (
        "left",
        lambda lf, r: lf.join(r, on="k", how="left"),
        "select l.k, l.s, l.v, r.s as s_right, r.v as v_right, r.w from l left join r on l.k = r.k",
    ),
    (
        "right",
        lambda lf, r: lf.join(r, on="k", how="right"),
        "select l.s, l.v, r.k, r.s as s_right, r.v as v_right, r.w "
        "from l right join r on l.k = r.k",
    ),
    (
        "full",
        lambda lf, r: lf.join(r, on="k", how="full"),
        "select l.k, l.s, l.v, r.k as k_right, r.s as s_right, r.v as v_right, r.w "
        "from l full join r on l.k = r.k",
    ),
    ("semi", lambda lf, r: lf.join(r, on="k", how="semi"), "select * from l semi join r using (k)"),
    ("anti", lambda lf, r: lf.join(r, on="k", how="anti"), "select * from l anti join r using (k)"),
    (
        "cross",
        lambda lf, r: lf.join(r.select("w"), how="cross"),
        "select l.*, r.w from l cross join r",
    ),
    (
        "two_keys",
        lambda lf, r: lf.join(r, on=["k", "s"]),
        "select l.k, l.s, l.v, r.v as v_right, r.w from l join r on l.k = r.k and l.s = r.s",
    ),
    (
        "left_on_right_on",
        lambda lf, r: lf.join(r, left_on="s", right_on="w", how="left"),
        "select l.*, r.k as k_right, r.s as s_right, r.v as v_right "
        "from l left join r on l.s = r.w",
    ),
    (
        "expression_key",
        lambda lf, r: lf.join(r, left_on=col("k") * 100, right_on=col("v"), suffix="_r"),
        "select l.*, r.k as k_r, r.s as s_r, r.w from l join r on l.k * 100 = r.v",
    ),
    (
        "then_group_by",
        lambda lf, r: (
            lf.join(r, on="k").group_by("w").agg(col("v").sum().alias("total"), sl.len().alias("n"))
        ),
        "select r.w, coalesce(sum(l.v), 0) as total, count(*) as n "
        "from l join r on l.k = r.k group by r.w",
    ),
]


@pytest.mark.parametrize(("build", "sql"), [pytest.param(b, s, id=n) for n, b, s in CASES])
def test_join_matches_duckdb(sides: tuple[sl.DataFrame, sl.DataFrame], build, sql: str) -> None:
    left, right = sides
    assert_same(build(left, right), sql, l=LEFT, r=RIGHT)


def test_left_join_keeps_left_order(sides: tuple[sl.DataFrame, sl.DataFrame]) -> None:
    left, right = sides
    got = left.join(right.select("k", "w"), on="k", how="left").to_arrow()
    # Every left row, in order; a key with two matches gives two rows in place.
    want = [10.0, 20.0, 20.0, 21.0, 21.0, None, 50.0, 60.0, 70.0, 71.0]
    assert got.column("v").to_pylist() == want


def test_empty_sides(cl: sl.Client, sides: tuple[sl.DataFrame, sl.DataFrame]) -> None:
    left, right = sides
    nothing = right.filter(col("k") > 1000)
    assert left.join(nothing, on="k").to_arrow().num_rows == 0
    assert left.join(nothing, on="k", how="left").to_arrow().num_rows == LEFT.num_rows
    assert left.join(nothing, on="k", how="anti").to_arrow().num_rows == LEFT.num_rows
    assert nothing.join(left, on="k", how="full").to_arrow().num_rows == LEFT.num_rows


def test_join_errors(sides: tuple[sl.DataFrame, sl.DataFrame]) -> None:
    left, right = sides
    with pytest.raises(sl.PlanError, match='unknown column "kk"'):
        left.join(right, on="kk").to_arrow()
    with pytest.raises(sl.PlanError, match="cannot be compared"):
        left.join(right, left_on="k", right_on="w").to_arrow()
    with pytest.raises(ValueError, match="how="):
        left.join(right, on="k", how="sideways")
    with pytest.raises(ValueError, match="cross join takes no keys"):
        left.join(right, on="k", how="cross")
    with pytest.raises(sl.PlanError, match="another suffix"):
        left.with_columns(s_right=col("s")).join(right, on="k").to_arrow()
    with pytest.raises(ValueError, match="suffix"):
        left.join(right, on="k", suffix="")


def test_join_explain_and_pruning(sides: tuple[sl.DataFrame, sl.DataFrame]) -> None:
    left, right = sides
    text = left.join(right, on="k").select("w").explain()
    if "== stages" in text:  # a cluster: the small side goes to every task of the other
        assert "output=broadcast" in text
    else:
        assert "HashJoin inner" in text
    # Only the key and the selected column are read from the right table.
    assert "columns=[k, w]" in text


@pytest.mark.parametrize("how", ["inner", "left", "semi", "anti", "full"])
def test_join_filter_is_a_condition_on_pairs(
    sides: tuple[sl.DataFrame, sl.DataFrame], how: str
) -> None:
    left, right = sides
    cond = "l.v * 10 < r.v"
    sql = {
        "inner": f"select l.k, l.s, l.v, r.s as s_right, r.v as v_right, r.w "
        f"from l join r on l.k = r.k and {cond}",
        "left": f"select l.k, l.s, l.v, r.s as s_right, r.v as v_right, r.w "
        f"from l left join r on l.k = r.k and {cond}",
        "full": f"select l.k, l.s, l.v, r.k as k_right, r.s as s_right, r.v as v_right, r.w "
        f"from l full join r on l.k = r.k and {cond}",
        "semi": f"select * from l where exists (select 1 from r where l.k = r.k and {cond})",
        "anti": f"select * from l where not exists (select 1 from r where l.k = r.k and {cond})",
    }[how]
    q = left.join(right, on="k", how=how, filter=col("v") * 10 < col("v_right"))
    assert_same(q, sql, l=LEFT, r=RIGHT)


def test_inner_join_built_on_the_smaller_left_side(
    sides: tuple[sl.DataFrame, sl.DataFrame],
) -> None:
    left, right = sides  # RIGHT has fewer rows: as the left input it becomes the build side
    assert_same(
        right.join(left, on="k"),
        "select r.k, r.s, r.v, r.w, l.s as s_right, l.v as v_right from r join l on r.k = l.k",
        l=LEFT,
        r=RIGHT,
    )
    assert_same(
        right.join(left, on="k", filter=col("v") > col("v_right") * 10),
        "select r.k, r.s, r.v, r.w, l.s as s_right, l.v as v_right "
        "from r join l on r.k = l.k and r.v > l.v * 10",
        l=LEFT,
        r=RIGHT,
    )


@pytest.mark.parametrize("how", ["semi", "anti"])
def test_semi_and_anti_joins_build_on_the_smaller_kept_side(
    sides: tuple[sl.DataFrame, sl.DataFrame], how: str
) -> None:
    left, right = sides  # RIGHT is the smaller: kept and built, LEFT streams past it
    q = right.join(left, on="k", how=how)
    got = q.to_arrow()
    matched = {2, 3, 7}
    keep = [(k in matched) == (how == "semi") for k in RIGHT.column("k").to_pylist()]
    assert got.to_pylist() == RIGHT.filter(pa.array(keep)).to_pylist()  # RIGHT's order
    text = q.explain()
    if "== stages" not in text:
        assert f"HashJoin right_{how}" in text
    exists = "exists" if how == "semi" else "not exists"
    assert_same(
        right.join(left, on="k", how=how, filter=col("v") > col("v_right") * 10),
        f"select * from r where {exists} (select 1 from l where r.k = l.k and r.v > l.v * 10)",
        l=LEFT,
        r=RIGHT,
    )


def test_a_subplan_used_twice_is_computed_once(sides: tuple[sl.DataFrame, sl.DataFrame]) -> None:
    left, _ = sides
    totals = left.group_by("k").agg(col("v").sum().alias("t"))
    top = totals.join(totals.select(col("t").max().alias("m")), left_on="t", right_on="m")
    assert_same(
        top,
        "with t as (select k, sum(v) as t from l group by k) "
        "select t.k, t.t from t where t.t = (select max(t) from t)",
        l=LEFT,
    )
    text = top.explain()
    if "== stages" not in text:
        assert "Shared (computed once" in text and "Shared (the one above)" in text


def test_a_subplan_whose_uses_need_other_columns_is_computed_once(
    sides: tuple[sl.DataFrame, sl.DataFrame],
) -> None:
    left, right = sides
    matched = left.join(right, on="k", how="semi")  # one use needs v, the other s
    means = matched.group_by("k").agg(col("v").mean().alias("mean_v"))
    q = matched.join(means, on="k").filter(col("v") >= col("mean_v")).select("k", "s")
    assert_same(
        q,
        "with m as (select * from l where exists (select 1 from r where r.k = l.k)) "
        "select m.k, m.s from m join (select k, avg(v) as mean_v from m group by k) a "
        "on m.k = a.k where m.v >= a.mean_v",
        l=LEFT,
        r=RIGHT,
    )
    text = q.explain()
    if "== stages" not in text:
        assert "Shared (the one above)" in text


def test_an_or_over_both_sides_also_filters_each_side(
    sides: tuple[sl.DataFrame, sl.DataFrame],
) -> None:
    left, right = sides
    cond = ((col("v") > 20) & (col("w") == "two")) | ((col("v") < 15) & (col("w") == "three"))
    q = left.join(right.select("k", "w"), on="k").filter(cond)
    assert_same(
        q,
        "select l.k, l.s, l.v, r.w from l join r on l.k = r.k "
        "where (l.v > 20 and r.w = 'two') or (l.v < 15 and r.w = 'three')",
        l=LEFT,
        r=RIGHT,
    )
    optimized = q.explain().split("== optimized plan ==")[1]
    # each side gets what the OR implies for it, below the join
    assert '((col(w) == "two") | (col(w) == "three"))' in optimized
    assert "((col(v) > 20) | (col(v) < 15))" in optimized


def test_subplans_that_differ_only_in_a_window_offset_are_not_shared(
    sides: tuple[sl.DataFrame, sl.DataFrame],
) -> None:
    left, _ = sides
    rows = left.filter(col("v").is_not_null())

    def shifted(by: int) -> sl.DataFrame:  # the same names whatever the offset
        lagged = rows.with_columns(col("v").shift(by).over("k", order_by="v").alias("p"))
        return lagged.group_by("k").agg(col("p").sum().alias("total"))

    q = shifted(1).join(shifted(2), on="k")
    assert_same(
        q,
        "with r as (select * from l where v is not null), "
        "a as (select k, coalesce(sum(p), 0) as total from (select k, lag(v, 1) over "
        "(partition by k order by v) as p from r) group by k), "
        "b as (select k, coalesce(sum(p), 0) as total from (select k, lag(v, 2) over "
        "(partition by k order by v) as p from r) group by k) "
        "select a.k, a.total, b.total as total_right from a join b on a.k = b.k",
        l=LEFT,
    )
