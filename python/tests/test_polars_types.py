"""polars' types on a Slipstream frame, with polars as the oracle.

Durations, times of day, binary, categoricals and enums, lists and structs:
uploaded from polars (and pandas), used in expressions, filters, group keys,
joins and aggregates, and returned with polars' types. Each case is a function
of a frame and a module (``polars`` or ``slipstream``) run on a
``polars.LazyFrame`` and on a Slipstream frame, over data with nulls,
duplicates, unicode and negative durations, and over the same schema with no
rows; on one node and on a three-node cluster. Dtypes are compared too, but
for counts (int64 here, uint32 in polars; see docs/python-client.md), which
each case names.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pandas as pd
import polars as pl
import polars.testing
import pyarrow as pa
import pytest

import slipstream as sl

N = 240
rng = random.Random(20261202)


def _pick(values: list[Any], null: float = 0.15) -> Any:
    return None if rng.random() < null else rng.choice(values)


_T0 = dt.datetime(2024, 3, 1, 9, 0)
_TIMES = [dt.time(0, 0), dt.time(9, 30), dt.time(12, 0, 0, 1), dt.time(23, 59, 59, 999999)]
DATA = pl.DataFrame(
    {
        "id": list(range(N)),
        "g": [_pick(["a", "b", "ü", "日本"], 0.1) for _ in range(N)],
        "t": [
            _pick([_T0 + dt.timedelta(minutes=m) for m in range(-3000, 6000, 37)]) for _ in range(N)
        ],
        "u": [
            _pick([dt.datetime(1969, 12, 31, 23, 59, 59), _T0, _T0 + dt.timedelta(days=3)])
            for _ in range(N)
        ],
        "day": [
            _pick([dt.date(2024, 1, 1), dt.date(2023, 6, 30), dt.date(1960, 2, 29)])
            for _ in range(N)
        ],
        "dur": [
            _pick(
                [
                    dt.timedelta(hours=1),
                    dt.timedelta(days=-1, seconds=5),
                    dt.timedelta(days=2, microseconds=7),
                    dt.timedelta(0),
                    dt.timedelta(minutes=-90),
                ]
            )
            for _ in range(N)
        ],
        "tod": [_pick(_TIMES) for _ in range(N)],
        "bin": [_pick([b"", b"ab", b"\x00\xff", "ü".encode()]) for _ in range(N)],
        "cat": pl.Series(
            [_pick(["red", "green", "blue", "日本"]) for _ in range(N)], dtype=pl.Categorical
        ),
        "enum": pl.Series(
            [_pick(["lo", "mid", "hi"]) for _ in range(N)], dtype=pl.Enum(["lo", "mid", "hi"])
        ),
        "csv": [_pick(["a,b,c", "", ",x,x", "日本,ü", "solo"]) for _ in range(N)],
        "l": [_pick([[1, None, 3], [], [None], [5, 5, -2], [2**40, 0]], 0.1) for _ in range(N)],
        "fl": [_pick([[1.5, float("nan")], [], [None, -0.5], [2.0]], 0.1) for _ in range(N)],
        "st": [
            _pick([{"a": 1, "b": "x"}, {"a": None, "b": "日本"}, {"a": -4, "b": None}])
            for _ in range(N)
        ],
    },
    schema_overrides={"dur": pl.Duration("us")},
)
EMPTY = DATA.clear()


@dataclass
class Case:
    name: str
    build: Callable[[Any, ModuleType], Any]
    ordered: bool = False
    # columns whose dtype differs from polars' by design: cast to this first
    relax: dict[str, Any] = field(default_factory=dict)


CASES: list[Case] = []


def case(name: str, *, ordered: bool = False, relax: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    def add(build: Callable[[Any, ModuleType], Any]) -> Callable[[Any, ModuleType], Any]:
        CASES.append(Case(name, build, ordered, relax or {}))
        return build

    return add


COUNT = {"n": pl.Int64}

# ---------------------------------------------------------------- durations


@case("timestamp_minus_timestamp")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id", (m.col("t") - m.col("u")).alias("d"), (m.col("u") - m.col("t")).alias("e")
    )


@case("date_minus_date")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", (m.col("day") - m.col("day").min()).alias("d"))


@case("timestamp_plus_timedelta")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        (m.col("t") + dt.timedelta(hours=5, microseconds=3)).alias("a"),
        (m.col("t") - dt.timedelta(days=40)).alias("b"),
        (m.col("t") + m.col("dur")).alias("c"),
        (m.col("dur") + m.col("t")).alias("d"),
        (m.col("dur") - dt.timedelta(seconds=1)).alias("e"),
    )


@case("date_plus_duration")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        (m.col("day") + m.col("dur")).alias("a"),
        (m.col("day") - m.col("dur")).alias("b"),
        (m.col("dur") + m.col("day")).alias("c"),
        (m.col("day") + dt.timedelta(days=3)).alias("d"),
        (m.col("day") - dt.timedelta(hours=1)).alias("e"),
        (m.col("day") + m.col("dur").cast(pl.Duration("ms"))).alias("f"),
    )


@case("duration_mean_median")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("dur").mean().alias("mean"),
        m.col("dur").median().alias("median"),
        m.col("dur").quantile(0.3, "linear").alias("q"),
        (m.col("t") - m.col("u")).mean().alias("gap"),
        m.col("dur").cast(pl.Duration("ms")).mean().alias("ms"),
    )


@case("duration_mean_by_group")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("dur").mean().alias("mean"),
        m.col("dur").median().alias("median"),
        m.col("dur").mean().alias("m2").dt.total_seconds(),
    )


@case("duration_mean_over")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", m.col("dur").mean().over("g").alias("w"))


@case("total_units")
def _(lf: Any, m: ModuleType) -> Any:
    d = m.col("dur")
    return lf.select(
        "id",
        d.dt.total_days().alias("days"),
        d.dt.total_hours().alias("hours"),
        d.dt.total_minutes().alias("minutes"),
        d.dt.total_seconds().alias("seconds"),
        d.dt.total_milliseconds().alias("ms"),
        d.dt.total_microseconds().alias("us"),
        d.dt.total_nanoseconds().alias("ns"),
        d.dt.total_hours(fractional=True).alias("fh"),
        (m.col("t") - m.col("u")).dt.total_minutes().alias("gap"),
    )


@case("duration_filter")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.filter(
        (m.col("dur") > dt.timedelta(minutes=30)) | ((m.col("t") - m.col("u")) < dt.timedelta(0))
    ).select("id", "dur")


@case("duration_aggregates", relax=COUNT)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("dur").sum().alias("sum"),
        m.col("dur").min().alias("min"),
        m.col("dur").max().alias("max"),
        m.col("dur").count().alias("n"),
    )


@case("duration_group_by", relax=COUNT)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("dur").sum().alias("sum"),
        m.col("dur").min().alias("min"),
        m.col("dur").max().alias("max"),
        (m.col("t") - m.col("u")).max().alias("gap"),
        m.len().alias("n"),
    )


@case("duration_key", relax=COUNT)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("dur").agg(m.len().alias("n"), m.col("id").min().alias("first"))


@case("duration_sort", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.sort("dur", "id", descending=[True, False], nulls_last=True).select("id", "dur")


@case("duration_over")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", m.col("dur").max().over("g").alias("w"))


@case("duration_join")
def _(lf: Any, m: ModuleType) -> Any:
    right = lf.group_by("dur").agg(m.col("id").max().alias("top"))
    return lf.join(right, on="dur").select("id", "dur", "top")


@case("duration_cast")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.col("dur").cast(pl.Duration("ms")).alias("ms"),
        m.lit(dt.timedelta(hours=2)).alias("two"),
    )


# ---------------------------------------------------------------- times of day


@case("time_fields")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        "tod",
        m.col("tod").dt.hour().alias("h"),
        m.col("tod").dt.minute().alias("mi"),
        m.col("tod").dt.second().alias("s"),
    )


@case("time_compare")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.filter(
        (m.col("tod") >= dt.time(9, 30)) & (m.col("tod") != dt.time(23, 59, 59, 999999))
    )


@case("time_of_timestamp")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.col("t").dt.time().alias("tt"),
        m.col("u").dt.time().dt.hour().alias("h"),
        (m.col("t").dt.time() < m.col("tod")).alias("before"),
    )


@case("time_group_sort", relax=COUNT)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("tod").agg(m.len().alias("n"), m.col("t").max().dt.time().alias("last"))


@case("time_min_max")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(m.col("tod").min().alias("lo"), m.col("tod").max().alias("hi"))


# ---------------------------------------------------------------- binary


@case("binary_filter")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.filter(m.col("bin") == b"ab").select("id", "bin")


@case("binary_group_by", relax=COUNT)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("bin").agg(m.len().alias("n"), m.col("id").sum().alias("s"))


@case("binary_sort", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.sort("bin", "id", nulls_last=True).select("id", "bin")


@case("binary_join_first")
def _(lf: Any, m: ModuleType) -> Any:
    right = lf.group_by("bin").agg(m.col("id").min().alias("lo"), m.col("bin").first().alias("b2"))
    return lf.join(right, on="bin").select("id", "bin", "lo", "b2")


@case("binary_min_max")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(m.col("bin").min().alias("lo"), m.col("bin").max().alias("hi"))


# ---------------------------------------------------------------- categoricals and enums
# They come back as polars' Categorical / Enum wherever the column's values
# are kept (docs/python-client.md).


@case("categorical_filter")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.filter((m.col("cat") == "red") | (m.col("enum") == "hi")).select("id", "cat", "enum")


@case("categorical_group_by", relax=COUNT)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("cat", "enum").agg(m.len().alias("n"))


@case("categorical_join")
def _(lf: Any, m: ModuleType) -> Any:
    right = lf.filter(m.col("id") < 40).select("cat", m.col("id").alias("rid"))
    return lf.join(right, on="cat").select("id", "cat", "rid")


@case("enum_join_keys_and_values")
def _(lf: Any, m: ModuleType) -> Any:
    right = lf.group_by("enum").agg(m.col("cat").first().alias("c0"), m.col("id").min().alias("lo"))
    return lf.join(right, on="enum", how="left").select("id", "enum", "c0", "lo")


@case("categorical_string_functions")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", m.col("cat").cast(pl.String).str.to_uppercase().alias("up"))


@case("categorical_sort", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.sort("cat", "id", nulls_last=True).select("id", "cat", m.col("enum").alias("e"))


@case("enum_sort_by_categories", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.sort("enum", "id", descending=[True, False]).select("id", "enum")


@case("categorical_aggregates")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("cat").sort_by("id").first().alias("first"),
        m.col("enum").sort_by("id").last().alias("last"),
        m.col("cat").min().alias("lo"),
        m.col("cat").max().alias("hi"),
    )


@case("enum_min_max_by_categories")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("enum").min().alias("lo"),
        m.col("enum").max().alias("hi"),
        m.col("enum").max().alias("top_text").cast(pl.String),
    )


@case("enum_compare_by_categories")
def _(lf: Any, m: ModuleType) -> Any:
    return (
        lf.sort("id")
        .select(
            "id",
            (m.col("enum") < "mid").alias("lt"),
            (m.col("enum") >= "mid").alias("ge"),
            (m.col("enum") > m.col("enum").shift(1)).alias("up"),
            m.col("enum").max().over("g").alias("w"),
        )
        .filter(m.col("id") % 2 == 0)
    )


@case("categorical_over_and_shift")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.sort("id").select(
        "id",
        m.col("cat").sort_by("id").first().over("g").alias("w"),
        m.col("enum").shift(1).alias("prev"),
    )


@case("categorical_when_and_fill_null")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.sort("id").select(
        "id",
        m.when(m.col("id") % 3 == 0).then(m.col("cat")).otherwise(m.col("cat").shift(1)),
        m.col("cat").fill_null("red").alias("filled"),
        m.col("enum").fill_null("mid").alias("efilled"),
        m.col("enum").fill_null(strategy="forward").alias("forward"),
        m.coalesce(m.col("enum"), m.col("enum").shift(-1)).alias("coalesced"),
    )


@case("categorical_lists")
def _(lf: Any, m: ModuleType) -> Any:
    lists = lf.group_by("g").agg(
        m.col("enum").sort_by("id").alias("es"), m.col("cat").sort_by("id").alias("cs")
    )
    return lists.select(
        "g",
        "es",
        "cs",
        m.col("es").list.first().alias("first"),
        m.col("cs").list.get(-1, null_on_oob=True).alias("last"),
    )


@case("categorical_implode_explode")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(m.col("enum"), m.col("cat")).explode("enum", "cat")


@case("cast_to_categorical_and_enum")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.col("g").cast(pl.Categorical).alias("gc"),
        m.col("cat").cast(pl.String).cast(pl.Enum(["red", "green", "blue", "日本"])).alias("ce"),
        m.col("enum").cast(pl.String).alias("es"),
    )


# ---------------------------------------------------------------- lists


@case("str_split")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", m.col("csv").str.split(",").alias("parts"))


@case("list_len_get", relax={"n": pl.UInt32})
def _(lf: Any, m: ModuleType) -> Any:
    parts = m.col("csv").str.split(",")
    return lf.select(
        "id",
        m.col("l").list.len().alias("n"),
        m.col("l").list.first().alias("first"),
        m.col("l").list.last().alias("last"),
        m.col("l").list.get(1, null_on_oob=True).alias("second"),
        m.col("l").list.get(-2, null_on_oob=True).alias("before_last"),
        parts.list.get(0).alias("head"),
    )


@case("list_get_per_row")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.col("l").list.get(m.col("id") % 4 - 2, null_on_oob=True).alias("at"),
        m.col("l").list.get(m.when(m.col("id") % 3 == 0).then(None).otherwise(0), null_on_oob=True),
        m.col("csv").str.split(",").list.get(-1).alias("tail"),
    )


@case("list_aggregates")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.col("l").list.sum().alias("sum"),
        m.col("l").list.mean().alias("mean"),
        m.col("l").list.min().alias("min"),
        m.col("l").list.max().alias("max"),
        m.col("fl").list.sum().alias("fsum"),
        m.col("fl").list.max().alias("fmax"),
        m.col("fl").list.min().alias("fmin"),
    )


@case("list_contains_join")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.col("l").list.contains(5).alias("five"),
        m.col("l").list.contains(None).alias("null"),
        m.col("l").list.contains(m.col("id") % 4).alias("row"),
        m.col("csv").str.split(",").list.contains("x").alias("x"),
        m.col("csv").str.split(",").list.join("|").alias("joined"),
    )


@case("list_sort_unique")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.col("l").list.sort().alias("asc"),
        m.col("l").list.sort(descending=True, nulls_last=True).alias("desc"),
        m.col("fl").list.sort().alias("floats"),
        m.col("l").list.unique().list.sort().alias("unique"),
        m.col("csv").str.split(",").list.unique().list.sort().alias("words"),
    )


@case("list_filter")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.filter(m.col("l").list.len() > 1).select("id", "l")


@case("implode_in_agg")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("id").sort_by("id", descending=True).alias("ids"),
        m.col("dur").sort_by("id", descending=True).alias("durs"),
        m.col("csv").implode().list.sort().alias("csv"),
    )


@case("agg_bare_column")
def _(lf: Any, m: ModuleType) -> Any:
    twice = (m.col("id") * 2).alias("twice")
    return (
        lf.group_by("g")
        .agg("id", twice)
        .select("g", m.col("id").list.sort(), m.col("twice").list.sum())
    )


@case("implode_all")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(m.col("id").implode().list.sort(), m.col("l").implode().list.len().alias("n"))


@case("explode_frame")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "l", "dur").explode("l")


@case("explode_options")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "l").explode("l", empty_as_null=True, keep_nulls=False)


@case("explode_split_words", relax={"n": pl.UInt32})
def _(lf: Any, m: ModuleType) -> Any:
    words = lf.select("id", m.col("csv").str.split(",").alias("w")).explode("w")
    return words.group_by("w").agg(m.len().alias("n"))


@case("explode_expression")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(m.col("l").explode(), m.col("l").list.sort().explode().alias("sorted"))


@case("implode_then_explode", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    lists = lf.group_by("g").agg(m.col("id"), m.col("dur"))
    return lists.explode("id", "dur").sort("id").select("id", "dur")


# ---------------------------------------------------------------- structs


@case("struct_make_and_read")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.struct("g", "dur", twice=m.col("id") * 2).alias("s"),
        m.col("st").struct.field("b"),
        m.col("st").struct.field("a").alias("a"),
    )


@case("struct_filter")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.filter(m.col("st").struct.field("a") < 0).select("id", "st")


@case("unnest")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "st").unnest("st")


@case("unnest_made")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", m.struct("g", m.col("l").list.len().alias("n")).alias("s")).unnest(
        "s", separator="."
    )


# ---------------------------------------------------------------- the harness


def _upload(cl: sl.Client, df: pl.DataFrame, name: str) -> sl.DataFrame:
    return cl.from_polars(df, name=name, mode="replace")


@pytest.fixture(scope="module")
def frames(cl: sl.Client) -> dict[str, sl.DataFrame]:
    return {"data": _upload(cl, DATA, "ptypes"), "empty": _upload(cl, EMPTY, "ptypes_empty")}


def _compare(got: pl.DataFrame, want: pl.DataFrame, c: Case) -> None:
    relax = {k: v for k, v in c.relax.items() if k in want.columns}
    if relax:
        want = want.with_columns(*[pl.col(k).cast(v) for k, v in relax.items()])
        got = got.with_columns(*[pl.col(k).cast(v) for k, v in relax.items()])
    polars.testing.assert_frame_equal(got, want, check_row_order=c.ordered)


@pytest.mark.parametrize("table", ["data", "empty"])
@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_types(frames: dict[str, sl.DataFrame], c: Case, table: str) -> None:
    source = DATA if table == "data" else EMPTY
    want = c.build(source.lazy(), pl).collect()
    got = c.build(frames[table], sl).collect()
    _compare(got, want, c)


def test_round_trip_types(cl: sl.Client) -> None:
    """Every column comes back with polars' type."""
    got = _upload(cl, DATA, "ptypes_rt").collect()
    polars.testing.assert_frame_equal(got.sort("id"), DATA)
    assert _upload(cl, EMPTY, "ptypes_rt_empty").collect_schema() == DATA.schema


def test_pandas_types(cl: sl.Client) -> None:
    """pandas' timedelta64, bytes objects and categoricals upload and come back."""
    pdf = pd.DataFrame(
        {
            "d": pd.to_timedelta([1.5, None, -3, 0], unit="h"),
            "b": [b"x", None, b"\x00", b"x"],
            "c": pd.Categorical(["a", "b", None, "a"]),
            "v": [1, 2, 3, 4],
        }
    )
    f = cl.from_pandas(pdf, name="pandas_types", mode="replace")
    got = f.filter(sl.col("d") > pd.Timedelta(minutes=-5)).sort("v").to_pandas()
    assert got["d"].tolist() == [pd.Timedelta(hours=1.5), pd.Timedelta(0)]
    assert got["b"].tolist() == [b"x", b"x"]
    assert got["c"].tolist() == ["a", "a"]
    assert isinstance(got["c"].dtype, pd.CategoricalDtype)
    assert f.collect()["c"].dtype == pl.Categorical
    sums = f.group_by("c").agg(sl.col("v").sum()).sort("c", nulls_last=True).collect()
    assert sums.to_dict(as_series=False) == {"c": ["a", "b", None], "v": [5, 2, 3]}
    by_bytes = f.group_by("b").agg(sl.col("d").sum()).sort("b", nulls_last=True).collect()
    # b"\x00" < b"x" < null; the null group's one duration is null: its sum is 0
    assert by_bytes["d"].to_list() == [
        dt.timedelta(hours=-3),
        dt.timedelta(hours=1.5),
        dt.timedelta(0),
    ]


def test_arrow_dictionaries(cl: sl.Client) -> None:
    """A dictionary of text uploads as a categorical; one of numbers as its values."""
    t = pa.table(
        {
            "d": pa.array([1, 2, 1, None]).dictionary_encode(),
            "s": pa.array(["x", "y", "x", None]).dictionary_encode(),
        }
    )
    got = cl.from_arrow(t, name="arrow_dicts", mode="replace").collect()
    assert got.dtypes == [pl.Int64, pl.Categorical]
    assert got["s"].to_list() == ["x", "y", "x", None]


def test_pandas_lists_and_structs(cl: sl.Client) -> None:
    """pandas object columns of lists and dicts upload as lists and structs."""
    pdf = pd.DataFrame(
        {"l": [[1, 2], None, [], [3]], "s": [{"a": 1, "b": "x"}, None, {"a": 2, "b": None}, None]}
    )
    f = cl.from_pandas(pdf, name="pandas_nested", mode="replace")
    got = f.select(
        sl.col("l").list.len().alias("n"),
        sl.col("l").list.sum().alias("sum"),
        sl.col("s").struct.field("a"),
    ).collect()
    assert got.to_dict(as_series=False) == {
        "n": [2, None, 0, 1],
        "sum": [3, None, 0, 3],
        "a": [1, None, 2, None],
    }
    back = f.to_pandas()
    assert [None if v is None else list(v) for v in back["l"]] == [[1, 2], None, [], [3]]
    assert back["s"].tolist() == [{"a": 1, "b": "x"}, None, {"a": 2, "b": None}, None]


def test_type_errors(frames: dict[str, sl.DataFrame]) -> None:
    f = frames["data"]
    with pytest.raises(sl.PlanError, match=r"list.len needs a list, got"):
        f.select(sl.col("id").list.len()).collect()
    with pytest.raises(sl.PlanError, match=r"out of bounds .*null_on_oob=True"):
        f.select(sl.col("l").list.get(5)).collect()
    with pytest.raises(sl.PlanError, match=r"no field \"z\"; the struct has \[a b\]"):
        f.select(sl.col("st").struct.field("z")).collect()
    with pytest.raises(sl.NotSupportedError, match=r"cannot group by .*it is a list.*explode it"):
        f.group_by("l").agg(sl.len()).collect()
    with pytest.raises(
        sl.NotSupportedError, match=r"cannot join on .*it is a struct.*struct.field"
    ):
        f.join(f, on="st").collect()
    with pytest.raises(sl.PlanError, match=r"explode: column \"id\" is int64, not a list"):
        f.explode("id").collect()
    with pytest.raises(sl.PlanError, match=r"compare an Enum with \"top\": it is not one of"):
        f.select(sl.col("enum") < "top").collect()
    with pytest.raises(sl.SlipstreamError, match=r"is not one of the categories \[a, b\]"):
        f.select(sl.col("g").cast(pl.Enum(["a", "b"]))).collect()
    with pytest.raises(sl.PlanError, match=r"timestamp minus a timestamp gives a duration"):
        f.select(sl.col("t") + sl.col("u")).collect()
    with pytest.raises(sl.PlanError, match=r"total_days needs a duration, got timestamp"):
        f.select(sl.col("t").dt.total_days()).collect()
    with pytest.raises(sl.PlanError, match=r"dt.time needs a timestamp"):
        f.select(sl.col("dur").dt.time()).collect()


# ---------------------------------------------------------------- time zones
# Instants around the summer-time changes of 2024 (Europe/Berlin on 31 March
# and 27 October, America/New_York on 10 March and 3 November) and a zone
# with a half-hour offset (Asia/Kolkata), with nulls.

_STARTS = [
    dt.datetime(2024, 3, 9, 20, 0),
    dt.datetime(2024, 3, 30, 22, 0),
    dt.datetime(2024, 10, 26, 22, 0),
    dt.datetime(2024, 11, 2, 20, 0),
    dt.datetime(1969, 12, 31, 20, 0),
    dt.datetime(2020, 12, 31, 20, 0),  # ISO weeks across new year
    dt.datetime(2027, 1, 2, 20, 0),
]
_UTC = [s + dt.timedelta(minutes=23 * i, microseconds=7919 * i) for s in _STARTS for i in range(40)]
TZ_DATA = pl.DataFrame(
    {"id": range(len(_UTC) + 2), "t": [*_UTC, None, _UTC[3]]},
    schema_overrides={"t": pl.Datetime("us")},
).with_columns(
    pl.col("t").dt.replace_time_zone("UTC").alias("u"),
    pl.col("t").dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Berlin").alias("b"),
    pl.col("t").dt.replace_time_zone("UTC").dt.convert_time_zone("America/New_York").alias("ny"),
    pl.col("t").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Kolkata").alias("k"),
)
ZONED = ["u", "b", "ny", "k"]
TZ_CASES: dict[str, Callable[[Any, ModuleType], Any]] = {
    "fields": lambda lf, m: lf.select(
        "id",
        *[
            e
            for c in ZONED
            for e in (
                m.col(c).dt.year().alias(f"{c}_y"),
                m.col(c).dt.month().alias(f"{c}_mo"),
                m.col(c).dt.day().alias(f"{c}_d"),
                m.col(c).dt.weekday().alias(f"{c}_wd"),
                m.col(c).dt.hour().alias(f"{c}_h"),
                m.col(c).dt.minute().alias(f"{c}_m"),
                m.col(c).dt.second().alias(f"{c}_s"),
            )
        ],
    ),
    "date_time_strftime": lambda lf, m: lf.select(
        "id",
        *[
            e
            for c in ZONED
            for e in (
                m.col(c).dt.date().alias(f"{c}_date"),
                m.col(c).dt.time().alias(f"{c}_time"),
                m.col(c).dt.strftime("%Y-%m-%d %H:%M:%S %z").alias(f"{c}_text"),
            )
        ],
        m.col("t").dt.date().alias("naive_date"),
    ),
    "calendar_fields": lambda lf, m: lf.select(
        "id",
        *[
            e
            for c in ["t", "b", "ny"]
            for e in (
                m.col(c).dt.quarter().alias(f"{c}_q"),
                m.col(c).dt.week().alias(f"{c}_w"),
                m.col(c).dt.iso_year().alias(f"{c}_iy"),
                m.col(c).dt.ordinal_day().alias(f"{c}_od"),
                m.col(c).dt.millisecond().alias(f"{c}_ms"),
                m.col(c).dt.microsecond().alias(f"{c}_us"),
                m.col(c).dt.nanosecond().alias(f"{c}_ns"),
            )
        ],
        *[m.col("k").dt.epoch(u).alias(f"epoch_{u}") for u in ["ns", "us", "ms", "s", "d"]],
        m.col("t").dt.date().dt.epoch("s").alias("date_s"),
        m.col("t").dt.date().dt.week().alias("date_w"),
    ),
    "truncate_on_wall_clock": lambda lf, m: lf.select(
        "id",
        *[
            m.col(c).dt.truncate(every).alias(f"{c}_{every}")
            for c in ["u", "b", "ny", "k"]
            for every in ["30m", "1h", "90m", "1d", "3d", "1w", "1mo", "1q", "1y"]
        ],
    ),
    "group_by_dynamic_local": lambda lf, m: pl.concat(
        [
            lf.filter(m.col(c).is_not_null())
            .sort(c)
            .group_by_dynamic(c, every=every)
            .agg(m.col("id").min().alias("first"), m.col("id").max().alias("last"))
            .select(m.col(c).dt.strftime("%Y-%m-%d %H:%M %z").alias("start"), "first", "last")
            .collect()
            for c, every in [("b", "1d"), ("ny", "1d"), ("k", "2h"), ("k", "1d"), ("b", "1mo")]
        ]
    ).lazy(),
    "offset_by_on_wall_clock": lambda lf, m: lf.select(
        "id",
        *[
            m.col(c).dt.offset_by(by).alias(f"{c}_{by}")
            for c in ["u", "b", "ny", "k"]
            for by in ["1d", "-1w", "2h", "1mo", "1d2h", "25h", "-1y"]
        ],
    ),
    "convert_time_zone": lambda lf, m: lf.select(
        "id",
        m.col("b").dt.convert_time_zone("Asia/Kolkata").alias("b_k"),
        m.col("u").dt.convert_time_zone("America/New_York").alias("u_ny"),
        m.col("ny").dt.convert_time_zone("UTC").dt.hour().alias("ny_utc_h"),
        (m.col("b").dt.convert_time_zone("UTC") == m.col("u")).alias("same"),
    ),
    "replace_time_zone": lambda lf, m: lf.select(
        "id",
        m.col("b").dt.replace_time_zone(None).alias("b_naive"),
        m.col("ny").dt.replace_time_zone("UTC").alias("ny_utc"),
        m.col("k").dt.replace_time_zone("Europe/Berlin", ambiguous="earliest", non_existent="null"),
        m.col("t")
        .dt.replace_time_zone("America/New_York", ambiguous="latest", non_existent="null")
        .alias("t_ny"),
        m.col("t")
        .dt.replace_time_zone("Europe/Berlin", ambiguous="null", non_existent="null")
        .alias("t_b"),
    ),
    "group_by_local_day": lambda lf, m: lf.group_by(m.col("ny").dt.date().alias("day")).agg(
        m.col("id").min().alias("first"), m.col("ny").max().dt.hour().alias("last_h")
    ),
}


@pytest.fixture(scope="module")
def tz_frames(cl: sl.Client) -> dict[str, sl.DataFrame]:
    return {
        "data": _upload(cl, TZ_DATA, "ptypes_tz"),
        "empty": _upload(cl, TZ_DATA.clear(), "ptypes_tz_empty"),
    }


@pytest.mark.parametrize("table", ["data", "empty"])
@pytest.mark.parametrize("name", sorted(TZ_CASES))
def test_time_zones(tz_frames: dict[str, sl.DataFrame], name: str, table: str) -> None:
    source = TZ_DATA if table == "data" else TZ_DATA.clear()
    want = TZ_CASES[name](source.lazy(), pl).collect()
    got = TZ_CASES[name](tz_frames[table], sl).collect()
    polars.testing.assert_frame_equal(got, want, check_row_order=False)


def test_time_zone_errors(tz_frames: dict[str, sl.DataFrame]) -> None:
    f = tz_frames["data"]
    with pytest.raises(sl.SlipstreamError, match=r"02:\d\d:00 does not exist in Europe/Berlin"):
        f.select(sl.col("t").dt.replace_time_zone("Europe/Berlin", ambiguous="null")).collect()
    with pytest.raises(sl.SlipstreamError, match=r"is ambiguous in Europe/Berlin"):
        f.select(sl.col("t").dt.replace_time_zone("Europe/Berlin", non_existent="null")).collect()
    with pytest.raises(sl.PlanError, match=r"needs a timestamp with a time zone.*replace_time"):
        f.select(sl.col("t").dt.convert_time_zone("UTC")).collect()
    with pytest.raises(sl.PlanError, match=r"unknown time zone \"Mars/Base\""):
        f.select(sl.col("u").dt.convert_time_zone("Mars/Base")).collect()


def test_spread_over_partitions(cl: sl.Client) -> None:
    """Enum min/max, duration mean/median and enum sort over a table of several
    partitions (the cluster's are 700 rows): the aggregates that do not merge
    partial results gather their input."""
    r = random.Random(3)
    n = 3000
    df = pl.DataFrame(
        {
            "id": range(n),
            "g": [r.choice(["a", "b", "c", None]) for _ in range(n)],
            "cat": pl.Series([r.choice(["x", "y", None]) for _ in range(n)], dtype=pl.Categorical),
            "e": pl.Series(
                [r.choice(["lo", "mid", "hi", None]) for _ in range(n)],
                dtype=pl.Enum(["lo", "mid", "hi"]),
            ),
            "dur": pl.Series(
                [
                    None
                    if r.random() < 0.1
                    else dt.timedelta(microseconds=r.randint(-(10**9), 10**9))
                    for _ in range(n)
                ],
                dtype=pl.Duration("us"),
            ),
        }
    )
    f = _upload(cl, df, "ptypes_spread")
    cases: dict[str, Callable[[Any, ModuleType], Any]] = {
        "groups": lambda lf, m: lf.group_by("g", "cat").agg(
            m.col("e").min().alias("lo"),
            m.col("e").max().alias("hi"),
            m.col("dur").mean().alias("mean"),
            m.col("dur").median().alias("median"),
        ),
        "whole": lambda lf, m: lf.select(
            m.col("dur").mean(), m.col("e").max().alias("top"), m.col("cat").min().alias("c")
        ),
        "sort": lambda lf, m: lf.sort("e", "id", descending=[True, False]).select("id", "e"),
    }
    for name, q in cases.items():
        want = q(df.lazy(), pl).collect()
        got = q(f, sl).collect()
        polars.testing.assert_frame_equal(got, want, check_row_order=name == "sort")


def test_nested_categoricals(cl: sl.Client) -> None:
    """Lists of categoricals and enums upload and come back with their type; a
    categorical inside a struct comes back as its text."""
    enum = pl.Enum(["a", "b"])
    df = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "lc": pl.Series([["a", "b"], None, []], dtype=pl.List(pl.Categorical)),
            "le": pl.Series([["b"], ["a", None], None], dtype=pl.List(enum)),
            "s": pl.Series([{"x": "a"}, None, {"x": None}], dtype=pl.Struct({"x": pl.Categorical})),
        }
    )
    f = _upload(cl, df, "ptypes_nested_cats")
    got = f.sort("id").collect()
    polars.testing.assert_frame_equal(
        got, df.with_columns(pl.col("s").cast(pl.Struct({"x": pl.String})))
    )
    exploded = f.select("id", "le").explode("le").sort("id").collect()
    assert exploded.schema["le"] == enum
