"""Random expressions over the polars API, with polars as the oracle.

A seeded generator builds expression trees from the operations the client
claims (arithmetic, comparisons, conditionals, numeric functions, windows,
aggregations) and places them where polars code puts them (with_columns,
filter, select of aggregates, group_by().agg). Each case runs the same
builder on ``polars.LazyFrame`` and on a Slipstream frame (one node) over
the parity data (nulls, NaN, -0.0, inf, unicode) and compares. The suite
runs ``SLIPSTREAM_POLARS_CASES`` cases (default 150, a few seconds); set it
higher for a longer run. A mismatch names the seed, the case and its code.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

import polars as pl
import polars.testing
import pytest
from test_polars_parity import DATA

import slipstream as sl

SEED = int(os.environ.get("SLIPSTREAM_POLARS_SEED", "20261202"))
CASES = int(os.environ.get("SLIPSTREAM_POLARS_CASES", "150"))

Build = Callable[[ModuleType], Any]  # a module -> an expression


def numeric(rng: random.Random, depth: int, windows: bool = True) -> tuple[Build, str]:
    """A numeric row-wise expression and its text (windows: may hold windows)."""
    if depth <= 0 or rng.random() < 0.3:
        c = rng.choice(["x", "y", "f", "k"])
        return (lambda m, c=c: m.col(c)), f'col("{c}")'
    a, at = numeric(rng, depth - 1, windows)
    op = rng.randrange(13 if windows else 8)
    if op < 3:
        b, bt = numeric(rng, depth - 1, windows)
        sym = "+-*"[op]
        fns = [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y]
        return (lambda m, a=a, b=b, f=fns[op]: f(a(m), b(m))), f"({at} {sym} {bt})"
    if op == 3:
        n = rng.randint(-3, 5)
        return (lambda m, a=a, n=n: a(m) + n), f"({at} + {n})"
    if op == 4:
        return (lambda m, a=a: a(m).abs()), f"{at}.abs()"
    if op == 5:
        lo, hi = rng.randint(-10, 0), rng.randint(1, 10)
        return (lambda m, a=a, lo=lo, hi=hi: a(m).clip(lo, hi)), f"{at}.clip({lo}, {hi})"
    if op == 6:
        return (lambda m, a=a: a(m).fill_null(0)), f"{at}.fill_null(0)"
    if op == 7:
        p, pt = predicate(rng, depth - 1, windows)
        b, bt = numeric(rng, depth - 1, windows)
        return (
            lambda m, p=p, a=a, b=b: m.when(p(m)).then(a(m)).otherwise(b(m)),
            f"when({pt}).then({at}).otherwise({bt})",
        )
    if op >= 8:
        # A window's argument holds no window (nested windows: not supported).
        a, at = numeric(rng, depth - 1, windows=False)
    if op == 8:
        return (lambda m, a=a: a(m).cum_sum()), f"{at}.cum_sum()"
    if op == 9:
        n = rng.choice([1, 2, -1])
        return (lambda m, a=a, n=n: a(m).shift(n)), f"{at}.shift({n})"
    if op == 10:
        return (lambda m, a=a: a(m).diff()), f"{at}.diff()"
    if op == 11:
        g = rng.choice(["g", "k"])
        agg = rng.choice(["sum", "mean", "max", "min", "count"])
        return (
            lambda m, a=a, g=g, agg=agg: getattr(a(m), agg)().over(g),
            f"{at}.{agg}().over({g!r})",
        )
    method = rng.choice(["average", "min", "max", "dense", "ordinal"])
    return (lambda m, a=a, meth=method: a(m).rank(meth)), f"{at}.rank({method!r})"


def predicate(rng: random.Random, depth: int, windows: bool = True) -> tuple[Build, str]:
    """A boolean row-wise expression and its text."""
    a, at = numeric(rng, depth, windows)
    op = rng.randrange(6)
    if op < 4:
        n = rng.randint(-5, 5)
        sym = ["<", ">", "==", "!="][op]
        fns = [lambda x, y: x < y, lambda x, y: x > y, lambda x, y: x == y, lambda x, y: x != y]
        return (lambda m, a=a, n=n, f=fns[op]: f(a(m), n)), f"({at} {sym} {n})"
    if op == 4:
        vals = rng.sample([-2, -1, 0, 1, 2, 3, None], 3)
        return (lambda m, a=a, v=vals: a(m).is_in(v)), f"{at}.is_in({vals})"
    return (lambda m, a=a: a(m).is_null()), f"{at}.is_null()"


AGGS = ["sum", "mean", "min", "max", "n_unique", "count", "median", "std", "null_count"]


def aggregate(rng: random.Random, depth: int) -> tuple[Build, str]:
    # Windows inside an aggregation (polars: per group) are not supported.
    a, at = numeric(rng, depth, windows=False)
    if rng.random() < 0.2:
        q = rng.choice([0.1, 0.5, 0.9])
        meth = rng.choice(["nearest", "linear", "lower", "higher", "midpoint"])
        return (
            lambda m, a=a, q=q, meth=meth: a(m).quantile(q, meth)
        ), f"{at}.quantile({q}, {meth!r})"
    if rng.random() < 0.15:
        p, pt = predicate(rng, 1, windows=False)
        return (lambda m, a=a, p=p: a(m).filter(p(m)).sum()), f"{at}.filter({pt}).sum()"
    agg = rng.choice(AGGS)
    return (lambda m, a=a, agg=agg: getattr(a(m), agg)()), f"{at}.{agg}()"


def make_case(rng: random.Random) -> tuple[Callable[[Any, ModuleType], Any], str, bool]:
    shape = rng.randrange(4)
    if shape == 0:
        e, t = numeric(rng, 3)
        return (lambda lf, m: lf.select("id", e(m).alias("e"))), f"select(id, {t})", True
    if shape == 1:
        p, t = predicate(rng, 2)
        return (lambda lf, m: lf.filter(p(m)).select("id", "x")), f"filter({t})", True
    if shape == 2:
        aggs = [aggregate(rng, 2) for _ in range(rng.randint(1, 3))]
        text = ", ".join(t for _, t in aggs)

        def grouped(lf: Any, m: ModuleType) -> Any:
            return lf.group_by("g").agg(*[a(m).alias(f"a{i}") for i, (a, _) in enumerate(aggs)])

        return grouped, f"group_by(g).agg({text})", False
    a, t = aggregate(rng, 2)
    return (lambda lf, m: lf.select(a(m).alias("a"))), f"select({t})", True


@pytest.fixture(scope="module")
def frame(local_client: sl.Client) -> sl.DataFrame:
    return local_client.from_arrow(DATA, name="polars_random", mode="replace")


def test_random_expressions_match_polars(frame: sl.DataFrame) -> None:
    rng = random.Random(SEED)
    lf = pl.LazyFrame(DATA)
    for n in range(CASES):
        build, text, ordered = make_case(rng)
        try:
            want = build(lf, pl).collect()
        except pl.exceptions.PolarsError:
            continue  # polars refuses it (a type it does not combine): nothing to compare
        try:
            got = build(frame, sl).collect()
            if not ordered:
                want = want.sort(want.columns, nulls_last=True)
                got = got.sort(got.columns, nulls_last=True)
            polars.testing.assert_frame_equal(
                got, want, check_dtypes=False, rel_tol=1e-6, abs_tol=1e-6
            )
        except Exception as exc:
            raise AssertionError(f"seed {SEED}, case {n}: {text}\n{exc}") from exc
