"""DataFrame.sample and Expr.hash: rows picked at random, reproducibly by seed.

polars picks other rows (another generator), so the test checks what a user
relies on: how many rows, that they are input rows without repeats, that a
seed picks the same rows again and another seed others, and the order.
"""

from __future__ import annotations

import polars as pl
import pytest

import slipstream as sl

DATA = pl.DataFrame(
    {
        "x": list(range(1000)),
        "s": [None if i % 11 == 0 else f"é{i % 7}" for i in range(1000)],
    }
)


@pytest.fixture(scope="module", params=["local", "cluster"])
def t(request: pytest.FixtureRequest) -> sl.DataFrame:
    cl: sl.Client = request.getfixturevalue(f"{request.param}_client")
    return cl.from_polars(DATA, "sample_t", mode="replace")


def test_sample_n(t: sl.DataFrame) -> None:
    a = t.sample(25, seed=3).collect()
    assert a.height == 25 and a["x"].n_unique() == 25
    assert a["x"].is_sorted(), "without shuffle the rows keep their order"
    assert a.join(DATA, on=["x", "s"], how="anti", nulls_equal=True).height == 0
    assert a.equals(t.sample(25, seed=3).collect()), "one seed picks the same rows"
    assert not a.equals(t.sample(25, seed=4).collect())
    assert t.sample(seed=1).collect().height == 1  # polars' default n=1
    assert t.sample(0).collect().height == 0


def test_sample_fraction_and_shuffle(t: sl.DataFrame) -> None:
    f = t.sample(fraction=0.25, seed=1).collect()
    assert f.height == 250 and f["x"].is_sorted()
    s = t.sample(fraction=0.5, shuffle=True, seed=1).collect()
    assert s.height == 500 and s["x"].n_unique() == 500 and not s["x"].is_sorted()
    assert t.filter(sl.col("x") < 0).sample(fraction=0.5).collect().height == 0


def test_sample_refuses(t: sl.DataFrame) -> None:
    with pytest.raises(ValueError, match="with_replacement"):
        t.sample(3, with_replacement=True)
    with pytest.raises(ValueError, match="n or fraction"):
        t.sample(3, fraction=0.1)
    with pytest.raises(ValueError, match="fraction"):
        t.sample(fraction=1.5)


def test_hash(t: sl.DataFrame) -> None:
    got = t.select(sl.col("x").hash(7).alias("hx"), sl.col("s").hash().alias("hs"), "s").collect()
    assert got.schema["hx"] == pl.UInt64
    assert got["hx"].n_unique() == 1000
    # equal values hash alike (nulls too), different ones apart
    per_value = got.group_by("s").agg(pl.col("hs").n_unique())
    assert per_value["hs"].to_list() == [1] * per_value.height
    assert got["hs"].n_unique() == DATA["s"].n_unique()
    again = t.select(sl.col("x").hash(7).alias("hx")).collect()
    assert again["hx"].to_list() == got["hx"].to_list()
