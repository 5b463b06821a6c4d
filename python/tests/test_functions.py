"""The function library (conditionals, strings, numbers, aggregates, dates),
each compared with DuckDB on the same data: nulls, empty strings, unicode,
negative numbers and duplicates included.
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

Case = tuple[str, Callable[[], sl.Expr], str]


def cases(items: list[Case]) -> list[object]:
    return [pytest.param(build, sql, id=name) for name, build, sql in items]


def check(t: sl.DataFrame, alltypes: pa.Table, build: Callable[[], sl.Expr], sql: str) -> None:
    """Select ``id`` and the expression (as ``x``) and compare with DuckDB."""
    assert_same(
        t.select("id", build().alias("x")),
        f"select id, {sql} as x from alltypes",
        alltypes=alltypes,
    )


# ---------------------------------------------------------------- conditionals

CONDITIONALS: list[Case] = [
    (
        "when_then_otherwise",
        lambda: (
            sl.when(col("i32") > 0)
            .then(col("i64"))
            .when(col("b"))
            .then(lit(-1))
            .otherwise(col("i16"))
        ),
        "case when i32 > 0 then i64 when b then -1 else i16 end",
    ),
    (
        "when_no_otherwise_strings",
        lambda: sl.when(col("k").is_in(["a", "日本", ""])).then(col("s")),
        "case when k in ('a', '日本', '') then s end",
    ),
    (
        "when_several_predicates",
        lambda: sl.when(col("i8") > 0, col("b")).then(lit("yes")).otherwise(lit("no")),
        "case when i8 > 0 and b then 'yes' else 'no' end",
    ),
    (
        "when_decimal_float",
        lambda: sl.when(col("dec") > 0).then(col("dec")).otherwise(col("f64")),
        "case when dec > 0 then dec::double else f64 end",
    ),
    (
        "when_dates",
        lambda: sl.when(col("b")).then(col("d")).otherwise(lit(dt.date(2000, 1, 1))),
        "case when b then d else date '2000-01-01' end",
    ),
    (
        "when_then_null",
        lambda: sl.when(col("b")).then(None).otherwise(col("i32")),
        "case when b then null else i32 end",
    ),
    (
        "when_untyped_number",
        lambda: sl.when(col("i8") < 0).then(0).otherwise(col("f32")),
        "case when i8 < 0 then 0 else f32 end",
    ),
    ("is_in_ints", lambda: col("i8").is_in([1, -3, 7]), "i8 in (1, -3, 7)"),
    (
        "is_in_many",
        lambda: col("i32").is_in(list(range(-(10**6), 10**6, 997))),
        f"i32 in ({', '.join(str(v) for v in range(-(10**6), 10**6, 997))})",
    ),
    # polars: a null among the values matches nothing (SQL's IN gives null).
    ("is_in_with_null", lambda: col("i8").is_in([1, None]), "i8 in (1)"),
    (
        "is_in_nulls_equal",
        lambda: col("i8").is_in([1, None], nulls_equal=True),
        "coalesce(i8 in (1), i8 is null)",
    ),
    ("is_in_strings", lambda: col("k").is_in(["a", "ç", "🙂", ""]), "k in ('a', 'ç', '🙂', '')"),
    ("is_in_view", lambda: col("sv").is_in(["zebra", "東京"]), "sv in ('zebra', '東京')"),
    (
        "is_in_decimal",
        lambda: col("k2").cast("decimal(12,1)").is_in([Decimal("1.0"), Decimal("3.0")]),
        "k2::decimal(12,1) in (1.0, 3.0)",
    ),
    ("is_in_columns", lambda: col("k2").is_in([col("i8"), 2]), "k2 in (i8, 2)"),
    ("is_in_empty", lambda: col("i8").is_in([]), "false"),
    ("is_between", lambda: col("i16").is_between(-100, 250), "i16 between -100 and 250"),
    (
        "is_between_none",
        lambda: col("f64").is_between(col("i32"), 1e6, closed="none"),
        "f64 > i32 and f64 < 1e6",
    ),
    (
        "is_between_dates",
        lambda: col("d").is_between(dt.date(2020, 1, 1), dt.date(2021, 6, 30), closed="right"),
        "d > date '2020-01-01' and d <= date '2021-06-30'",
    ),
    ("coalesce", lambda: sl.coalesce("i8", "i16", 0), "coalesce(i8, i16, 0)"),
    (
        "coalesce_strings",
        lambda: sl.coalesce(col("s"), col("ls"), lit("-")),
        "coalesce(s, ls, '-')",
    ),
    ("fill_null", lambda: col("f32").fill_null(0), "coalesce(f32, 0)"),
    ("fill_null_column", lambda: col("k2").fill_null(col("i64")), "coalesce(k2, i64)"),
]


@pytest.mark.parametrize(("build", "sql"), cases(CONDITIONALS))
def test_conditionals(
    t: sl.DataFrame, alltypes: pa.Table, build: Callable[[], sl.Expr], sql: str
) -> None:
    check(t, alltypes, build, sql)


def test_when_filter(t: sl.DataFrame, alltypes: pa.Table) -> None:
    got = t.filter(col("k").is_in(["a", "b"]) & col("i8").is_between(0, 5)).select("id", "k")
    assert_same(
        got,
        "select id, k from alltypes where k in ('a', 'b') and i8 between 0 and 5",
        alltypes=alltypes,
    )


def test_conditional_errors(t: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError, match="utf8 and int64"):
        t.select(sl.when(col("b")).then(col("s")).otherwise(col("i64"))).to_arrow()
    with pytest.raises(sl.PlanError, match="condition 1 must be boolean, got int64"):
        t.select(sl.when(col("i64")).then(1).otherwise(2)).to_arrow()


# ---------------------------------------------------------------- strings

STRINGS: list[Case] = [
    ("contains_literal", lambda: col("s").str.contains("a", literal=True), "contains(s, 'a')"),
    (
        "contains_literal_unicode",
        lambda: col("ls").str.contains("é", literal=True),
        "contains(ls, 'é')",
    ),
    ("contains_regex", lambda: col("s").str.contains("^[a-z]+$"), "regexp_matches(s, '^[a-z]+$')"),
    ("contains_regex_view", lambda: col("sv").str.contains("(?i)a"), "regexp_matches(sv, '(?i)a')"),
    (
        "contains_column",
        lambda: col("s").str.contains(col("k"), literal=True),
        "contains(s, k)",
    ),
    ("starts_with", lambda: col("s").str.starts_with("a"), "starts_with(s, 'a')"),
    ("ends_with", lambda: col("ls").str.ends_with("🙃"), "suffix(ls, '🙃')"),
    ("like", lambda: col("s").str.like("%a_"), "s like '%a_'"),
    ("like_prefix", lambda: col("sv").str.like("na%"), "sv like 'na%'"),
    ("like_literal", lambda: col("k").str.like("a "), "k like 'a '"),
    (
        "extract",
        lambda: col("s").str.extract(r"([a-z])([a-z]+)", 2),
        r"case when regexp_matches(s, '([a-z])([a-z]+)') "
        r"then regexp_extract(s, '([a-z])([a-z]+)', 2) end",
    ),
    ("to_lowercase", lambda: col("s").str.to_lowercase(), "lower(s)"),
    ("constant_text", lambda: lit("ÅbC").str.to_lowercase(), "lower('ÅbC')"),
    ("to_uppercase", lambda: col("sv").str.to_uppercase(), "upper(sv)"),
    ("len_chars", lambda: col("s").str.len_chars(), "length(s)"),
    ("len_bytes", lambda: col("ls").str.len_bytes(), "strlen(ls)"),
    ("slice", lambda: col("s").str.slice(1, 3), "substring(s, 2, 3)"),
    ("slice_rest", lambda: col("sv").str.slice(2), "substring(sv, 3)"),
    ("slice_negative", lambda: col("s").str.slice(-2), "right(s, 2)"),
    ("strip_chars", lambda: col("k").str.strip_chars(), "trim(k)"),
    ("strip_chars_set", lambda: col("s").str.strip_chars("ae"), "trim(s, 'ae')"),
    (
        "replace_literal",
        lambda: col("s").str.replace("a", ".", literal=True),
        "case when position('a' in s) > 0 then "
        "concat(left(s, position('a' in s) - 1), '.', substring(s, position('a' in s) + 1)) "
        "else s end",
    ),
    (
        "replace_all_literal",
        lambda: col("s").str.replace_all("b", "BB", literal=True),
        "replace(s, 'b', 'BB')",
    ),
    (
        "replace_regex",
        lambda: col("ls").str.replace("[aeiou]", "_"),
        "regexp_replace(ls, '[aeiou]', '_')",
    ),
    (
        "replace_all_regex",
        lambda: col("s").str.replace_all(r"(\w)(\w)", "$2$1"),
        r"regexp_replace(s, '(\w)(\w)', '\2\1', 'g')",
    ),
    (
        "concat_str",
        lambda: sl.concat_str([col("k"), col("s"), col("i8")], separator="|"),
        "k || '|' || s || '|' || i8",
    ),
    (
        "concat_str_ignore_nulls",
        lambda: sl.concat_str("k", "sv", ignore_nulls=True),
        "concat(k, sv)",
    ),
    (
        "concat_str_decimal_date",
        lambda: sl.concat_str("dec", "d", separator=" "),
        "dec::varchar || ' ' || d::varchar",
    ),
]


@pytest.mark.parametrize(("build", "sql"), cases(STRINGS))
def test_strings(
    t: sl.DataFrame, alltypes: pa.Table, build: Callable[[], sl.Expr], sql: str
) -> None:
    check(t, alltypes, build, sql)


def test_string_errors(t: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError, match="lower needs a string, got int64"):
        t.select(col("i64").str.to_lowercase()).to_arrow()
    with pytest.raises(sl.PlanError, match="not a valid regular expression"):
        t.select(col("s").str.contains("(")).to_arrow()
    with pytest.raises(sl.PlanError, match="group_index 3 is out of range"):
        t.select(col("s").str.extract("(a)", 3)).to_arrow()


# ---------------------------------------------------------------- numeric

NUMERIC: list[Case] = [
    ("abs_int", lambda: col("i32").abs(), "abs(i32)"),
    ("abs_float", lambda: abs(col("f64")), "abs(f64)"),
    ("abs_decimal", lambda: col("dec").abs(), "abs(dec)"),
    ("round_float", lambda: col("f64").round(2), "round_even(f64, 2)"),
    ("round_float_0", lambda: col("f32").round(), "round_even(f32, 0)"),
    ("round_float_negative", lambda: col("f64").round(-3), "round_even(f64, -3)"),
    ("round_decimal", lambda: col("dec").round(1), "round_even(dec, 1)"),
    ("round_decimal_0", lambda: col("dec").round(), "round_even(dec, 0)"),
    ("round_int", lambda: col("i16").round(-2), "round_even(i16, -2)"),
    ("floor", lambda: col("f64").floor(), "floor(f64)"),
    ("floor_decimal", lambda: col("dec").floor(), "floor(dec)"),
    ("ceil", lambda: col("f32").ceil(), "ceil(f32)"),
    ("ceil_decimal", lambda: col("dec").ceil(), "ceil(dec)"),
    ("floor_int", lambda: col("i8").floor(), "i8"),
    (
        "sqrt",
        lambda: col("f64").sqrt(),
        "case when f64 < 0 then 'nan'::double else sqrt(f64) end",
    ),
    ("sqrt_int", lambda: col("u16").sqrt(), "sqrt(u16)"),
    (
        "log",
        lambda: col("i16").log(),
        "case when i16 < 0 then 'nan'::double when i16 = 0 then '-inf'::double else ln(i16) end",
    ),
    (
        "log_base",
        lambda: col("u32").log(10),
        "case when u32 = 0 then '-inf'::double else log10(u32) end",
    ),
    ("log_base_2", lambda: (col("u8").cast("int32") + 1).log(2), "log2(u8::int32 + 1)"),
    ("exp", lambda: col("i8").exp(), "exp(i8)"),
    ("exp_decimal", lambda: (col("dec") / 1e7).exp(), "exp(dec / 1e7)"),
    ("pow", lambda: col("i8").pow(2), "pow(i8, 2)"),
    ("pow_operator", lambda: col("f32") ** col("i8"), "pow(f32, i8)"),
    ("rpow", lambda: 2 ** col("i8"), "pow(2, i8)"),
    ("pow_fraction", lambda: col("u16") ** 0.5, "pow(u16, 0.5)"),
]


@pytest.mark.parametrize(("build", "sql"), cases(NUMERIC))
def test_numeric(
    t: sl.DataFrame, alltypes: pa.Table, build: Callable[[], sl.Expr], sql: str
) -> None:
    check(t, alltypes, build, sql)


def test_round_keeps_decimal(t: sl.DataFrame) -> None:
    got = t.select(col("dec").round(1), col("dec").floor().alias("f"), col("i16").abs()).to_arrow()
    assert got.schema.field("dec").type == pa.decimal128(12, 2)
    assert got.schema.field("f").type == pa.decimal128(12, 2)
    assert got.schema.field("i16").type == pa.int16()


# ---------------------------------------------------------------- aggregates


def _nu(x: str) -> str:
    """SQL for polars' n_unique: distinct values, null counted as one."""
    return f"(count(distinct {x}) + coalesce(bool_or(({x}) is null)::int, 0))"


AGGREGATES: list[tuple[str, Callable[[], list[sl.Expr]], str]] = [
    (
        "n_unique",
        lambda: [
            col("i8").n_unique().alias("a"),
            col("s").n_unique().alias("b"),
            col("sv").n_unique().alias("c"),
            col("f32").n_unique().alias("d"),
            col("dec").n_unique().alias("e"),
            col("b").n_unique().alias("f"),
            col("d").n_unique().alias("g"),
        ],
        # polars counts null as one more value.
        ", ".join(
            f"{_nu(c)} as {a}"
            for c, a in zip(["i8", "s", "sv", "f32", "dec", "b", "d"], "abcdefg", strict=True)
        ),
    ),
    (
        "std_var",
        lambda: [
            col("i32").std().alias("a"),
            col("f64").var().alias("b"),
            col("dec").std().alias("c"),
            col("i8").var(ddof=0).alias("d"),
            col("f32").std(ddof=0).alias("e"),
        ],
        "stddev_samp(i32) as a, var_samp(f64) as b, stddev_samp(dec) as c, "
        "var_pop(i8) as d, stddev_pop(f32) as e",
    ),
    (
        "median_quantile",
        lambda: [
            col("i16").median().alias("a"),
            col("f64").median().alias("b"),
            col("i32").quantile(0.25, "linear").alias("c"),
            col("dec").quantile(0.9, "linear").alias("d"),
            col("u8").quantile(0, "linear").alias("e"),
            col("u8").quantile(1, "linear").alias("f"),
        ],
        "median(i16) as a, median(f64) as b, quantile_cont(i32, 0.25) as c, "
        "quantile_cont(dec, 0.9) as d, quantile_cont(u8, 0) as e, quantile_cont(u8, 1) as f",
    ),
    (
        "first_last",
        lambda: [
            col("i64").first().alias("a"),
            col("s").last().alias("b"),
            col("dec").first().alias("c"),
            col("b").last().alias("d"),
        ],
        "first(i64 order by id) as a, last(s order by id) as b, first(dec order by id) as c, "
        "last(b order by id) as d",
    ),
    (
        "any_all",
        lambda: [
            col("b").any().alias("a"),
            col("b").all().alias("b"),
            (col("i8") > -10).all().alias("c"),
            (col("i8") > 100).any().alias("d"),
        ],
        # polars: nulls skipped, and any of none is false, all of none true.
        "coalesce(bool_or(b), false) as a, coalesce(bool_and(b), true) as b, "
        "coalesce(bool_and(i8 > -10), true) as c, coalesce(bool_or(i8 > 100), false) as d",
    ),
    (
        "over_expressions",
        lambda: [
            (col("i8") * col("i16")).n_unique().alias("a"),
            (col("f64") / 1000).std().alias("b"),
            col("s").str.len_chars().median().alias("c"),
        ],
        f"{_nu('i8 * i16')} as a, stddev_samp(f64 / 1000) as b, median(length(s)) as c",
    ),
]


@pytest.mark.parametrize(("build", "sql"), [pytest.param(b, s, id=n) for n, b, s in AGGREGATES])
def test_aggregates_grouped(
    t: sl.DataFrame, alltypes: pa.Table, build: Callable[[], list[sl.Expr]], sql: str
) -> None:
    assert_same(
        t.group_by("k").agg(*build()),
        f"select k, {sql} from alltypes group by k",
        alltypes=alltypes,
        rel=1e-6,
    )


@pytest.mark.parametrize(("build", "sql"), [pytest.param(b, s, id=n) for n, b, s in AGGREGATES])
def test_aggregates_global(
    t: sl.DataFrame, alltypes: pa.Table, build: Callable[[], list[sl.Expr]], sql: str
) -> None:
    assert_same(t.select(*build()), f"select {sql} from alltypes", alltypes=alltypes, rel=1e-6)


def test_aggregates_empty_and_null_groups(cl: sl.Client) -> None:
    data = pa.table(
        {
            "g": pa.array(["a", "a", "b", "c", "c", "c"]),
            "x": pa.array([None, None, 1.5, 2.0, None, 4.0], pa.float64()),
            "f": pa.array([None, True, None, False, None, False]),
        }
    )
    df = cl.from_arrow(data, name="agg_nulls", mode="replace")
    got = df.group_by("g").agg(
        col("x").n_unique().alias("n"),
        col("x").std().alias("s"),
        col("x").median().alias("m"),
        col("x").first().alias("fi"),
        col("x").last().alias("la"),
        col("f").any().alias("an"),
        col("f").all().alias("al"),
    )
    assert_same(
        got,
        f"select g, {_nu('x')} as n, stddev_samp(x) as s, median(x) as m, "
        "first(x) as fi, last(x) as la, coalesce(bool_or(f), false) as an, "
        "coalesce(bool_and(f), true) as al from data group by g",
        data=data,
    )


def test_aggregate_errors(t: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError, match="any needs booleans, got int64"):
        t.group_by("k").agg(col("i64").any()).to_arrow()
    with pytest.raises(sl.PlanError, match="std needs numbers, got utf8"):
        t.select(col("s").std()).to_arrow()
    with pytest.raises(ValueError, match="between 0 and 1"):
        col("x").quantile(1.5)


# ---------------------------------------------------------------- dates and times

TEMPORAL: list[Case] = [
    ("year", lambda: col("d").dt.year(), "year(d)"),
    ("month", lambda: col("d").dt.month(), "month(d)"),
    ("day", lambda: col("d").dt.day(), "day(d)"),
    ("weekday", lambda: col("d").dt.weekday(), "isodow(d)"),
    ("ts_year", lambda: col("ts").dt.year(), "year(ts)"),
    ("ts_month", lambda: col("ts").dt.month(), "month(ts)"),
    ("ts_day", lambda: col("ts").dt.day(), "day(ts)"),
    ("ts_weekday", lambda: col("ts").dt.weekday(), "isodow(ts)"),
    ("ts_hour", lambda: col("ts").dt.hour(), "hour(ts)"),
    ("ts_minute", lambda: col("ts").dt.minute(), "minute(ts)"),
    ("ts_second", lambda: col("ts").dt.second(), "second(ts)"),
    ("truncate_year", lambda: col("d").dt.truncate("1y"), "date_trunc('year', d)::date"),
    ("truncate_quarter", lambda: col("d").dt.truncate("1q"), "date_trunc('quarter', d)::date"),
    ("truncate_month", lambda: col("d").dt.truncate("1mo"), "date_trunc('month', d)::date"),
    ("truncate_week", lambda: col("d").dt.truncate("1w"), "date_trunc('week', d)::date"),
    ("truncate_ts_month", lambda: col("ts").dt.truncate("1mo"), "date_trunc('month', ts)"),
    ("truncate_ts_day", lambda: col("ts").dt.truncate("1d"), "date_trunc('day', ts)"),
    ("truncate_ts_hour", lambda: col("ts").dt.truncate("1h"), "date_trunc('hour', ts)"),
    ("offset_days", lambda: col("d").dt.offset_by("3d"), "(d + interval 3 day)::date"),
    ("offset_back", lambda: col("d").dt.offset_by("-2w"), "(d - interval 14 day)::date"),
    ("offset_months", lambda: col("d").dt.offset_by("1mo"), "(d + interval 1 month)::date"),
    ("offset_years", lambda: col("d").dt.offset_by("-1y2mo"), "(d - interval 14 month)::date"),
    (
        "offset_ts",
        lambda: col("ts").dt.offset_by("1d6h30m"),
        "ts + interval '1 day 6 hours 30 minutes'",
    ),
    (
        "offset_ts_month",
        lambda: col("ts").dt.offset_by("3mo"),
        "ts + interval 3 month",
    ),
    (
        "days_between",
        lambda: col("d").dt.days_between(dt.date(2020, 1, 1)),
        "d - date '2020-01-01'",
    ),
    (
        "days_between_columns",
        lambda: col("d").dt.days_between(col("d").dt.truncate("1mo")),
        "d - date_trunc('month', d)::date",
    ),
    (
        "date_filter_like",
        lambda: col("d").dt.year() * 100 + col("d").dt.month(),
        "year(d) * 100 + month(d)",
    ),
]


@pytest.mark.parametrize(("build", "sql"), cases(TEMPORAL))
def test_temporal(
    t: sl.DataFrame, alltypes: pa.Table, build: Callable[[], sl.Expr], sql: str
) -> None:
    check(t, alltypes, build, sql)


def test_group_by_truncated_month(t: sl.DataFrame, alltypes: pa.Table) -> None:
    got = t.group_by(col("d").dt.truncate("1mo").alias("m")).agg(sl.len())
    assert_same(
        got,
        "select date_trunc('month', d)::date as m, count(*) as len from alltypes group by m",
        alltypes=alltypes,
    )


def test_temporal_errors(t: sl.DataFrame) -> None:
    with pytest.raises(sl.PlanError, match="year needs a date or a timestamp, got utf8"):
        t.select(col("s").dt.year()).to_arrow()
    with pytest.raises(sl.PlanError, match="is not a duration"):
        t.select(col("d").dt.offset_by("3 days")).to_arrow()
    with pytest.raises(sl.PlanError, match="whole days"):
        t.select(col("d").dt.offset_by("3h")).to_arrow()
