"""Randomized differential test: random tables and random plans, each run on
Slipstream and, as SQL, on DuckDB over the same data; the answers must agree.
The SQL text is also run through Slipstream's own SQL front end (``cl.sql``),
so the same generator tests SQL against DuckDB.

A bounded run (about 40 seconds) is part of the suite with a fixed seed. A
longer run on demand::

    SLIPSTREAM_RANDOM_SECONDS=600 SLIPSTREAM_RANDOM_SEED=123 pytest python/tests/test_random.py

Each failure prints the seed, the case number, the plan and the SQL, so the
case can be replayed; a mismatch found this way becomes a regression test in
test_queries.py once fixed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from _oracle import assert_same

import slipstream as sl
from slipstream import col

SECONDS = float(os.environ.get("SLIPSTREAM_RANDOM_SECONDS", "40"))
SEED = int(os.environ.get("SLIPSTREAM_RANDOM_SEED", "20261122"))

WORDS = ["", "a", "A", "ab", "zebra", "Ångström", "東京", "🙂", "a ", "naïve"]
NUMERIC = ("i32", "i64", "f64", "dec")


def random_table(rng: random.Random, n: int) -> pa.Table:
    """Small domains (many duplicates), ~20% nulls, unicode, negatives, zeros."""

    def maybe(v: Any) -> Any:
        return None if rng.random() < 0.2 else v

    base = dt.date(2024, 1, 1)
    return pa.table(
        {
            "i32": pa.array([maybe(rng.randint(-50, 50)) for _ in range(n)], pa.int32()),
            "i64": pa.array([maybe(rng.randint(-(10**6), 10**6)) for _ in range(n)], pa.int64()),
            "f64": pa.array(
                [maybe(rng.choice([0.0, -1.5, 2.25, rng.uniform(-1e3, 1e3)])) for _ in range(n)],
                pa.float64(),
            ),
            "dec": pa.array(
                [maybe(decimal.Decimal(rng.randint(-(10**5), 10**5)).scaleb(-2)) for _ in range(n)],
                pa.decimal128(9, 2),
            ),
            "s": pa.array([maybe(rng.choice(WORDS)) for _ in range(n)], pa.string()),
            "b": pa.array([maybe(rng.random() < 0.5) for _ in range(n)], pa.bool_()),
            "d": pa.array(
                [maybe(base + dt.timedelta(days=rng.randint(-30, 30))) for _ in range(n)],
                pa.date32(),
            ),
        }
    )


@dataclass
class Case:
    """A plan built twice: as a Slipstream frame and as DuckDB SQL."""

    frame: sl.DataFrame
    sql: str
    ordered: bool = False
    steps: list[str] = field(default_factory=list)


def literal_for(rng: random.Random, name: str) -> tuple[Any, str]:
    """A literal that meets column ``name``, and its SQL spelling."""
    if name == "i32":
        v = rng.randint(-60, 60)
        return v, str(v)
    if name == "i64":
        v = rng.randint(-(10**6), 10**6)
        return v, str(v)
    if name == "f64":
        v = rng.choice([0.0, -1.5, 100.25])
        return v, repr(v)
    if name == "dec":
        v = decimal.Decimal(rng.randint(-(10**5), 10**5)).scaleb(-2)
        return v, f"{v}::DECIMAL(9,2)"
    if name == "s":
        v = rng.choice(WORDS)
        return v, "'" + v.replace("'", "''") + "'"
    if name == "b":
        v = rng.random() < 0.5
        return v, "TRUE" if v else "FALSE"
    v = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(-30, 30))
    return v, f"DATE '{v.isoformat()}'"


def predicate(rng: random.Random, depth: int = 0) -> tuple[sl.Expr, str]:
    """A random boolean expression over the base columns."""
    roll = rng.random()
    if depth < 2 and roll < 0.3:
        (a, sa), (b, sb) = predicate(rng, depth + 1), predicate(rng, depth + 1)
        if rng.random() < 0.5:
            return a & b, f"({sa} AND {sb})"
        return a | b, f"({sa} OR {sb})"
    if depth < 2 and roll < 0.4:
        a, sa = predicate(rng, depth + 1)
        return ~a, f"(NOT {sa})"
    name = rng.choice(["i32", "i64", "f64", "dec", "s", "b", "d"])
    if roll < 0.5:
        if rng.random() < 0.5:
            return col(name).is_null(), f"({name} IS NULL)"
        return col(name).is_not_null(), f"({name} IS NOT NULL)"
    value, sql_value = literal_for(rng, name)
    op = rng.choice(["==", "!=", "<", "<=", ">", ">="])
    sql_op = {"==": "=", "!=": "<>"}.get(op, op)
    c = col(name)
    e = {
        "==": c == value,
        "!=": c != value,
        "<": c < value,
        "<=": c <= value,
        ">": c > value,
        ">=": c >= value,
    }[op]
    return e, f"({name} {sql_op} {sql_value})"


def arithmetic(rng: random.Random) -> tuple[sl.Expr, str]:
    """A random numeric expression (values stay far from overflow)."""
    a, b = rng.choice(NUMERIC), rng.choice(NUMERIC)
    op = rng.choice(["+", "-", "*"])
    if "dec" in (a, b) and op == "*":
        op = "+"
    ea, eb = col(a), col(b)
    e = {"+": ea + eb, "-": ea - eb, "*": ea * eb}[op]
    return e, f"({a} {op} {b})"


def random_case(rng: random.Random, t: sl.DataFrame) -> Case:
    frame, sql = t, "SELECT * FROM t"
    steps = ["scan"]
    if rng.random() < 0.6:
        e, s = predicate(rng)
        frame, sql = frame.filter(e), f"SELECT * FROM ({sql}) WHERE {s}"
        steps.append(f"filter {s}")
    if rng.random() < 0.4:
        e, s = arithmetic(rng)
        frame = frame.with_columns(e.alias("x"))
        sql = f"SELECT *, {s} AS x FROM ({sql})"
        steps.append(f"with_columns x = {s}")
    if rng.random() < 0.6:
        keys = rng.sample(["s", "b", "d", "i32"], rng.randint(0, 2))
        aggs: list[sl.Expr] = [sl.len().alias("n")]
        sql_aggs = ["count(*) AS n"]
        for i in range(rng.randint(1, 3)):
            c = rng.choice(["i32", "i64", "f64", "dec", "s", "d"])
            fn = rng.choice(["count", "min", "max"] + (["sum", "mean"] if c in NUMERIC else []))
            e = getattr(col(c), fn)().alias(f"a{i}")
            aggs.append(e)
            sql_fn = {"mean": "avg"}.get(fn, fn)
            # polars: the sum of no values is 0 (SQL's is null).
            sql_agg = f"coalesce(sum({c}), 0)" if fn == "sum" else f"{sql_fn}({c})"
            sql_aggs.append(f"{sql_agg} AS a{i}")
        if keys:
            frame = frame.group_by(*keys).agg(*aggs)
            by = ", ".join(keys)
            sql = f"SELECT {by}, {', '.join(sql_aggs)} FROM ({sql}) GROUP BY {by}"
        else:
            frame = frame.select(*aggs)
            sql = f"SELECT {', '.join(sql_aggs)} FROM ({sql})"
        steps.append(f"aggregate by {keys}")
        return Case(frame, sql, steps=steps)
    if rng.random() < 0.5:
        # Sort on every column so the order is total, then maybe take a prefix.
        names = frame.columns
        desc = [rng.random() < 0.5 for _ in names]
        nulls_last = [rng.random() < 0.5 for _ in names]
        frame = frame.sort(names, descending=desc, nulls_last=nulls_last)
        order = ", ".join(
            f"{n} {'DESC' if d else 'ASC'} NULLS {'LAST' if nl else 'FIRST'}"
            for n, d, nl in zip(names, desc, nulls_last, strict=True)
        )
        sql = f"SELECT * FROM ({sql}) ORDER BY {order}"
        if rng.random() < 0.5:
            k = rng.randint(0, 40)
            frame, sql = frame.head(k), f"{sql} LIMIT {k}"
        steps.append(f"sort {order}")
        return Case(frame, sql, ordered=True, steps=steps)
    return Case(frame, sql, steps=steps)


def test_random_plans_match_duckdb(cl: sl.Client) -> None:
    rng = random.Random(SEED)
    deadline = time.monotonic() + SECONDS / 2  # the cl fixture runs this twice
    cases = 0
    while time.monotonic() < deadline:
        table = random_table(rng, rng.choice([0, 1, 7, 100, 1500]))
        t = cl.from_arrow(table, name="random_t", mode="replace")
        for _ in range(10):
            case = random_case(rng, t)
            cases += 1
            try:
                assert_same(case.frame, case.sql, ordered=case.ordered, rel=1e-6, t=table)
                # The same SQL text through Slipstream's SQL front end.
                as_sql = cl.sql(case.sql, tables={"t": t})
                assert_same(as_sql, case.sql, ordered=case.ordered, rel=1e-6, t=table)
            except Exception as exc:
                raise AssertionError(
                    f"seed {SEED}, case {cases}: {' | '.join(case.steps)}\nSQL: {case.sql}\n{exc}"
                ) from exc
    assert cases >= 10, f"only {cases} cases ran"
    print(f"{cases} random cases agree with DuckDB, as frames and as SQL (seed {SEED})")
