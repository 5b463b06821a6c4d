"""read_parquet / read_csv / read_ipc of real files on the server's file system."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from _data import make_alltypes
from _oracle import assert_same

import slipstream as sl
from slipstream import col


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    root = tmp_path_factory.mktemp("files")
    data = make_alltypes(3000, seed=5).drop_columns(["sv"])
    parts = [data.slice(0, 1000), data.slice(1000, 1000), data.slice(2000)]
    (root / "pq").mkdir()
    for i, part in enumerate(parts):
        pq.write_table(part, root / "pq" / f"part-{i}.parquet", row_group_size=256)
    pq.write_table(pa.table({"other": [1]}), root / "pq" / "not-matching.txt")
    (root / "ipc").mkdir()
    feather.write_feather(parts[0], root / "ipc" / "a.arrow", compression="uncompressed")
    with ipc.new_stream(root / "ipc" / "b.arrows", data.schema) as w:
        w.write_table(parts[1])
    feather.write_feather(parts[2], root / "ipc" / "c.feather", compression="uncompressed")
    return root, data


def test_read_parquet_glob(cl: sl.Client, files: tuple[Path, pa.Table]) -> None:
    root, data = files
    q = cl.read_parquet(str(root / "pq" / "*.parquet"))
    assert_same(q, "select * from data", data=data)


def test_read_parquet_single_file_and_list(cl: sl.Client, files: tuple[Path, pa.Table]) -> None:
    root, data = files
    one = cl.read_parquet(root / "pq" / "part-1.parquet")
    assert_same(one, "select * from data where id >= 1000 and id < 2000", data=data)
    two = cl.read_parquet([root / "pq" / "part-0.parquet", str(root / "pq" / "part-2.parquet")])
    assert_same(
        two.select("id", "k"), "select id, k from data where id < 1000 or id >= 2000", data=data
    )


def test_read_parquet_query(cl: sl.Client, files: tuple[Path, pa.Table]) -> None:
    """Filters that can skip row groups (id ranges) and projections still give exact results."""
    root, data = files
    q = (
        cl.read_parquet(str(root / "pq" / "*.parquet"))
        .filter((col("id") >= 2500) & (col("i8") > 0))
        .group_by("k")
        .agg(col("f64").sum().alias("s"), sl.len().alias("n"))
        .sort("k")
    )
    sql = (
        "select k, sum(f64) as s, count(*) as n from data where id >= 2500 and i8 > 0 "
        "group by k order by k nulls first"
    )
    assert_same(q, sql, ordered=True, data=data)
    narrow = cl.read_parquet(str(root / "pq" / "*.parquet")).filter(col("id") == 1234)
    assert narrow.select("id", "s").to_arrow().to_pylist() == [
        {"id": 1234, "s": data.column("s")[1234].as_py()}
    ]


def test_group_by_a_string_key_filtered_out_of_some_values(cl: sl.Client, tmp_path: Path) -> None:
    """A string column the file keeps as a dictionary, filtered so that no row
    of some values is left: those values are no groups (they once came out with
    a count of 0)."""
    names = ["alpha", "beta", "γάμμα", "a value longer than seven bytes", None, ""]
    n = 6000
    data = pa.table(
        {
            "s": [names[i % len(names)] for i in range(n)],
            "x": pa.array(range(n), pa.int64()),
        }
    )
    pq.write_table(data, tmp_path / "d.parquet", use_dictionary=True, row_group_size=1000)
    t = cl.read_parquet(tmp_path / "d.parquet")
    kept = t.filter((col("x") % 6 != 1) & (col("x") % 6 != 4))  # no beta, no null
    assert_same(
        kept.group_by("s").agg(sl.len().alias("n"), col("x").sum().alias("sx")),
        "select s, count(*) as n, sum(x) as sx from data "
        "where x % 6 != 1 and x % 6 != 4 group by s",
        data=data,
    )
    assert_same(
        kept.group_by("s", col("x") % 2).agg(sl.len().alias("n")),
        "select s, x % 2 as x, count(*) as n from data "
        "where x % 6 != 1 and x % 6 != 4 group by s, x % 2",
        data=data,
    )


def test_read_parquet_schema_without_running(cl: sl.Client, files: tuple[Path, pa.Table]) -> None:
    root, data = files
    q = cl.read_parquet(str(root / "pq" / "*.parquet"))
    assert q.schema.names == data.column_names
    assert q.schema.field("dec").type == pa.decimal128(12, 2)


def test_read_ipc_file_and_stream_formats(cl: sl.Client, files: tuple[Path, pa.Table]) -> None:
    root, data = files
    assert_same(
        cl.read_ipc(root / "ipc" / "a.arrow"), "select * from data where id < 1000", data=data
    )
    assert_same(
        cl.read_ipc(root / "ipc" / "b.arrows"),
        "select * from data where id >= 1000 and id < 2000",
        data=data,
    )
    q = cl.read_ipc([str(root / "ipc" / "*.arrow"), str(root / "ipc" / "*.feather")])
    assert_same(
        q.select("id", "dec"), "select id, dec from data where id < 1000 or id >= 2000", data=data
    )


def test_read_csv(cl: sl.Client, tmp_path: Path) -> None:
    data = pa.table(
        {
            "id": pa.array(range(600), pa.int64()),
            "name": [["zebra", "Ångström", 'say "hi", ok', "東京"][i % 4] for i in range(600)],
            "x": pa.array([None if i % 7 == 0 else i * 0.5 for i in range(600)], pa.float64()),
        }
    )
    for i in range(3):
        pacsv.write_csv(data.slice(i * 200, 200), tmp_path / f"part{i}.csv")
    q = cl.read_csv(str(tmp_path / "part*.csv"))
    assert q.columns == ["id", "name", "x"]
    assert_same(q, "select * from data", data=data)
    agg = q.group_by("name").agg(col("x").sum().alias("s"), col("x").count().alias("c"))
    assert_same(agg, "select name, sum(x) as s, count(x) as c from data group by name", data=data)


def test_read_csv_without_header_and_separator(cl: sl.Client, tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("1;ç;2.5\n2;b;3.5\n3;ç;\n", encoding="utf-8")
    q = cl.read_csv(path, has_header=False, separator=";")
    names = q.columns
    assert len(names) == 3
    got = q.group_by(names[1]).agg(col(names[2]).sum().alias("s"), sl.len().alias("n"))
    assert sorted(got.to_arrow().to_pylist(), key=lambda r: r[names[1]]) == [
        {names[1]: "b", "s": 3.5, "n": 1},
        {names[1]: "ç", "s": 2.5, "n": 2},
    ]


def test_missing_file(cl: sl.Client, tmp_path: Path) -> None:
    with pytest.raises(sl.NotFoundError, match=r"nope\.parquet"):
        cl.read_parquet(tmp_path / "nope.parquet").to_arrow()
    with pytest.raises(sl.NotFoundError):
        cl.read_csv(str(tmp_path / "none-*.csv")).to_arrow()
    with pytest.raises(sl.NotFoundError):
        _ = cl.read_ipc(tmp_path / "nope.arrow").schema
    assert cl.health()["status"] == "ok"
