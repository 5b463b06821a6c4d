"""Compare a Slipstream result with DuckDB running the same query on the same data."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import duckdb
import pyarrow as pa

import slipstream as sl


def duck(sql: str, **tables: pa.Table) -> pa.Table:
    """Run ``sql`` in DuckDB with each keyword argument registered as a table."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")
    for name, table in tables.items():
        con.register(name, table)
    return con.sql(sql).to_arrow_table()


def _norm(v: Any) -> Any:
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    key = []
    for v in row:
        if v is None:
            key.append((0, 0))
        elif isinstance(v, float) and math.isnan(v):
            key.append((2, 0))
        elif isinstance(v, (float, decimal.Decimal)):
            key.append((1, float(f"{float(v):.9g}")))
        else:
            key.append((1, v))
    return tuple(key)


def _same(a: Any, b: Any, rel: float) -> bool:
    a, b = _norm(a), _norm(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float, decimal.Decimal)) or not isinstance(
            b, (int, float, decimal.Decimal)
        ):
            return False
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        if math.isinf(fa) or math.isinf(fb):
            return fa == fb
        return math.isclose(fa, fb, rel_tol=rel, abs_tol=rel)
    return bool(a == b)


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """The rows of ``table`` as tuples of Python values (nulls as None)."""
    cols = [c.to_pylist() for c in table.columns]
    return list(zip(*cols, strict=True)) if cols else []


def assert_same(
    got: pa.Table | sl.DataFrame,
    sql: str,
    *,
    ordered: bool = False,
    rel: float = 1e-9,
    **tables: pa.Table,
) -> pa.Table:
    """Assert that ``got`` (a result or a lazy frame, collected here) equals DuckDB's ``sql``.

    Column names must match exactly; values are compared after sorting the
    rows unless ``ordered``; floats to a relative tolerance; nulls are equal
    only to nulls. Returns the Slipstream result.
    """
    result = got.to_arrow() if isinstance(got, sl.DataFrame) else got
    expected = duck(sql, **tables)
    assert result.column_names == expected.column_names, (
        f"columns {result.column_names} != expected {expected.column_names}"
    )
    g, e = rows(result), rows(expected)
    assert len(g) == len(e), f"{len(g)} rows, expected {len(e)}\ngot: {g[:10]}\nexpected: {e[:10]}"
    if not ordered:
        g, e = sorted(g, key=_sort_key), sorted(e, key=_sort_key)
    for i, (rg, re_) in enumerate(zip(g, e, strict=True)):
        for name, a, b in zip(result.column_names, rg, re_, strict=True):
            assert _same(a, b, rel), (
                f"row {i} column {name!r}: got {a!r}, expected {b!r}\n"
                f"got row {rg}\nexpected row {re_}"
            )
    return result
