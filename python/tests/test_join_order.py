"""Runs of inner joins are reordered by the optimizer when statistics count
their keys' values: whatever order the user writes them in,
the result equals DuckDB's, with nulls, duplicate keys (many to many), keys
of different types, keys from two tables at once, name clashes and
conditions over several tables; and a small filtered table is joined before
the large one. Parquet statistics count the values; stored tables keep the
range of their integer columns; other keys keep the order written."""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _oracle import assert_same
from test_random import random_table

import slipstream as sl
from slipstream import col

N = 3000


def _tables() -> dict[str, pa.Table]:
    fact = pa.table(
        {
            "f_id": pa.array(range(N), pa.int64()),
            # a key of dim_a, as int64 where dim_a's is int32; nulls and
            # values dim_a does not have
            "f_a": pa.array([None if i % 17 == 0 else i % 230 for i in range(N)], pa.int64()),
            "f_b": pa.array([i % 40 for i in range(N)], pa.int64()),
            "f_val": pa.array([(i * 37) % 1000 / 8 for i in range(N)], pa.float64()),
            "note": [f"fact {i} ü" if i % 5 else None for i in range(N)],
        }
    )
    dim_a = pa.table(
        {
            "a_id": pa.array(range(200), pa.int32()),
            "a_grp": pa.array([i % 7 for i in range(200)], pa.int64()),
            "note": [f"a{i} ß" for i in range(200)],
        }
    )
    # b_id repeats: joining on it multiplies rows (many to many)
    dim_b = pa.table(
        {
            "b_id": pa.array([i % 30 for i in range(60)] + [None], pa.int64()),
            "b_tag": [f"tag{i % 3}" for i in range(60)] + ["none"],
        }
    )
    dim_c = pa.table(
        {
            "c_grp": pa.array([0, 1, 2, 3, 3, 5, 6, None], pa.int64()),
            "c_name": ["zero", "one", "two", "three", "trois", "five", "six", "nothing"],
        }
    )
    return {"fact": fact, "dim_a": dim_a, "dim_b": dim_b, "dim_c": dim_c}


TABLES = _tables()


@pytest.fixture(scope="module", params=["parquet", "stored"])
def frames(request, cl: sl.Client, tmp_path_factory) -> dict[str, sl.DataFrame]:
    """The tables as Parquet files read in place (statistics known) or as stored tables."""
    if request.param == "stored":
        return {t: cl.from_arrow(v, name=f"jo_{t}", mode="replace") for t, v in TABLES.items()}
    root: Path = tmp_path_factory.mktemp("join_order")
    out = {}
    for t, v in TABLES.items():
        pq.write_table(v, root / f"{t}.parquet", row_group_size=1000)
        out[t] = cl.read_parquet(root / f"{t}.parquet")
    return out


Query = Callable[[dict[str, sl.DataFrame]], sl.DataFrame]

CASES: list[tuple[str, Query, str]] = [
    (
        "fact_first",
        lambda t: (
            t["fact"]
            .join(t["dim_b"], left_on="f_b", right_on="b_id")
            .join(t["dim_a"], left_on="f_a", right_on="a_id")
            .join(t["dim_c"].filter(col("c_name") == "three"), left_on="a_grp", right_on="c_grp")
            .select("f_id", "b_tag", "a_grp", "note", "note_right", "c_name")
        ),
        "select f_id, b_tag, a_grp, fact.note, dim_a.note as note_right, c_name "
        "from fact join dim_b on f_b = b_id join dim_a on f_a = a_id "
        "join dim_c on a_grp = c_grp where c_name = 'three'",
    ),
    (
        "dimensions_first",
        lambda t: (
            t["dim_c"]
            .join(t["dim_a"], left_on="c_grp", right_on="a_grp")
            .join(t["fact"], left_on="a_id", right_on="f_a", suffix="_fact")
            .join(t["dim_b"], left_on="f_b", right_on="b_id")
        ),
        "select c_grp, c_name, a_id, dim_a.note, f_id, f_b, f_val, fact.note as note_fact, b_tag "
        "from dim_c join dim_a on c_grp = a_grp join fact on a_id = f_a join dim_b on f_b = b_id",
    ),
    (
        "condition_over_three_tables",
        lambda t: (
            t["fact"]
            .join(t["dim_a"], left_on="f_a", right_on="a_id")
            .join(t["dim_b"], left_on="f_b", right_on="b_id")
            .join(t["dim_c"], left_on="a_grp", right_on="c_grp")
            .filter(((col("b_tag") == "tag1") & (col("c_name") == "six")) | (col("f_val") < 3))
            .group_by("c_name", "b_tag")
            .agg(col("f_val").sum().alias("total"), sl.len().alias("rows"))
        ),
        "select c_name, b_tag, sum(f_val) as total, count(*) as rows "
        "from fact join dim_a on f_a = a_id join dim_b on f_b = b_id join dim_c on a_grp = c_grp "
        "where (b_tag = 'tag1' and c_name = 'six') or f_val < 3 group by c_name, b_tag",
    ),
    (
        # the last join's keys come from two tables (f_b from fact, a_grp from dim_a)
        "keys_from_two_tables",
        lambda t: (
            t["dim_a"]
            .join(t["fact"], left_on="a_id", right_on="f_a")
            .join(
                t["dim_b"].with_columns((col("b_id") % 7).alias("b_grp")),
                left_on=["f_b", "a_grp"],
                right_on=["b_id", "b_grp"],
            )
            .join(t["dim_c"], left_on="a_grp", right_on="c_grp")
            .select("f_id", "a_id", "b_tag", "c_name")
        ),
        "select f_id, a_id, b_tag, c_name from dim_a join fact on a_id = f_a "
        "join dim_b on f_b = b_id and a_grp = b_id % 7 join dim_c on a_grp = c_grp",
    ),
    (
        # f_grp = a_grp and f_grp = c_grp: dim_a and dim_c may meet first
        "same_key_three_ways",
        lambda t: (
            t["fact"]
            .with_columns((col("f_a") % 7).alias("f_grp"))
            .join(t["dim_a"], left_on="f_grp", right_on="a_grp")
            .join(t["dim_c"], left_on="f_grp", right_on="c_grp")
            .filter(col("f_id") < 200)
            .group_by("c_name")
            .agg(sl.len().alias("rows"))
        ),
        "select c_name, count(*) as rows from fact join dim_a on f_a % 7 = a_grp "
        "join dim_c on f_a % 7 = c_grp where f_id < 200 group by c_name",
    ),
    (
        # f_a = a_id and f_b = a_id: two columns of the fact table in one key
        # class, which no join compares with each other
        "two_columns_of_one_table_equal_one_key",
        lambda t: (
            t["fact"]
            .join(t["dim_a"], left_on=["f_a", "f_b"], right_on=["a_id", "a_id"])
            .join(t["dim_b"], left_on="f_b", right_on="b_id")
            .select("f_id", "a_grp", "b_tag")
        ),
        "select f_id, a_grp, b_tag from fact join dim_a on f_a = a_id and f_b = a_id "
        "join dim_b on f_b = b_id",
    ),
    (
        "empty_input",
        lambda t: (
            t["fact"]
            .join(t["dim_a"].filter(col("a_id") < 0), left_on="f_a", right_on="a_id")
            .join(t["dim_b"], left_on="f_b", right_on="b_id")
            .join(t["dim_c"], left_on="a_grp", right_on="c_grp")
        ),
        "select f_id, f_a, f_b, f_val, fact.note, a_grp, dim_a.note as note_right, b_tag, c_name "
        "from fact join dim_a on f_a = a_id join dim_b on f_b = b_id "
        "join dim_c on a_grp = c_grp where a_id < 0",
    ),
]


@pytest.mark.parametrize(("build", "sql"), [pytest.param(b, s, id=n) for n, b, s in CASES])
def test_reordered_joins_match_duckdb(frames: dict[str, sl.DataFrame], build, sql: str) -> None:
    got = build(frames).to_arrow()
    assert_same(got, sql, **TABLES)
    assert got.schema.names == build(frames).schema.names


def _optimized(q: sl.DataFrame) -> str:
    """The optimized plan of ``q``'s EXPLAIN."""
    return q.explain().split("== optimized plan ==\n")[1].split("\n== ")[0]


def _deepest_join(optimized: str) -> str:
    joins = [(len(line) - len(line.lstrip()), line.strip()) for line in optimized.splitlines()]
    return max((j for j in joins if j[1].startswith("Join")), key=lambda j: j[0])[1]


def test_the_filtered_small_table_is_joined_first(frames: dict[str, sl.DataFrame]) -> None:
    q = CASES[0][1](frames)
    # written last, dim_c (filtered) meets dim_a before either meets the fact table
    first = _deepest_join(_optimized(q))
    assert re.search(r"col\((a_grp|c_grp)\) = col\((a_grp|c_grp)\)", first), first


def test_stored_tables_joined_on_strings_keep_the_order_written(cl: sl.Client) -> None:
    # a stored table keeps the range of its integer columns, not the values of
    # its strings: with a key whose values nothing counts, the order stays
    t = {name: cl.from_arrow(v, name=f"jo_{name}", mode="replace") for name, v in TABLES.items()}
    tags = cl.from_arrow(
        pa.table({"tag": ["tag0", "tag1", "tag2"], "label": ["zero", "one", "two"]}),
        name="jo_tags",
        mode="replace",
    )
    q = (
        t["fact"]
        .join(t["dim_b"], left_on="f_b", right_on="b_id")
        .join(tags.filter(col("label") == "one"), left_on="b_tag", right_on="tag")
        .join(t["dim_a"], left_on="f_a", right_on="a_id")
        .group_by("label")
        .agg(sl.len().alias("rows"))
    )
    first = _deepest_join(_optimized(q))
    assert re.search(r"col\((f_b|b_id)\) = col\((f_b|b_id)\)", first), first
    assert_same(
        q,
        "select label, count(*) as rows from fact join dim_b on f_b = b_id "
        "join tags on b_tag = tag join dim_a on f_a = a_id where label = 'one' group by label",
        tags=pa.table({"tag": ["tag0", "tag1", "tag2"], "label": ["zero", "one", "two"]}),
        **TABLES,
    )


def test_a_join_run_written_in_any_order_gives_the_same_rows(
    frames: dict[str, sl.DataFrame],
) -> None:
    t = frames
    orders = [
        t["fact"]
        .join(t["dim_a"], left_on="f_a", right_on="a_id")
        .join(t["dim_b"], left_on="f_b", right_on="b_id"),
        t["dim_b"]
        .join(t["fact"], left_on="b_id", right_on="f_b")
        .join(t["dim_a"], left_on="f_a", right_on="a_id"),
        t["dim_a"]
        .join(t["fact"], left_on="a_id", right_on="f_a")
        .join(t["dim_b"], left_on="f_b", right_on="b_id"),
    ]
    results = [
        sorted(q.select("f_id", "b_tag", "a_grp").to_arrow().to_pylist(), key=str) for q in orders
    ]
    assert len(results[0]) > N  # dim_b's repeated keys multiply the fact's rows
    assert results[0] == results[1] == results[2]


SALES = pa.table(
    {
        "item": pa.array([None if i % 97 == 0 else i % 1000 for i in range(20_000)], pa.int64()),
        "store": pa.array([i % 13 for i in range(20_000)], pa.int64()),
        "qty": pa.array([(i * 7) % 50 for i in range(20_000)], pa.int64()),
    }
)
ITEMS = pa.table(
    {
        "i_id": pa.array(range(0, 2000, 2), pa.int32()),  # int32 against the int64 item
        "i_name": [f"name{i % 40} ü" for i in range(1000)],
    }
)

PICKED = "(select * from items where i_name = 'name3 ü')"
TOTALS = "(select item, store, sum(qty) as total from sales group by item, store)"

GROUP_CASES: list[tuple[str, Query, str, bool]] = [
    (
        "inner",
        lambda s, i: i.filter(col("i_name") == "name3 ü").join(
            s.group_by("item", "store").agg(col("qty").sum().alias("total")),
            left_on="i_id",
            right_on="item",
        ),
        f"select i_id, i_name, store, total from {PICKED} p join {TOTALS} t on p.i_id = t.item",
        True,
    ),
    (
        "groups_kept_by_a_semi_join",
        lambda s, i: (
            s.group_by("item")
            .agg(col("qty").max().alias("most"))
            .filter(col("most") > 10)
            .join(i.filter(col("i_name") == "name3 ü"), left_on="item", right_on="i_id", how="semi")
        ),
        f"select item, max(qty) as most from sales where item in (select i_id from {PICKED}) "
        "group by item having max(qty) > 10",
        True,
    ),
    (
        "right_side_of_a_left_join",
        lambda s, i: i.filter(col("i_name") == "name3 ü").join(
            s.group_by("item").agg(sl.len().alias("n")), left_on="i_id", right_on="item", how="left"
        ),
        f"select i_id, i_name, n from {PICKED} p left join "
        "(select item, count(*) as n from sales group by item) t on p.i_id = t.item",
        True,
    ),
    (
        "anti",
        lambda s, i: i.filter(col("i_name") == "name3 ü").join(
            s.filter(col("store") == 1).group_by("item").agg(sl.len().alias("n")),
            left_on="i_id",
            right_on="item",
            how="anti",
        ),
        f"select * from {PICKED} p where not exists "
        "(select 1 from sales where store = 1 and item = p.i_id)",
        True,
    ),
    (
        # every group of the left side stays: no key may be pushed down
        "left_side_of_a_left_join",
        lambda s, i: (
            s.group_by("item")
            .agg(sl.len().alias("n"))
            .join(i.filter(col("i_name") == "name3 ü"), left_on="item", right_on="i_id", how="left")
        ),
        "select item, n, i_name from (select item, count(*) as n from sales group by item) t "
        f"left join {PICKED} p on t.item = p.i_id",
        False,
    ),
]


@pytest.fixture(scope="module")
def sales(cl: sl.Client, tmp_path_factory) -> tuple[sl.DataFrame, sl.DataFrame]:
    """Parquet files: their statistics count the key values the rule needs."""
    root: Path = tmp_path_factory.mktemp("groups")
    pq.write_table(SALES, root / "sales.parquet", row_group_size=5000)
    pq.write_table(ITEMS, root / "items.parquet")
    return cl.read_parquet(root / "sales.parquet"), cl.read_parquet(root / "items.parquet")


@pytest.mark.parametrize(
    ("build", "sql", "pushed"), [pytest.param(b, s, p, id=n) for n, b, s, p in GROUP_CASES]
)
def test_groups_are_computed_only_for_the_keys_a_join_keeps(
    sales: tuple[sl.DataFrame, sl.DataFrame], build, sql: str, pushed: bool
) -> None:
    q = build(*sales)
    assert_same(q, sql, sales=SALES, items=ITEMS)
    optimized = _optimized(q)
    below_aggregate = optimized.split("Aggregate", 1)[1]
    assert ("Join semi" in below_aggregate) == pushed, optimized


JOIN_SECONDS = float(os.environ.get("SLIPSTREAM_RANDOM_SECONDS", "15"))
# key columns that can meet: both integers (cast to a common type), or the same type
MEETS = [("i32", "i32"), ("i32", "i64"), ("i64", "i32"), ("i64", "i64"), ("d", "d"), ("s", "s")]


def test_random_join_runs_match_duckdb(cl: sl.Client, tmp_path: Path) -> None:
    """Random chains of three to five inner joins over random tables (nulls,
    duplicates, unicode), stored or as Parquet files, each joined to a table
    already in the chain on a random pair of columns, maybe filtered, against
    DuckDB. Longer: SLIPSTREAM_RANDOM_SECONDS=600 SLIPSTREAM_RANDOM_SEED=7."""
    rng = random.Random(int(os.environ.get("SLIPSTREAM_RANDOM_SEED", "20261122")))
    deadline, cases = time.monotonic() + JOIN_SECONDS, 0
    while time.monotonic() < deadline or cases < 5:
        k = rng.randint(3, 5)
        tables = {}
        for i in range(k):
            raw = random_table(rng, rng.randint(15, 60))
            tables[f"t{i}"] = raw.rename_columns([f"t{i}_{c}" for c in raw.column_names])
        if rng.random() < 0.5:
            frames = {
                n: cl.from_arrow(v, name=f"jr_{n}", mode="replace") for n, v in tables.items()
            }
        else:
            frames = {}
            for n, v in tables.items():
                pq.write_table(v, tmp_path / f"{n}.parquet")
                frames[n] = cl.read_parquet(tmp_path / f"{n}.parquet")
        q, sql, present, steps = frames["t0"], "t0", set(tables["t0"].column_names), ["t0"]
        for i in range(1, k):
            # one key pair, or two; the second's left side may come from
            # another table, its right side may be the first's column again
            lefts, rights = [], []
            j = rng.randrange(i)
            for n in range(1 if rng.random() < 0.6 else 2):
                if n == 1 and rng.random() < 0.5:
                    j = rng.randrange(i)
                pairs = [(a, b) for a, b in MEETS if f"t{j}_{a}" in present]
                if n == 1 and rng.random() < 0.5:  # the first right column again
                    again = rights[0].split("_", 1)[1]
                    pairs = [(a, b) for a, b in pairs if b == again] or pairs
                a, b = rng.choice(pairs)
                lefts.append(f"t{j}_{a}")
                rights.append(f"t{i}_{b}")
            q = q.join(frames[f"t{i}"], left_on=lefts, right_on=rights)
            on = " AND ".join(f"{lc} = t{i}.{rc}" for lc, rc in zip(lefts, rights, strict=True))
            sql += f" JOIN t{i} ON {on}"
            present |= set(tables[f"t{i}"].column_names) - set(rights)
            steps.append(f"t{i} on {on}")
        where = ""
        if rng.random() < 0.5:
            c = rng.choice(sorted(c for c in present if c.endswith("_i32")))
            v = rng.randint(-50, 50)
            q = q.filter(col(c) > v)
            where = f" WHERE {c} > {v}"
            steps.append(f"{c} > {v}")
        shown = sorted(rng.sample(sorted(present), min(4, len(present))))
        q = q.select(*shown)
        query = f"SELECT {', '.join(shown)} FROM {sql}{where}"
        try:
            assert_same(q, query, **tables)
        except AssertionError as exc:
            raise AssertionError(
                f"case {cases}: {' | '.join(steps)}\nSQL: {query}\n{exc}"
            ) from None
        cases += 1
