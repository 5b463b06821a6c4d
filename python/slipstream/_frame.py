"""The lazy :class:`DataFrame` and its :class:`GroupBy`."""

from __future__ import annotations

import html
import random
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from ._dtypes import polars_casts, restore_schema
from ._errors import PlanError, SlipstreamError
from ._expr import (
    Expr,
    _rolling_over,
    all_,
    col,
    contains_aggregate,
    expr_to_text,
    is_aggregate,
    lit,
    output_name,
    struct,
    to_exprs,
    when,
)
from ._expr import len as len_expr
from ._proto import plan_pb2 as pb

if TYPE_CHECKING:
    import pandas
    import polars

    from ._client import Client
    from ._query import Progress, QueryHandle

__all__ = ["DataFrame", "GroupBy", "PlanText", "concat"]


class PlanText(str):
    """The text of a plan: a ``str`` that displays without quotes or escapes."""

    def __repr__(self) -> str:
        return str(self)


class DataFrame:
    """A lazy query: a plan that runs on the server only when collected.

    Build one from a :class:`~slipstream.Client` (``cl.table``,
    ``cl.from_pandas``, ``cl.read_parquet``, ...) and refine it with
    :meth:`filter`, :meth:`select`, :meth:`with_columns`, :meth:`group_by`,
    :meth:`sort` and :meth:`head`. Each of them returns a new ``DataFrame``;
    none contacts the server. Results come back with :meth:`to_arrow`,
    :meth:`to_pandas`, :meth:`to_polars`, :meth:`to_batches` or anything that
    reads the Arrow C stream interface (``pa.table(df)``, ``pl.DataFrame(df)``).

    Examples
    --------
    >>> import slipstream as sl
    >>> from slipstream import col
    >>> cl = sl.connect()  # doctest: +SKIP
    >>> trips = cl.table("trips")  # doctest: +SKIP
    >>> (trips.filter(col("fare") > 10)
    ...       .group_by("vendor")
    ...       .agg(col("fare").sum().alias("total"), sl.len().alias("n"))
    ...       .sort("total", descending=True)
    ...       .limit(5)
    ...       .to_pandas())  # doctest: +SKIP
    """

    __slots__ = ("_client", "_node")

    def __init__(self, client: Client, node: pb.Node) -> None:
        self._client = client
        self._node = node

    def _derive(self, **node: Any) -> DataFrame:
        return DataFrame(self._client, pb.Node(**node))

    def _query(self) -> pb.Query:
        return pb.Query(root=self._node)

    # ---------------------------------------------------------------- plan building

    def filter(self, *predicates: Any, **constraints: Any) -> DataFrame:
        """Keep the rows where all predicates are true (null counts as false).

        Parameters
        ----------
        *predicates : Expr or str
            Boolean expressions, or names of boolean columns; several are
            combined with ``&``.
        **constraints
            ``name=value`` keeps rows where column ``name`` equals ``value``.

        Examples
        --------
        >>> df.filter(col("fare") > 10, vendor="acme")  # doctest: +SKIP
        """
        exprs = to_exprs(predicates, {}, strings_are_columns=True)
        exprs += [col(name) == value for name, value in constraints.items()]
        if not exprs:
            raise TypeError("filter() needs at least one predicate")
        predicate = exprs[0]
        for e in exprs[1:]:
            predicate = predicate & e
        return self._derive(filter=pb.Filter(input=self._node, predicate=predicate._pb))

    def select(self, *exprs: Any, **named_exprs: Any) -> DataFrame:
        """Keep exactly the given columns or expressions, in order.

        Parameters
        ----------
        *exprs : str, Expr or list of them
            Column names or expressions. If every expression is an aggregate
            (``col("x").sum()``, ``sl.len()``) the result is one row, as in polars.
        **named_exprs
            ``name=expr`` adds ``expr.alias(name)``.
        """
        items = to_exprs(exprs, named_exprs, strings_are_columns=True)
        if not items:
            raise TypeError("select() needs at least one column or expression")
        exploded = [e for e in items if _explode_call(e._pb) is not None]
        if exploded:
            if len(exploded) < len(items):
                raise ValueError(
                    "explode() changes the number of rows: in a select, explode every "
                    "expression, or use DataFrame.explode"
                )
            flags = {
                tuple(a.literal.bool_value for a in c.args[1:])
                for c in map(_explode_call, [e._pb for e in items])
                if c
            }
            if len(flags) > 1:
                raise ValueError(
                    "the explode()s of one select must share empty_as_null and keep_nulls"
                )
            empty_as_null, keep_nulls = flags.pop()
            inner = [_unexplode(e) for e in items]
            names = [output_name(e._pb) for e in inner]
            return self.select(inner).explode(
                names, empty_as_null=empty_as_null, keep_nulls=keep_nulls
            )
        counts = [e for e in items if _value_counts_call(e._pb) is not None]
        if counts:
            if len(items) > 1:
                raise ValueError(
                    "value_counts() and mode() change the number of rows: select one alone "
                    "(df.select(col(x).value_counts()))"
                )
            return self._value_counts(counts[0])
        if all(is_aggregate(e._pb) for e in items):
            return self._derive(
                aggregate=pb.Aggregate(input=self._node, aggs=[e._pb for e in items])
            )
        return self._derive(select=pb.Select(input=self._node, exprs=[e._pb for e in items]))

    def with_columns(self, *exprs: Any, **named_exprs: Any) -> DataFrame:
        """Add columns, or replace those with the same name, keeping all others.

        Parameters
        ----------
        *exprs : Expr or list of Expr
            Expressions; each output column is named after the expression's
            alias, or its first column.
        **named_exprs
            ``name=expr`` adds ``expr.alias(name)``; a non-expression value is
            a literal.
        """
        items = to_exprs(exprs, named_exprs, strings_are_columns=True)
        if not items:
            raise TypeError("with_columns() needs at least one expression")
        return self._derive(
            with_columns=pb.WithColumns(input=self._node, exprs=[e._pb for e in items])
        )

    def group_by(self, *by: Any, maintain_order: bool = False, **named_by: Any) -> GroupBy:
        """Group rows by key columns or expressions; follow with :meth:`GroupBy.agg`.

        Parameters
        ----------
        *by : str, Expr or list of them
            The keys; a selector of several columns (``sl.col("a", "b")``)
            stands for each of them.
        maintain_order : bool
            Give the groups in the order of their first row, as polars;
            otherwise their order is unspecified (sort the result).
        **named_by
            ``name=expr`` uses ``expr.alias(name)`` as a key.
        """
        keys = to_exprs(by, named_by, strings_are_columns=True)
        if not keys:
            raise TypeError("group_by() needs at least one key")
        return GroupBy(self, keys, maintain_order=maintain_order)

    def sort(
        self,
        by: Any,
        *more_by: Any,
        descending: bool | Sequence[bool] = False,
        nulls_last: bool | Sequence[bool] = False,
        maintain_order: bool = False,
        multithreaded: bool = True,
    ) -> DataFrame:
        """Sort rows by one or more keys (stable: ties keep their order).

        ``maintain_order`` and ``multithreaded`` are accepted for polars
        code; the sort is always stable.

        Parameters
        ----------
        by : str, Expr or list of them
            The first key(s).
        *more_by : str or Expr
            More keys.
        descending : bool or list of bool, default False
            Direction, for all keys or for each one.
        nulls_last : bool or list of bool, default False
            Put nulls last instead of first, for all keys or for each one.
        """
        keys = to_exprs([by, *more_by], {}, strings_are_columns=True)
        desc = _per_key(descending, len(keys), "descending")
        nlast = _per_key(nulls_last, len(keys), "nulls_last")
        sort_keys = [
            pb.SortKey(expr=k._pb, descending=d, nulls_last=n)
            for k, d, n in zip(keys, desc, nlast, strict=True)
        ]
        return self._derive(sort=pb.Sort(input=self._node, keys=sort_keys))

    def slice(self, offset: int, length: int | None = None) -> DataFrame:
        """Skip ``offset`` rows, then keep at most ``length`` (all when None)."""
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("slice() takes a non-negative offset and length")
        count = -1 if length is None else length
        return self._derive(limit=pb.Limit(input=self._node, offset=offset, count=count))

    def sql(self, query: str, *, table_name: str = "self") -> DataFrame:
        """Run a SQL query over this frame, as polars' ``LazyFrame.sql``.

        The frame is the table ``self`` (or ``table_name``) in the query;
        stored tables may be read by name too::

            trips.filter(col("fare") > 10).sql("SELECT vendor, count(*) FROM self GROUP BY 1")
        """
        return self._derive(sql=pb.Sql(query=query, tables={table_name: self._node}))

    def head(self, n: int = 5) -> DataFrame:
        """Keep the first ``n`` rows."""
        return self.slice(0, n)

    def limit(self, n: int = 5) -> DataFrame:
        """Keep the first ``n`` rows (alias of :meth:`head`)."""
        return self.slice(0, n)

    def unique(
        self,
        subset: Any = None,
        *,
        keep: str = "any",
        maintain_order: bool = False,
    ) -> DataFrame:
        """Drop duplicate rows, as polars' ``unique``.

        Parameters
        ----------
        subset : str, Expr or list of them, optional
            The columns that make rows duplicates; all columns when None.
        keep : {"any", "first", "last", "none"}
            Which row of each duplicate set stays: any one of them, the
            first or last in input order, or none (rows that have a
            duplicate all go). Nulls are equal to each other here.
        maintain_order : bool
            Keep the input's row order (else the order is not defined).
        """
        if keep not in ("any", "first", "last", "none"):
            raise ValueError(f"unique(keep={keep!r}): expected 'any', 'first', 'last' or 'none'")
        names = self.columns
        keys: list[Any]
        if subset is None:
            keys = list(names)
        else:
            keys = [subset] if isinstance(subset, (str, Expr)) else list(subset)
        missing = [k for k in keys if isinstance(k, str) and k not in names]
        if missing:
            raise ValueError(f"unique(subset=): no column {missing[0]!r}; the columns are {names}")
        if keep == "none" or maintain_order:
            # Windows by the keys keep the rows in their input order.
            rows = len_expr().over(keys)
            number = _row_number().over(keys)
            pick = {"none": rows == 1, "last": number == rows}.get(keep, number == 1)
            return self.filter(pick)
        rest = [n for n in names if n not in keys]
        fn = "last" if keep == "last" else "first"
        node = pb.Aggregate(
            input=self._node,
            keys=[k._pb for k in to_exprs(keys, {}, strings_are_columns=True)],
            aggs=[getattr(col(n), fn)().alias(n)._pb for n in rest],
        )
        return self._derive(aggregate=node).select(*names)

    # ---------------------------------------------------------------- polars' LazyFrame API

    def collect(
        self, *, progress: Progress = None, timeout: float | None = None
    ) -> polars.DataFrame:
        """Run the query and return a polars DataFrame, as ``LazyFrame.collect``.

        ``progress`` and ``timeout`` as in :meth:`to_arrow`.
        """
        return self.to_polars(progress=progress, timeout=timeout)

    def lazy(self) -> DataFrame:
        """Return the frame itself (it is lazy already), so that polars code runs unchanged."""
        return self

    def show(self, limit: int = 5) -> None:
        """Print the first ``limit`` rows (runs the query on them only)."""
        print(self.head(limit).collect())

    def collect_schema(self) -> Any:
        """The result's schema as a ``polars.Schema`` (asks the server, runs nothing)."""
        import polars as pl

        schema = restore_schema(self.schema)
        result = pl.from_arrow(schema.empty_table())
        assert isinstance(result, pl.DataFrame)
        return _with_polars_types(result, schema).schema

    def pipe(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """``function(self, *args, **kwargs)``, for chains of your own steps."""
        return function(self, *args, **kwargs)

    def drop(self, *columns: Any, strict: bool = True) -> DataFrame:
        """Remove columns, as polars' ``drop``.

        Parameters
        ----------
        *columns : str, selector or lists of them
            The columns to remove.
        strict : bool
            Fail when a named column does not exist.
        """
        items: list[Any] = []
        for c in columns:
            items.extend(c if isinstance(c, (list, tuple)) else [c])
        if strict:
            names = self.columns
            for c in items:
                if isinstance(c, str) and c not in names:
                    raise ValueError(f"drop(): no column {c!r}; the columns are {names}")
        if not items:
            return self
        return self.select(all_().exclude(*items))

    def rename(self, mapping: Any, *, strict: bool = True) -> DataFrame:
        """Rename columns, as polars' ``rename``.

        Parameters
        ----------
        mapping : dict or callable
            Old name to new name, or a function of the old name.
        strict : bool
            Fail when a column of the mapping does not exist.
        """
        names = self.columns
        if callable(mapping):
            new = {n: mapping(n) for n in names}
        else:
            new = dict(mapping)
            missing = [n for n in new if n not in names]
            if strict and missing:
                raise ValueError(f"rename(): no column {missing[0]!r}; the columns are {names}")
        return self.select(*[col(n).alias(new.get(n, n)) for n in names])

    def cast(self, dtypes: Any, *, strict: bool = True) -> DataFrame:
        """Cast columns to other types, as polars' ``cast``.

        Parameters
        ----------
        dtypes : dict or dtype
            ``{column or dtype or selector: dtype}``, or one type for every column.
        strict : bool
            Only True: a value that does not fit is an error.
        """
        if not strict:
            raise ValueError("cast(strict=False) is not supported: a value that does not fit fails")
        if not isinstance(dtypes, dict):
            return self.with_columns(all_().cast(dtypes).name.keep())
        exprs = [
            (k if isinstance(k, Expr) else col(k)).cast(v).name.keep() for k, v in dtypes.items()
        ]
        return self.with_columns(*exprs)

    def with_row_index(self, name: str = "index", offset: int = 0) -> DataFrame:
        """Add a first column numbering the rows from ``offset``, as uint32 (polars)."""
        index = (_row_number().over() - 1 + offset).cast("uint32").alias(name)
        return self.select(index, all_())

    def sample(
        self,
        n: int | None = None,
        *,
        fraction: float | None = None,
        with_replacement: bool = False,
        shuffle: bool | None = None,
        seed: int | None = None,
    ) -> DataFrame:
        """Keep ``n`` rows (or a ``fraction`` of them) picked at random, as polars' ``sample``.

        The rows are picked by a hash of their position seeded by ``seed``,
        so one seed picks the same rows again (not the rows polars would
        pick). They keep their order unless ``shuffle=True``.
        ``with_replacement=True`` is not supported.
        """
        if with_replacement:
            raise ValueError("sample(with_replacement=True) is not supported")
        if n is not None and fraction is not None:
            raise ValueError("sample() takes n or fraction, not both")
        if seed is None:
            seed = random.getrandbits(63)
        names = self.columns
        index, key = _hidden("row", names), _hidden("key", names)
        keyed = self.with_row_index(index).with_columns(col(index).hash(seed).alias(key))
        if fraction is None:
            n = 1 if n is None else n
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(f"sample(n={n!r}): expected a non-negative int")
            picked = keyed.sort(key).head(n)
        else:
            if not 0 <= fraction <= 1:
                raise ValueError(
                    f"sample(fraction={fraction!r}): expected 0 to 1 without replacement"
                )
            rank = _row_number().over(order_by=col(key))
            picked = keyed.filter(rank <= (len_expr() * fraction).floor())
        return picked.sort(key if shuffle else index).drop(index, key)

    def _value_counts(self, e: Expr) -> DataFrame:
        outer = e._pb
        call = _value_counts_call(outer)
        assert call is not None
        x = Expr(call.args[0])
        if call.function == "mode":  # the values of the largest count, sorted
            name = output_name(outer)
            n = _hidden("n", self.columns)
            counted = self.group_by(x.alias(name)).agg(len_expr().alias(n))
            top = counted.filter(col(n) == col(n).max())
            return top.select(name).sort(name, nulls_last=True)
        sort, field, normalize = (a.literal for a in call.args[1:])
        name, value = output_name(outer), output_name(call.args[0])
        out = self.group_by(x.alias(value)).agg(len_expr().cast("uint32").alias(field.string_value))
        if normalize.bool_value:
            c = col(field.string_value)
            out = out.with_columns((c / c.sum()).alias(field.string_value))
        if sort.bool_value:
            out = out.sort(field.string_value, descending=True)
        return out.select(struct(value, field.string_value).alias(name))

    def explode(
        self,
        columns: str | Sequence[str],
        *more_columns: str,
        empty_as_null: bool = False,
        keep_nulls: bool = True,
    ) -> DataFrame:
        """Give each value of the list columns its own row, as polars' ``explode``.

        The other columns are repeated. Several columns are exploded
        together: the lists of a row must then have the same length.

        Parameters
        ----------
        columns : str or list of str
            The list columns.
        *more_columns : str
            More of them.
        empty_as_null : bool, default False
            An empty list gives one row with a null (else no row).
        keep_nulls : bool, default True
            A null list gives one row with a null (else no row).
        """
        names = [*_names(columns), *more_columns]
        if not names:
            raise TypeError("explode() needs at least one column")
        node = pb.Explode(
            input=self._node,
            columns=names,
            empty_as_null=bool(empty_as_null),
            drop_nulls=not keep_nulls,
        )
        return self._derive(explode=node)

    def unnest(
        self, columns: str | Sequence[str], *more_columns: str, separator: str | None = None
    ) -> DataFrame:
        """Replace struct columns by their fields, in place, as polars' ``unnest``.

        Parameters
        ----------
        columns : str or list of str
            The struct columns.
        *more_columns : str
            More of them.
        separator : str, optional
            Name each field ``column + separator + field`` instead of ``field``.
        """
        names = set(_names(columns)) | set(more_columns)
        schema = self.schema
        missing = names - set(schema.names)
        if missing:
            raise ValueError(f"unnest: no column {sorted(missing)}; the columns are {schema.names}")
        out: list[Expr] = []
        for f in schema:
            if f.name not in names:
                out.append(col(f.name))
                continue
            if not pa.types.is_struct(f.type):
                raise TypeError(f"unnest: column {f.name!r} is {f.type}, not a struct")
            for i in range(f.type.num_fields):
                field = f.type.field(i).name
                e = col(f.name).struct.field(field)
                out.append(e.alias(f"{f.name}{separator}{field}") if separator is not None else e)
        return self.select(out)

    def drop_nulls(self, subset: Any = None) -> DataFrame:
        """Drop the rows with a null in any of ``subset`` (all columns when None)."""
        cols = all_() if subset is None else col(subset)
        return self.filter(cols.is_not_null())

    def fill_null(
        self,
        value: Any = None,
        strategy: str | None = None,
        limit: int | None = None,
        *,
        matches_supertype: bool = True,
    ) -> DataFrame:
        """Replace nulls, as polars' ``fill_null``.

        Parameters
        ----------
        value : literal or Expr
            The replacement, in the columns of a matching kind: a number in
            the numeric columns, text in the text columns, a boolean in the
            boolean ones (an expression: in every column).
        strategy : {"forward", "backward", "min", "max", "mean", "zero", "one"}
            Instead of a value: the previous or next non-null value in input
            order, the column's minimum, maximum or mean, 0 or 1.
        limit : None
            Not supported (polars' limit on consecutive fills).
        matches_supertype : bool
            Accepted for polars code: a column takes the common type of
            itself and the value.
        """
        import datetime as _dt

        if limit is not None:
            raise ValueError("fill_null(limit=) is not supported")
        if (value is None) == (strategy is None):
            raise ValueError("fill_null() takes a value or a strategy, one of them")
        if strategy in ("forward", "backward"):
            return self.with_columns(all_().fill_null(strategy=strategy).name.keep())
        if strategy is not None:
            if strategy not in ("min", "max", "mean", "zero", "one"):
                raise ValueError(
                    f"fill_null(strategy={strategy!r}): expected forward, backward, min, "
                    "max, mean, zero or one"
                )
            from . import selectors as cs

            if strategy in ("zero", "one"):
                value = 0 if strategy == "zero" else 1
            else:
                sel = cs.numeric()
                fill = getattr(sel, strategy)()
                return self.with_columns(sel.fill_null(fill).name.keep())
        from . import selectors as cs

        if isinstance(value, Expr):
            sel = all_()
        elif isinstance(value, bool):
            sel = cs.boolean()
        elif isinstance(value, (int, float)):
            sel = cs.numeric()
        elif isinstance(value, str):
            sel = cs.string()
        elif isinstance(value, _dt.datetime):
            sel = cs.datetime()
        elif isinstance(value, _dt.date):
            sel = cs.date()
        else:
            sel = all_()
        return self.with_columns(sel.fill_null(value).name.keep())

    @property
    def width(self) -> int:
        """The number of columns (asks the server, runs nothing)."""
        return len(self.schema)

    @property
    def dtypes(self) -> list[Any]:
        """The columns' polars data types (asks the server, runs nothing)."""
        return list(self.collect_schema().dtypes())

    def clone(self) -> DataFrame:
        """Return the frame itself: frames are immutable, so it is its own clone."""
        return self

    def drop_nans(self, subset: Any = None) -> DataFrame:
        """Drop the rows with a NaN in any float column of ``subset`` (all when None)."""
        from . import selectors as cs

        cols = cs.float() if subset is None else col(subset)
        return self.filter(cols.is_not_nan().fill_null(True))

    def unpivot(
        self,
        on: Any = None,
        *,
        index: Any = None,
        variable_name: str | None = None,
        value_name: str | None = None,
    ) -> DataFrame:
        """Turn columns into rows, as polars' ``unpivot``.

        Parameters
        ----------
        on : str or list of str, optional
            The columns whose values become rows; all but ``index`` when None.
        index : str or list of str, optional
            The columns kept on every row.
        variable_name, value_name : str, optional
            The names of the column holding the former column name
            (``variable``) and of the one holding its value (``value``).
        """
        names = self.columns
        idx = [] if index is None else ([index] if isinstance(index, str) else list(index))
        ons = (
            [n for n in names if n not in idx]
            if on is None
            else ([on] if isinstance(on, str) else list(on))
        )
        var, val = variable_name or "variable", value_name or "value"
        if not ons:
            raise ValueError("unpivot(): no column to unpivot")
        parts = [self.select(*idx, lit(c).alias(var), col(c).alias(val)) for c in ons]
        return concat(parts)

    def pivot(
        self,
        on: Any,
        on_columns: Any,
        *,
        index: Any = None,
        values: Any = None,
        aggregate_function: Any = None,
        maintain_order: bool = False,
        separator: str = "_",
    ) -> DataFrame:
        """Turn the values of ``on`` into columns, as polars' ``LazyFrame.pivot``.

        Parameters
        ----------
        on : str
            The column whose values (those of ``on_columns``) name new columns.
        on_columns : list
            The values of ``on`` to make columns of, in order (polars asks
            for them too, so the schema is known without running anything).
        index : str or list of str, optional
            The columns that make a row; all but ``on`` and ``values`` when None.
        values : str or list of str, optional
            The columns whose values fill the new columns; all but ``on``
            and ``index`` when None.
        aggregate_function : str, optional
            How several values of one cell combine: None (the first),
            "first", "last", "sum", "min", "max", "mean", "median" or "len".
            A cell with no value is null.
        maintain_order : bool
            Rows in the order of their first appearance.
        separator : str
            Between the values column's name and the value, when there are
            several values columns.
        """
        if not isinstance(on, str):
            raise ValueError("pivot(on=) takes one column name here")
        names = self.columns
        vals = None if values is None else ([values] if isinstance(values, str) else list(values))
        idx = None if index is None else ([index] if isinstance(index, str) else list(index))
        if idx is None:
            idx = [n for n in names if n != on and (vals is None or n not in vals)]
        if vals is None:
            vals = [n for n in names if n != on and n not in idx]
        keys = list(on_columns.to_list() if hasattr(on_columns, "to_list") else on_columns)
        fn = aggregate_function or "first"
        aggs = []
        for c in vals:
            for k in keys:
                match = col(on).is_null() if k is None else col(on) == k
                picked = col(c).filter(match)
                if isinstance(fn, Expr):
                    raise ValueError("pivot(aggregate_function=) takes the name of an aggregation")
                if fn == "len":
                    agg = col(on).filter(match).count().cast("uint32")
                else:
                    agg = getattr(picked, fn)()
                name = str(k) if len(vals) == 1 else f"{c}{separator}{k}"
                has = col(on).filter(match).count() > 0
                aggs.append(when(has).then(agg).alias(name))
        return self.group_by(*idx, maintain_order=maintain_order).agg(*aggs)

    def group_by_dynamic(
        self,
        index_column: str,
        *,
        every: str,
        period: str | None = None,
        offset: str | None = None,
        include_boundaries: bool = False,
        closed: str = "left",
        label: str = "left",
        group_by: Any = None,
        start_by: str = "window",
    ) -> GroupBy:
        """Group rows into time windows of ``every``, as polars' ``group_by_dynamic``.

        Each row falls in the window ``[start, start + every)`` that holds its
        ``index_column`` value; windows start at multiples of ``every`` from
        the epoch (weeks on Mondays, months, quarters and years on their
        first day), as polars with ``start_by="window"``. The result has the
        ``group_by`` keys, the window start (named ``index_column``) and the
        aggregates, sorted by keys then window. Follow with ``.agg(...)``.

        Only what a tumbling window needs is supported: ``period`` equal to
        ``every`` (or None), no ``offset``, ``closed="left"``, ``label="left"``,
        no boundaries.
        """
        if period not in (None, every) or offset not in (None, "0", "0ns"):
            raise ValueError(
                "group_by_dynamic(): period other than every, and offset, are not supported"
            )
        if closed != "left" or label != "left" or include_boundaries or start_by != "window":
            raise ValueError(
                "group_by_dynamic(): only closed='left', label='left', start_by='window' "
                "and no boundaries are supported"
            )
        field = self.schema.field(index_column)
        start = _window_start(col(index_column), every, field.type).alias(index_column)
        keys = [] if group_by is None else to_exprs([group_by], {}, strings_are_columns=True)
        return GroupBy(self, [*keys, start], sort_result=True)

    def rolling(
        self,
        index_column: Any,
        *,
        period: Any,
        offset: Any = None,
        closed: str = "right",
        group_by: Any = None,
    ) -> Rolling:
        """Aggregate, for each row, the rows whose ``index_column`` lies within ``period``.

        As polars' ``LazyFrame.rolling``: each row's window holds the rows
        (of its ``group_by`` group) with ``index_column`` in ``(t - period, t]``
        (``closed`` picks the ends). Follow with ``.agg(...)``; the result has
        the ``group_by`` keys, ``index_column`` and the aggregates, one row per
        input row, sorted by the keys then the index (polars asks for the
        input sorted by the index; here it need not be).

        Parameters
        ----------
        index_column : str or Expr
            A date, timestamp or integer column.
        period : str or timedelta
            A fixed duration (``"2d"``, ``"1h30m"``), or ``"3i"`` for an integer index.
        offset : None
            Only the default (``-period``) is supported.
        closed : {"right", "left", "both", "none"}
            Which ends of the window it holds.
        group_by : str, Expr or list of them, optional
            Windows within each group.
        """
        if offset is not None:
            raise ValueError("rolling(offset=...) is not supported: windows end at each row")
        index = to_exprs([index_column], {}, strings_are_columns=True)
        if len(index) != 1:
            raise ValueError("rolling() takes one index column")
        keys = [] if group_by is None else to_exprs([group_by], {}, strings_are_columns=True)
        return Rolling(self, index[0], keys, period, closed)

    def join_asof(
        self,
        other: DataFrame,
        *,
        left_on: str | None = None,
        right_on: str | None = None,
        on: str | None = None,
        by_left: str | Sequence[str] | None = None,
        by_right: str | Sequence[str] | None = None,
        by: str | Sequence[str] | None = None,
        strategy: str = "backward",
        suffix: str = "_right",
        tolerance: Any = None,
        allow_exact_matches: bool = True,
        coalesce: bool = True,
        **_: Any,
    ) -> DataFrame:
        """Join each row to the nearest earlier (or later) row of ``other``, as polars.

        ``strategy="backward"``: the last row of ``other`` whose key is at most
        this row's key (within the same ``by`` values); ``"forward"``: the first
        whose key is at least it. The rows keep this frame's order; a row
        with no match gets nulls. Done with windows over the two frames
        stacked, so neither side needs to be sorted first.
        """
        if strategy not in ("backward", "forward"):
            raise ValueError(
                f"join_asof(strategy={strategy!r}): 'backward' or 'forward' (not 'nearest')"
            )
        if tolerance is not None or not allow_exact_matches:
            raise ValueError(
                "join_asof(): tolerance and allow_exact_matches=False are not supported"
            )
        lk, rk = (on, on) if on is not None else (left_on, right_on)
        if lk is None or rk is None:
            raise ValueError("join_asof() needs on=, or left_on= and right_on=")
        lby = _names(by if by is not None else by_left)
        rby = _names(by if by is not None else by_right)
        if len(lby) != len(rby):
            raise ValueError("join_asof(): by_left and by_right need as many columns")
        lschema, rschema = self.schema, other.schema
        taken = set(lschema.names)
        key, tag, row, ridx = (
            _hidden(w, [*lschema.names, *rschema.names]) for w in ("k", "tag", "row", "ridx")
        )
        # Both sides stacked, the left rows with their row number, the right
        # rows with theirs (ridx), ordered by key; each left row takes the
        # right row number last seen (backward) or next seen (forward)
        # within its by-group, then joins to that row. On equal keys,
        # backward puts right rows first and forward left rows first, so an
        # exact match counts either way.
        groups = [_hidden(f"by{i}", [*lschema.names, *rschema.names]) for i in range(len(lby))]
        ltag, rtag = (1, 0) if strategy == "backward" else (0, 1)
        left = self.with_row_index(row).select(
            col(lk).alias(key),
            *[col(a).alias(g) for a, g in zip(lby, groups, strict=True)],
            lit(ltag).alias(tag),
            col(row).cast("int64").alias(row),
            lit(None, "int64").alias(ridx),
        )
        right_numbered = other.with_row_index(ridx).with_columns(col(ridx).cast("int64"))
        right = right_numbered.select(
            col(rk).alias(key),
            *[col(b).alias(g) for b, g in zip(rby, groups, strict=True)],
            lit(rtag).alias(tag),
            lit(None, "int64").alias(row),
            col(ridx),
        )
        fill = "forward" if strategy == "backward" else "backward"
        nearest = col(ridx).fill_null(strategy=fill).over(groups or None, order_by=[key, tag])
        matched = (
            concat([left, right]).with_columns(nearest).filter(col(tag) == ltag).select(row, ridx)
        )
        out = (
            self.with_row_index(row)
            .with_columns(col(row).cast("int64"))
            .join(matched, on=row, how="left")
        )
        drop_right = set(rby) | ({rk} if coalesce and rk == lk else set())
        rcols = [c for c in rschema.names if c not in drop_right]
        renamed = [col(c).alias(c + suffix if c in taken else c) for c in rcols]
        out = out.join(right_numbered.select(ridx, *renamed), on=ridx, how="left")
        return out.sort(row).select(all_().exclude(row, ridx))

    def join_where(
        self, other: DataFrame, *predicates: Any, how: str = "inner", suffix: str = "_right"
    ) -> DataFrame:
        """Join on inequalities, as polars' ``join_where``: pairs of rows where all predicates hold.

        The predicates see both sides' columns, the right ones with
        ``suffix`` where a name clashes. Only ``how="inner"``.
        """
        if how != "inner":
            raise ValueError(f"join_where(how={how!r}): only 'inner' is supported")
        if not predicates:
            raise TypeError("join_where() needs at least one predicate")
        return self.join(other, how="cross", suffix=suffix).filter(*predicates)

    def fill_nan(self, value: Any) -> DataFrame:
        """Replace NaN in the float columns with ``value`` (nulls stay null)."""
        from . import selectors as cs

        return self.with_columns(cs.float().fill_nan(value).name.keep())

    def null_count(self) -> DataFrame:
        """One row: the number of nulls of each column (uint32, as polars)."""
        return self.select(all_().null_count().name.keep())

    def count(self) -> DataFrame:
        """One row: the number of non-null values of each column (uint32, as polars)."""
        return self.select(all_().count().cast("uint32").name.keep())

    def _each(self, fn: str, *args: Any) -> DataFrame:
        # polars: the numeric columns' aggregate, a null for the others.
        exprs = []
        for f in self.schema:
            if _is_numeric(f.type) or (pa.types.is_boolean(f.type) and fn in ("sum", "mean")):
                exprs.append(getattr(col(f.name), fn)(*args).alias(f.name))
            else:
                try:
                    exprs.append(lit(None, f.type).alias(f.name))
                except (TypeError, ValueError):
                    exprs.append(lit(None).alias(f.name))
        return self.select(*exprs)

    def max(self) -> DataFrame:
        """One row: the maximum of each column."""
        return self.select(all_().max().name.keep())

    def min(self) -> DataFrame:
        """One row: the minimum of each column."""
        return self.select(all_().min().name.keep())

    def sum(self) -> DataFrame:
        """One row: the sum of each numeric column (null for the others), as polars."""
        return self._each("sum")

    def mean(self) -> DataFrame:
        """One row: the mean of each numeric column (null for the others), as polars."""
        return self._each("mean")

    def median(self) -> DataFrame:
        """One row: the median of each numeric column (null for the others)."""
        return self._each("median")

    def std(self, ddof: int = 1) -> DataFrame:
        """One row: the standard deviation of each numeric column (null for the others)."""
        return self._each("std", ddof)

    def var(self, ddof: int = 1) -> DataFrame:
        """One row: the variance of each numeric column (null for the others)."""
        return self._each("var", ddof)

    def quantile(self, quantile: float, interpolation: str = "nearest") -> DataFrame:
        """One row: a quantile of each numeric column (null for the others)."""
        return self._each("quantile", quantile, interpolation)

    def first(self) -> DataFrame:
        """The first row."""
        return self.head(1)

    def last(self) -> DataFrame:
        """The last row."""
        return self.tail(1)

    def tail(self, n: int = 5) -> DataFrame:
        """Keep the last ``n`` rows, in their order."""
        if n < 0:
            raise ValueError("tail() takes a non-negative n")
        return self.filter(_row_number().over() > len_expr().over() - n)

    def gather_every(self, n: int, offset: int = 0) -> DataFrame:
        """Keep every ``n``-th row, starting at row ``offset``."""
        if n < 1 or offset < 0:
            raise ValueError("gather_every() takes n >= 1 and offset >= 0")
        k = _row_number().over() - 1 - offset
        return self.filter((k >= 0) & (k % n == 0))

    def top_k(self, k: int, *, by: Any, reverse: bool | Sequence[bool] = False) -> DataFrame:
        """The ``k`` rows with the largest ``by`` (nulls last), as polars' ``top_k``.

        The rows come largest first.
        """
        keys = to_exprs([by], {}, strings_are_columns=True)
        rev = _per_key(reverse, len(keys), "reverse")
        return self.sort(keys, descending=[not r for r in rev], nulls_last=True).head(k)

    def bottom_k(self, k: int, *, by: Any, reverse: bool | Sequence[bool] = False) -> DataFrame:
        """The ``k`` rows with the smallest ``by`` (nulls last), as polars' ``bottom_k``."""
        keys = to_exprs([by], {}, strings_are_columns=True)
        rev = _per_key(reverse, len(keys), "reverse")
        return self.sort(keys, descending=list(rev), nulls_last=True).head(k)

    def reverse(self) -> DataFrame:
        """The rows in reverse order."""
        return self.sort(_row_number().over(), descending=True)

    def shift(self, n: int = 1, *, fill_value: Any = None) -> DataFrame:
        """Shift every column by ``n`` rows (nulls, or ``fill_value``, fill the gap)."""
        shifted = all_().shift(n)
        if fill_value is not None:
            shifted = shifted.fill_null(fill_value)
        return self.select(shifted.name.keep())

    def clear(self, n: int = 0) -> DataFrame:
        """An empty frame with this one's schema (``n`` must be 0)."""
        if n != 0:
            raise ValueError("clear(n) with n > 0 is not supported")
        return self.head(0)

    def select_seq(self, *exprs: Any, **named_exprs: Any) -> DataFrame:
        """As :meth:`select`."""
        return self.select(*exprs, **named_exprs)

    def with_columns_seq(self, *exprs: Any, **named_exprs: Any) -> DataFrame:
        """As :meth:`with_columns`."""
        return self.with_columns(*exprs, **named_exprs)

    def describe(
        self,
        percentiles: Sequence[float] | float | None = (0.25, 0.5, 0.75),
        *,
        interpolation: str = "nearest",
    ) -> polars.DataFrame:
        """Summary statistics of each column, as polars' ``describe`` (runs the query).

        Numeric columns: count, null_count, mean, std, min, the percentiles
        and max, as float64; the other columns give text: counts, min and max
        (and the mean of a boolean column).
        """
        import polars as pl

        if percentiles is None:
            ps: list[float] = []
        elif isinstance(percentiles, (int, float)):
            ps = [float(percentiles)]
        else:
            ps = [float(p) for p in percentiles]
        if 0.5 not in ps:
            ps = sorted([*ps, 0.5])
        schema = self.schema
        exprs: list[Expr] = []
        for i, f in enumerate(schema):
            c = col(f.name)
            numeric = _is_numeric(f.type)
            is_bool = pa.types.is_boolean(f.type)
            exprs += [c.count().alias(f"{i}:count"), c.null_count().alias(f"{i}:null_count")]
            if numeric or is_bool:
                exprs.append(c.cast("float64").mean().alias(f"{i}:mean"))
            if numeric:
                exprs.append(c.cast("float64").std().alias(f"{i}:std"))
                exprs += [
                    c.cast("float64").quantile(p, interpolation).alias(f"{i}:{p}") for p in ps
                ]
            exprs += [c.min().alias(f"{i}:min"), c.max().alias(f"{i}:max")]
        row = self.select(*exprs).to_arrow().to_pylist()[0]
        labels = ["count", "null_count", "mean", "std", "min"] + [f"{p:.0%}" for p in ps] + ["max"]
        keys = ["count", "null_count", "mean", "std", "min"] + [str(p) for p in ps] + ["max"]
        columns: dict[str, list[Any]] = {"statistic": labels}
        for i, f in enumerate(schema):
            values = [row.get(f"{i}:{k}") for k in keys]
            if _is_numeric(f.type):
                columns[f.name] = [None if v is None else float(v) for v in values]
            else:
                columns[f.name] = [None if v is None else _describe_text(v) for v in values]
        return pl.DataFrame(columns)

    def join(
        self,
        other: DataFrame,
        on: str | Expr | Sequence[str | Expr] | None = None,
        how: str = "inner",
        *,
        left_on: str | Expr | Sequence[str | Expr] | None = None,
        right_on: str | Expr | Sequence[str | Expr] | None = None,
        suffix: str = "_right",
        filter: Expr | None = None,
        validate: str = "m:m",
        nulls_equal: bool = False,
        coalesce: bool | None = None,
        maintain_order: str | None = None,
        **_parallelism: Any,
    ) -> DataFrame:
        """Join with another DataFrame on equal keys, as polars' ``DataFrame.join``.

        Parameters
        ----------
        other : DataFrame
            The right side; it must come from the same client.
        on : str, Expr or list of them, optional
            Key columns with the same name on both sides.
        how : {"inner", "left", "right", "full", "semi", "anti", "cross"}
            Which rows to keep. ``semi`` and ``anti`` keep the left rows that
            have (do not have) a match; ``cross`` pairs every row with every
            row and takes no keys.
        left_on, right_on : str, Expr or list of them, optional
            Keys with different names (or expressions) on each side.
        suffix : str
            Appended to a right column whose name the left side already has.
        filter : Expr, optional
            A further condition a pair of rows must meet to match (a non-equi
            condition on top of the keys). It sees the columns of both sides,
            right columns under their suffixed names where names clash. For
            ``semi`` and ``anti`` it decides whether a left row has a match:
            ``orders.join(items, on="id", how="anti", filter=col("qty") > 10)``.

        Returns
        -------
        DataFrame
            A null key matches nothing. Keys of different but comparable
            types (int32 and int64, utf8 and large_utf8) are compared in a
            common type. Inner and left joins keep the left key columns only;
            right joins keep the right ones; full joins keep both.

        Examples
        --------
        >>> trips.join(zones, left_on="zone", right_on="id", how="left")  # doctest: +SKIP
        """
        if not isinstance(other, DataFrame):
            raise TypeError(f"join() needs a slipstream DataFrame, got {type(other).__name__}")
        # polars' keyword arguments: the defaults are what this join does.
        if validate != "m:m":
            raise ValueError(f"join(validate={validate!r}): only 'm:m' (no check) is supported")
        if nulls_equal:
            raise ValueError("join(nulls_equal=True) is not supported: a null key matches nothing")
        if coalesce is not None and coalesce != (how not in ("full", "outer")):
            raise ValueError(
                f"join(coalesce={coalesce}) with how={how!r} is not supported: inner, left and "
                "right joins keep one key column, full joins both"
            )
        if maintain_order not in (None, "none"):
            raise ValueError(
                f"join(maintain_order={maintain_order!r}) is not supported: the row order "
                "is not defined; sort the result"
            )
        if other._client is not self._client:
            raise ValueError("join() needs two DataFrames of the same client (the same node)")
        hows = {
            "inner": pb.Join.INNER,
            "left": pb.Join.LEFT,
            "right": pb.Join.RIGHT,
            "full": pb.Join.FULL,
            "outer": pb.Join.FULL,
            "semi": pb.Join.SEMI,
            "anti": pb.Join.ANTI,
            "cross": pb.Join.CROSS,
        }
        if how not in hows:
            raise ValueError(f"how={how!r}: expected one of {', '.join(hows)}")
        if not suffix:
            raise ValueError("suffix must not be empty: right columns would clash with left ones")
        if on is not None and (left_on is not None or right_on is not None):
            raise ValueError("join() takes on=, or left_on= and right_on=, not both")
        if on is not None:
            left_on = right_on = on
        if how == "cross":
            if left_on is not None or right_on is not None:
                raise ValueError("a cross join takes no keys")
            lkeys: list[Expr] = []
            rkeys: list[Expr] = []
        else:
            if left_on is None or right_on is None:
                raise ValueError(f"a {how} join needs keys: on=, or left_on= and right_on=")
            lkeys = to_exprs([left_on], {}, strings_are_columns=True)
            rkeys = to_exprs([right_on], {}, strings_are_columns=True)
            if len(lkeys) != len(rkeys):
                raise ValueError(
                    f"left_on has {len(lkeys)} keys and right_on has {len(rkeys)}; "
                    "give as many of each"
                )
        join = pb.Join(
            left=self._node,
            right=other._node,
            left_on=[e._pb for e in lkeys],
            right_on=[e._pb for e in rkeys],
            how=hows[how],
            suffix=suffix,
        )
        if filter is not None:
            if not isinstance(filter, Expr):
                raise TypeError(f"join(filter=) takes an expression, got {type(filter).__name__}")
            join.filter.CopyFrom(filter._pb)
        return self._derive(join=join)

    # ---------------------------------------------------------------- metadata

    @property
    def schema(self) -> pa.Schema:
        """The result's schema, asked of the server without running the query."""
        return self._client._get_schema(self._query())

    @property
    def columns(self) -> list[str]:
        """The result's column names (asks the server, does not run the query)."""
        return list(self.schema.names)

    def explain(self, analyze: bool = False) -> PlanText:
        """Return the server's logical and physical plan as text (prints nicely as is).

        Parameters
        ----------
        analyze : bool, default False
            Run the query first (dropping its rows) and show, after each
            operator that holds memory (sorts, aggregates), the most it held
            and the bytes it spilled to disk (``peak=12.0MiB spilled=0B``),
            then the run's rows, seconds and totals. On a cluster the figures
            are by stage, folded over its tasks on every node (the largest
            peak, the sum spilled). They stay in :meth:`Client.query_status`.

        Returns
        -------
        PlanText
            The plan; a ``str``.
        """
        return PlanText(self._client._explain(self._query(), analyze=analyze))

    # ---------------------------------------------------------------- results

    def to_arrow(self, *, progress: Progress = None, timeout: float | None = None) -> pa.Table:
        """Run the query and return the result as a ``pyarrow.Table``.

        Parameters
        ----------
        progress : bool or callable, optional
            ``True`` shows a progress bar once the query has run about a
            second (a widget in Jupyter, a text bar on a terminal); ``False``
            shows none; a function is called with a
            :class:`~slipstream.QueryProgress` about four times a second and
            once at the end (``final=True``). Default: ``sl.config(progress=)``.
        timeout : float, optional
            Seconds the query may take; past them it is cancelled on every
            node and :class:`~slipstream.QueryTimeoutError` is raised.

        Returns
        -------
        pyarrow.Table
            Its schema metadata ``b"slipstream.query_id"`` names the query
            (also ``cl.last_query_id``) for :meth:`Client.query_status`.

        Notes
        -----
        Ctrl-C (``KeyboardInterrupt``) at any point — planning, running,
        downloading — cancels the query on every node, then raises.
        """
        return self._client._collect(self._query(), progress=progress, timeout=timeout)

    def write_table(
        self,
        name: str,
        *,
        mode: Literal["create", "replace", "append"] = "create",
        timeout: float | None = None,
    ) -> int:
        """Run the query and store its result on the cluster as table ``name``.

        Nothing passes through the client: each node stores the result
        partitions it computed, replicated and durable as an upload is (the
        call returns once they are). ``mode`` as for :meth:`Client.from_arrow`:
        ``"create"`` refuses an existing table, ``"replace"`` swaps its
        contents atomically, ``"append"`` adds rows of the same schema. The
        same as SQL's ``CREATE TABLE name AS`` / ``INSERT INTO name``.

        Returns
        -------
        int
            The rows written.
        """
        modes = {
            "create": pb.Upload.CREATE,
            "replace": pb.Upload.REPLACE,
            "append": pb.Upload.APPEND,
        }
        if mode not in modes:
            raise PlanError(f"mode={mode!r}: expected 'create', 'replace' or 'append'")
        body = pb.Write(query=self._query(), table=name, mode=modes[mode]).SerializeToString()
        result = self._client._run_action("write", body, progress=False, timeout=timeout)
        return int(result["rows"])

    def cache(self, *, timeout: float | None = None) -> DataFrame:
        """Run the query now and keep its result on the cluster for the rest of the session.

        Returns a frame that reads the kept result: queries built on it do
        not compute this one again. The result is stored as
        :meth:`write_table` stores it (on the nodes that computed it,
        replicated), under a generated name (``_cache_...``), and dropped
        when the client closes. Unlike polars' lazy ``cache()``, which
        shares a result within one query, this one runs at once.
        """
        name = f"_cache_{uuid.uuid4().hex[:12]}"
        self.write_table(name, timeout=timeout)
        self._client._cached.append(name)
        return self._client.table(name)

    def write_parquet(self, path: str, *, timeout: float | None = None) -> int:
        """Run the query and write its result as Parquet files into the directory ``path``.

        The path is on the server: the nodes write one file per result
        partition (``part-00000.parquet``, ...; Snappy), each node the
        partitions it computed, under the directories the server may read
        and write (``--allow-path``). The directory must be new or empty;
        nothing is overwritten. ``cl.read_parquet(path)`` reads it back.
        The same as SQL's ``COPY (...) TO 'path' (FORMAT parquet)``.

        Returns
        -------
        int
            The rows written.
        """
        body = pb.Write(query=self._query(), path=path).SerializeToString()
        result = self._client._run_action("write", body, progress=False, timeout=timeout)
        return int(result["rows"])

    def to_arrow_async(
        self, *, progress: Progress = False, timeout: float | None = None
    ) -> QueryHandle:
        """Start the query in the background and return a :class:`~slipstream.QueryHandle`.

        ``handle.result()`` waits for the ``pyarrow.Table``; ``handle.cancel()``
        cancels the query on every node (``result()`` then raises
        :class:`~slipstream.CancelledError`); ``handle.query_id`` names it from
        the start. ``progress`` and ``timeout`` as in :meth:`to_arrow` (no bar
        by default: the caller is not waiting).
        """
        return self._client._collect_async(self._query(), progress=progress, timeout=timeout)

    def collect_async(
        self, *, progress: Progress = False, timeout: float | None = None
    ) -> QueryHandle:
        """Alias of :meth:`to_arrow_async`."""
        return self.to_arrow_async(progress=progress, timeout=timeout)

    def to_batches(
        self, *, progress: Progress = False, timeout: float | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Run the query and yield record batches as they arrive, in result order.

        Stopping early (``break``) cancels the query on its node. ``progress``
        and ``timeout`` as in :meth:`to_arrow`, but no bar by default: the
        caller's own loop runs between batches.
        """
        _, batches = self._client._stream(self._query(), progress=progress, timeout=timeout)
        return batches

    def to_pandas(
        self, *, progress: Progress = None, timeout: float | None = None, **kwargs: Any
    ) -> pandas.DataFrame:
        """Run the query and return a pandas DataFrame.

        Parameters
        ----------
        progress, timeout
            As in :meth:`to_arrow`.
        **kwargs
            Passed to ``pyarrow.Table.to_pandas``.
        """
        return self.to_arrow(progress=progress, timeout=timeout).to_pandas(**kwargs)

    def to_polars(
        self, *, progress: Progress = None, timeout: float | None = None
    ) -> polars.DataFrame:
        """Run the query and return a polars DataFrame.

        ``progress`` and ``timeout`` as in :meth:`to_arrow`.
        """
        import polars as pl

        table = self.to_arrow(progress=progress, timeout=timeout)
        result = pl.from_arrow(table, rechunk=False)
        assert isinstance(result, pl.DataFrame)
        return _with_polars_types(result, table.schema)

    def to_reader(
        self, *, progress: Progress = False, timeout: float | None = None
    ) -> pa.RecordBatchReader:
        """Run the query and return a ``pyarrow.RecordBatchReader`` over its batches.

        As :meth:`to_batches`.
        """
        schema, batches = self._client._stream(self._query(), progress=progress, timeout=timeout)
        return pa.RecordBatchReader.from_batches(schema, batches)

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Run the query and export the result as an Arrow C stream (PyCapsule)."""
        return self.to_reader().__arrow_c_stream__(requested_schema)

    # ---------------------------------------------------------------- display

    def plan(self) -> PlanText:
        """Return the client-side logical plan as indented text (no server call)."""
        return PlanText("\n".join(node_to_lines(self._node)))

    def __repr__(self) -> str:
        return f"<slipstream.DataFrame (lazy)\n{self.plan()}\n>"

    def _repr_html_(self) -> str:
        try:
            schema = self.schema
            rows = "".join(
                f"<tr><td>{html.escape(f.name)}</td><td>{html.escape(str(f.type))}</td></tr>"
                for f in schema
            )
            schema_html = f"<table><tr><th>column</th><th>type</th></tr>{rows}</table>"
        except SlipstreamError as e:
            schema_html = f"<p><b>{type(e).__name__}</b>: {html.escape(e.message)}</p>"
        return (
            "<div><b>slipstream.DataFrame</b> (lazy: not run until collected)"
            f"<pre>{html.escape(self.plan())}</pre>{schema_html}</div>"
        )


class Rolling:
    """The result of :meth:`DataFrame.rolling`; call :meth:`agg` on it."""

    __slots__ = ("_closed", "_df", "_index", "_keys", "_period")

    def __init__(self, df: DataFrame, index: Expr, keys: list[Expr], period: Any, closed: str):
        self._df, self._index, self._keys = df, index, keys
        self._period, self._closed = period, closed

    def agg(self, *aggs: Any, **named_aggs: Any) -> DataFrame:
        """Aggregate each row's window: the keys and the index come first, then the aggregates.

        A column name, or an expression with no aggregate in it, gives the
        window's values as a list (as polars).
        """
        items = [
            e if contains_aggregate(e._pb) else _implode(e)
            for e in to_exprs(aggs, named_aggs, strings_are_columns=True)
        ]
        if not items:
            raise TypeError("agg() needs at least one aggregate expression")
        partition = [k._pb for k in self._keys]
        rolled = [
            Expr(
                _rolling_over(e._pb, self._index._pb, self._period, self._closed, partition)
            ).alias(output_name(e._pb))
            for e in items
        ]
        out = self._df.select(*self._keys, self._index, *rolled)
        return out.sort([output_name(k._pb) for k in [*self._keys, self._index]])


class GroupBy:
    """The result of :meth:`DataFrame.group_by`; call :meth:`agg` on it."""

    __slots__ = ("_df", "_keys", "_maintain_order", "_sort_result")

    def __init__(
        self,
        df: DataFrame,
        keys: list[Expr],
        *,
        maintain_order: bool = False,
        sort_result: bool = False,
    ) -> None:
        self._df = df
        self._keys = keys
        self._maintain_order = maintain_order
        self._sort_result = sort_result

    def agg(self, *aggs: Any, **named_aggs: Any) -> DataFrame:
        """Compute aggregates per group: the keys come first, then the aggregates.

        Parameters
        ----------
        *aggs : str, Expr or list of them
            Aggregate expressions: ``col("x").sum()``, ``.min()``, ``.max()``,
            ``.mean()``, ``.count()`` (non-null values), ``sl.len()`` (rows),
            each optionally ``.alias(name)``. A column name, or an expression
            with no aggregate in it, gives each group's values as a list (as
            polars).
        **named_aggs
            ``name=expr`` adds ``expr.alias(name)``.
        """
        # As in polars, a column name or an expression with no aggregate in
        # it collects each group's values into a list (implode).
        items = [
            e if contains_aggregate(e._pb) else _implode(e)
            for e in to_exprs(aggs, named_aggs, strings_are_columns=True)
        ]
        if not items:
            raise TypeError("agg() needs at least one aggregate expression")
        df = self._df
        if self._maintain_order:
            # Each group remembers its first row; the result is sorted by it.
            order = _hidden("order", [])
            df = df.with_row_index(order)
            items = [*items, col(order).min().alias(order)]
        node = pb.Aggregate(
            input=df._node,
            keys=[k._pb for k in self._keys],
            aggs=[a._pb for a in items],
        )
        out = df._derive(aggregate=node)
        if self._maintain_order:
            out = out.sort(order).select(all_().exclude(order))
        elif self._sort_result:
            out = out.sort([col(k) for k in out.columns[: len(self._keys)]])
        return out

    def len(self, name: str = "len") -> DataFrame:
        """Count the rows of each group into a column called ``name``."""
        return self.agg(len_expr().alias(name))

    def _each(self, fn: str, *args: Any) -> DataFrame:
        # polars' group_by(...).sum() and the like: every column but the keys.
        names = []
        for k in self._keys:
            e = k._pb
            while e.WhichOneof("kind") == "alias":
                e = e.alias.expr
            if e.WhichOneof("kind") == "column":
                names.append(e.column.name)
        rest = all_().exclude(*names) if names else all_()
        return self.agg(getattr(rest, fn)(*args).name.keep())

    def first(self) -> DataFrame:
        """The first row of each group (every column but the keys)."""
        return self._each("first")

    def last(self) -> DataFrame:
        """The last row of each group (every column but the keys)."""
        return self._each("last")

    def sum(self) -> DataFrame:
        """The sum of every column but the keys, per group."""
        return self._each("sum")

    def mean(self) -> DataFrame:
        """The mean of every column but the keys, per group."""
        return self._each("mean")

    def median(self) -> DataFrame:
        """The median of every column but the keys, per group."""
        return self._each("median")

    def max(self) -> DataFrame:
        """The maximum of every column but the keys, per group."""
        return self._each("max")

    def min(self) -> DataFrame:
        """The minimum of every column but the keys, per group."""
        return self._each("min")

    def n_unique(self) -> DataFrame:
        """The number of distinct values of every column but the keys, per group."""
        return self._each("n_unique")

    def quantile(self, quantile: float, interpolation: str = "nearest") -> DataFrame:
        """A quantile of every column but the keys, per group."""
        return self._each("quantile", quantile, interpolation)


def _value_counts_call(e: pb.Expr) -> pb.Call | None:
    """The value_counts call of e (under aliases), if it is one."""
    while e.WhichOneof("kind") == "alias":
        e = e.alias.expr
    if e.WhichOneof("kind") == "call" and e.call.function in ("value_counts", "mode"):
        return e.call
    return None


def _explode_call(e: pb.Expr) -> pb.Call | None:
    """The explode call of e (under aliases), if it is one."""
    while e.WhichOneof("kind") == "alias":
        e = e.alias.expr
    return e.call if e.WhichOneof("kind") == "call" and e.call.function == "explode" else None


def _unexplode(e: Expr) -> Expr:
    """E without its explode, its name kept."""
    call = _explode_call(e._pb)
    assert call is not None
    return Expr(call.args[0]).alias(output_name(e._pb))


def _implode(e: Expr) -> Expr:
    """``e.implode()`` with e's alias kept outside.

    So a ``sort_by`` or ``filter`` of e stays the aggregate's own argument.
    """
    if e._pb.WhichOneof("kind") == "alias":
        return _implode(Expr(e._pb.alias.expr)).alias(e._pb.alias.name)
    return e.implode()


def _names(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _window_start(c: Expr, every: str, dtype: pa.DataType) -> Expr:
    """The start of the ``every`` window holding ``c`` (a date or a timestamp)."""
    import re as _re

    m = _re.fullmatch(r"(\d+)(ns|us|ms|s|m|h|d|w|mo|q|y)", every)
    if not m:
        raise ValueError(f"every={every!r}: expected a polars duration such as '1d', '15m', '1mo'")
    n, unit = int(m.group(1)), m.group(2)
    if n == 1 or unit in ("mo", "q", "y"):
        if n != 1:
            raise ValueError(f"every={every!r}: months, quarters and years only one at a time")
        return c.dt.truncate(every)
    if unit == "w":
        raise ValueError(f"every={every!r}: several weeks at a time are not supported")
    if pa.types.is_date32(dtype) and unit != "d":
        raise ValueError(
            f"every={every!r}: a date column takes days, weeks, months, quarters or years"
        )
    if not pa.types.is_timestamp(dtype) and not pa.types.is_date32(dtype):
        raise ValueError(f"group_by_dynamic needs a date or timestamp column, got {dtype}")
    # multiples of a fixed length from the epoch, on the wall clock of a time zone
    return c.dt.truncate(every)


def _row_number() -> Expr:
    """``row_number()`` as a window: with ``.over()``, the rows numbered 1, 2, ... in order."""
    return Expr(pb.Expr(over=pb.Over(expr=pb.Expr(call=pb.Call(function="row_number")))))


def _hidden(what: str, names: Sequence[str]) -> str:
    """A column name for a helper column, unlike any of ``names``."""
    name = f"__slipstream_{what}"
    while name in names:
        name += "_"
    return name


def _is_numeric(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _describe_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _per_key(value: bool | Sequence[bool], n: int, what: str) -> list[bool]:
    if isinstance(value, bool):
        return [value] * n
    values = [bool(v) for v in value]
    if len(values) != n:
        raise ValueError(f"{what} has {len(values)} values for {n} sort keys")
    return values


def concat(
    items: Sequence[DataFrame],
    *,
    how: str = "vertical",
    rechunk: bool = False,
    parallel: bool = True,
    strict: bool | None = None,
) -> DataFrame:
    """Stack frames vertically (union all), keeping their order, as ``pl.concat``.

    Parameters
    ----------
    items : sequence of DataFrame
        Frames of one client with the same column names in the same order.
        A column whose types differ but are compatible (int32 and int64) is
        cast to the common type.

    Examples
    --------
    >>> sl.concat([jan, feb, mar]).group_by("vendor").agg(sl.len())  # doctest: +SKIP
    """
    frames = list(items)
    if not frames:
        raise ValueError("concat() needs at least one DataFrame")
    for f in frames:
        if not isinstance(f, DataFrame):
            raise TypeError(f"concat() takes slipstream DataFrames, got {type(f).__name__}")
        if f._client is not frames[0]._client:
            raise ValueError("concat() needs DataFrames of the same client (the same node)")
    if how in ("diagonal", "diagonal_relaxed"):
        # Columns by name: each frame gets every column, null where it has none.
        schemas = [f.schema for f in frames]
        names: list[str] = []
        types: dict[str, pa.DataType] = {}
        for sch in schemas:
            for fld in sch:
                if fld.name not in types:
                    names.append(fld.name)
                    types[fld.name] = fld.type
        frames = [
            f.select(*[col(n) if n in sch.names else lit(None, types[n]).alias(n) for n in names])
            for f, sch in zip(frames, schemas, strict=True)
        ]
    elif how not in ("vertical", "vertical_relaxed"):
        raise ValueError(
            f"concat(how={how!r}): 'vertical', 'vertical_relaxed', 'diagonal' or "
            "'diagonal_relaxed' (columns of compatible types are cast to a common one)"
        )
    if len(frames) == 1:
        return frames[0]
    return frames[0]._derive(concat=pb.Concat(inputs=[f._node for f in frames]))


def node_to_lines(node: pb.Node, depth: int = 0) -> list[str]:
    """Render a plan node and its inputs, one line per node, children indented."""
    pad = "  " * depth
    kind = node.WhichOneof("kind")
    if kind is None:
        return [f"{pad}?"]
    n: Any = getattr(node, kind)

    def exprs(items: Any) -> str:
        return ", ".join(expr_to_text(e) for e in items)

    if kind == "table_scan":
        return [f'{pad}TABLE "{n.table}"']
    if kind == "file_scan":
        fmt = pb.FileFormat.Name(n.format)
        extra = ""
        if n.format == pb.CSV:
            extra = f" header={not n.csv.no_header} delimiter={n.csv.delimiter or ','!r}"
        return [f"{pad}{fmt} SCAN {list(n.paths)}{extra}"]
    if kind == "select":
        line = f"{pad}SELECT {exprs(n.exprs)}"
    elif kind == "with_columns":
        line = f"{pad}WITH_COLUMNS {exprs(n.exprs)}"
    elif kind == "filter":
        line = f"{pad}FILTER {expr_to_text(n.predicate)}"
    elif kind == "aggregate":
        keys = f"BY {exprs(n.keys)} " if n.keys else ""
        line = f"{pad}AGGREGATE {keys}AGG {exprs(n.aggs)}"
    elif kind == "sort":
        keys = ", ".join(
            expr_to_text(k.expr)
            + (" DESC" if k.descending else "")
            + (" NULLS LAST" if k.nulls_last else "")
            for k in n.keys
        )
        line = f"{pad}SORT BY {keys}"
    elif kind == "limit":
        count = "all" if n.count < 0 else n.count
        line = f"{pad}LIMIT {count}" + (f" OFFSET {n.offset}" if n.offset else "")
    elif kind == "explode":
        line = f"{pad}EXPLODE {', '.join(n.columns)}"
    elif kind == "concat":
        lines = [f"{pad}CONCAT"]
        for child in n.inputs:
            lines += node_to_lines(child, depth + 1)
        return lines
    elif kind == "join":
        pairs = zip(n.left_on, n.right_on, strict=True)
        on = ", ".join(f"{expr_to_text(a)} = {expr_to_text(b)}" for a, b in pairs)
        line = f"{pad}JOIN {pb.Join.How.Name(n.how)} ON {on or '-'}"
        return [line, *node_to_lines(n.left, depth + 1), *node_to_lines(n.right, depth + 1)]
    else:
        return [f"{pad}?"]
    return [line, *node_to_lines(n.input, depth + 1)]


def _with_polars_types(df: polars.DataFrame, schema: pa.Schema) -> polars.DataFrame:
    """``df`` with its enum columns (Categorical after ``from_arrow``) cast to their ``Enum``."""
    import polars as pl

    casts = {k: v for k, v in polars_casts(schema).items() if v != pl.Categorical}
    if not casts:
        return df
    return df.with_columns(*[pl.col(k).cast(v) for k, v in casts.items()])
