"""TPC-H at scale factor 0.1: each of the 22 queries written with the DataFrame
API (bench/tpch/queries.py) equals DuckDB's answer to the standard SQL on the
same Parquet files: decimals exactly, floats to 1e-9 relative, in order where
the query orders."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from _oracle import assert_same

import slipstream as sl

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "tpch"))
from data import ensure
from queries import POLARS, QUERIES, TABLES


@pytest.fixture(scope="module")
def tpch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure(0.1, tmp_path_factory.mktemp("tpch"))


@pytest.fixture(scope="module")
def frames(cl: sl.Client, tpch_dir: Path) -> dict[str, sl.DataFrame]:
    return {t: cl.read_parquet(str(tpch_dir / f"{t}.parquet")) for t in TABLES}


@pytest.fixture(scope="module")
def tables(tpch_dir: Path) -> dict:
    con = duckdb.connect()
    return {t: con.read_parquet(str(tpch_dir / f"{t}.parquet")).to_arrow_table() for t in TABLES}


@pytest.mark.parametrize("number", sorted(QUERIES), ids=lambda n: f"q{n}")
def test_tpch_query_matches_duckdb(number: int, frames: dict, tables: dict) -> None:
    build, sql = QUERIES[number]
    ordered = "order by" in sql
    result = assert_same(build(frames), sql, ordered=ordered, **tables)
    assert result.num_rows > 0, f"q{number} returned nothing: the comparison proves little"


@pytest.mark.parametrize("number", sorted(POLARS), ids=lambda n: f"q{n}")
def test_a_query_written_for_a_peer_matches_duckdb(number: int, frames: dict, tables: dict) -> None:
    # the other formulation the bench gives polars, checked here through ours
    sql = QUERIES[number][1]
    result = assert_same(POLARS[number](frames), sql, ordered="order by" in sql, **tables)
    assert result.num_rows > 0


@pytest.mark.parametrize("number", sorted(QUERIES), ids=lambda n: f"q{n}")
def test_tpch_sql_text_matches_duckdb(
    number: int, cl: sl.Client, frames: dict, tables: dict
) -> None:
    """The standard SQL text of each query, through ``cl.sql``, equals DuckDB's answer."""
    sql = QUERIES[number][1]
    assert_same(cl.sql(sql, tables=frames), sql, ordered="order by" in sql, **tables)
