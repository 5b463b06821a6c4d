"""Results kept on the cluster: CREATE TABLE [AS], INSERT, DROP TABLE, COPY TO,
``DataFrame.write_table`` and ``write_parquet``.

Each scenario runs the same statements in DuckDB and through ``cl.sql`` (on
one node and on three) and compares the tables they leave.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _oracle import _same, _sort_key, rows
from conftest import ServerProcess

import slipstream as sl
from slipstream import col


def assert_rows_equal(got: pa.Table, expected: pa.Table, *, ordered: bool = False) -> None:
    assert got.column_names == expected.column_names, (got.column_names, expected.column_names)
    g, e = rows(got), rows(expected)
    assert len(g) == len(e), f"{len(g)} rows, expected {len(e)}\ngot {g[:5]}\nexpected {e[:5]}"
    if not ordered:
        g, e = sorted(g, key=_sort_key), sorted(e, key=_sort_key)
    for i, (a, b) in enumerate(zip(g, e, strict=True)):
        for name, x, y in zip(got.column_names, a, b, strict=True):
            assert _same(x, y, 1e-9), f"row {i} column {name}: got {x!r}, expected {y!r}"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def duck(alltypes: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.register("alltypes_view", alltypes)
    con.execute("CREATE TABLE alltypes AS SELECT * FROM alltypes_view")
    return con


# Each scenario: statements run in order (with {t} standing for a fresh
# table name), then a query whose answer both must agree on.
SCENARIOS = {
    "ctas-filter": (
        ["CREATE TABLE {t} AS SELECT id, k, i32, f64, s FROM alltypes WHERE i32 > 0"],
        "SELECT * FROM {t}",
    ),
    "ctas-aggregate": (
        [
            "CREATE TABLE {t} AS SELECT k, count(*) AS n, sum(i64) AS s, avg(f64) AS m "
            "FROM alltypes GROUP BY k"
        ],
        "SELECT * FROM {t}",
    ),
    "ctas-join-then-query": (
        [
            "CREATE TABLE {t} AS SELECT a.id, a.k, b.i32 FROM alltypes a "
            "JOIN alltypes b ON a.id = b.id + 1 WHERE a.k2 = 1"
        ],
        "SELECT k, count(*) AS n, sum(i32) AS s FROM {t} GROUP BY k",
    ),
    "ctas-empty": (
        ["CREATE TABLE {t} AS SELECT id, s FROM alltypes WHERE id < 0"],
        "SELECT count(*) AS n FROM {t}",
    ),
    "ctas-column-names": (
        ["CREATE TABLE {t} (x, y) AS SELECT id, k FROM alltypes WHERE id < 50"],
        "SELECT * FROM {t}",
    ),
    "create-insert-values": (
        [
            "CREATE TABLE {t} (a INTEGER, b VARCHAR, c DOUBLE, d DATE)",
            "INSERT INTO {t} VALUES (1, 'x', 1.5, DATE '2024-02-29'), (2, NULL, NULL, NULL)",
            "INSERT INTO {t} (b, a) VALUES ('ünïcode ✓', 3)",
            "INSERT INTO {t} SELECT i32, k, f64, NULL FROM alltypes WHERE id < 20",
        ],
        "SELECT * FROM {t}",
    ),
    "insert-select-casts": (
        [
            "CREATE TABLE {t} AS SELECT id, i32 FROM alltypes WHERE id < 10",
            "INSERT INTO {t} SELECT id + 1000, i8 FROM alltypes WHERE id < 10",
            "INSERT INTO {t} (i32, id) SELECT i16, id + 2000 FROM alltypes WHERE id < 10",
        ],
        "SELECT * FROM {t}",
    ),
    "replace-and-if-not-exists": (
        [
            "CREATE TABLE {t} AS SELECT id FROM alltypes WHERE id < 5",
            "CREATE TABLE IF NOT EXISTS {t} AS SELECT k FROM alltypes",
            "CREATE OR REPLACE TABLE {t} AS SELECT id, k FROM alltypes WHERE id BETWEEN 5 AND 9",
        ],
        "SELECT * FROM {t}",
    ),
    "drop-if-exists": (
        [
            "CREATE TABLE {t} AS SELECT id FROM alltypes WHERE id < 5",
            "DROP TABLE {t}",
            "DROP TABLE IF EXISTS {t}",
            "CREATE TABLE {t} AS SELECT 7 AS seven",
        ],
        "SELECT * FROM {t}",
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_statements_match_duckdb(
    cl: sl.Client, t: sl.DataFrame, duck: duckdb.DuckDBPyConnection, name: str
) -> None:
    statements, query = SCENARIOS[name]
    table = unique(name.replace("-", "_"))
    for st in statements:
        duck.execute(st.format(t=table))
        cl.sql(st.format(t=table))
    expected = duck.sql(query.format(t=table)).to_arrow_table()
    assert_rows_equal(cl.sql(query.format(t=table)).to_arrow(), expected)
    cl.drop(table)


def test_statement_answers_rows_written(cl: sl.Client, t: sl.DataFrame) -> None:
    table = unique("counted")
    assert cl.execute(f"CREATE TABLE {table} AS SELECT id FROM alltypes WHERE id < 123") == 123
    frame = cl.sql(f"INSERT INTO {table} SELECT id FROM alltypes WHERE id < 7")
    assert frame.to_arrow().to_pylist() == [{"rows": 7}]
    assert cl.table(table).to_arrow().num_rows == 130
    assert cl.execute(f"DROP TABLE {table}") == 0


def test_write_table_modes(cl: sl.Client, t: sl.DataFrame, alltypes: pa.Table) -> None:
    table = unique("written")
    q = t.filter(col("k2") == 2).select("id", "k", "f64")
    n = q.write_table(table)
    con = duckdb.connect()
    con.register("alltypes", alltypes)
    expected = con.sql("SELECT id, k, f64 FROM alltypes WHERE k2 = 2").to_arrow_table()
    assert n == expected.num_rows
    assert_rows_equal(cl.table(table).to_arrow(), expected)
    with pytest.raises(sl.AlreadyExistsError, match=table):
        q.write_table(table)
    assert q.write_table(table, mode="append") == n
    assert cl.table(table).to_arrow().num_rows == 2 * n
    q.limit(3).write_table(table, mode="replace")
    assert cl.table(table).to_arrow().num_rows == 3
    with pytest.raises(sl.PlanError, match="schema differs"):
        t.select("id").write_table(table, mode="append")
    with pytest.raises(sl.PlanError, match="mode"):
        q.write_table(table, mode="upsert")  # type: ignore[arg-type]
    cl.drop(table)


def test_from_arrow_of_a_query_stays_on_the_cluster(
    cl: sl.Client, t: sl.DataFrame, alltypes: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cl.from_*() of a frame of this cluster stores it where it is computed:
    nothing is downloaded (reading the frame's rows fails the test)."""
    q = t.filter(col("k2") == 1).select("id", "s", "f64")
    expected = q.to_arrow()

    def no_download(*args: object, **kw: object) -> None:
        raise AssertionError("the query's rows were downloaded")

    monkeypatch.setattr(sl.DataFrame, "__arrow_c_stream__", no_download)
    monkeypatch.setattr(sl.DataFrame, "to_arrow", no_download)
    names = [unique("from_arrow"), unique("from_polars"), unique("from_pandas")]
    stored = [
        cl.from_arrow(q, names[0]),
        cl.from_polars(q, names[1]),  # type: ignore[arg-type]
        cl.from_pandas(q, names[2]),  # type: ignore[arg-type]
    ]
    monkeypatch.undo()
    for frame in stored:
        assert_rows_equal(frame.to_arrow(), expected)
    assert cl.from_arrow(q.limit(2), names[0], mode="append").to_arrow().num_rows == (
        expected.num_rows + 2
    )
    for name in names:
        cl.drop(name)


def test_cache_keeps_a_result_for_the_session(server: ServerProcess, alltypes: pa.Table) -> None:
    """q.cache() runs the query once; later queries read the kept result (its
    plan reads a table, and a change to the source no longer changes it); the
    client's close drops it."""
    with sl.connect(server.address) as c:
        source = unique("cache_source")
        c.from_arrow(alltypes, source)
        q = c.table(source).group_by("k").agg(col("f64").sum().alias("total"), sl.len().alias("n"))
        want = q.sort("k").to_arrow()
        kept = q.cache()
        [name] = [t.name for t in c.tables() if t.name.startswith("_cache_")]
        plan = str(kept.explain())
        assert name in plan and "Aggregate" not in plan, plan
        c.from_arrow(alltypes.slice(0, 10), source, mode="replace")  # the source changes
        assert_rows_equal(kept.sort("k").to_arrow(), want, ordered=True)
        assert q.to_arrow().num_rows < want.num_rows  # the query itself reads the new source
        big = kept.filter(col("n") > 1).to_arrow()
        assert big.num_rows == sum(1 for n in want.column("n").to_pylist() if n > 1)
        c.drop(source)
    with sl.connect(server.address) as c:
        assert name not in [t.name for t in c.tables()], "a cached result outlived its client"


def test_copy_to_writes_parquet_the_nodes_hold(
    cl: sl.Client, t: sl.DataFrame, alltypes: pa.Table, tmp_path: Path
) -> None:
    out = tmp_path / unique("copy")
    sql = "SELECT id, k, i32, d, ts, dec FROM alltypes WHERE f64 > 0"
    n = cl.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
    files = sorted(p.name for p in out.iterdir())
    assert files and all(f.startswith("part-") and f.endswith(".parquet") for f in files), files
    written = pq.read_table(out)
    assert written.num_rows == n
    con = duckdb.connect()
    con.register("alltypes", alltypes)
    assert_rows_equal(written, con.sql(sql).to_arrow_table())
    # write_parquet is the same from the DataFrame API; read back by the nodes.
    out2 = tmp_path / unique("frame")
    assert t.filter(col("f64") > 0).select("id", "k").write_parquet(str(out2)) == n
    assert cl.read_parquet(str(out2)).to_arrow().num_rows == n
    with pytest.raises(sl.AlreadyExistsError, match="not empty"):
        t.select("id").write_parquet(str(out2))


def test_copy_to_refuses_paths_outside_the_allowed_roots(
    server_client_pair: tuple[sl.Client, Path],
) -> None:
    cl, allowed = server_client_pair
    cl.from_arrow(pa.table({"a": [1, 2]}), "copy_src", mode="replace")
    with pytest.raises(sl.PermissionDeniedError, match="--allow-path"):
        cl.execute("COPY copy_src TO '/etc/slipstream-copy' (FORMAT parquet)")
    with pytest.raises(sl.PermissionDeniedError):
        cl.table("copy_src").write_parquet("/etc/slipstream-escape")
    assert cl.execute(f"COPY copy_src TO '{allowed / 'ok'}' (FORMAT parquet)") == 2


@pytest.fixture
def server_client_pair(
    server: object, remote_client: sl.Client, tmp_path_factory: pytest.TempPathFactory
) -> tuple[sl.Client, Path]:
    """The session's ``slipstream serve`` node, which may read and write the
    session's temporary directories only."""
    return remote_client, tmp_path_factory.mktemp("copy_allowed")


@pytest.mark.parametrize(
    ("sql", "error", "match"),
    [
        ("UPDATE alltypes SET id = 1", sl.NotSupportedError, "UPDATE"),
        ("DELETE FROM alltypes", sl.NotSupportedError, "DELETE"),
        ("CREATE TABLE bad (a INTEGER PRIMARY KEY)", sl.NotSupportedError, "constraints"),
        ("CREATE TEMP TABLE tmp1 AS SELECT 1 AS a", sl.NotSupportedError, "TEMPORARY"),
        ("COPY alltypes FROM '/tmp/x.csv'", sl.NotSupportedError, "COPY ... FROM"),
        ("COPY alltypes TO '/tmp/x.csv' (FORMAT csv)", sl.NotSupportedError, "csv"),
        ("INSERT INTO alltypes (id, nope) SELECT 1, 2", sl.PlanError, 'no column "nope"'),
        ("INSERT INTO alltypes SELECT 1, 2", sl.PlanError, "2 values per row"),
        ("INSERT INTO missing_table SELECT 1", sl.NotFoundError, "missing_table"),
        ("DROP TABLE missing_table", sl.NotFoundError, "missing_table"),
        ("CREATE TABLE alltypes AS SELECT 1 AS a", sl.AlreadyExistsError, "alltypes"),
        ("CREATE TABLE x AS SELEC 1", sl.PlanError, "line 1, column 19"),
    ],
)
def test_statement_errors_name_the_problem(
    cl: sl.Client, t: sl.DataFrame, sql: str, error: type[Exception], match: str
) -> None:
    before = cl.table("alltypes").to_arrow().num_rows
    with pytest.raises(error, match=match):
        cl.execute(sql)
    assert cl.table("alltypes").to_arrow().num_rows == before


def test_select_without_from_and_values_match_duckdb(cl: sl.Client) -> None:
    for sql in [
        "SELECT 1 AS one, 'two' AS two",
        "SELECT * FROM (VALUES (1, 'a'), (2, NULL), (NULL, 'c')) v(x, y) ORDER BY x NULLS LAST",
        "SELECT count(*) AS n, sum(col0) AS s FROM (VALUES (1), (2), (40))",
        "VALUES (1, 2.5), (3, NULL)",
    ]:
        got = cl.sql(sql).to_arrow()
        expected = duckdb.sql(sql).to_arrow_table()
        assert_rows_equal(got, expected.cast(got.schema), ordered=True)


def test_explain_in_sql_text_answers_the_plan_as_rows(cl: sl.Client, t: sl.DataFrame) -> None:
    lines = cl.sql("EXPLAIN SELECT k, count(*) AS n FROM alltypes GROUP BY k").to_arrow()
    assert lines.column_names == ["plan"]
    text = "\n".join(lines["plan"].to_pylist())
    assert "Aggregate" in text and "alltypes" in text, text
    with pytest.raises(sl.NotSupportedError, match="ANALYZE"):
        cl.sql("EXPLAIN ANALYZE SELECT 1").to_arrow()
