"""The Arrow Flight SQL JDBC driver (from Maven) against a real node: a small
Java program (java/) connects, reads DatabaseMetaData.getTables / getColumns,
runs a prepared statement with parameters over decimals, dates and timestamps,
and prints what it saw; the rows are checked against DuckDB on the same data,
on one node and on three."""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
import subprocess
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import slipstream as sl

JAVA = Path(__file__).resolve().parents[2] / "java"
TABLE = "jdbc_types"


def build() -> list[str]:
    """Build java/ with Maven once (quietly; rebuilt only when a source is
    newer than the classes) and return the classpath."""
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH: the JDBC test needs a JDK (17+) and Maven")
    main = JAVA / "target" / "classes" / "slipstream" / "JdbcCheck.class"
    driver = list((JAVA / "target" / "dependency").glob("flight-sql-jdbc-driver-*.jar"))
    sources = [JAVA / "pom.xml", *JAVA.rglob("*.java")]
    if (
        not main.exists()
        or not driver
        or any(s.stat().st_mtime > main.stat().st_mtime for s in sources)
    ):
        r = subprocess.run(
            ["mvn", "-q", "-B", "package", "dependency:copy-dependencies"],
            cwd=JAVA,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert r.returncode == 0, f"mvn failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return [str(JAVA / "target" / "classes"), str(JAVA / "target" / "dependency" / "*")]


def java_timestamp(v: dt.datetime | None) -> str:
    """A timestamp as java.sql.Timestamp.toString writes it."""
    if v is None:
        return "null"
    frac = f"{v.microsecond:06d}000".rstrip("0") or "0"
    return f"{v:%Y-%m-%d %H:%M:%S}.{frac}"


@pytest.fixture(scope="module")
def table(cl: sl.Client) -> pa.Table:
    n = 2000
    data = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "name": [("a", "b", "c")[i % 3] for i in range(n)],
            "amount": pa.array(
                [
                    None if i % 11 == 0 else decimal.Decimal(i * 37 - 5000).scaleb(-2)
                    for i in range(n)
                ],
                pa.decimal128(12, 2),
            ),
            "day": [
                None if i % 13 == 0 else dt.date(2020, 1, 1) + dt.timedelta(days=i)
                for i in range(n)
            ],
            "at": pa.array(
                [
                    None
                    if i % 17 == 0
                    else dt.datetime(2021, 6, 1) + dt.timedelta(seconds=i * 3607.25)
                    for i in range(n)
                ],
                pa.timestamp("us"),
            ),
        }
    )
    cl.from_arrow(data, name=TABLE, mode="replace")
    return data


def test_jdbc_driver_reads_metadata_and_prepared_rows(
    cl: sl.Client, table: pa.Table, tmp_path: Path
) -> None:
    classpath = build()
    host = cl.address.removeprefix("grpc://").removeprefix("grpc+tls://")
    url = f"jdbc:arrow-flight-sql://{host}/?useEncryption=false"
    if cl._creds.tls_root_certs is not None:  # secure mode: trust the node's CA
        ca = tmp_path / "ca.pem"
        ca.write_bytes(cl._creds.tls_root_certs)
        url = (
            f"jdbc:arrow-flight-sql://{host}/?useEncryption=true"
            f"&useSystemTrustStore=false&tlsRootCerts={ca}"
        )
    if cl.token:
        url += f"&token={cl.token}"
    min_id, name = 1500, "b"
    r = subprocess.run(
        [
            "java",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "-Duser.timezone=UTC",
            "-cp",
            ":".join(classpath),
            "slipstream.JdbcCheck",
            url,
            TABLE,
            str(min_id),
            name,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, f"the JDBC program failed:\n{r.stdout}\n{r.stderr[-6000:]}"
    lines = r.stdout.splitlines()
    assert lines[0] == "product Slipstream"
    assert f"table {TABLE} TABLE" in lines
    # java.sql.Types: BIGINT -5, VARCHAR 12, DECIMAL 3, DATE 91, TIMESTAMP 93
    columns = [ln for ln in lines if ln.startswith("column ")]
    assert columns == [
        "column id -5",
        "column name 12",
        "column amount 3",
        "column day 91",
        "column at 93",
    ]
    assert "prepared columns 5" in lines
    assert "parameters 2" in lines

    db = duckdb.connect()
    db.register(TABLE, table)
    want = db.sql(
        f'SELECT id, name, amount, day, "at" FROM {TABLE} WHERE id >= ? AND name = ? ORDER BY id',
        params=[min_id, name],
    ).fetchall()
    expected = [
        f"row {i}|{s}|{'null' if a is None else a}|{'null' if d is None else d}|{java_timestamp(t)}"
        for i, s, a, d, t in want
    ]
    got = [ln for ln in lines if ln.startswith("row ")]
    assert len(got) > 100
    assert got == expected
    [(n, total)] = db.sql(f"SELECT count(*), sum(amount) FROM {TABLE}").fetchall()
    assert f"total {n}|{total}" in lines
    assert lines[-1] == "update 0"
