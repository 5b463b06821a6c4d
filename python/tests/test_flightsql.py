"""Flight SQL on the node's port, driven by real clients: the ADBC Flight SQL
driver (DBAPI, get_objects, get_info, ingest), polars and pandas over ADBC;
answers checked against DuckDB on the same data, on one node and on three."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flight_sql
import adbc_driver_manager
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from _oracle import assert_same, rows
from google.protobuf import any_pb2

import slipstream as sl

# The columns of alltypes whose types the ADBC driver, DuckDB and the node
# all carry unchanged (unsigned 64-bit and string views are left to the
# native tests).
COLUMNS = "id, k, k2, i8, i16, i32, i64, f32, f64, b, s, d, ts, dec"


def tls_options(cl: sl.Client) -> dict[str, str]:
    """The ADBC options that trust the CA of a node serving TLS (secure mode)."""
    ca = cl._creds.tls_root_certs
    if ca is None:
        return {}
    return {adbc_driver_flightsql.DatabaseOptions.TLS_ROOT_CERTS.value: ca.decode()}


def connect(cl: sl.Client) -> flight_sql.Connection:
    """An ADBC connection to the node ``cl`` talks to, with its token."""
    kwargs = tls_options(cl)
    if cl.token:
        kwargs[adbc_driver_flightsql.DatabaseOptions.AUTHORIZATION_HEADER.value] = (
            f"Bearer {cl.token}"
        )
    return flight_sql.connect(cl.address, db_kwargs=kwargs, autocommit=True)


@pytest.fixture(scope="module")
def con(cl: sl.Client, t: sl.DataFrame) -> Iterator[flight_sql.Connection]:
    with connect(cl) as c:
        yield c


def fetch(con: flight_sql.Connection, sql: str, params: Any = None) -> pa.Table:
    with con.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()


def duck_params(sql: str, params: list[Any], **tables: pa.Table) -> pa.Table:
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    for name, table in tables.items():
        db.register(name, table)
    return db.sql(sql, params=params).to_arrow_table()


QUERIES = [
    f"SELECT {COLUMNS} FROM alltypes",
    "SELECT k, count(*) AS n, sum(i32) AS total, min(d) AS first_day, max(dec) AS top "
    "FROM alltypes WHERE i16 > 0 GROUP BY k ORDER BY k NULLS FIRST",
    "SELECT id, s, ts FROM alltypes WHERE s LIKE 'a%' ORDER BY id LIMIT 25",
]


@pytest.mark.parametrize("sql", QUERIES, ids=["all", "group", "limit"])
def test_dbapi_query_matches_duckdb(
    con: flight_sql.Connection, alltypes: pa.Table, sql: str
) -> None:
    got = fetch(con, sql)
    assert_same(got, sql, ordered="ORDER BY" in sql, alltypes=alltypes)


def test_parameters_are_bound(con: flight_sql.Connection, alltypes: pa.Table) -> None:
    sql = "SELECT id, k, i32, d FROM alltypes WHERE i32 > ? AND k = ? AND d >= ? ORDER BY id"
    params = [1000, "b", dt.date(2020, 6, 1)]
    got = fetch(con, sql, params)
    want = duck_params(sql, params, alltypes=alltypes)
    assert got.num_rows > 0
    assert rows(got) == rows(want)
    # A value is a literal, never text pasted into the query.
    hostile = fetch(con, "SELECT count(*) AS n FROM alltypes WHERE k = ?", ["x' OR '1'='1"])
    assert hostile.column("n").to_pylist() == [0]


def test_statements_sent_as_queries_run(cl: sl.Client, con: flight_sql.Connection) -> None:
    # ADBC's DBAPI execute sends every statement as a query (prepared: the
    # node says is_update, and the driver runs it as an update and answers
    # with no rows).
    cl.from_arrow(pa.table({"x": [1, 2, 3]}), name="doomed", mode="replace")
    with con.cursor() as cur:
        cur.execute("DROP TABLE doomed")
        assert cur.fetchall() == []
    with con.cursor() as cur, pytest.raises(adbc_driver_manager.Error, match="doomed"):
        cur.execute("SELECT x FROM doomed")
    with con.cursor() as cur, pytest.raises(adbc_driver_manager.Error, match="does not exist"):
        cur.execute("DROP TABLE doomed")


def test_create_table_as_and_insert_over_adbc(
    cl: sl.Client, con: flight_sql.Connection, alltypes: pa.Table
) -> None:
    """DDL and DML over Flight SQL: the result stays on the nodes, and the
    rows written are the statement's row count."""
    with con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS adbc_ctas")
        cur.execute("CREATE TABLE adbc_ctas AS SELECT id, k, i32 FROM alltypes WHERE i32 > 0")
        cur.execute("INSERT INTO adbc_ctas SELECT id, k, i32 FROM alltypes WHERE i32 < -900000")
        cur.execute("INSERT INTO adbc_ctas (id, k) VALUES (?, ?)", [-1, "bound"])
        assert cur.rowcount in (1, -1)  # the driver may not pass the count on
    sql = (
        "SELECT id, k, i32 FROM alltypes WHERE i32 > 0 OR i32 < -900000 "
        "UNION ALL SELECT -1, 'bound', NULL"
    )
    assert_same(fetch(con, "SELECT * FROM adbc_ctas"), sql, alltypes=alltypes)
    assert (
        cl.table("adbc_ctas").to_arrow().num_rows == fetch(con, "SELECT * FROM adbc_ctas").num_rows
    )
    with con.cursor() as cur:
        cur.execute("DROP TABLE adbc_ctas")


def test_get_objects_lists_tables_and_columns(
    con: flight_sql.Connection, alltypes: pa.Table
) -> None:
    objects = con.adbc_get_objects(depth="all", table_name_filter="alltypes").read_all()
    tables = [
        table
        for cat in objects.to_pylist()
        for schema in cat["catalog_db_schemas"]
        for table in schema["db_schema_tables"]
    ]
    assert [t["table_name"] for t in tables] == ["alltypes"]
    columns = [c["column_name"] for c in tables[0]["table_columns"]]
    assert columns == alltypes.column_names
    schema = con.adbc_get_table_schema("alltypes")
    assert schema.names == alltypes.column_names
    assert "TABLE" in con.adbc_get_table_types()


def test_get_info_names_the_server(con: flight_sql.Connection) -> None:
    info = con.adbc_get_info()
    assert info["vendor_name"] == "Slipstream"
    assert info["vendor_version"]
    assert info["vendor_arrow_version"].startswith("v18.")


def test_ingest_create_append_replace(con: flight_sql.Connection) -> None:
    data = pa.table({"a": pa.array([1, 2, 3], pa.int64()), "b": ["x", "y", None]})
    with con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ingested")
        assert cur.adbc_ingest("ingested", data, mode="create") == 3
        with pytest.raises(adbc_driver_manager.Error, match="already exists"):
            cur.adbc_ingest("ingested", data, mode="create")
        assert cur.adbc_ingest("ingested", data, mode="append") == 3
        assert fetch(con, "SELECT count(*) AS n FROM ingested").column("n").to_pylist() == [6]
        assert cur.adbc_ingest("ingested", data.slice(0, 1), mode="replace") == 1
        assert cur.adbc_ingest("ingested", data, mode="create_append") == 3
        got = fetch(con, "SELECT a, b FROM ingested ORDER BY a, b")
        assert rows(got) == [(1, "x"), (1, "x"), (2, "y"), (3, None)]
        with pytest.raises(adbc_driver_manager.Error, match="does not exist"):
            cur.adbc_ingest("never_made", data, mode="append")


def test_polars_read_database(con: flight_sql.Connection, alltypes: pa.Table) -> None:
    sql = "SELECT k, sum(i64) AS total FROM alltypes GROUP BY k"
    df = pl.read_database(sql, connection=con)
    assert isinstance(df, pl.DataFrame)
    assert_same(df.to_arrow(), sql, alltypes=alltypes)


def test_polars_read_database_uri(remote_client: sl.Client, alltypes: pa.Table) -> None:
    """polars opens the connection from a URI alone, as the issue writes it:
    a node serving without auth (on loopback only) takes it."""
    remote_client.from_arrow(alltypes, name="alltypes", mode="replace")
    host_port = remote_client.address.removeprefix("grpc://")
    sql = "SELECT k, count(*) AS n, avg(f64) AS m FROM alltypes GROUP BY k"
    df = pl.read_database_uri(sql, f"flightsql://{host_port}?transport=tcp", engine="adbc")
    assert isinstance(df, pl.DataFrame)
    assert_same(df.to_arrow(), sql, alltypes=alltypes)


def test_pandas_read_sql_and_to_sql(con: flight_sql.Connection, alltypes: pa.Table) -> None:
    sql = "SELECT id, k, f64 FROM alltypes WHERE id < 100"
    df = pd.read_sql(sql, con)
    assert len(df) == 100
    assert_same(pa.Table.from_pandas(df, preserve_index=False), sql, alltypes=alltypes)
    out = pd.DataFrame({"name": ["a", "b", "c"], "score": [1.5, 2.5, 3.5]})
    assert out.to_sql("from_pandas", con, if_exists="replace", index=False) == 3
    back = pd.read_sql("SELECT name, score FROM from_pandas ORDER BY name", con)
    pd.testing.assert_frame_equal(back, out, check_dtype=False)


def flightsql_info(cl: sl.Client, sql: str) -> paflight.FlightInfo:
    """GetFlightInfo of a Flight SQL CommandStatementQuery, with pyarrow's Flight client."""
    body = sql.encode()
    value = b"\x0a" + _varint(len(body)) + body  # field 1 (query), length-delimited
    cmd = any_pb2.Any(
        type_url="type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery",
        value=value,
    ).SerializeToString()
    client = paflight.FlightClient(cl.address, tls_root_certs=cl._creds.tls_root_certs)
    headers = [(b"authorization", f"Bearer {cl.token}".encode())] if cl.token else []
    return client.get_flight_info(
        paflight.FlightDescriptor.for_command(cmd), paflight.FlightCallOptions(headers=headers)
    )


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def test_result_endpoints_are_where_partitions_are(
    cl: sl.Client, t: sl.DataFrame, request: pytest.FixtureRequest
) -> None:
    info = flightsql_info(cl, "SELECT id, i32 FROM alltypes WHERE i32 > 0")
    locations = {loc.uri.decode() for ep in info.endpoints for loc in ep.locations}
    assert locations, "every endpoint names the node that holds it"
    if "cluster" in request.node.callspec.id:
        assert len(info.endpoints) > 1
        assert len(locations) > 1, f"all partitions read from one node: {locations}"


def test_no_token_is_refused(cl: sl.Client, t: sl.DataFrame) -> None:
    if not cl.token:
        pytest.skip("this node runs without auth")
    with (
        flight_sql.connect(cl.address, db_kwargs=tls_options(cl), autocommit=True) as c,
        c.cursor() as cur,
        pytest.raises(adbc_driver_manager.Error, match=r"(?i)unauthenticated|no token"),
    ):
        cur.execute("SELECT id FROM alltypes")
