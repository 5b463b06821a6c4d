"""polars' value_counts, mode, arg_max / arg_min, cut / qcut, ewm_mean on a
Slipstream frame, with polars as the oracle (one node and three nodes).

cut gives polars' Enum of its labels and qcut a Categorical, compared as
polars' types.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable
from typing import Any

import polars as pl
import polars.testing
import pytest

import slipstream as sl

N = 200
rng = random.Random(16)


def _pick(values: list[Any], null: float = 0.15) -> Any:
    return None if rng.random() < null else rng.choice(values)


DATA = pl.DataFrame(
    {
        "id": list(range(N)),
        "g": [_pick(["a", "b", "ü"], 0.1) for _ in range(N)],
        "x": [_pick([1.0, 2.0, 2.5, -1.0, 0.0, 1e9, 3.75]) for _ in range(N)],
        "i": [_pick(list(range(-5, 6))) for _ in range(N)],
        "s": [_pick(["zebra", "東京", "", "a"]) for _ in range(N)],
        "nan": [_pick([1.0, math.nan, -2.0]) for _ in range(N)],
        # distinct values: polars' lazy engine gives the last of tied extremes
        # to a frame-wide arg_max, its eager one (and this) the first
        "u": [None if k % 7 == 0 else (k * 7919) % 1009 - 500.5 for k in range(N)],
        "w": [None if k % 9 == 0 else f"w{(k * 31) % 997:04d}" for k in range(N)],
    }
)
EMPTY = DATA.clear()

CASES: dict[str, Callable[[Any, Any], Any]] = {
    "value_counts": lambda lf, m: lf.select(m.col("g").value_counts()),
    "value_counts_sorted_named": lambda lf, m: lf.select(
        m.col("i").value_counts(sort=True, name="n")
    ),
    "value_counts_normalize": lambda lf, m: lf.select(
        m.col("s").value_counts(normalize=True).alias("v")
    ).unnest("v"),
    "value_counts_expression": lambda lf, m: lf.select((m.col("i") % 3).value_counts()),
    "mode": lambda lf, m: lf.select(m.col("i").mode()),
    "mode_text": lambda lf, m: lf.select(m.col("g").mode()),
    "arg_max_min": lambda lf, m: lf.select(
        m.col("u").arg_max().alias("umax"),
        m.col("u").arg_min().alias("umin"),
        m.col("w").arg_max().alias("wmax"),
        m.col("w").arg_min().alias("wmin"),
    ),
    "arg_max_per_group": lambda lf, m: lf.group_by("g").agg(
        m.col("i").sort_by("id").arg_max().alias("imax"),
        m.col("x").sort_by("id").arg_min().alias("xmin"),
    ),
    "cut": lambda lf, m: lf.select(
        "id",
        m.col("x").cut([0, 2.5]).alias("c"),
        m.col("i").cut([-2, 0, 3], left_closed=True).alias("l"),
        m.col("x").cut([1], labels=["small", "big"]).alias("lab"),
    ),
    "qcut": lambda lf, m: lf.select(
        "id",
        m.col("x").qcut([0.5]).alias("q"),
        m.col("i").qcut(4, left_closed=True, allow_duplicates=True).alias("n"),
        m.col("i").qcut([0.2, 0.8], labels=["lo", "mid", "hi"]).alias("lab"),
    ),
    "ewm_mean": lambda lf, m: lf.sort("id").select(
        "id",
        m.col("x").ewm_mean(alpha=0.5).alias("a"),
        m.col("x").ewm_mean(alpha=0.3, adjust=False).alias("b"),
        m.col("i").ewm_mean(com=2.0, ignore_nulls=True).alias("c"),
        m.col("x").ewm_mean(span=4, adjust=False, ignore_nulls=True).alias("d"),
        m.col("i").ewm_mean(half_life=3, min_samples=3).alias("e"),
    ),
    "ewm_mean_over": lambda lf, m: lf.sort("id").select(
        "id", m.col("x").ewm_mean(alpha=0.4).over("g").alias("e")
    ),
}
# With no rows polars' qcut has no quantiles to cut at; it is compared on data only.
NONEMPTY = {"qcut"}


@pytest.fixture(scope="module")
def frames(cl: sl.Client) -> dict[str, sl.DataFrame]:
    return {
        "data": cl.from_polars(DATA, name="pfuncs", mode="replace"),
        "empty": cl.from_polars(EMPTY, name="pfuncs_empty", mode="replace"),
    }


@pytest.mark.parametrize("table", ["data", "empty"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_functions(frames: dict[str, sl.DataFrame], name: str, table: str) -> None:
    if table == "empty" and name in NONEMPTY:
        pytest.skip("polars' qcut of no rows has no breaks")
    source = DATA if table == "data" else EMPTY
    with warnings.catch_warnings():  # polars deprecates cut/qcut for bin_* in 2.x
        warnings.simplefilter("ignore", DeprecationWarning)
        want = CASES[name](source.lazy(), pl).collect()
    got = CASES[name](frames[table], sl).collect()
    polars.testing.assert_frame_equal(got, want, check_row_order=False)


def test_ewm_mean_arguments() -> None:
    with pytest.raises(ValueError, match="exactly one of com, span, half_life and alpha"):
        sl.col("x").ewm_mean(alpha=0.5, span=3)
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\]"):
        sl.col("x").ewm_mean(alpha=1.5)


def test_rewrites_stand_alone(frames: dict[str, sl.DataFrame]) -> None:
    with pytest.raises(ValueError, match="select one alone"):
        frames["data"].select("id", sl.col("g").value_counts())
    with pytest.raises(ValueError, match="include_breaks=True is not supported"):
        sl.col("x").cut([1], include_breaks=True)
    with pytest.raises(ValueError, match="3 labels are needed for 2 breaks"):
        sl.col("x").cut([1, 2], labels=["a"])
