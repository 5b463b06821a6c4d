"""SQL text (``cl.sql``, ``DataFrame.sql``) compared with DuckDB on the same data.

The DataFrame suite's DuckDB queries (test_queries.py) are run here as SQL
through Slipstream: each is a query a SQL user writes, with DuckDB's answer
as the oracle.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
import test_queries as q
from _oracle import assert_same

import slipstream as sl
from slipstream import col


def _queries() -> list[object]:
    out: list[object] = []
    for name, _, sql in q.SELECT_CASES:
        if " replace (" in sql or " exclude (" in sql:
            continue  # DuckDB's own syntax, not Postgres'
        out.append(pytest.param(sql, id=f"select-{name}"))
    for name, _, where in q.FILTER_CASES + q.LITERAL_CASES:
        if where is not None:
            out.append(pytest.param(f"select * from alltypes where {where}", id=f"where-{name}"))
    for name, _, expr in q.ARITH_CASES + q.CAST_CASES:
        if expr is not None:
            out.append(pytest.param(f"select id, {expr} as x from alltypes", id=f"expr-{name}"))
    for name, _, tail in q.LIMIT_CASES:
        if tail is not None:
            out.append(pytest.param(f"select * from alltypes {tail}", id=f"limit-{name}"))
    return out


@pytest.mark.parametrize("sql", _queries())
def test_dataframe_suite_queries_as_sql(
    t: sl.DataFrame, cl: sl.Client, alltypes: pa.Table, sql: str
) -> None:
    ordered = " order by " in sql
    assert_same(cl.sql(sql), sql, ordered=ordered, alltypes=alltypes)


def ordered_at_top(sql: str) -> bool:
    """Whether the query itself (not a window or subquery in it) has ORDER BY."""
    return " order by " in sql.rsplit(")", 1)[-1]


SQL_CASES = [
    "select k, count(*) as n, sum(i32) as s, avg(f64) as m, min(s) as lo, max(s) as hi "
    "from alltypes group by k",
    "select k, count(*) as n from alltypes group by 1 having count(*) > 10 order by n desc, k",
    "select k, k2, count(i32) as c from alltypes group by all order by k, k2",
    "select count(*) as n, sum(i64) as s from alltypes",
    "select count(*) as n from alltypes where i32 > 2000000000",
    "select distinct k from alltypes order by k",
    "select id, case when i32 > 0 then 'pos' when i32 < 0 then 'neg' else 'zero' end as sign "
    "from alltypes",
    "select id, case k when 'a' then 1 else 2 end as x from alltypes",
    "select id from alltypes where k in ('a', 'b') and i32 between -100 and 100000",
    "select id from alltypes where k not in ('a') and s like 'a%'",
    "select id, coalesce(i32, 0) as x from alltypes",
    "select id, cast(i16 as bigint) + 1 as x, i32::double / 2 as y from alltypes",
    "with big as (select * from alltypes where i32 > 0) "
    "select k, count(*) as n from big group by k",
    "select a.id, b.k from alltypes a join alltypes b on a.id = b.id where a.i32 > 0",
    "select a.id, b.id as bid from alltypes a, alltypes b where a.id = b.id + 1 and a.k = b.k",
    "select a.id, b.i32 from alltypes a left join (select id, i32 from alltypes where i32 > 0) b "
    "on a.id = b.id",
    "select s.k, s.n from (select k, count(*) as n from alltypes group by k) s where s.n > 5",
    "select id from alltypes where i32 > 0 union all select id from alltypes where i32 < 0",
    "select k, sum(i32) filter_sum from alltypes group by k order by 2 desc nulls last limit 3",
    "select id, upper(s) as u, length(s) as l, substring(s, 2, 3) as sub from alltypes",
    "select id, extract(year from d) as y from alltypes where d >= date '2000-01-01'",
    "select id, d + interval '3 months' as later from alltypes",
    "select id from alltypes order by i32 desc nulls first, id limit 10 offset 3",
    # Subqueries, decorrelated into joins; NOT IN keeps SQL's nulls.
    "select id from alltypes where i8 in (select i8 from alltypes where id < 50)",
    "select id from alltypes where i8 not in (select i8 from alltypes where id < 50)",
    "select id from alltypes where i8 not in (select i8 from alltypes where id < 0)",
    "select id from alltypes where i8 not in (select i8 from alltypes where i8 > 100)",
    "select a.id from alltypes a where exists "
    "(select * from alltypes b where b.k = a.k and b.i32 > a.i32)",
    "select a.id from alltypes a where not exists "
    "(select * from alltypes b where b.k = a.k and b.i32 > a.i32)",
    "select id from alltypes where f64 > (select avg(f64) from alltypes)",
    "select a.id from alltypes a where a.i32 > (select avg(b.i32) from alltypes b where b.k = a.k)",
    "select k, sum(i32) as s from alltypes group by k "
    "having sum(i32) > (select sum(i32) / 10 from alltypes)",
    "select k, count(distinct k2) as n from alltypes group by k",
    # Window functions.
    "select id, row_number() over (partition by k order by id) as rn from alltypes",
    "select id, rank() over (order by i8) as r, dense_rank() over (order by i8) as d from alltypes",
    "select id, sum(i32) over (partition by k) as s, count(*) over (partition by k) as n "
    "from alltypes",
    "select id, sum(i32) over (partition by k order by id "
    "rows between unbounded preceding and current row) as s from alltypes",
    "select id, lag(i32) over (partition by k order by id) as p, "
    "lead(i32, 2) over (partition by k order by id) as q from alltypes",
    # SQL's default frame with ORDER BY: RANGE to the current row, peers included.
    "select id, sum(i32) over (partition by k order by k2) as s, "
    "count(i16) over (order by k2 desc) as c, avg(f64) over (partition by k order by k2) as m, "
    "max(i64) over (partition by k2 order by k nulls first) as hi from alltypes",
    # Bounded ROWS frames.
    "select id, sum(i32) over (partition by k order by id "
    "rows between 2 preceding and 1 following) as s from alltypes",
    "select id, avg(f64) over (partition by k2 order by id rows 3 preceding) as m, "
    "count(i16) over (partition by k2 order by id rows between current row and 2 following) "
    "as c, min(i64) over (order by id rows between 1 preceding and 1 following) as lo "
    "from alltypes",
    # Set operations treat nulls as equal, as SQL's do.
    "select k, k2 from alltypes where i8 > 0 union select k, k2 from alltypes where i8 < 3",
    "select k, k2 from alltypes where i8 > 0 intersect select k, k2 from alltypes where i16 > 0",
    "select k, k2 from alltypes where i8 > 0 except select k, k2 from alltypes where i16 > 0",
    "select k from alltypes except select k from alltypes where i8 > 5 union all select 'extra'",
    # Functions with SQL's names over the engine's.
    "select id, left(s, 2) as l, right(s, 3) as r, mod(i32, 7) as m, ifnull(i16, 0) as i, "
    "nullif(k2, 2) as n, s || '!' as bang, concat(k, '-', s) as c from alltypes",
    "select id, log(abs(f64) + 1) as l10, log(2, abs(f64) + 1) as l2, pi() * 2 as tau "
    "from alltypes",
    "select id, date_diff('day', d, date '2024-01-01') as dd from alltypes",
    "select id, sin(f64) as a, atan(f32) as b, tanh(f64) as c, cbrt(f64) as d, degrees(f64) as e, "
    "greatest(i8, i16, i32) as g, least(f64, f32) as l, isnan(f64) as n from alltypes",
    "select id, strftime(ts, '%Y-%m-%d %H:%M') as a, strftime(d, '%d/%m/%Y') as b from alltypes",
    # SELECT without FROM and VALUES lists.
    "select 1 as one, 'two' as two, 3.5 * 2 as seven",
    "select v.x, count(*) as n from (values (1), (2), (2), (null)) v(x) group by v.x",
]


@pytest.mark.parametrize("sql", SQL_CASES)
def test_sql_queries(t: sl.DataFrame, cl: sl.Client, alltypes: pa.Table, sql: str) -> None:
    assert_same(cl.sql(sql), sql, ordered=ordered_at_top(sql), alltypes=alltypes)


def test_sql_result_chains_like_a_frame(t: sl.DataFrame, cl: sl.Client, alltypes: pa.Table) -> None:
    q = cl.sql("select k, sum(i32) as total from alltypes group by k").filter(col("total") > 0)
    assert_same(
        q,
        "select k, sum(i32) as total from alltypes group by k having sum(i32) > 0",
        alltypes=alltypes,
    )


def test_frame_sql_reads_self(t: sl.DataFrame, alltypes: pa.Table) -> None:
    q = t.filter(col("i32") > 0).sql("select k, count(*) as n from self group by 1")
    assert_same(
        q, "select k, count(*) as n from alltypes where i32 > 0 group by 1", alltypes=alltypes
    )


def test_syntax_error_points_at_the_token(cl: sl.Client) -> None:
    with pytest.raises(sl.SlipstreamError) as err:
        cl.sql("select id\nfrom alltypes\nwher id > 1").to_arrow()
    text = str(err.value)
    assert "line 3, column 6" in text
    assert "wher id > 1\n       ^" in text


def test_unknown_names_suggest_the_closest(t: sl.DataFrame, cl: sl.Client) -> None:
    with pytest.raises(sl.SlipstreamError, match=r'unknown column "i33".*did you mean "i32"'):
        cl.sql("select i33 from alltypes").to_arrow()
    with pytest.raises(sl.SlipstreamError, match="alltypez"):
        cl.sql("select * from alltypez").to_arrow()


def test_unsupported_features_are_named(t: sl.DataFrame, cl: sl.Client) -> None:
    with pytest.raises(sl.SlipstreamError, match="this window frame"):
        cl.sql(
            "select id, sum(i32) over (order by id range between 1 preceding and current row) "
            "from alltypes"
        ).to_arrow()
    with pytest.raises(sl.SlipstreamError, match="subqueries in this place"):
        cl.sql("select id, id in (select id from alltypes) from alltypes").to_arrow()
    with pytest.raises(sl.SlipstreamError, match="UPDATE"):
        cl.sql("update alltypes set id = 1")


def test_grouping_error_names_the_column(t: sl.DataFrame, cl: sl.Client) -> None:
    with pytest.raises(sl.SlipstreamError, match="must appear in the GROUP BY"):
        cl.sql("select k, i32, count(*) from alltypes group by k").to_arrow()
