"""Every plan operation and expression, compared with DuckDB on the same data.

Each test runs against a node started by ``sl.connect()`` and against a
``slipstream serve`` process (the ``cl`` fixture).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pyarrow as pa
import pytest
from _oracle import assert_same

import slipstream as sl
from slipstream import col, lit

Case = tuple[str, Callable[[sl.DataFrame], sl.DataFrame], str]


def run_cases(cases: list[Case]) -> list[object]:
    return [pytest.param(build, sql, id=name) for name, build, sql in cases]


# ---------------------------------------------------------------- select / with_columns

SELECT_CASES: list[Case] = [
    ("scan", lambda t: t, "select * from alltypes"),
    ("names", lambda t: t.select("id", "k", "s"), "select id, k, s from alltypes"),
    ("list_of_names", lambda t: t.select(["id", "sv"]), "select id, sv from alltypes"),
    (
        "exprs_alias",
        lambda t: t.select(col("id"), (col("i32") * 2).alias("x"), (col("f64") / 3).alias("y")),
        "select id, i32 * 2 as x, f64 / 3 as y from alltypes",
    ),
    (
        "kwargs",
        lambda t: t.select("id", z=col("i16") - col("i16") * 2),
        "select id, i16 - i16 * 2 as z from alltypes",
    ),
    (
        "literals",
        lambda t: t.select(
            "id",
            lit(1).alias("one"),
            lit("ç日本").alias("c"),
            lit(2.5).alias("f"),
            lit(True).alias("yes"),
            lit(dt.date(2024, 2, 29)).alias("day"),
        ),
        "select id, 1 as one, 'ç日本' as c, 2.5 as f, true as yes, date '2024-02-29' as day "
        "from alltypes",
    ),
    (
        "with_columns_new",
        lambda t: t.with_columns((col("i64") + 1).alias("n"), m=-col("f32")),
        "select *, i64 + 1 as n, -f32 as m from alltypes",
    ),
    (
        "with_columns_replace",
        lambda t: t.with_columns((col("i32") * 2).alias("i32")),
        "select * replace (i32 * 2 as i32) from alltypes",
    ),
    (
        "chained",
        lambda t: t.with_columns(x=col("i16") + 1).select("id", "x").with_columns(y=col("x") * 3),
        "select id, i16 + 1 as x, (i16 + 1) * 3 as y from alltypes",
    ),
]


@pytest.mark.parametrize(("build", "sql"), run_cases(SELECT_CASES))
def test_select(t: sl.DataFrame, alltypes: pa.Table, build, sql) -> None:
    assert_same(build(t), sql, alltypes=alltypes)


# ---------------------------------------------------------------- filter

FILTER_CASES: list[Case] = [
    ("i8_gt", lambda t: t.filter(col("i8") > 0), "i8 > 0"),
    ("i16_le", lambda t: t.filter(col("i16") <= -5), "i16 <= -5"),
    ("i32_eq_col", lambda t: t.filter(col("k2") == 3), "k2 = 3"),
    ("i64_ne", lambda t: t.filter(col("i64") != 0), "i64 <> 0"),
    ("big_max", lambda t: t.filter(col("big") == 2**63 - 1), "big = 9223372036854775807"),
    ("big_min", lambda t: t.filter(col("big") == -(2**63)), "big = -9223372036854775808"),
    ("u8_ge", lambda t: t.filter(col("u8") >= 200), "u8 >= 200"),
    ("u16_lt", lambda t: t.filter(col("u16") < 100), "u16 < 100"),
    ("u32_gt", lambda t: t.filter(col("u32") > 2**31), "u32 > 2147483648"),
    ("u64_huge", lambda t: t.filter(col("u64") > 2**63), "u64 > 9223372036854775808"),
    ("f32_gt", lambda t: t.filter(col("f32") > 50.5), "f32 > 50.5"),
    ("f64_lt", lambda t: t.filter(col("f64") < -1e6), "f64 < -1e6"),
    ("bool_col", lambda t: t.filter(col("b")), "b"),
    ("bool_name", lambda t: t.filter("b"), "b"),
    ("bool_not", lambda t: t.filter(~col("b")), "not b"),
    ("bool_eq", lambda t: t.filter(col("b") == False), "b = false"),  # noqa: E712
    ("utf8_eq_unicode", lambda t: t.filter(col("s") == "Ångström"), "s = 'Ångström'"),
    ("utf8_gt", lambda t: t.filter(col("s") > "b"), "s > 'b'"),
    ("utf8_empty", lambda t: t.filter(col("s") == ""), "s = ''"),
    ("large_utf8_eq", lambda t: t.filter(col("ls") == "東京"), "ls = '東京'"),
    ("string_view_eq", lambda t: t.filter(col("sv") == "emoji 🙂🙃"), "sv = 'emoji 🙂🙃'"),
    ("key_emoji", lambda t: t.filter(col("k") == "🙂"), "k = '🙂'"),
    ("date_ge", lambda t: t.filter(col("d") >= dt.date(2022, 1, 1)), "d >= date '2022-01-01'"),
    (
        "timestamp_lt",
        lambda t: t.filter(col("ts") < dt.datetime(2000, 1, 1, 12, 30)),
        "ts < timestamp '2000-01-01 12:30:00'",
    ),
    (
        "decimal_gt",
        lambda t: t.filter(col("dec") > Decimal("1000000.50")),
        "dec > 1000000.50",
    ),
    ("is_null", lambda t: t.filter(col("f64").is_null()), "f64 is null"),
    ("is_not_null", lambda t: t.filter(col("sv").is_not_null()), "sv is not null"),
    ("key_is_null", lambda t: t.filter(col("k").is_null()), "k is null"),
    (
        "and",
        lambda t: t.filter((col("i8") > 0) & col("s").is_not_null()),
        "i8 > 0 and s is not null",
    ),
    ("or", lambda t: t.filter((col("i8") > 5) | (col("k") == "a")), "i8 > 5 or k = 'a'"),
    ("not_null_semantics", lambda t: t.filter(~(col("i8") > 0)), "not (i8 > 0)"),
    (
        "several_predicates",
        lambda t: t.filter(col("i8") > 0, col("u8") < 128, k="a"),
        "i8 > 0 and u8 < 128 and k = 'a'",
    ),
    ("col_vs_col", lambda t: t.filter(col("i16") > col("i8")), "i16 > i8"),
    ("reflected_cmp", lambda t: t.filter(0 < col("i8")), "0 < i8"),  # noqa: SIM300
    ("nothing", lambda t: t.filter(col("id") < 0), "id < 0"),
    (
        "filter_after_select",
        lambda t: t.select("id", x=col("i32") + 1).filter(col("x") > 500000),
        None,
    ),
]


@pytest.mark.parametrize(("build", "where"), run_cases(FILTER_CASES))
def test_filter(t: sl.DataFrame, alltypes: pa.Table, build, where) -> None:
    if where is None:
        sql = "select id, i32 + 1 as x from alltypes where i32 + 1 > 500000"
    else:
        sql = f"select * from alltypes where {where}"
    assert_same(build(t), sql, alltypes=alltypes)


# ---------------------------------------------------------------- arithmetic

ARITH_CASES: list[Case] = [
    ("i8_add", lambda t: col("i8") + col("i8"), "i8 + i8"),
    ("i8_sub_lit", lambda t: col("i8") - 3, "i8 - 3"),
    ("i16_mul", lambda t: col("i16") * 2, "i16 * 2"),
    ("i32_add", lambda t: col("i32") + col("i32"), "i32 + i32"),
    ("i64_sub", lambda t: col("i64") - col("i64") * 3, "i64 - i64 * 3"),
    ("u16_add", lambda t: col("u16") + 1, "u16 + 1"),
    ("u32_sub", lambda t: col("u32") - col("u32"), "u32 - u32"),
    ("f32_mul", lambda t: col("f32") * 2, "f32 * 2"),
    ("f64_div", lambda t: col("f64") / 7, "f64 / 7"),
    ("int_div_float", lambda t: col("i32") / 4, "i32 / 4"),
    ("div_by_zero_ieee", lambda t: col("i8") / col("i8"), "i8 / i8"),
    ("i32_mod", lambda t: col("i32") % 7, "((i32 % 7) + 7) % 7"),  # floored, as polars
    ("i16_mod_neg", lambda t: col("i16") % -3, "((i16 % -3) - 3) % -3"),
    ("f64_mod", lambda t: col("f64") % 3.5, "((f64 % 3.5) + 3.5) % 3.5"),
    ("neg_int", lambda t: -col("i32"), "-i32"),
    ("neg_float", lambda t: -col("f64"), "-f64"),
    ("neg_decimal", lambda t: -col("dec"), "-dec"),
    ("radd", lambda t: 100 + col("i16"), "100 + i16"),
    ("rsub", lambda t: 100 - col("i16"), "100 - i16"),
    ("rmul", lambda t: 2 * col("f32"), "2 * f32"),
    ("rdiv", lambda t: 1 / col("f64"), "1 / f64"),
    ("rmod", lambda t: 1000 % col("k2"), None),
    ("decimal_add", lambda t: col("dec") + col("dec"), "dec + dec"),
    ("decimal_mul_int", lambda t: col("dec") * 3, "dec * 3"),
    ("nested", lambda t: (col("i32") + 1) * (col("i16") - 2) / 3, "(i32 + 1) * (i16 - 2) / 3"),
]


@pytest.mark.parametrize(("expr", "sql"), run_cases(ARITH_CASES))
def test_arithmetic(t: sl.DataFrame, alltypes: pa.Table, expr, sql) -> None:
    if sql is None:  # % by a column that has no zeros
        q = t.filter(col("k2") > 0).select("id", expr(t).alias("x"))
        assert_same(q, "select id, 1000 % k2 as x from alltypes where k2 > 0", alltypes=alltypes)
        return
    assert_same(
        t.select("id", expr(t).alias("x")),
        f"select id, {sql} as x from alltypes",
        alltypes=alltypes,
    )


def test_result_types(t: sl.DataFrame) -> None:
    """The typing rules of docs/protocol.md, as a user sees them in the schema."""
    q = t.select(
        (col("i32") + 1).alias("i32_plus_lit"),
        (col("i8") * 2).alias("i8_times_lit"),
        (col("u16") + 1).alias("u16_plus_lit"),
        (col("f32") * 2).alias("f32_times_lit"),
        (col("i32") / 2).alias("int_div"),
        (col("i16") % 3).alias("mod"),
        (col("i8") > 0).alias("cmp"),
        col("sv").alias("sv"),
    )
    got = q.to_arrow().schema
    assert got.field("i32_plus_lit").type == pa.int32()
    assert got.field("i8_times_lit").type == pa.int8()
    assert got.field("u16_plus_lit").type == pa.uint16()
    assert got.field("f32_times_lit").type == pa.float32()
    assert got.field("int_div").type == pa.float64()
    assert got.field("mod").type == pa.int16()
    assert got.field("cmp").type == pa.bool_()
    assert got.field("sv").type == pa.large_string()
    assert q.schema == got


def test_modulo_takes_sign_of_divisor(cl: sl.Client) -> None:
    # polars (and Python): floored; SQL's % (cl.sql) keeps the dividend's sign.
    data = pa.table({"a": pa.array([-7, 7, -7, 7], pa.int64()), "b": [3, -3, -3, 3]})
    frame = cl.from_arrow(data, "mod_signs", mode="replace")
    q = frame.select(m=col("a") % col("b"))
    assert q.to_arrow().column("m").to_pylist() == [2, -2, -1, 1]
    sql = cl.sql("select a % b as m from mod_signs").to_arrow()
    assert sql.column("m").to_pylist() == [-1, 1, -1, 1]


def test_mixed_integer_widths_promote(t: sl.DataFrame, alltypes: pa.Table) -> None:
    """int8 + int16 and int32 * int64 widen, as in polars and DuckDB."""
    q = t.select("id", a=col("i8") + col("i16"), b=col("i32") * col("i8"))
    assert_same(q, "select id, i8 + i16 as a, i32 * i8 as b from alltypes", alltypes=alltypes)


# ---------------------------------------------------------------- casts

CAST_CASES: list[Case] = [
    ("i8_to_i64", lambda t: col("i8").cast("int64"), "cast(i8 as bigint)"),
    ("i32_to_f64", lambda t: col("i32").cast(pa.float64()), "cast(i32 as double)"),
    ("i16_to_utf8", lambda t: col("i16").cast("utf8"), "cast(i16 as varchar)"),
    ("u8_to_i16", lambda t: col("u8").cast("int16"), "cast(u8 as smallint)"),
    ("f32_to_f64", lambda t: col("f32").cast("float64"), "cast(f32 as double)"),
    ("date_to_ts", lambda t: col("d").cast("timestamp[us]"), "cast(d as timestamp)"),
    ("dec_to_f64", lambda t: col("dec").cast("float64"), "cast(dec as double)"),
    ("i32_to_dec", lambda t: col("i32").cast("decimal(18,2)"), "cast(i32 as decimal(18,2))"),
    ("bool_to_i32", lambda t: col("b").cast("int32"), "cast(b as integer)"),
    ("sv_to_utf8", lambda t: col("sv").cast("utf8"), "cast(sv as varchar)"),
]


@pytest.mark.parametrize(("expr", "sql"), run_cases(CAST_CASES))
def test_cast(t: sl.DataFrame, alltypes: pa.Table, expr, sql) -> None:
    assert_same(
        t.select("id", expr(t).alias("x")),
        f"select id, {sql} as x from alltypes",
        alltypes=alltypes,
    )


def test_cast_accepts_polars_and_numpy_dtypes(t: sl.DataFrame) -> None:
    import numpy as np
    import polars as pl

    q = t.select(
        a=col("i8").cast(pl.Int64),
        b=col("i8").cast(np.float32),
        c=col("i8").cast(pl.String),
        d=col("ts").cast(pl.Datetime("ms")),
    )
    schema = q.schema
    assert schema.field("a").type == pa.int64()
    assert schema.field("b").type == pa.float32()
    assert pa.types.is_string(schema.field("c").type) or pa.types.is_large_string(
        schema.field("c").type
    )
    assert schema.field("d").type == pa.timestamp("ms")


def test_cast_strings_to_numbers(cl: sl.Client) -> None:
    data = pa.table({"s": ["1", "-20", None, "300"]})
    q = cl.from_arrow(data, "numeric_strings", mode="replace")
    got = q.select(n=col("s").cast("int32")).to_arrow()
    assert got.column("n").type == pa.int32()
    assert got.column("n").to_pylist() == [1, -20, None, 300]


# ---------------------------------------------------------------- literals of every kind

LITERAL_CASES: list[Case] = [
    ("uint64_max", lambda t: t.filter(col("u64") == 2**64 - 1), "u64 = 18446744073709551615"),
    ("negative", lambda t: t.filter(col("i8") == -10), "i8 = -10"),
    ("float_vs_int_col", lambda t: t.filter(col("i32") > 2.5), "i32 > 2.5"),
    (
        "datetime",
        lambda t: t.filter(col("ts") >= dt.datetime(2030, 6, 1, 0, 0, 0, 500)),
        "ts >= timestamp '2030-06-01 00:00:00.0005'",
    ),
    ("date", lambda t: t.filter(col("d") == dt.date(2021, 3, 4)), "d = date '2021-03-04'"),
    (
        "decimal_neg",
        lambda t: t.filter(col("dec") < Decimal("-9999999.99")),
        "dec < -9999999.99",
    ),
    ("numpy_int", lambda t: t.filter(col("i16") > __import__("numpy").int16(500)), "i16 > 500"),
    ("numpy_float", lambda t: t.filter(col("f64") > __import__("numpy").float64(1e6)), "f64 > 1e6"),
    ("typed_lit", lambda t: t.filter(col("i64") > lit(5, "int64")), "i64 > 5"),
    ("null_cmp_drops_all", lambda t: t.filter(col("i8") == lit(None, "int8")), "i8 = null"),
]


@pytest.mark.parametrize(("build", "where"), run_cases(LITERAL_CASES))
def test_literals(t: sl.DataFrame, alltypes: pa.Table, build, where) -> None:
    assert_same(build(t), f"select * from alltypes where {where}", alltypes=alltypes)


def test_null_literal_in_select(t: sl.DataFrame) -> None:
    got = t.head(3).select("id", n=lit(None, "float64"), m=col("i8") + lit(None, "int8")).to_arrow()
    assert got.column("n").to_pylist() == [None] * 3
    assert got.column("n").type == pa.float64()
    assert got.column("m").to_pylist() == [None] * 3


# ---------------------------------------------------------------- group_by / agg

NUMERIC = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "f32", "f64", "dec"]
ORDERED = ["s", "ls", "sv", "d", "ts", "big", "u64", "dec", "f64", "b"]


@pytest.mark.parametrize("c", NUMERIC)
def test_agg_numeric(t: sl.DataFrame, alltypes: pa.Table, c: str) -> None:
    q = t.group_by("k").agg(
        col(c).sum().alias("sum"),
        col(c).min().alias("min"),
        col(c).max().alias("max"),
        col(c).mean().alias("mean"),
        col(c).count().alias("count"),
        sl.len().alias("n"),
    )
    sql = (
        f"select k, sum({c}) as sum, min({c}) as min, max({c}) as max, avg({c}) as mean, "
        f"count({c}) as count, count(*) as n from alltypes group by k"
    )
    assert_same(q, sql, rel=1e-5 if c == "f32" else 1e-9, alltypes=alltypes)


@pytest.mark.parametrize("c", ORDERED)
def test_agg_min_max(t: sl.DataFrame, alltypes: pa.Table, c: str) -> None:
    q = t.group_by("k2").agg(col(c).min().alias("lo"), col(c).max().alias("hi"))
    sql = f"select k2, min({c}) as lo, max({c}) as hi from alltypes group by k2"
    assert_same(q, sql, alltypes=alltypes)


def test_agg_count_strings(t: sl.DataFrame, alltypes: pa.Table) -> None:
    q = t.group_by("k").agg(col("s").count().alias("s"), col("sv").count().alias("sv"))
    assert_same(
        q, "select k, count(s) as s, count(sv) as sv from alltypes group by k", alltypes=alltypes
    )


def test_group_by_several_keys(t: sl.DataFrame, alltypes: pa.Table) -> None:
    q = t.group_by("k", "k2", "b").agg(sl.len().alias("n"), col("i64").sum().alias("s"))
    sql = "select k, k2, b, count(*) as n, sum(i64) as s from alltypes group by k, k2, b"
    assert_same(q, sql, alltypes=alltypes)


@pytest.mark.parametrize("key", ["sv", "ls", "d", "ts", "dec", "u64", "big", "i8", "f32"])
def test_group_by_each_key_type(t: sl.DataFrame, alltypes: pa.Table, key: str) -> None:
    q = t.group_by(key).agg(sl.len().alias("n"), col("i32").min().alias("m"))
    sql = f"select {key}, count(*) as n, min(i32) as m from alltypes group by {key}"
    assert_same(q, sql, alltypes=alltypes)


def test_group_by_expression(t: sl.DataFrame, alltypes: pa.Table) -> None:
    q = t.group_by((col("i16") % 10).alias("m"), kk=col("k")).agg(sl.len().alias("n"))
    sql = "select ((i16 % 10) + 10) % 10 as m, k as kk, count(*) as n from alltypes group by m, kk"
    assert_same(q, sql, alltypes=alltypes)


def test_group_by_len_shortcut(t: sl.DataFrame, alltypes: pa.Table) -> None:
    assert_same(
        t.group_by("k").len(),
        "select k, count(*) as len from alltypes group by k",
        alltypes=alltypes,
    )


def test_aggregate_of_expression(t: sl.DataFrame, alltypes: pa.Table) -> None:
    q = t.group_by("k").agg((col("i32") * 2 + col("i16")).sum().alias("x"))
    assert_same(q, "select k, sum(i32 * 2 + i16) as x from alltypes group by k", alltypes=alltypes)


def test_global_aggregate(t: sl.DataFrame, alltypes: pa.Table) -> None:
    q = t.select(
        col("i64").sum().alias("s"),
        col("f64").mean().alias("m"),
        col("s").min().alias("lo"),
        col("d").max().alias("hi"),
        col("f32").count().alias("c"),
        sl.len().alias("n"),
    )
    sql = (
        "select sum(i64) as s, avg(f64) as m, min(s) as lo, max(d) as hi, count(f32) as c, "
        "count(*) as n from alltypes"
    )
    got = assert_same(q, sql, alltypes=alltypes)
    assert got.num_rows == 1


def test_global_aggregate_on_empty_input(t: sl.DataFrame, alltypes: pa.Table) -> None:
    q = t.filter(col("id") < 0).select(
        col("i64").sum().alias("s"),
        col("f64").min().alias("lo"),
        col("f64").mean().alias("m"),
        col("f64").count().alias("c"),
        sl.len().alias("n"),
    )
    got = q.to_arrow()
    # polars: the sum of nothing is 0.
    assert got.to_pylist() == [{"s": 0, "lo": None, "m": None, "c": 0, "n": 0}]


def test_group_by_on_empty_input(t: sl.DataFrame) -> None:
    got = t.filter(col("id") < 0).group_by("k").agg(sl.len().alias("n")).to_arrow()
    assert got.num_rows == 0
    assert got.column_names == ["k", "n"]


def test_all_null_groups(cl: sl.Client) -> None:
    data = pa.table(
        {
            "k": ["x", "x", "y", None, None, "z"],
            "v": pa.array([None, None, 1, 2, None, None], pa.int32()),
            "f": pa.array([None, None, 1.5, None, 4.0, None], pa.float64()),
        }
    )
    q = (
        cl.from_arrow(data, "all_null_groups", mode="replace")
        .group_by("k")
        .agg(
            col("v").sum().alias("s"),
            col("v").min().alias("lo"),
            col("f").mean().alias("m"),
            col("v").count().alias("c"),
            sl.len().alias("n"),
        )
    )
    sql = (
        "select k, coalesce(sum(v), 0) as s, min(v) as lo, avg(f) as m, count(v) as c, "
        "count(*) as n from data group by k"
    )
    assert_same(q, sql, data=data)


def test_duplicate_keys_only_one_group(cl: sl.Client) -> None:
    data = pa.table({"k": ["dup"] * 1000, "v": list(range(1000))})
    q = cl.from_arrow(data, "dups", mode="replace").group_by("k").agg(col("v").sum().alias("s"))
    assert q.to_arrow().to_pylist() == [{"k": "dup", "s": sum(range(1000))}]


# ---------------------------------------------------------------- sort

SORT_CASES: list[Case] = [
    ("asc_nulls_first", lambda t: t.sort("k"), "k asc nulls first, id"),
    ("desc", lambda t: t.sort("f64", descending=True), "f64 desc nulls first, id"),
    ("nulls_last", lambda t: t.sort("d", nulls_last=True), "d asc nulls last, id"),
    (
        "several_mixed",
        lambda t: t.sort("k", "i8", descending=[False, True], nulls_last=[True, False]),
        "k asc nulls last, i8 desc nulls first, id",
    ),
    (
        "list_arg",
        lambda t: t.sort(["k2", "b"], descending=True, nulls_last=True),
        "k2 desc nulls last, b desc nulls last, id",
    ),
    ("expr_key", lambda t: t.sort(col("i16") % 7), "((i16 % 7) + 7) % 7 asc nulls first, id"),
    ("utf8_unicode", lambda t: t.sort("s"), "s asc nulls first, id"),
    ("large_utf8", lambda t: t.sort("ls", descending=True), "ls desc nulls first, id"),
    ("string_view", lambda t: t.sort("sv"), "sv asc nulls first, id"),
    ("decimal", lambda t: t.sort("dec"), "dec asc nulls first, id"),
    ("timestamp", lambda t: t.sort("ts", descending=True), "ts desc nulls first, id"),
    ("uint64", lambda t: t.sort("u64"), "u64 asc nulls first, id"),
    ("int64_extremes", lambda t: t.sort("big", nulls_last=True), "big asc nulls last, id"),
    ("bool", lambda t: t.sort("b"), "b asc nulls first, id"),
    ("float32", lambda t: t.sort("f32"), "f32 asc nulls first, id"),
    ("uint8_desc", lambda t: t.sort("u8", descending=True), "u8 desc nulls first, id"),
]


@pytest.mark.parametrize(("build", "order"), run_cases(SORT_CASES))
def test_sort_is_stable(t: sl.DataFrame, alltypes: pa.Table, build, order) -> None:
    """Ties keep the input (id) order, so adding ``id`` to DuckDB's ORDER BY is exact."""
    assert_same(
        build(t), f"select * from alltypes order by {order}", ordered=True, alltypes=alltypes
    )


def test_sort_length_mismatch_is_rejected(t: sl.DataFrame) -> None:
    with pytest.raises(ValueError, match="descending"):
        t.sort("a", "b", descending=[True])


# ---------------------------------------------------------------- head / limit / slice

LIMIT_CASES: list[Case] = [
    ("head", lambda t: t.sort("id").head(10), "order by id limit 10"),
    ("head_default", lambda t: t.sort("id").head(), "order by id limit 5"),
    ("limit", lambda t: t.sort("i32", "id").limit(7), "order by i32 nulls first, id limit 7"),
    ("slice", lambda t: t.sort("id").slice(5, 10), "order by id limit 10 offset 5"),
    ("slice_open", lambda t: t.sort("id").slice(2990), "order by id offset 2990"),
    ("head_zero", lambda t: t.sort("id").head(0), "order by id limit 0"),
    ("head_more_than_rows", lambda t: t.sort("id").head(10**6), "order by id"),
    (
        "limit_then_filter",
        lambda t: t.sort("id").head(100).filter(col("i8") > 0),
        None,
    ),
]


@pytest.mark.parametrize(("build", "tail"), run_cases(LIMIT_CASES))
def test_limit(t: sl.DataFrame, alltypes: pa.Table, build, tail) -> None:
    if tail is None:
        sql = "select * from (select * from alltypes order by id limit 100) where i8 > 0"
        assert_same(build(t), sql, alltypes=alltypes)
        return
    assert_same(build(t), f"select * from alltypes {tail}", ordered=True, alltypes=alltypes)


def test_head_without_sort_returns_n_table_rows(t: sl.DataFrame, alltypes: pa.Table) -> None:
    got = t.head(25).to_arrow()
    assert got.num_rows == 25
    ids = set(alltypes.column("id").to_pylist())
    assert set(got.column("id").to_pylist()) <= ids


# ---------------------------------------------------------------- the README query


def test_readme_query(t: sl.DataFrame, alltypes: pa.Table) -> None:
    q = (
        t.filter(col("f64") > 10)
        .group_by("k")
        .agg(col("f64").sum().alias("total"), sl.len().alias("n"))
        .sort("total", descending=True)
        .limit(5)
    )
    sql = (
        "select k, sum(f64) as total, count(*) as n from alltypes where f64 > 10 "
        "group by k order by total desc limit 5"
    )
    assert_same(q, sql, ordered=True, alltypes=alltypes)


# ---------------------------------------------------------------- time zones and units


def test_timestamps_with_time_zone_and_units(cl: sl.Client) -> None:
    utc = dt.timezone.utc
    base = [
        dt.datetime(2023, 12, 31, 23, 0, tzinfo=utc),
        dt.datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=utc),
        None,
        dt.datetime(2024, 6, 1, 12, tzinfo=utc),
    ]
    data = pa.table(
        {
            "g": ["a", "a", "b", "b"],
            "tz": pa.array(base, pa.timestamp("us", tz="UTC")),
            "ns": pa.array(
                [b.replace(tzinfo=None) if b else None for b in base], pa.timestamp("ns")
            ),
            "ms": pa.array(
                [b.replace(tzinfo=None) if b else None for b in base], pa.timestamp("ms")
            ),
        }
    )
    t = cl.from_arrow(data, "timestamps", mode="replace")
    q = t.filter(col("tz") >= dt.datetime(2024, 1, 1, tzinfo=utc))
    assert_same(q, "select * from data where tz >= timestamptz '2024-01-01 00:00:00+00'", data=data)
    q = t.filter(col("ns") > dt.datetime(2024, 1, 1))
    assert_same(q, "select * from data where ns > timestamp '2024-01-01'", data=data)
    q = t.group_by("g").agg(col("tz").min().alias("lo"), col("ms").max().alias("hi"))
    assert_same(q, "select g, min(tz) as lo, max(ms) as hi from data group by g", data=data)
    assert t.sort("tz", descending=True).to_arrow().column("g").to_pylist() == ["b", "b", "a", "a"]


def test_decimal_arithmetic_tpch_q1(cl: sl.Client) -> None:
    """TPC-H Q1's charge, as a user writes it, on lineitem's decimal(15,2) columns."""
    cents = [(123456, 5, 2), (99, 10, 8), (100000000, 0, 0), (7, 4, 6)]
    data = pa.table(
        {
            "flag": ["A", "A", "R", "R"],
            "price": pa.array([Decimal(p).scaleb(-2) for p, _, _ in cents], pa.decimal128(15, 2)),
            "discount": pa.array(
                [Decimal(d).scaleb(-2) for _, d, _ in cents], pa.decimal128(15, 2)
            ),
            "tax": pa.array([Decimal(x).scaleb(-2) for _, _, x in cents], pa.decimal128(15, 2)),
        }
    )
    t = cl.from_arrow(data, "q1_decimals", mode="replace")
    disc_price = col("price") * (1 - col("discount"))
    q = t.group_by("flag").agg(
        disc_price.sum().alias("sum_disc_price"),
        (disc_price * (1 + col("tax"))).sum().alias("sum_charge"),
    )
    sql = (
        "select flag, sum(price * (1 - discount)) as sum_disc_price, "
        "sum(price * (1 - discount) * (1 + tax)) as sum_charge from data group by flag"
    )
    assert_same(q, sql, data=data)
