"""TPC-H queries written with Slipstream's DataFrame API, each beside the
standard SQL text that DuckDB runs on the same Parquet files.

``QUERIES[n]`` is ``(build, sql)``: ``build(t, m)`` takes a dict of lazy
frames by table name and the module whose ``col`` and ``len`` to use — the
API is polars', so the same code builds a Slipstream plan (``m=slipstream``)
or a polars LazyFrame (``m=polars``); ``sql`` is the query with the
validation parameters of the TPC-H specification. Correlated subqueries
are written as the joins a planner would decorrelate them into.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import slipstream as sl

Tables = dict[str, sl.DataFrame]

TABLES = ["lineitem", "orders", "customer", "nation", "region", "part", "partsupp", "supplier"]


def q1(t: Tables, m: Any = sl) -> Any:
    disc_price = m.col("l_extendedprice") * (1 - m.col("l_discount"))
    return (
        t["lineitem"]
        .filter(m.col("l_shipdate") <= dt.date(1998, 9, 2))
        .group_by("l_returnflag", "l_linestatus")
        .agg(
            m.col("l_quantity").sum().alias("sum_qty"),
            m.col("l_extendedprice").sum().alias("sum_base_price"),
            disc_price.sum().alias("sum_disc_price"),
            (disc_price * (1 + m.col("l_tax"))).sum().alias("sum_charge"),
            m.col("l_quantity").mean().alias("avg_qty"),
            m.col("l_extendedprice").mean().alias("avg_price"),
            m.col("l_discount").mean().alias("avg_disc"),
            m.len().alias("count_order"),
        )
        .sort("l_returnflag", "l_linestatus")
    )


Q1 = """
select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty,
       sum(l_extendedprice) as sum_base_price,
       sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
       sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
       avg(l_quantity) as avg_qty, avg(l_extendedprice) as avg_price,
       avg(l_discount) as avg_disc, count(*) as count_order
from lineitem
where l_shipdate <= date '1998-12-01' - interval '90' day
group by l_returnflag, l_linestatus
order by l_returnflag, l_linestatus
"""


def q3(t: Tables, m: Any = sl) -> Any:
    day = dt.date(1995, 3, 15)
    customers = t["customer"].filter(m.col("c_mktsegment") == "BUILDING")
    orders = t["orders"].filter(m.col("o_orderdate") < day)
    items = t["lineitem"].filter(m.col("l_shipdate") > day)
    return (
        customers.join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(items, left_on="o_orderkey", right_on="l_orderkey")
        .group_by(m.col("o_orderkey").alias("l_orderkey"), "o_orderdate", "o_shippriority")
        .agg((m.col("l_extendedprice") * (1 - m.col("l_discount"))).sum().alias("revenue"))
        .select("l_orderkey", "revenue", "o_orderdate", "o_shippriority")
        .sort("revenue", "o_orderdate", descending=[True, False])
        .head(10)
    )


Q3 = """
select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue,
       o_orderdate, o_shippriority
from customer, orders, lineitem
where c_mktsegment = 'BUILDING' and c_custkey = o_custkey and l_orderkey = o_orderkey
  and o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15'
group by l_orderkey, o_orderdate, o_shippriority
order by revenue desc, o_orderdate
limit 10
"""


def q4(t: Tables, m: Any = sl) -> Any:
    late = t["lineitem"].filter(m.col("l_commitdate") < m.col("l_receiptdate"))
    return (
        t["orders"]
        .filter(
            (m.col("o_orderdate") >= dt.date(1993, 7, 1))
            & (m.col("o_orderdate") < dt.date(1993, 10, 1))
        )
        .join(late, left_on="o_orderkey", right_on="l_orderkey", how="semi")
        .group_by("o_orderpriority")
        .agg(m.len().alias("order_count"))
        .sort("o_orderpriority")
    )


Q4 = """
select o_orderpriority, count(*) as order_count
from orders
where o_orderdate >= date '1993-07-01' and o_orderdate < date '1993-10-01'
  and exists (select * from lineitem where l_orderkey = o_orderkey and l_commitdate < l_receiptdate)
group by o_orderpriority
order by o_orderpriority
"""


def q5(t: Tables, m: Any = sl) -> Any:
    asia = t["region"].filter(m.col("r_name") == "ASIA")
    orders = t["orders"].filter(
        (m.col("o_orderdate") >= dt.date(1994, 1, 1)) & (m.col("o_orderdate") < dt.date(1995, 1, 1))
    )
    return (
        t["customer"]
        .join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(t["lineitem"], left_on="o_orderkey", right_on="l_orderkey")
        .join(
            t["supplier"],
            left_on=["l_suppkey", "c_nationkey"],
            right_on=["s_suppkey", "s_nationkey"],
        )
        .join(t["nation"], left_on="c_nationkey", right_on="n_nationkey")
        .join(asia, left_on="n_regionkey", right_on="r_regionkey")
        .group_by("n_name")
        .agg((m.col("l_extendedprice") * (1 - m.col("l_discount"))).sum().alias("revenue"))
        .sort("revenue", descending=True)
    )


Q5 = """
select n_name, sum(l_extendedprice * (1 - l_discount)) as revenue
from customer, orders, lineitem, supplier, nation, region
where c_custkey = o_custkey and l_orderkey = o_orderkey and l_suppkey = s_suppkey
  and c_nationkey = s_nationkey and s_nationkey = n_nationkey and n_regionkey = r_regionkey
  and r_name = 'ASIA' and o_orderdate >= date '1994-01-01' and o_orderdate < date '1995-01-01'
group by n_name
order by revenue desc
"""


def q6(t: Tables, m: Any = sl) -> Any:
    return (
        t["lineitem"]
        .filter(
            (m.col("l_shipdate") >= dt.date(1994, 1, 1))
            & (m.col("l_shipdate") < dt.date(1995, 1, 1))
            & (m.col("l_discount") >= 0.05)
            & (m.col("l_discount") <= 0.07)
            & (m.col("l_quantity") < 24)
        )
        .select((m.col("l_extendedprice") * m.col("l_discount")).sum().alias("revenue"))
    )


Q6 = """
select sum(l_extendedprice * l_discount) as revenue
from lineitem
where l_shipdate >= date '1994-01-01' and l_shipdate < date '1995-01-01'
  and l_discount between 0.05 and 0.07 and l_quantity < 24
"""


def q10(t: Tables, m: Any = sl) -> Any:
    orders = t["orders"].filter(
        (m.col("o_orderdate") >= dt.date(1993, 10, 1))
        & (m.col("o_orderdate") < dt.date(1994, 1, 1))
    )
    returned = t["lineitem"].filter(m.col("l_returnflag") == "R")
    keys = ["c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"]
    return (
        t["customer"]
        .join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(returned, left_on="o_orderkey", right_on="l_orderkey")
        .join(t["nation"], left_on="c_nationkey", right_on="n_nationkey")
        .group_by(*keys)
        .agg((m.col("l_extendedprice") * (1 - m.col("l_discount"))).sum().alias("revenue"))
        .select(
            "c_custkey",
            "c_name",
            "revenue",
            "c_acctbal",
            "n_name",
            "c_address",
            "c_phone",
            "c_comment",
        )
        .sort("revenue", descending=True)
        .head(20)
    )


Q10 = """
select c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) as revenue,
       c_acctbal, n_name, c_address, c_phone, c_comment
from customer, orders, lineitem, nation
where c_custkey = o_custkey and l_orderkey = o_orderkey
  and o_orderdate >= date '1993-10-01' and o_orderdate < date '1994-01-01'
  and l_returnflag = 'R' and c_nationkey = n_nationkey
group by c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
order by revenue desc
limit 20
"""


def q11(t: Tables, m: Any = sl) -> Any:
    germany = t["nation"].filter(m.col("n_name") == "GERMANY")
    stock = (
        t["partsupp"]
        .join(t["supplier"], left_on="ps_suppkey", right_on="s_suppkey")
        .join(germany, left_on="s_nationkey", right_on="n_nationkey")
        .with_columns((m.col("ps_supplycost") * m.col("ps_availqty")).alias("v"))
    )
    threshold = stock.select((m.col("v").sum() * 0.0001).alias("threshold"))
    return (
        stock.group_by("ps_partkey")
        .agg(m.col("v").sum().alias("value"))
        .join(threshold, how="cross")
        .filter(m.col("value") > m.col("threshold"))
        .select("ps_partkey", "value")
        .sort("value", descending=True)
    )


Q11 = """
select ps_partkey, sum(ps_supplycost * ps_availqty) as value
from partsupp, supplier, nation
where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY'
group by ps_partkey
having sum(ps_supplycost * ps_availqty) > (
  select sum(ps_supplycost * ps_availqty) * 0.0001
  from partsupp, supplier, nation
  where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY')
order by value desc
"""


def q15(t: Tables, m: Any = sl) -> Any:
    revenue = (
        t["lineitem"]
        .filter(
            (m.col("l_shipdate") >= dt.date(1996, 1, 1))
            & (m.col("l_shipdate") < dt.date(1996, 4, 1))
        )
        .group_by(m.col("l_suppkey").alias("supplier_no"))
        .agg((m.col("l_extendedprice") * (1 - m.col("l_discount"))).sum().alias("total_revenue"))
    )
    best = revenue.select(m.col("total_revenue").max().alias("max_revenue"))
    return (
        t["supplier"]
        .join(revenue, left_on="s_suppkey", right_on="supplier_no")
        .join(best, left_on="total_revenue", right_on="max_revenue")
        .select("s_suppkey", "s_name", "s_address", "s_phone", "total_revenue")
        .sort("s_suppkey")
    )


Q15 = """
with revenue0 as (
  select l_suppkey as supplier_no, sum(l_extendedprice * (1 - l_discount)) as total_revenue
  from lineitem
  where l_shipdate >= date '1996-01-01' and l_shipdate < date '1996-04-01'
  group by l_suppkey)
select s_suppkey, s_name, s_address, s_phone, total_revenue
from supplier, revenue0
where s_suppkey = supplier_no and total_revenue = (select max(total_revenue) from revenue0)
order by s_suppkey
"""


def q17(t: Tables, m: Any = sl) -> Any:
    parts = t["part"].filter((m.col("p_brand") == "Brand#23") & (m.col("p_container") == "MED BOX"))
    items = t["lineitem"].join(parts, left_on="l_partkey", right_on="p_partkey", how="semi")
    limits = items.group_by("l_partkey").agg(
        (m.col("l_quantity").mean() * 0.2).alias("max_quantity")
    )
    return (
        items.join(limits, on="l_partkey")
        .filter(m.col("l_quantity") < m.col("max_quantity"))
        .select((m.col("l_extendedprice").sum() / 7.0).alias("avg_yearly"))
    )


Q17 = """
select sum(l_extendedprice) / 7.0 as avg_yearly
from lineitem, part
where p_partkey = l_partkey and p_brand = 'Brand#23' and p_container = 'MED BOX'
  and l_quantity < (select 0.2 * avg(l_quantity) from lineitem where l_partkey = p_partkey)
"""


def q18(t: Tables, m: Any = sl) -> Any:
    big = (
        t["lineitem"]
        .group_by("l_orderkey")
        .agg(m.col("l_quantity").sum().alias("q"))
        .filter(m.col("q") > 300)
    )
    return (
        t["customer"]
        .join(t["orders"], left_on="c_custkey", right_on="o_custkey")
        .join(big, left_on="o_orderkey", right_on="l_orderkey", how="semi")
        .join(t["lineitem"], left_on="o_orderkey", right_on="l_orderkey")
        .group_by("c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice")
        .agg(m.col("l_quantity").sum().alias("sum_qty"))
        .sort("o_totalprice", "o_orderdate", descending=[True, False])
        .head(100)
    )


Q18 = """
select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity) as sum_qty
from customer, orders, lineitem
where o_orderkey in (
    select l_orderkey from lineitem group by l_orderkey having sum(l_quantity) > 300)
  and c_custkey = o_custkey and o_orderkey = l_orderkey
group by c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
order by o_totalprice desc, o_orderdate
limit 100
"""


def _late_saudi_lines(t: Tables, m: Any, late: Any) -> Any:
    """q21's late lines of Saudi suppliers on finished orders."""
    return (
        t["supplier"]
        .join(
            t["nation"].filter(m.col("n_name") == "SAUDI ARABIA"),
            left_on="s_nationkey",
            right_on="n_nationkey",
        )
        .join(late, left_on="s_suppkey", right_on="l_suppkey")
        .join(
            t["orders"].filter(m.col("o_orderstatus") == "F"),
            left_on="l_orderkey",
            right_on="o_orderkey",
        )
    )


def q21(t: Tables, m: Any = sl) -> Any:
    # exists / not exists with a condition beyond the key: join(filter=).
    late = t["lineitem"].filter(m.col("l_receiptdate") > m.col("l_commitdate"))
    other_supplier = m.col("l_suppkey") != m.col("s_suppkey")
    return (
        _late_saudi_lines(t, m, late)
        .join(
            t["lineitem"].select("l_orderkey", "l_suppkey"),
            on="l_orderkey",
            how="semi",
            filter=other_supplier,
        )
        .join(
            late.select("l_orderkey", "l_suppkey"),
            on="l_orderkey",
            how="anti",
            filter=other_supplier,
        )
        .group_by("s_name")
        .agg(m.len().alias("numwait"))
        .sort("numwait", "s_name", descending=[True, False])
        .head(100)
    )


def q21_grouped(t: Tables, m: Any = sl) -> Any:
    """q21 without a join condition beyond the key, for polars, whose join has
    none: an order has another supplier when it has more than one, and no
    other late one when its late lines come from one supplier."""
    late = t["lineitem"].filter(m.col("l_receiptdate") > m.col("l_commitdate"))
    several = (
        t["lineitem"]
        .group_by("l_orderkey")
        .agg(m.col("l_suppkey").n_unique().alias("suppliers"))
        .filter(m.col("suppliers") > 1)
    )
    late_alone = (
        late.group_by("l_orderkey")
        .agg(m.col("l_suppkey").n_unique().alias("late_suppliers"))
        .filter(m.col("late_suppliers") == 1)
    )
    return (
        _late_saudi_lines(t, m, late)
        .join(several, on="l_orderkey", how="semi")
        .join(late_alone, on="l_orderkey", how="semi")
        .group_by("s_name")
        .agg(m.len().alias("numwait"))
        .sort("numwait", "s_name", descending=[True, False])
        .head(100)
    )


Q21 = """
select s_name, count(*) as numwait
from supplier, lineitem l1, orders, nation
where s_suppkey = l1.l_suppkey and o_orderkey = l1.l_orderkey and o_orderstatus = 'F'
  and l1.l_receiptdate > l1.l_commitdate
  and exists (select * from lineitem l2
              where l2.l_orderkey = l1.l_orderkey and l2.l_suppkey <> l1.l_suppkey)
  and not exists (select * from lineitem l3
                  where l3.l_orderkey = l1.l_orderkey and l3.l_suppkey <> l1.l_suppkey
                    and l3.l_receiptdate > l3.l_commitdate)
  and s_nationkey = n_nationkey and n_name = 'SAUDI ARABIA'
group by s_name
order by numwait desc, s_name
limit 100
"""


def q2(t: Tables, m: Any = sl) -> Any:
    europe = (
        t["partsupp"]
        .join(t["supplier"], left_on="ps_suppkey", right_on="s_suppkey")
        .join(t["nation"], left_on="s_nationkey", right_on="n_nationkey")
        .join(
            t["region"].filter(m.col("r_name") == "EUROPE"),
            left_on="n_regionkey",
            right_on="r_regionkey",
        )
    )
    cheapest = europe.group_by("ps_partkey").agg(m.col("ps_supplycost").min().alias("min_cost"))
    parts = t["part"].filter((m.col("p_size") == 15) & m.col("p_type").str.ends_with("BRASS"))
    return (
        parts.join(europe, left_on="p_partkey", right_on="ps_partkey")
        .join(cheapest, left_on=["p_partkey", "ps_supplycost"], right_on=["ps_partkey", "min_cost"])
        .select(
            "s_acctbal",
            "s_name",
            "n_name",
            "p_partkey",
            "p_mfgr",
            "s_address",
            "s_phone",
            "s_comment",
        )
        .sort("s_acctbal", "n_name", "s_name", "p_partkey", descending=[True, False, False, False])
        .head(100)
    )


Q2 = """
select s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
from part, supplier, partsupp, nation, region
where p_partkey = ps_partkey and s_suppkey = ps_suppkey and p_size = 15 and p_type like '%BRASS'
  and s_nationkey = n_nationkey and n_regionkey = r_regionkey and r_name = 'EUROPE'
  and ps_supplycost = (
    select min(ps_supplycost) from partsupp, supplier, nation, region
    where p_partkey = ps_partkey and s_suppkey = ps_suppkey and s_nationkey = n_nationkey
      and n_regionkey = r_regionkey and r_name = 'EUROPE')
order by s_acctbal desc, n_name, s_name, p_partkey
limit 100
"""


def q7(t: Tables, m: Any = sl) -> Any:
    n1 = t["nation"].select(
        m.col("n_nationkey").alias("n1_key"), m.col("n_name").alias("supp_nation")
    )
    n2 = t["nation"].select(
        m.col("n_nationkey").alias("n2_key"), m.col("n_name").alias("cust_nation")
    )
    lines = t["lineitem"].filter(
        (m.col("l_shipdate") >= dt.date(1995, 1, 1))
        & (m.col("l_shipdate") <= dt.date(1996, 12, 31))
    )
    supp, cust = m.col("supp_nation"), m.col("cust_nation")
    return (
        t["supplier"]
        .join(lines, left_on="s_suppkey", right_on="l_suppkey")
        .join(t["orders"], left_on="l_orderkey", right_on="o_orderkey")
        .join(t["customer"], left_on="o_custkey", right_on="c_custkey")
        .join(n1, left_on="s_nationkey", right_on="n1_key")
        .join(n2, left_on="c_nationkey", right_on="n2_key")
        .filter(
            ((supp == "FRANCE") & (cust == "GERMANY")) | ((supp == "GERMANY") & (cust == "FRANCE"))
        )
        .with_columns(
            m.col("l_shipdate").dt.year().alias("l_year"),
            (m.col("l_extendedprice") * (1 - m.col("l_discount"))).alias("volume"),
        )
        .group_by("supp_nation", "cust_nation", "l_year")
        .agg(m.col("volume").sum().alias("revenue"))
        .sort("supp_nation", "cust_nation", "l_year")
    )


Q7 = """
select supp_nation, cust_nation, l_year, sum(volume) as revenue
from (select n1.n_name as supp_nation, n2.n_name as cust_nation,
             extract(year from l_shipdate) as l_year, l_extendedprice * (1 - l_discount) as volume
      from supplier, lineitem, orders, customer, nation n1, nation n2
      where s_suppkey = l_suppkey and o_orderkey = l_orderkey and c_custkey = o_custkey
        and s_nationkey = n1.n_nationkey and c_nationkey = n2.n_nationkey
        and ((n1.n_name = 'FRANCE' and n2.n_name = 'GERMANY')
          or (n1.n_name = 'GERMANY' and n2.n_name = 'FRANCE'))
        and l_shipdate between date '1995-01-01' and date '1996-12-31') as shipping
group by supp_nation, cust_nation, l_year
order by supp_nation, cust_nation, l_year
"""


def q8(t: Tables, m: Any = sl) -> Any:
    america = t["region"].filter(m.col("r_name") == "AMERICA")
    n1 = t["nation"].select(
        m.col("n_nationkey").alias("n1_key"), m.col("n_regionkey").alias("n1_region")
    )
    n2 = t["nation"].select(m.col("n_nationkey").alias("n2_key"), m.col("n_name").alias("nation"))
    orders = t["orders"].filter(
        (m.col("o_orderdate") >= dt.date(1995, 1, 1))
        & (m.col("o_orderdate") <= dt.date(1996, 12, 31))
    )
    volume = m.col("l_extendedprice") * (1 - m.col("l_discount"))
    return (
        t["part"]
        .filter(m.col("p_type") == "ECONOMY ANODIZED STEEL")
        .join(t["lineitem"], left_on="p_partkey", right_on="l_partkey")
        .join(t["supplier"], left_on="l_suppkey", right_on="s_suppkey")
        .join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .join(t["customer"], left_on="o_custkey", right_on="c_custkey")
        .join(n1, left_on="c_nationkey", right_on="n1_key")
        .join(america, left_on="n1_region", right_on="r_regionkey")
        .join(n2, left_on="s_nationkey", right_on="n2_key")
        .with_columns(m.col("o_orderdate").dt.year().alias("o_year"), volume.alias("volume"))
        .group_by("o_year")
        .agg(
            (
                m.when(m.col("nation") == "BRAZIL").then(m.col("volume")).otherwise(0).sum()
                / m.col("volume").sum()
            ).alias("mkt_share")
        )
        .sort("o_year")
    )


Q8 = """
select o_year, sum(case when nation = 'BRAZIL' then volume else 0 end) / sum(volume) as mkt_share
from (select extract(year from o_orderdate) as o_year,
             l_extendedprice * (1 - l_discount) as volume, n2.n_name as nation
      from part, supplier, lineitem, orders, customer, nation n1, nation n2, region
      where p_partkey = l_partkey and s_suppkey = l_suppkey and l_orderkey = o_orderkey
        and o_custkey = c_custkey and c_nationkey = n1.n_nationkey and n1.n_regionkey = r_regionkey
        and r_name = 'AMERICA' and s_nationkey = n2.n_nationkey
        and o_orderdate between date '1995-01-01' and date '1996-12-31'
        and p_type = 'ECONOMY ANODIZED STEEL') as all_nations
group by o_year
order by o_year
"""


def q9(t: Tables, m: Any = sl) -> Any:
    amount = m.col("l_extendedprice") * (1 - m.col("l_discount")) - m.col("ps_supplycost") * m.col(
        "l_quantity"
    )
    return (
        t["part"]
        .filter(m.col("p_name").str.contains("green", literal=True))
        .join(t["lineitem"], left_on="p_partkey", right_on="l_partkey")
        .join(t["supplier"], left_on="l_suppkey", right_on="s_suppkey")
        .join(
            t["partsupp"], left_on=["l_suppkey", "p_partkey"], right_on=["ps_suppkey", "ps_partkey"]
        )
        .join(t["orders"], left_on="l_orderkey", right_on="o_orderkey")
        .join(t["nation"], left_on="s_nationkey", right_on="n_nationkey")
        .with_columns(
            m.col("n_name").alias("nation"),
            m.col("o_orderdate").dt.year().alias("o_year"),
            amount.alias("amount"),
        )
        .group_by("nation", "o_year")
        .agg(m.col("amount").sum().alias("sum_profit"))
        .sort("nation", "o_year", descending=[False, True])
    )


Q9 = """
select nation, o_year, sum(amount) as sum_profit
from (select n_name as nation, extract(year from o_orderdate) as o_year,
             l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity as amount
      from part, supplier, lineitem, partsupp, orders, nation
      where s_suppkey = l_suppkey and ps_suppkey = l_suppkey and ps_partkey = l_partkey
        and p_partkey = l_partkey and o_orderkey = l_orderkey and s_nationkey = n_nationkey
        and p_name like '%green%') as profit
group by nation, o_year
order by nation, o_year desc
"""


def q12(t: Tables, m: Any = sl) -> Any:
    urgent = m.col("o_orderpriority").is_in(["1-URGENT", "2-HIGH"])
    return (
        t["orders"]
        .join(
            t["lineitem"].filter(
                m.col("l_shipmode").is_in(["MAIL", "SHIP"])
                & (m.col("l_commitdate") < m.col("l_receiptdate"))
                & (m.col("l_shipdate") < m.col("l_commitdate"))
                & (m.col("l_receiptdate") >= dt.date(1994, 1, 1))
                & (m.col("l_receiptdate") < dt.date(1995, 1, 1))
            ),
            left_on="o_orderkey",
            right_on="l_orderkey",
        )
        .group_by("l_shipmode")
        .agg(
            m.when(urgent).then(1).otherwise(0).sum().alias("high_line_count"),
            m.when(urgent).then(0).otherwise(1).sum().alias("low_line_count"),
        )
        .sort("l_shipmode")
    )


Q12 = """
select l_shipmode,
       sum(case when o_orderpriority = '1-URGENT' or o_orderpriority = '2-HIGH' then 1 else 0 end)
         as high_line_count,
       sum(case when o_orderpriority <> '1-URGENT' and o_orderpriority <> '2-HIGH'
                then 1 else 0 end)
         as low_line_count
from orders, lineitem
where o_orderkey = l_orderkey and l_shipmode in ('MAIL', 'SHIP') and l_commitdate < l_receiptdate
  and l_shipdate < l_commitdate and l_receiptdate >= date '1994-01-01'
  and l_receiptdate < date '1995-01-01'
group by l_shipmode
order by l_shipmode
"""


def q13(t: Tables, m: Any = sl) -> Any:
    orders = t["orders"].filter(~m.col("o_comment").str.contains("special.*requests"))
    return (
        t["customer"]
        .join(orders, left_on="c_custkey", right_on="o_custkey", how="left")
        .group_by("c_custkey")
        .agg(m.col("o_orderkey").count().alias("c_count"))
        .group_by("c_count")
        .agg(m.len().alias("custdist"))
        .sort("custdist", "c_count", descending=[True, True])
    )


Q13 = """
select c_count, count(*) as custdist
from (select c_custkey, count(o_orderkey) as c_count
      from customer left outer join orders
        on c_custkey = o_custkey and o_comment not like '%special%requests%'
      group by c_custkey) as c_orders
group by c_count
order by custdist desc, c_count desc
"""


def q14(t: Tables, m: Any = sl) -> Any:
    volume = m.col("l_extendedprice") * (1 - m.col("l_discount"))
    promo = m.when(m.col("p_type").str.starts_with("PROMO")).then(volume).otherwise(0)
    return (
        t["lineitem"]
        .filter(
            (m.col("l_shipdate") >= dt.date(1995, 9, 1))
            & (m.col("l_shipdate") < dt.date(1995, 10, 1))
        )
        .join(t["part"], left_on="l_partkey", right_on="p_partkey")
        .select((100.00 * promo.sum() / volume.sum()).alias("promo_revenue"))
    )


Q14 = """
select 100.00 * sum(case when p_type like 'PROMO%'
                         then l_extendedprice * (1 - l_discount) else 0 end)
       / sum(l_extendedprice * (1 - l_discount)) as promo_revenue
from lineitem, part
where l_partkey = p_partkey and l_shipdate >= date '1995-09-01' and l_shipdate < date '1995-10-01'
"""


def q16(t: Tables, m: Any = sl) -> Any:
    complaints = t["supplier"].filter(m.col("s_comment").str.contains("Customer.*Complaints"))
    parts = t["part"].filter(
        (m.col("p_brand") != "Brand#45")
        & ~m.col("p_type").str.starts_with("MEDIUM POLISHED")
        & m.col("p_size").is_in([49, 14, 23, 45, 19, 3, 36, 9])
    )
    return (
        t["partsupp"]
        .join(parts, left_on="ps_partkey", right_on="p_partkey")
        .join(complaints, left_on="ps_suppkey", right_on="s_suppkey", how="anti")
        .group_by("p_brand", "p_type", "p_size")
        .agg(m.col("ps_suppkey").n_unique().alias("supplier_cnt"))
        .sort("supplier_cnt", "p_brand", "p_type", "p_size", descending=[True, False, False, False])
    )


Q16 = """
select p_brand, p_type, p_size, count(distinct ps_suppkey) as supplier_cnt
from partsupp, part
where p_partkey = ps_partkey and p_brand <> 'Brand#45' and p_type not like 'MEDIUM POLISHED%'
  and p_size in (49, 14, 23, 45, 19, 3, 36, 9)
  and ps_suppkey not in (
    select s_suppkey from supplier where s_comment like '%Customer%Complaints%')
group by p_brand, p_type, p_size
order by supplier_cnt desc, p_brand, p_type, p_size
"""


def q19(t: Tables, m: Any = sl) -> Any:
    def kind(brand: str, containers: list[str], low: int, size: int) -> Any:
        return (
            (m.col("p_brand") == brand)
            & m.col("p_container").is_in(containers)
            & (m.col("l_quantity") >= low)
            & (m.col("l_quantity") <= low + 10)
            & (m.col("p_size") >= 1)
            & (m.col("p_size") <= size)
        )

    return (
        t["lineitem"]
        .filter(
            m.col("l_shipmode").is_in(["AIR", "AIR REG"])
            & (m.col("l_shipinstruct") == "DELIVER IN PERSON")
        )
        .join(t["part"], left_on="l_partkey", right_on="p_partkey")
        .filter(
            kind("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5)
            | kind("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10)
            | kind("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)
        )
        .select((m.col("l_extendedprice") * (1 - m.col("l_discount"))).sum().alias("revenue"))
    )


Q19 = """
select sum(l_extendedprice * (1 - l_discount)) as revenue
from lineitem, part
where (p_partkey = l_partkey and p_brand = 'Brand#12'
       and p_container in ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG')
       and l_quantity >= 1 and l_quantity <= 1 + 10 and p_size between 1 and 5
       and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')
   or (p_partkey = l_partkey and p_brand = 'Brand#23'
       and p_container in ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK')
       and l_quantity >= 10 and l_quantity <= 10 + 10 and p_size between 1 and 10
       and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')
   or (p_partkey = l_partkey and p_brand = 'Brand#34'
       and p_container in ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG')
       and l_quantity >= 20 and l_quantity <= 20 + 10 and p_size between 1 and 15
       and l_shipmode in ('AIR', 'AIR REG') and l_shipinstruct = 'DELIVER IN PERSON')
"""


def q20(t: Tables, m: Any = sl) -> Any:
    shipped = (
        t["lineitem"]
        .filter(
            (m.col("l_shipdate") >= dt.date(1994, 1, 1))
            & (m.col("l_shipdate") < dt.date(1995, 1, 1))
        )
        .group_by("l_partkey", "l_suppkey")
        .agg((m.col("l_quantity").sum() * 0.5).alias("half"))
    )
    forest = t["part"].filter(m.col("p_name").str.starts_with("forest"))
    stock = (
        t["partsupp"]
        .join(forest, left_on="ps_partkey", right_on="p_partkey", how="semi")
        .join(shipped, left_on=["ps_partkey", "ps_suppkey"], right_on=["l_partkey", "l_suppkey"])
        .filter(m.col("ps_availqty") > m.col("half"))
    )
    return (
        t["supplier"]
        .join(stock, left_on="s_suppkey", right_on="ps_suppkey", how="semi")
        .join(
            t["nation"].filter(m.col("n_name") == "CANADA"),
            left_on="s_nationkey",
            right_on="n_nationkey",
        )
        .select("s_name", "s_address")
        .sort("s_name")
    )


Q20 = """
select s_name, s_address
from supplier, nation
where s_suppkey in (
    select ps_suppkey from partsupp
    where ps_partkey in (select p_partkey from part where p_name like 'forest%')
      and ps_availqty > (
        select 0.5 * sum(l_quantity) from lineitem
        where l_partkey = ps_partkey and l_suppkey = ps_suppkey
          and l_shipdate >= date '1994-01-01' and l_shipdate < date '1995-01-01'))
  and s_nationkey = n_nationkey and n_name = 'CANADA'
order by s_name
"""


def q22(t: Tables, m: Any = sl) -> Any:
    codes = ["13", "31", "23", "29", "30", "18", "17"]
    customers = (
        t["customer"]
        .with_columns(m.col("c_phone").str.slice(0, 2).alias("cntrycode"))
        .filter(m.col("cntrycode").is_in(codes))
    )
    average = customers.filter(m.col("c_acctbal") > 0.00).select(
        m.col("c_acctbal").mean().alias("avg_bal")
    )
    return (
        customers.join(average, how="cross")
        .filter(m.col("c_acctbal") > m.col("avg_bal"))
        .join(t["orders"], left_on="c_custkey", right_on="o_custkey", how="anti")
        .group_by("cntrycode")
        .agg(m.len().alias("numcust"), m.col("c_acctbal").sum().alias("totacctbal"))
        .sort("cntrycode")
    )


Q22 = """
select cntrycode, count(*) as numcust, sum(c_acctbal) as totacctbal
from (select substring(c_phone from 1 for 2) as cntrycode, c_acctbal
      from customer
      where substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17')
        and c_acctbal > (
          select avg(c_acctbal) from customer
          where c_acctbal > 0.00
            and substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17'))
        and not exists (select * from orders where o_custkey = c_custkey)) as custsale
group by cntrycode
order by cntrycode
"""

QUERIES: dict[int, tuple[Callable[..., Any], str]] = {
    1: (q1, Q1),
    2: (q2, Q2),
    3: (q3, Q3),
    4: (q4, Q4),
    5: (q5, Q5),
    6: (q6, Q6),
    7: (q7, Q7),
    8: (q8, Q8),
    9: (q9, Q9),
    10: (q10, Q10),
    11: (q11, Q11),
    12: (q12, Q12),
    13: (q13, Q13),
    14: (q14, Q14),
    15: (q15, Q15),
    16: (q16, Q16),
    17: (q17, Q17),
    18: (q18, Q18),
    19: (q19, Q19),
    20: (q20, Q20),
    21: (q21, Q21),
    22: (q22, Q22),
}

# Queries a peer's API cannot write as above, written for it another way.
POLARS: dict[int, Callable[..., Any]] = {21: q21_grouped}
