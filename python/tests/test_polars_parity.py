"""polars as the oracle: the same code on ``polars.LazyFrame`` and on a Slipstream frame.

Each case is a function of a frame and a module (``polars`` or
``slipstream``), so the code under test is literally the same text a polars
user writes. It runs over data with nulls, NaN, -0.0, infinities and
unicode, and over the same schema with no rows; on one node, and the cases
marked ``CLUSTER`` on a three-node cluster too. Results are compared with
``polars.testing.assert_frame_equal`` (values, not dtypes, unless the case
says so; rows in order when the case says the order is defined).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import polars as pl
import polars.selectors
import polars.testing
import pyarrow as pa
import pytest

import slipstream as sl

N = 300
rng = random.Random(20261202)


def _pick(values: list[Any], null: float = 0.15) -> Any:
    return None if rng.random() < null else rng.choice(values)


DATA = pa.table(
    {
        "id": pa.array(range(N), pa.int64()),
        "g": pa.array([_pick(["a", "b", "ü", "日本", ""], 0.1) for _ in range(N)]),
        "k": pa.array([_pick([1, 2, 3]) for _ in range(N)], pa.int64()),
        "x": pa.array([_pick(list(range(-20, 21))) for _ in range(N)], pa.int64()),
        "y": pa.array([_pick(list(range(0, 9))) for _ in range(N)], pa.int32()),
        "f": pa.array(
            [
                _pick([0.5, -1.25, 2.5, 3.75, -0.0, 0.0, math.nan, 1e9, -7.5, 2.5, 1.5, 0.125])
                for _ in range(N)
            ],
            pa.float64(),
        ),
        "h": pa.array([_pick([1.0, 2.0, 4.5, -3.0, math.inf]) for _ in range(N)], pa.float64()),
        "b": pa.array([_pick([True, False]) for _ in range(N)], pa.bool_()),
        "c": pa.array([_pick([True, False], 0.4) for _ in range(N)], pa.bool_()),
        "s": pa.array(
            [_pick(["zebra", "Ångström", "naïve", "東京", "🙂", "", "a"]) for _ in range(N)]
        ),
    }
)
EMPTY = DATA.slice(0, 0)
_T0 = dt.datetime(2024, 3, 1, 9, 0)
TS = pa.table(
    {
        "t": pa.array(
            [_T0 + dt.timedelta(minutes=rng.randint(0, 3 * 24 * 60)) for _ in range(N)],
            pa.timestamp("us"),
        ),
        "d": pa.array([(_T0 + dt.timedelta(days=rng.randint(0, 90))).date() for _ in range(N)]),
        "g": pa.array([rng.choice(["A", "B", "C"]) for _ in range(N)]),
        "kind": pa.array([rng.choice(["q", "q", "t"]) for _ in range(N)]),
        "price": pa.array([_pick([10.0, 10.5, 11.25, 9.75, 12.0]) for _ in range(N)], pa.float64()),
        "qty": pa.array([rng.randint(1, 100) for _ in range(N)], pa.int64()),
    }
)
ALL_NULL = pa.table(
    {"g": pa.array(["a", "a", "b"]), "v": pa.array([None, None, None], pa.float64())}
)


@dataclass
class Case:
    name: str
    build: Callable[[Any, ModuleType], Any]
    ordered: bool = False  # the row order is defined (compare in order)
    dtypes: bool = False  # compare dtypes too
    table: str = "data"


CASES: list[Case] = []


def case(name: str, *, ordered: bool = False, dtypes: bool = False, table: str = "data"):  # type: ignore[no-untyped-def]
    def add(build: Callable[[Any, ModuleType], Any]) -> Callable[[Any, ModuleType], Any]:
        CASES.append(Case(name, build, ordered, dtypes, table))
        return build

    return add


# ---------------------------------------------------------------- polars' answers (not SQL's)

for method in ["average", "min", "max", "dense", "ordinal"]:
    for desc in [False, True]:
        CASES.append(
            Case(
                f"rank_{method}{'_desc' if desc else ''}",
                lambda lf, m, method=method, desc=desc: lf.select(
                    "id",
                    m.col("x").rank(method, descending=desc).alias("rx"),
                    m.col("f").rank(method, descending=desc).alias("rf"),
                    m.col("s").rank(method, descending=desc).alias("rs"),
                ),
                dtypes=True,
            )
        )
CASES.append(
    Case(
        "rank_over_group",
        lambda lf, m: lf.select("id", m.col("x").rank().over("g").alias("r")),
    )
)
for interp in ["nearest", "higher", "lower", "midpoint", "linear", "equiprobable"]:
    CASES.append(
        Case(
            f"quantile_{interp}",
            lambda lf, m, interp=interp: lf.group_by("g").agg(
                m.col("x").quantile(0.3, interp).alias("q30"),
                m.col("f").quantile(0.75, interp).alias("q75"),
                m.col("y").quantile(0.5, interp).alias("q50"),
            ),
        )
    )


@case("quantile_default")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(m.col("x").quantile(0.1).alias("a"), m.col("f").quantile(0.9).alias("b"))


@case("median")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("k").agg(m.col("x").median(), m.col("f").median().alias("fm"))


@case("n_unique_counts_null")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("x").n_unique(),
        m.col("f").n_unique().alias("fn"),
        m.col("s").n_unique().alias("sn"),
        m.col("b").n_unique().alias("bn"),
    )


@case("n_unique_global")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(m.col("g").n_unique(), m.col("f").n_unique().alias("fn"))


@case("round_half_to_even", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("f").round(0).alias("r0"),
        m.col("f").round(1).alias("r1"),
        m.col("f").round(2, mode="half_away_from_zero").alias("ra"),
    )


@case("is_in_with_nulls", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("x").is_in([1, 2, None]).alias("a"),
        m.col("x").is_in([1, 2, None], nulls_equal=True).alias("b"),
        m.col("g").is_in(["a", "ü"]).alias("c"),
        m.col("g").is_in(["a"], nulls_equal=True).alias("d"),
    )


@case("any_all")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("k").agg(
        m.col("c").any().alias("an"),
        m.col("c").all().alias("al"),
        m.col("c").any(ignore_nulls=False).alias("ank"),
        m.col("c").all(ignore_nulls=False).alias("alk"),
    )


@case("any_all_of_nothing")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.filter(m.col("x") > 100).select(
        m.col("c").any().alias("an"), m.col("c").all().alias("al")
    )


@case("sum_of_nulls", table="all_null")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("v").sum().alias("s"), m.col("v").mean().alias("m"), m.col("v").max().alias("mx")
    )


@case("max_min_skip_nan")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("k").agg(m.col("f").max().alias("mx"), m.col("f").min().alias("mn"))


@case("sum_mean_std")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("x").sum(),
        m.col("y").mean().alias("ym"),
        m.col("x").std().alias("xs"),
        m.col("y").var(ddof=0).alias("yv"),
        m.col("x").count().alias("xc"),
        m.len(),
    )


# ---------------------------------------------------------------- the LazyFrame API


@case("with_row_index", ordered=True, dtypes=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.with_row_index().select("index", "id", "x")


@case("with_row_index_offset", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.with_row_index("n", offset=10).select("n", "s")


@case("drop_rename_cast", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return (
        lf.drop("f", "h", "b")
        .rename({"x": "xx", "s": "text"})
        .cast({"y": pl.Float64, "k": pl.Int32})
        .select("id", "xx", "y", "k", "text")
    )


@case("drop_nulls")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.drop_nulls(subset=["x", "g"]).select("id", "x", "g")


@case("drop_nulls_all")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "x", "s").drop_nulls()


for strategy in ["forward", "backward", "min", "max", "zero", "one"]:
    CASES.append(
        Case(
            f"fill_null_{strategy}",
            lambda lf, m, strategy=strategy: lf.select("id", "x", "f", "y").fill_null(
                strategy=strategy
            ),
            ordered=True,
        )
    )


@case("fill_null_value", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "x", "f", "s").fill_null(0)


@case("fill_null_text", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "x", "s", "g").fill_null("?")


@case("fill_nan", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "f", "x").fill_nan(-1.0)


@case("null_count", dtypes=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.null_count()


@case("count", dtypes=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.count()


@case("frame_aggregates")
def _(lf: Any, m: ModuleType) -> Any:
    return pl.concat(
        [
            lf.select("x", "y", "f").max().collect(),
            lf.select("x", "y", "f").min().collect(),
            lf.select("x", "y", "f").sum().collect().cast(pl.Float64),
        ],
        how="vertical_relaxed",
    )


@case("frame_mean_with_text")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("x", "s", "b").mean()


@case("top_k")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.top_k(7, by="id").select("id", "x")


@case("bottom_k_two_keys")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.bottom_k(9, by=["y", "id"]).select("id", "y")


@case("tail", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.tail(4).select("id", "s")


@case("head", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.head(3)


for keep in ["first", "last", "none"]:
    CASES.append(
        Case(
            f"unique_{keep}_ordered",
            lambda lf, m, keep=keep: lf.unique(subset=["g", "k"], keep=keep, maintain_order=True),
            ordered=True,
        )
    )


@case("unique_any")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("g", "k").unique()


@case("group_by_maintain_order", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g", "k", maintain_order=True).agg(m.col("x").sum(), m.len())


@case("pipe_and_lazy", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.lazy().pipe(lambda f, n: f.head(n), 5).select("id")


@case("gather_every", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.gather_every(7, offset=2).select("id")


@case("reverse_shift", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "x").reverse().shift(2)


@case("describe_numeric")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("x", "y", "f").describe()


@case("describe_mixed")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("x", "s", "g").describe()


# ---------------------------------------------------------------- expressions


@case("all_exclude", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(m.all().exclude("f", "h"))


@case("exclude_fn", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(m.exclude("b", "c", "s"))


@case("col_many_names", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(m.col("x", "y"), m.col(["s", "g"]))


@case("col_regex_suffix")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("k").agg(m.col("^[xy]$").sum().name.suffix("_sum"))


@case("col_dtype_prefix", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(m.col(pl.Float64).abs().name.prefix("abs_"))


@case("selectors", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    cs = m.selectors
    return lf.select(cs.numeric().exclude("id"), cs.string().name.to_uppercase())


@case("name_keep", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select((m.col("x") * 2).alias("tmp").name.keep())


@case("horizontal", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.sum_horizontal("x", "f").alias("s"),
        m.mean_horizontal("x", "y", "f").alias("me"),
        m.min_horizontal("x", "f").alias("mn"),
        m.max_horizontal(m.col("x", "y")).alias("mx"),
        m.any_horizontal("b", "c").alias("an"),
        m.all_horizontal("b", "c").alias("al"),
    )


@case("broadcast_with_columns", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.with_columns(
        m.col("x").sum().alias("total"),
        (m.col("f") - m.col("f").mean()).alias("centred"),
        (m.col("y") / m.col("y").max()).alias("scaled"),
    ).select("id", "total", "centred", "scaled")


@case("broadcast_select", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", m.col("x").max().alias("mx"), m.len().alias("n"))


@case("filter_aggregate", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.filter(m.col("x") > m.col("x").mean()).select("id", "x")


@case("filter_window", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.filter(m.col("x") == m.col("x").max().over("g")).select("id", "g", "x")


@case("sort_by_window", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.sort(m.col("x").sum().over("g"), "id", nulls_last=True).select("id")


@case("over_expression", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", (m.col("x") - m.col("x").mean()).over("k").alias("d"))


@case("diff_pct_change", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.col("x").diff().alias("d1"),
        m.col("x").diff(2).alias("d2"),
        m.col("h").pct_change().alias("p"),
    )


@case("diff_over", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", m.col("x").diff().over("g", order_by="id").alias("d"))


@case("clip", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("x").clip(-5, 5).alias("a"),
        m.col("f").clip(lower_bound=0).alias("b"),
        m.col("y").clip(upper_bound=4).alias("c"),
    )


@case("cum_functions", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("x").cum_sum().alias("cs"),
        m.col("x").cum_max().alias("cmx"),
        m.col("y").cum_min().alias("cmn"),
        m.col("x").cum_count().alias("cc"),
    )


@case("rolling", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id",
        m.col("x").rolling_sum(3).alias("s3"),
        m.col("x").rolling_mean(4, min_samples=1).alias("m4"),
        m.col("f").rolling_max(2).alias("mx"),
        m.col("y").rolling_min(3, center=True, min_samples=2).alias("mn"),
        m.col("h").rolling_std(5, min_samples=2).alias("sd"),
        m.col("x").rolling_var(3, min_samples=1, ddof=0).alias("v"),
        m.col("y").rolling_median(4, min_samples=1, center=True).alias("md"),
    )


@case("rolling_float_sums", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    # sliding sums over NaN, infinities, -0.0 and 1e9 beside small values
    return lf.select(
        "id",
        m.col("f").rolling_sum(3).alias("s3"),
        m.col("f").rolling_mean(5, min_samples=2).alias("m5"),
        m.col("h").rolling_sum(4, min_samples=1).alias("hs"),
        m.col("h").rolling_mean(2, center=True, min_samples=1).alias("hm"),
        m.col("f").rolling_sum(6, min_samples=1, center=True).alias("c6"),
    )


@case("rolling_over", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        "id", m.col("x").rolling_mean(3, min_samples=1).over("g", order_by="id").alias("r")
    )


@case("duplicated_unique", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("s").is_duplicated().alias("d"),
        m.col("x").is_unique().alias("u"),
        m.col("g").is_first_distinct().alias("fd"),
        m.col("g").is_last_distinct().alias("ld"),
    )


@case("corr_cov")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("k").agg(
        m.corr("x", "y").alias("r"),
        m.cov("x", "y").alias("c"),
        m.cov("x", "y", ddof=0).alias("c0"),
    )


@case("floordiv_xor", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        (m.col("x") // 3).alias("a"),
        (m.col("x") // m.col("y")).alias("b"),
        (m.col("f") // 0.5).alias("c"),
        (m.col("b") ^ m.col("c")).alias("d"),
    )


@case("float_tests", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("f").is_nan().alias("a"),
        m.col("h").is_finite().alias("b"),
        m.col("h").is_infinite().alias("c"),
        m.col("f").is_not_nan().alias("d"),
        m.col("f").fill_nan(0).alias("e"),
    )


@case("expr_filter_in_agg")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("x").filter(m.col("y") > 3).sum().alias("s"),
        m.col("f").filter(m.col("b")).mean().alias("m"),
        m.col("x").filter(m.col("y") > 3, m.col("k") == 1).count().alias("c"),
        m.col("s").filter(m.col("x") < 0).n_unique().alias("n"),
        m.col("x").filter(m.col("y") > 100).max().alias("none"),
    )


@case("expr_filter_select", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(m.col("x").filter(m.col("k") == 2).mean(), m.len())


@case("expr_filter_over", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", m.col("x").filter(m.col("y") > 4).sum().over("g").alias("s"))


@case("trig_and_logs", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    x = m.col("f") / 1e9
    return lf.select(
        x.sin().alias("sin"),
        x.cos().alias("cos"),
        x.tan().alias("tan"),
        x.arcsin().alias("asin"),
        x.arctan().alias("atan"),
        x.tanh().alias("tanh"),
        x.arcsinh().alias("asinh"),
        m.col("h").log10().alias("l10"),
        m.col("h").log1p().alias("l1p"),
        m.col("x").cbrt().alias("cbrt"),
        m.col("f").degrees().alias("deg"),
        m.col("x").sign().alias("sgn"),
    )


@case("product_and_moments")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("k").agg(
        m.col("y").product().alias("p"),
        m.col("x").skew().alias("sk"),
        m.col("x").kurtosis().alias("ku"),
        m.col("x").skew(bias=False).alias("sk1"),
        m.col("x").dot("y").alias("dot"),
        m.col("x").has_nulls().alias("hn"),
        m.col("s").len().alias("n"),
    )


@case("cum_prod_fill", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        (m.col("y") % 3 + 1).cum_prod().alias("cp"),
        m.col("x").fill_null(strategy="forward").alias("ff"),
        m.col("x").fill_null(strategy="backward", limit=1).alias("bf1"),
        m.col("s").forward_fill(limit=2).alias("sf"),
        m.col("f").fill_null(strategy="mean").alias("fm"),
        m.col("x").fill_null(strategy="forward").over("g", order_by="id").alias("ffg"),
    )


@case("method_operators", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("x").add(1).mul(2).sub(m.col("y")).alias("a"),
        m.col("x").eq_missing(m.col("k")).alias("eqm"),
        m.col("x").ne_missing(3).alias("nem"),
        m.col("b").and_(m.col("c")).alias("and"),
        m.col("b").or_(m.col("c")).alias("or"),
        m.col("x").neg().alias("neg"),
        m.col("x").truediv(4).alias("div"),
        m.col("x").mod(7).alias("mod"),
        m.col("x").ge(0).alias("ge"),
    )


@case("replace", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("g").replace({"a": "A", "ü": "U"}).alias("r"),
        m.col("k").replace([1, 2], [10, 20]).alias("r2"),
        m.col("g").replace_strict({"a": 1, "b": 2}, default=0).alias("rs"),
    )


@case("more_float_aggregates")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("k").agg(
        m.col("f").nan_max().alias("nmx"),
        m.col("f").nan_min().alias("nmn"),
        m.col("y").entropy().alias("e"),
        m.col("y").entropy(base=2, normalize=False).alias("e2"),
    )


@case("is_close_erf", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("f").is_close(m.col("h"), abs_tol=1.0).alias("c"),
        m.col("f").is_close(2.5, nans_equal=True).alias("c2"),
        (m.col("f") / 1e9).erf().alias("erf"),
        (m.col("f") / 1e9).erfc().alias("erfc"),
    )


@case("unpivot")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "x", "y").unpivot(["x", "y"], index="id", value_name="v")


@case("pivot")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.pivot("g", ["a", "b", "ü"], index="k", values="x", aggregate_function="sum")


@case("pivot_first_two_values")
def _(lf: Any, m: ModuleType) -> Any:
    return (
        lf.filter(m.col("k").is_not_null())
        .unique(subset=["k", "y"], keep="first")
        .pivot("y", [1, 2, 3], index="k", values=["x", "s"])
    )


@case("join_where")
def _(lf: Any, m: ModuleType) -> Any:
    small = lf.select("id", "x").head(20)
    other = lf.select(m.col("id").alias("rid"), m.col("y")).head(15)
    return small.join_where(other, m.col("x") < m.col("y"), m.col("id") > m.col("rid"))


@case("drop_nans_width", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("id", "f", "h").drop_nans()


# ---------------------------------------------------------------- time series

for every in ["1h", "15m", "1d", "2d", "1w", "1mo"]:
    CASES.append(
        Case(
            f"group_by_dynamic_{every}",
            lambda lf, m, every=every: (
                lf.sort("t")
                .group_by_dynamic("t", every=every, group_by="g")
                .agg(m.col("qty").sum(), m.col("price").mean().alias("p"), m.len())
            ),
            ordered=True,
            table="ts",
        )
    )


@case("group_by_dynamic_date", ordered=True, table="ts")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.sort("d").group_by_dynamic("d", every="1mo").agg(m.col("qty").max())


for closed in ["right", "left", "both", "none"]:
    CASES.append(
        Case(
            f"rolling_by_{closed}",
            lambda lf, m, closed=closed: lf.sort("t", "qty").with_columns(
                s=m.col("qty").rolling_sum_by("t", "6h", closed=closed),
                mean=m.col("price").rolling_mean_by("t", "1d", closed=closed),
                lo=m.col("price").rolling_min_by("t", "90m", closed=closed),
                hi=m.col("qty").rolling_max_by("t", "1d2h", closed=closed, min_samples=3),
            ),
            table="ts",
        )
    )


@case("rolling_by_stats", table="ts")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.with_columns(
        sd=m.col("price").rolling_std_by("t", "12h"),
        var=m.col("qty").rolling_var_by("t", "1d", min_samples=2),
        med=m.col("qty").rolling_median_by("t", "12h"),
        q=m.col("qty").rolling_quantile_by("t", "1d", quantile=0.25),
    )


@case("rolling_by_over_group", table="ts")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.with_columns(m.col("qty").rolling_sum_by("t", "1d").over("g").alias("s"))


@case("rolling_by_date", table="ts")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.with_columns(m.col("qty").rolling_mean_by("d", "7d").alias("week"))


@case("frame_rolling", table="ts")
def _(lf: Any, m: ModuleType) -> Any:
    return (
        lf.sort("t")
        .rolling("t", period="3h")
        .agg(m.col("qty").sum(), m.col("price").max().alias("top"), m.len())
    )


@case("frame_rolling_group_by", table="ts")
def _(lf: Any, m: ModuleType) -> Any:
    return (
        lf.sort("t")
        .rolling("t", period="1d", closed="both", group_by="g")
        .agg((m.col("qty").max() - m.col("qty").min()).alias("spread"), m.col("price").mean())
    )


for strategy in ["backward", "forward"]:
    CASES.append(
        Case(
            f"join_asof_{strategy}",
            lambda lf, m, strategy=strategy: (
                lf.filter(m.col("kind") == "t")
                .select("t", "g", "qty")
                .sort("t")
                .join_asof(
                    lf.filter(m.col("kind") == "q").select("t", "g", "price").sort("t"),
                    on="t",
                    by="g",
                    strategy=strategy,
                )
            ),
            ordered=True,
            table="ts",
        )
    )


@case("join_asof_no_by", ordered=True, table="ts")
def _(lf: Any, m: ModuleType) -> Any:
    trades = lf.filter(m.col("kind") == "t").select("t", "qty").sort("t")
    quotes = lf.filter(m.col("kind") == "q").select(m.col("t").alias("qt"), "price", "g").sort("qt")
    return trades.join_asof(quotes, left_on="t", right_on="qt")


@case("rolling_time_series", ordered=True, table="ts")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.sort("t").select(
        "t", m.col("price").rolling_mean(5, min_samples=1).over("g", order_by="t").alias("r")
    )


@case("strftime", ordered=True, table="ts")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("t").dt.strftime("%Y-%m-%d %H:%M:%S").alias("a"),
        m.col("t").dt.strftime("%a %d %b %Y, %I:%M %p (%j) %.3f").alias("b"),
        m.col("d").dt.strftime("%F / %A / %B %e").alias("c"),
        m.col("t").dt.to_string("%T%.f").alias("e"),
    )


def test_sort_by_orders_must_agree(frames: dict[str, sl.DataFrame]) -> None:
    q = (
        frames["data"]
        .group_by("g")
        .agg(sl.col("x").sort_by("id").last(), sl.col("s").sort_by("id", descending=True).first())
    )
    with pytest.raises(sl.PlanError, match=r"sort_by different keys \(\[col\(id\)\] and"):
        q.collect()


@case("sort_by_in_agg")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("g").agg(
        m.col("x").sort_by("id").last().alias("last_x"),
        m.col("s").sort_by("id").first().alias("s_of_min_id"),
        m.col("x").sort_by("id").sum().alias("sum_anyway"),
    )


@case("sort_by_two_keys_in_select", ordered=True)
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select(
        m.col("id").sort_by(["y", "id"], descending=[True, False], nulls_last=True).first()
    )


@case("group_by_shortcuts")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.select("k", "x", "y", "f").group_by("k").max()


@case("group_by_shortcuts_sum_mean")
def _(lf: Any, m: ModuleType) -> Any:
    small = lf.select("k", "x", "y")
    return small.group_by("k").sum().join(small.group_by("k").mean(), on="k", suffix="_mean")


@case("concat_diagonal")
def _(lf: Any, m: ModuleType) -> Any:
    a = lf.select("id", "x").head(5)
    b = lf.select("id", "s").head(3)
    return m.concat([a, b], how="diagonal")


@case("join_keywords")
def _(lf: Any, m: ModuleType) -> Any:
    a = lf.select("id", "x").head(30)
    b = lf.select("id", "y").head(20)
    return a.join(b, on="id", how="left", validate="m:m", nulls_equal=False, coalesce=True)


@case("null_count_expr")
def _(lf: Any, m: ModuleType) -> Any:
    return lf.group_by("k").agg(m.col("x").null_count(), m.col("s").null_count().alias("sn"))


CLUSTER = {
    "rank_average",
    "quantile_nearest",
    "n_unique_counts_null",
    "any_all",
    "sum_of_nulls",
    "max_min_skip_nan",
    "with_row_index",
    "fill_null_forward",
    "tail",
    "unique_last_ordered",
    "group_by_maintain_order",
    "broadcast_with_columns",
    "filter_window",
    "col_regex_suffix",
    "corr_cov",
    "expr_filter_in_agg",
    "rolling_over",
    "describe_numeric",
    "join_asof_backward",
    "group_by_dynamic_15m",
    "rolling_by_over_group",
    "frame_rolling_group_by",
    "sort_by_in_agg",
    "strftime",
}


@pytest.fixture(scope="module")
def frames(local_client: sl.Client) -> dict[str, sl.DataFrame]:
    return _upload(local_client, "one")


@pytest.fixture(scope="module")
def cluster_frames(cluster_client: sl.Client) -> dict[str, sl.DataFrame]:
    return _upload(cluster_client, "three")


def _upload(client: sl.Client, tag: str) -> dict[str, sl.DataFrame]:
    return {
        name: client.from_arrow(table, name=f"parity_{name}_{tag}", mode="replace")
        for name, table in [("data", DATA), ("empty", EMPTY), ("all_null", ALL_NULL), ("ts", TS)]
    }


TABLES = {"data": DATA, "empty": EMPTY, "all_null": ALL_NULL, "ts": TS}


def _collect(result: Any) -> pl.DataFrame:
    if isinstance(result, pl.DataFrame):
        return result
    return result.collect()


def run_case(c: Case, frames: dict[str, sl.DataFrame], table: str) -> None:
    """Run ``c`` on polars and on Slipstream over ``table`` and compare."""
    want = _collect(c.build(pl.LazyFrame(TABLES[table]), pl))
    got = _collect(c.build(frames[table], sl))
    assert got.columns == want.columns, f"columns {got.columns} != {want.columns}"
    if not c.ordered and want.height > 0:
        # Sort both by every column (NaN and nulls included) to compare as sets.
        want = want.sort(want.columns, nulls_last=True)
        got = got.sort(got.columns, nulls_last=True)
    if c.dtypes:
        assert got.schema == want.schema, f"dtypes {got.schema} != {want.schema}"
    polars.testing.assert_frame_equal(
        got, want, check_dtypes=False, check_exact=False, rel_tol=1e-9, abs_tol=1e-9
    )


def _tables(c: Case) -> list[str]:
    return [c.table] if c.table != "data" else ["data", "empty"]


PARAMS = [pytest.param(c, t, id=f"{c.name}-{t}") for c in CASES for t in _tables(c)]


@pytest.mark.parametrize(("c", "table"), PARAMS)
def test_parity_one_node(frames: dict[str, sl.DataFrame], c: Case, table: str) -> None:
    run_case(c, frames, table)


@pytest.mark.parametrize(
    ("c", "table"),
    [p for p in PARAMS if p.values[0].name in CLUSTER],  # type: ignore[union-attr]
)
def test_parity_three_nodes(cluster_frames: dict[str, sl.DataFrame], c: Case, table: str) -> None:
    run_case(c, cluster_frames, table)


def test_case_count() -> None:
    """The differential test's size, printed for the record (``-s`` shows it)."""
    print(f"\npolars parity: {len(CASES)} cases, {len(PARAMS)} runs on one node")
    assert len(CASES) >= 80
