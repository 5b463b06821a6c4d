"""Expressions: ``col``, ``lit``, ``len`` and the operators on them.

An :class:`Expr` wraps an immutable ``plan_pb2.Expr``; every operator builds a
new message, so expressions can be shared and reused freely.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import decimal
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from . import _dtypes
from ._proto import plan_pb2 as pb

__all__ = [
    "Expr",
    "all_",
    "all_horizontal",
    "any_horizontal",
    "coalesce",
    "col",
    "concat_str",
    "corr",
    "cov",
    "exclude",
    "len",
    "lit",
    "max_horizontal",
    "mean_horizontal",
    "min_horizontal",
    "sum_horizontal",
    "when",
]

_AGGREGATES = frozenset(
    {
        "count",
        "len",
        "sum",
        "min",
        "max",
        "mean",
        "n_unique",
        "std",
        "var",
        "median",
        "quantile",
        "first",
        "last",
        "any",
        "all",
        "product",
        "implode",
        "arg_max",
        "arg_min",
        # what the planner makes of mean, median and quantile of a duration,
        # and of min and max of an enum
        "mean_duration",
        "median_duration",
        "quantile_duration",
        "min_enum",
        "max_enum",
    }
)
_INFIX = {
    "add": "+",
    "subtract": "-",
    "multiply": "*",
    "divide": "/",
    "modulo": "%",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "and": "&",
    "or": "|",
}
# Registry names shown as the polars method that builds them.
_NAMESPACED: dict[str, tuple[str, list[str]]] = {
    "struct_field": ("struct.field", []),
    "split": ("str.split", []),
    "list_len": ("list.len", []),
    "list_get": ("list.get", []),
    "list_contains": ("list.contains", []),
    "list_join": ("list.join", []),
    "list_sort": ("list.sort", []),
    "list_unique": ("list.unique", []),
    "list_sum": ("list.sum", []),
    "list_mean": ("list.mean", []),
    "list_min": ("list.min", []),
    "list_max": ("list.max", []),
    "contains": ("str.contains", ["literal=True"]),
    "regexp_matches": ("str.contains", []),
    "starts_with": ("str.starts_with", []),
    "ends_with": ("str.ends_with", []),
    "like": ("str.like", []),
    "regexp_extract": ("str.extract", []),
    "lower": ("str.to_lowercase", []),
    "upper": ("str.to_uppercase", []),
    "len_chars": ("str.len_chars", []),
    "len_bytes": ("str.len_bytes", []),
    "str_slice": ("str.slice", []),
    "strip_chars": ("str.strip_chars", []),
    "replace": ("str.replace", ["literal=True"]),
    "regexp_replace": ("str.replace", []),
    "replace_all": ("str.replace_all", ["literal=True"]),
    "regexp_replace_all": ("str.replace_all", []),
    "year": ("dt.year", []),
    "month": ("dt.month", []),
    "day": ("dt.day", []),
    "weekday": ("dt.weekday", []),
    "hour": ("dt.hour", []),
    "minute": ("dt.minute", []),
    "second": ("dt.second", []),
    "truncate": ("dt.truncate", []),
    "offset_by": ("dt.offset_by", []),
    "days_between": ("dt.days_between", []),
    "strftime": ("dt.strftime", []),
}
_EPOCH_DATE = _dt.date(1970, 1, 1)
_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


class Expr:
    """A column expression, evaluated by the server when a query runs.

    Build one with :func:`col` or :func:`lit` and combine with Python
    operators: ``+ - * / %``, comparisons, ``&`` (and), ``|`` (or), ``~`` (not).
    Use ``&``/``|``/``~``, not ``and``/``or``/``not``, which Python cannot
    overload.

    Examples
    --------
    >>> from slipstream import col
    >>> ((col("fare") * 1.2 > 10) & col("vendor").is_not_null()).alias("keep")
    <Expr ((col("fare") * 1.2) > 10) & col("vendor").is_not_null() AS "keep">
    """

    __slots__ = ("_pb",)
    __hash__ = None  # type: ignore[assignment]  # == builds an expression

    def __init__(self, message: pb.Expr) -> None:
        self._pb = message

    # ---------------------------------------------------------------- plumbing

    def _call(self, function: str, *others: Any) -> Expr:
        args = [self._pb] + [_to_expr(o)._pb for o in others]
        return Expr(pb.Expr(call=pb.Call(function=function, args=args)))

    def _rcall(self, function: str, other: Any) -> Expr:
        return _to_expr(other)._call(function, self)

    def _to_pb(self) -> pb.Expr:
        return self._pb

    def __repr__(self) -> str:
        return f"<Expr {expr_to_text(self._pb)}>"

    def __str__(self) -> str:
        return expr_to_text(self._pb)

    def __bool__(self) -> bool:
        raise TypeError(
            "the truth value of a slipstream Expr is ambiguous: use & (and), | (or), "
            "~ (not) instead of and/or/not, and wrap comparisons in parentheses"
        )

    # ---------------------------------------------------------------- arithmetic

    def __add__(self, other: Any) -> Expr:
        return self._call("add", other)

    def __radd__(self, other: Any) -> Expr:
        return self._rcall("add", other)

    def __sub__(self, other: Any) -> Expr:
        return self._call("subtract", other)

    def __rsub__(self, other: Any) -> Expr:
        return self._rcall("subtract", other)

    def __mul__(self, other: Any) -> Expr:
        return self._call("multiply", other)

    def __rmul__(self, other: Any) -> Expr:
        return self._rcall("multiply", other)

    def __truediv__(self, other: Any) -> Expr:
        return self._call("divide", other)

    def __rtruediv__(self, other: Any) -> Expr:
        return self._rcall("divide", other)

    def __mod__(self, other: Any) -> Expr:
        return _floored_mod(self, _to_expr(other))

    def __rmod__(self, other: Any) -> Expr:
        return _floored_mod(_to_expr(other), self)

    def __neg__(self) -> Expr:
        return self._call("negate")

    def __pos__(self) -> Expr:
        return self

    # ---------------------------------------------------------------- comparison

    def __eq__(self, other: Any) -> Expr:  # type: ignore[override]
        return self._call("eq", other)

    def __ne__(self, other: Any) -> Expr:  # type: ignore[override]
        return self._call("ne", other)

    def __lt__(self, other: Any) -> Expr:
        return self._call("lt", other)

    def __le__(self, other: Any) -> Expr:
        return self._call("le", other)

    def __gt__(self, other: Any) -> Expr:
        return self._call("gt", other)

    def __ge__(self, other: Any) -> Expr:
        return self._call("ge", other)

    # ---------------------------------------------------------------- boolean

    def __and__(self, other: Any) -> Expr:
        return self._call("and", other)

    def __rand__(self, other: Any) -> Expr:
        return self._rcall("and", other)

    def __or__(self, other: Any) -> Expr:
        return self._call("or", other)

    def __ror__(self, other: Any) -> Expr:
        return self._rcall("or", other)

    def __invert__(self) -> Expr:
        return self._call("not")

    def not_(self) -> Expr:
        """Negate a boolean expression (same as ``~expr``)."""
        return self._call("not")

    def is_null(self) -> Expr:
        """Return a boolean expression: true where the value is null."""
        return self._call("is_null")

    def is_not_null(self) -> Expr:
        """Return a boolean expression: true where the value is not null."""
        return self._call("is_not_null")

    # ---------------------------------------------------------------- conditionals

    def is_in(self, values: Iterable[Any], *, nulls_equal: bool = False) -> Expr:
        """Return a boolean expression: true where the value is one of ``values``.

        Nulls as in polars: a null value gives null (with ``nulls_equal``:
        true when ``values`` holds a null, else false); a null among the
        values matches nothing, so a value found nowhere is false. (SQL's
        ``IN``, in ``cl.sql``, gives null there.)

        Parameters
        ----------
        values : iterable of literals or expressions
            The candidates, e.g. ``[1, 2, 3]`` or ``{"a", "b"}``.
        nulls_equal : bool
            Let a null value match a null among the values.

        Examples
        --------
        >>> from slipstream import col
        >>> col("x").is_in([1, 2, 3])
        <Expr col("x").is_in(1, 2, 3)>
        """
        if isinstance(values, (str, bytes, Expr)):
            raise TypeError("is_in() takes a collection of values, e.g. [1, 2, 3]")
        items = list(values)
        has_null = any(v is None for v in items)
        items = [v for v in items if v is not None]
        found = self._call("is_in", *items) if items else self.is_null() & False
        if nulls_equal:
            return when(self.is_null()).then(lit(has_null)).otherwise(found)
        return found

    def is_between(self, lower_bound: Any, upper_bound: Any, closed: str = "both") -> Expr:
        """Return a boolean expression: true where the value lies between two bounds.

        Parameters
        ----------
        lower_bound, upper_bound : literal or Expr
            The bounds.
        closed : {"both", "left", "right", "none"}
            Which bounds are included.

        Examples
        --------
        >>> from slipstream import col
        >>> col("x").is_between(1, 10, closed="left")
        <Expr col("x").is_between(1, 10, 'left')>
        """
        if closed not in ("both", "left", "right", "none"):
            raise ValueError(f'closed must be "both", "left", "right" or "none", got {closed!r}')
        return self._call("is_between", lower_bound, upper_bound, closed)

    def fill_null(
        self, value: Any = None, strategy: builtins.str | None = None, limit: int | None = None
    ) -> Expr:
        """Replace nulls with ``value`` (a literal or an expression), or by a strategy.

        Parameters
        ----------
        value : literal or Expr
            What a null becomes; the result has the common type of both.
        strategy : {"forward", "backward", "min", "max", "mean", "zero", "one"}
            Instead of a value: the previous or next non-null value (in
            input order, or an :meth:`over`'s ``order_by``), the minimum,
            maximum or mean of the values, 0 or 1, as polars.
        limit : int, optional
            With forward or backward: fill at most this many nulls in a row.
        """
        if (value is None) == (strategy is None):
            raise ValueError("fill_null() takes a value or a strategy, one of them")
        if strategy == "forward":
            return self.forward_fill(limit)
        if strategy == "backward":
            return self.backward_fill(limit)
        if limit is not None:
            raise ValueError("fill_null(limit=) applies to the forward and backward strategies")
        if strategy is not None:
            fills = {"min": self.min(), "max": self.max(), "mean": self.mean(), "zero": 0, "one": 1}
            if strategy not in fills:
                raise ValueError(
                    f"fill_null(strategy={strategy!r}): expected forward, backward, min, "
                    "max, mean, zero or one"
                )
            value = fills[strategy]
        return self._call("fill_null", value)

    # ---------------------------------------------------------------- namespaces

    @property
    def str(self) -> ExprStringNameSpace:
        """String functions: ``col("s").str.contains("a")`` and so on."""
        return ExprStringNameSpace(self)

    @property
    def dt(self) -> ExprDateTimeNameSpace:
        """Date and time functions: ``col("d").dt.year()`` and so on."""
        return ExprDateTimeNameSpace(self)

    @property
    def list(self) -> ExprListNameSpace:
        """List functions: ``col("l").list.len()`` and so on."""
        return ExprListNameSpace(self)

    @property
    def struct(self) -> ExprStructNameSpace:
        """Struct functions: ``col("s").struct.field("a")``."""
        return ExprStructNameSpace(self)

    def explode(self, *, empty_as_null: bool = False, keep_nulls: bool = True) -> Expr:
        """Each value of the list in its own row, as polars' ``Expr.explode``.

        It changes the number of rows: in a :meth:`DataFrame.select`, every
        expression must be exploded (it becomes :meth:`DataFrame.explode`).

        Parameters
        ----------
        empty_as_null : bool, default False
            An empty list gives one row with a null (else no row).
        keep_nulls : bool, default True
            A null list gives one row with a null (else no row).
        """
        return self._call("explode", bool(empty_as_null), bool(keep_nulls))

    def implode(self) -> Expr:
        """All values (of the group) in one list, nulls included, in row order.

        An aggregate: ``group_by("g").agg(col("x").implode())``, which is what
        ``agg(col("x"))`` means, as in polars.
        """
        return self._call("implode")

    @property
    def name(self) -> ExprNameNameSpace:
        """Output naming: ``col("a", "b").sum().name.suffix("_total")`` and so on."""
        return ExprNameNameSpace(self)

    def exclude(self, columns: Any, *more_columns: Any) -> Expr:
        """Leave columns out of a selector (``sl.all().exclude("id")``), as polars.

        Parameters
        ----------
        columns, *more_columns : str, dtype or lists of them
            Names, ``^...$`` patterns or data types to leave out.
        """
        if self._pb.WhichOneof("kind") != "selector":
            raise TypeError(
                "exclude() applies to a selector of several columns: sl.all(), "
                'sl.col("a", "b"), sl.col("^x.*$"), sl.col(pl.Int64)'
            )
        sel = pb.Selector()
        sel.CopyFrom(self._pb.selector)
        _add_exclusions(sel, [columns, *more_columns])
        return Expr(pb.Expr(selector=sel))

    # ---------------------------------------------------------------- naming, types

    def alias(self, name: builtins.str) -> Expr:
        """Rename the expression's output column.

        Parameters
        ----------
        name : str
            The new column name.
        """
        if not isinstance(name, str):
            raise TypeError(f"alias() takes a str, got {type(name).__name__}")
        return Expr(pb.Expr(alias=pb.Alias(expr=self._pb, name=name)))

    def cast(self, dtype: Any) -> Expr:
        """Convert to another data type.

        Parameters
        ----------
        dtype : pyarrow.DataType, polars dtype, numpy dtype, Python type or str
            The target type, e.g. ``pa.int32()``, ``pl.Float64``, ``"utf8"``,
            ``"date"``, ``"timestamp[ms]"`` or ``"decimal(12,2)"``; ``pl.Categorical``
            and ``pl.Enum(categories)`` take text (an enum checks that every
            value is one of its categories).
        """
        kind = _dtypes.categorical_kind(dtype)
        if kind == "categorical":
            return self._call("to_categorical")
        if kind is not None:
            return self._call("to_enum", lit(json.dumps(kind), "utf8"))
        to = _dtypes.to_plan_type(dtype)
        return Expr(pb.Expr(cast=pb.Cast(expr=self._pb, to=to)))

    # ---------------------------------------------------------------- aggregates

    def sum(self) -> Expr:
        """Sum of the non-null values (0 when there are none, as in polars)."""
        return self._call("sum", True)

    def min(self) -> Expr:
        """Smallest non-null value (null when there are none; NaN only when all are NaN)."""
        return self._call("min", True)

    def max(self) -> Expr:
        """Largest non-null value (null when there are none; NaN only when all are NaN)."""
        return self._call("max", True)

    def mean(self) -> Expr:
        """Arithmetic mean of the non-null values, as float64 (null when there are none)."""
        return self._call("mean")

    def count(self) -> Expr:
        """Number of non-null values (use :func:`slipstream.len` to count rows)."""
        return self._call("count")

    def n_unique(self) -> Expr:
        """Number of distinct values, null counted as one, as in polars.

        NaN is one value and ``-0.0`` equals ``0.0``. SQL's
        ``COUNT(DISTINCT x)``, which skips nulls, is ``x.drop_nulls().n_unique()``
        in polars and ``cl.sql`` here.
        """
        return self._call("n_unique", True)

    def std(self, ddof: int = 1) -> Expr:
        """Standard deviation of the non-null values, as float64.

        Parameters
        ----------
        ddof : int
            Delta degrees of freedom: the divisor is ``n - ddof``; 1 (the
            default) is the sample standard deviation, 0 the population one.
            Null when ``n <= ddof``.
        """
        return self._call("std", _ddof(ddof))

    def var(self, ddof: int = 1) -> Expr:
        """Variance of the non-null values, as float64.

        Parameters
        ----------
        ddof : int
            Delta degrees of freedom, as in :meth:`std`.
        """
        return self._call("var", _ddof(ddof))

    def median(self) -> Expr:
        """Median of the non-null values (the mean of the middle two for an even count)."""
        return self._call("median")

    def quantile(self, quantile: float, interpolation: builtins.str = "nearest") -> Expr:
        """Quantile of the non-null values, as float64 (polars' methods and default).

        Parameters
        ----------
        quantile : float
            Between 0 and 1.
        interpolation : {"nearest", "higher", "lower", "midpoint", "linear", "equiprobable"}
            Which value stands for the position ``quantile * (n - 1)`` of the
            sorted values: the nearest one (the default, as polars; halves
            round up), the one above or below, the mean of both, a linear
            interpolation between them (DuckDB's ``quantile_cont``), or the
            value at ``ceil(quantile * n) - 1``.
        """
        methods = ("nearest", "higher", "lower", "midpoint", "linear", "equiprobable")
        if interpolation not in methods:
            raise ValueError(
                f"quantile(interpolation={interpolation!r}): expected one of {', '.join(methods)}"
            )
        if not isinstance(quantile, (int, float)) or not 0 <= quantile <= 1:
            raise ValueError(f"quantile must be a number between 0 and 1, got {quantile!r}")
        return self._call("quantile", float(quantile), interpolation)

    def first(self) -> Expr:
        """The first value in input order (null if that value is null)."""
        return self._call("first")

    def last(self) -> Expr:
        """The last value in input order (null if that value is null)."""
        return self._call("last")

    def any(self, *, ignore_nulls: bool = True) -> Expr:
        """True if any value is true, as polars' ``Expr.any``.

        Parameters
        ----------
        ignore_nulls : bool
            True (the default): nulls are skipped, and with no value left the
            answer is false. False: Kleene logic, null when no value is true
            but some are null.
        """
        return self._call("any", bool(ignore_nulls))

    def all(self, *, ignore_nulls: bool = True) -> Expr:
        """True if every value is true, as polars' ``Expr.all``.

        Parameters
        ----------
        ignore_nulls : bool
            True (the default): nulls are skipped, and with no value left the
            answer is true. False: Kleene logic, null when no value is false
            but some are null.
        """
        return self._call("all", bool(ignore_nulls))

    # ---------------------------------------------------------------- numeric

    def abs(self) -> Expr:
        """Absolute value (keeps the type; decimals stay decimals)."""
        return self._call("abs")

    def round(self, decimals: int = 0, mode: builtins.str = "half_to_even") -> Expr:
        """Round to ``decimals`` digits after the point, as polars' ``Expr.round``.

        Parameters
        ----------
        decimals : int
            Digits to keep; negative rounds to tens, hundreds, ... Decimals
            keep their type, integers stay integers.
        mode : {"half_to_even", "half_away_from_zero"}
            How halves go: to the even neighbour (the default, as polars:
            ``2.5`` gives ``2.0``), or away from zero (as SQL's ``round``).
        """
        if not isinstance(decimals, int) or isinstance(decimals, bool):
            raise TypeError(f"decimals must be an int, got {type(decimals).__name__}")
        if mode not in ("half_to_even", "half_away_from_zero"):
            raise ValueError(
                f"round(mode={mode!r}): expected 'half_to_even' or 'half_away_from_zero'"
            )
        return self._call("round", decimals, mode)

    def floor(self) -> Expr:
        """Largest whole number not above the value (decimals keep their type)."""
        return self._call("floor")

    def ceil(self) -> Expr:
        """Smallest whole number not below the value (decimals keep their type)."""
        return self._call("ceil")

    def sqrt(self) -> Expr:
        """Square root as float64 (NaN for negative values, as numpy and polars)."""
        return self._call("sqrt")

    def log(self, base: float = math.e) -> Expr:
        """Logarithm as float64, natural by default (NaN below 0, -inf at 0).

        Parameters
        ----------
        base : float
            The base of the logarithm.
        """
        if base == math.e:
            return self._call("ln")
        return self._call("log", float(base))

    def exp(self) -> Expr:
        """``e`` to the power of the value, as float64."""
        return self._call("exp")

    def pow(self, exponent: Any) -> Expr:
        """Raise to a power, as float64 (same as ``expr ** exponent``).

        Parameters
        ----------
        exponent : literal or Expr
            The exponent.
        """
        return self._call("power", exponent)

    def __pow__(self, exponent: Any) -> Expr:
        return self._call("power", exponent)

    def __rpow__(self, base: Any) -> Expr:
        return self._rcall("power", base)

    def __abs__(self) -> Expr:
        return self._call("abs")

    def __floordiv__(self, other: Any) -> Expr:
        return self._call("floordiv", other)

    def __rfloordiv__(self, other: Any) -> Expr:
        return self._rcall("floordiv", other)

    def floordiv(self, other: Any) -> Expr:
        """Division rounded down (``expr // other``), as polars.

        Integers stay integers (a division by zero gives null); floats give
        ``floor(a / b)``.
        """
        return self._call("floordiv", other)

    def __xor__(self, other: Any) -> Expr:
        return self.xor(other)

    def __rxor__(self, other: Any) -> Expr:
        return _to_expr(other).xor(self)

    def xor(self, other: Any) -> Expr:
        """Exclusive or of booleans (``expr ^ other``); null where either is null."""
        other = _to_expr(other)
        either: Expr = self._call("or", other)
        return either._call("and", self._call("and", other)._call("not"))

    def is_nan(self) -> Expr:
        """True where the value is NaN (false for other numbers; null stays null)."""
        return self._call("is_nan")

    def is_not_nan(self) -> Expr:
        """True where the value is not NaN (null stays null)."""
        return self._call("is_not_nan")

    def is_finite(self) -> Expr:
        """True where the value is neither infinite nor NaN (null stays null)."""
        return self._call("is_finite")

    def is_infinite(self) -> Expr:
        """True where the value is +inf or -inf (null stays null)."""
        return self._call("is_infinite")

    def fill_nan(self, value: Any) -> Expr:
        """Replace NaN with ``value`` (nulls stay null), as polars' ``Expr.fill_nan``."""
        return when(self.is_nan()).then(_to_expr(value)).otherwise(self)

    def clip(self, lower_bound: Any = None, upper_bound: Any = None) -> Expr:
        """Limit the values to ``[lower_bound, upper_bound]`` (None: no limit), as polars.

        Nulls and NaN stay as they are.
        """
        out = self
        if lower_bound is not None:
            lo = _to_expr(lower_bound)
            out = when(self < lo).then(lo).otherwise(out)
        if upper_bound is not None:
            hi = _to_expr(upper_bound)
            # NaN compares above every number, yet stays NaN here, as polars.
            out = when((self > hi) & self.is_not_nan()).then(hi).otherwise(out)
        return out

    def diff(self, n: int = 1, null_behavior: builtins.str = "ignore") -> Expr:
        """The difference with the value ``n`` rows earlier, as polars' ``Expr.diff``.

        Rows in input order (or an :meth:`over`'s ``order_by``); null where
        there is no earlier row.

        Parameters
        ----------
        n : int
            How many rows back (negative: ahead).
        null_behavior : {"ignore"}
            polars' ``"drop"`` is not supported.
        """
        if null_behavior != "ignore":
            raise ValueError(f"diff(null_behavior={null_behavior!r}): only 'ignore' is supported")
        return self - self.shift(n)

    def pct_change(self, n: int = 1) -> Expr:
        """The change from the value ``n`` rows earlier, relative: ``x.diff(n) / x.shift(n)``."""
        return self.diff(n) / self.shift(n)

    def is_duplicated(self) -> Expr:
        """True where the value occurs more than once (null counts as a value)."""
        return len().over(self) > 1

    def is_unique(self) -> Expr:
        """True where the value occurs exactly once (null counts as a value)."""
        return len().over(self) == 1

    def is_first_distinct(self) -> Expr:
        """True on the first row of each value, in input order."""
        return (
            Expr(
                pb.Expr(
                    over=pb.Over(
                        expr=pb.Expr(call=pb.Call(function="row_number")), partition_by=[self._pb]
                    )
                )
            )
            == 1
        )

    def is_last_distinct(self) -> Expr:
        """True on the last row of each value, in input order."""
        first = pb.Expr(
            over=pb.Over(expr=pb.Expr(call=pb.Call(function="row_number")), partition_by=[self._pb])
        )
        return Expr(first) == len().over(self)

    def sin(self) -> Expr:
        """Sine of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("sin")

    def cos(self) -> Expr:
        """Cosine of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("cos")

    def tan(self) -> Expr:
        """Tangent of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("tan")

    def cot(self) -> Expr:
        """Cotangent of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("cot")

    def arcsin(self) -> Expr:
        """Inverse sine of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("arcsin")

    def arccos(self) -> Expr:
        """Inverse cosine of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("arccos")

    def arctan(self) -> Expr:
        """Inverse tangent of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("arctan")

    def sinh(self) -> Expr:
        """Hyperbolic sine of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("sinh")

    def cosh(self) -> Expr:
        """Hyperbolic cosine of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("cosh")

    def tanh(self) -> Expr:
        """Hyperbolic tangent of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("tanh")

    def arcsinh(self) -> Expr:
        """Inverse hyperbolic sine of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("arcsinh")

    def arccosh(self) -> Expr:
        """Inverse hyperbolic cosine of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("arccosh")

    def arctanh(self) -> Expr:
        """Inverse hyperbolic tangent, as float64 (NaN outside its domain, as numpy)."""
        return self._call("arctanh")

    def degrees(self) -> Expr:
        """Radians to degrees, as float64."""
        return self._call("degrees")

    def radians(self) -> Expr:
        """Degrees to radians, as float64."""
        return self._call("radians")

    def log10(self) -> Expr:
        """Base-10 logarithm of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("log10")

    def log1p(self) -> Expr:
        """Natural logarithm of 1 + the value, as float64 (NaN below -1, as numpy)."""
        return self._call("log1p")

    def cbrt(self) -> Expr:
        """Cube root of the value, as float64 (NaN outside its domain, as numpy)."""
        return self._call("cbrt")

    def erf(self) -> Expr:
        """The error function of the value, as float64."""
        return self._call("erf")

    def erfc(self) -> Expr:
        """The complementary error function of the value, as float64."""
        return self._call("erfc")

    def nan_max(self) -> Expr:
        """Largest value, NaN if any value is NaN (an aggregate), as polars' ``nan_max``."""
        return self._call("max", False)

    def nan_min(self) -> Expr:
        """Smallest value, NaN if any value is NaN (an aggregate), as polars' ``nan_min``."""
        return self._call("min", False)

    def approx_n_unique(self) -> Expr:
        """Number of distinct values (computed exactly here; polars estimates it)."""
        return self.n_unique()

    def is_close(
        self,
        other: Any,
        *,
        abs_tol: float = 0.0,
        rel_tol: float = 1e-09,
        nans_equal: bool = False,
    ) -> Expr:
        """True where ``|a - b| <= max(rel_tol * max(|a|, |b|), abs_tol)``, as polars."""
        b = _to_expr(other)
        diff = (self - b).abs()
        bound = max_horizontal(rel_tol * max_horizontal(self.abs(), b.abs()), lit(abs_tol))
        close = (self == b) | ((diff <= bound) & diff.is_finite())
        if nans_equal:
            close = close | (self.is_nan() & b.is_nan())
        return when(self.is_null() | b.is_null()).then(lit(None)).otherwise(close)

    def entropy(self, base: float = math.e, *, normalize: bool = True) -> Expr:
        """Entropy ``-sum(p * log(p))`` of the values (an aggregate), as polars.

        With ``normalize`` the values are first divided by their sum.
        """
        x = self.cast("float64")
        if normalize:
            s = x.sum()
            h = -((x * x.log()).sum() / s - s.log())
        else:
            h = -(x * x.log()).sum()
        return h / math.log(base)

    def sign(self) -> Expr:
        """-1, 0 or 1 by the sign of the value (NaN stays NaN; floats stay floats)."""
        one = lit(1)
        return (
            when(self.is_null())
            .then(lit(None))
            .when(self > 0)
            .then(one)
            .when(self < 0)
            .then(-one)
            .when(self == 0)
            .then(one - 1)
            .otherwise(self)
        )

    def product(self) -> Expr:
        """Product of the non-null values (1 when there are none), an aggregate, as polars."""
        return self._call("product")

    def arg_max(self) -> Expr:
        """Position of the first largest value (an aggregate, uint32; nulls skipped)."""
        return self._call("arg_max")

    def arg_min(self) -> Expr:
        """Position of the first smallest value (an aggregate, uint32; nulls skipped)."""
        return self._call("arg_min")

    def mode(self, *, maintain_order: bool = False) -> Expr:
        """The most frequent values (null counts as one), one row each, as polars.

        It changes the number of rows, so it must be the only expression of a
        :meth:`DataFrame.select`; the rows come sorted.

        Parameters
        ----------
        maintain_order : bool, default False
            Accepted; the modes come back sorted either way.
        """
        return self._call("mode")

    def value_counts(
        self,
        *,
        sort: bool = False,
        parallel: bool = False,
        name: builtins.str | None = None,
        normalize: bool = False,
    ) -> Expr:
        """Each distinct value (null included) and how often it occurs, as a struct column.

        As polars: one row per value, the struct's fields are the value and
        ``count`` (uint32), or ``proportion`` (float64) with ``normalize=True``.
        It changes the number of rows, so it must be the only expression of a
        :meth:`DataFrame.select`.

        Parameters
        ----------
        sort : bool, default False
            Most frequent first.
        parallel : bool, default False
            Accepted for polars' sake (the cluster always is).
        name : str, optional
            The count's field name.
        normalize : bool, default False
            Give each value's share of the rows instead of its count.
        """
        field = name if name is not None else ("proportion" if normalize else "count")
        return self._call("value_counts", bool(sort), _text(field, "name"), bool(normalize))

    def cut(
        self,
        breaks: Sequence[float],
        *,
        labels: Sequence[builtins.str] | None = None,
        left_closed: bool = False,
        include_breaks: bool = False,
    ) -> Expr:
        """The interval of ``breaks`` each value falls in, as text, as polars' ``cut``.

        Intervals are ``(a, b]`` (``[a, b)`` with ``left_closed``), from
        ``-inf`` to ``inf``; an ``Enum`` of the labels, in order, as polars.

        Parameters
        ----------
        breaks : list of float
            The cut points, increasing.
        labels : list of str, optional
            A name for each interval (one more than the breaks).
        left_closed : bool, default False
            Close intervals on the left.
        include_breaks : bool, default False
            Only False is supported.
        """
        cuts = [float(b) for b in breaks]
        return _bin(self, [lit(b) for b in cuts], cuts, labels, left_closed, include_breaks)

    def qcut(
        self,
        quantiles: Sequence[float] | int,
        *,
        labels: Sequence[builtins.str] | None = None,
        left_closed: bool = False,
        allow_duplicates: bool = False,
        include_breaks: bool = False,
    ) -> Expr:
        """The quantile interval each value falls in, as polars' ``qcut`` (see :meth:`cut`).

        The breaks are the column's quantiles (``linear`` interpolation), so
        this is a window over the whole column: in a group, ``.over(...)``.

        Parameters
        ----------
        quantiles : list of float or int
            Probabilities in [0, 1], or a number of equal-sized bins.
        labels : list of str, optional
            A name for each interval.
        left_closed : bool, default False
            Close intervals on the left.
        allow_duplicates : bool, default False
            Accepted; equal breaks give empty intervals.
        include_breaks : bool, default False
            Only False is supported.
        """
        if isinstance(quantiles, bool):
            raise TypeError("qcut takes a list of probabilities or a number of bins, not a bool")
        if isinstance(quantiles, int):
            if quantiles < 1:
                raise ValueError(f"qcut needs at least one bin, got {quantiles}")
            probs = [i / quantiles for i in range(1, quantiles)]
        else:
            probs = [float(q) for q in quantiles]
        if any(not 0 <= q <= 1 for q in probs):
            raise ValueError(f"qcut's quantiles must be in [0, 1], got {probs}")
        cuts = [self.quantile(q, "linear") for q in probs]
        return _bin(self, cuts, None, labels, left_closed, include_breaks)

    def cum_prod(self) -> Expr:
        """Running product over the rows so far; a null stays null. See :meth:`over`."""
        return when(self.is_null()).then(lit(None)).otherwise(self._window("cum_prod", self))

    def ewm_mean(
        self,
        *,
        com: float | None = None,
        span: float | None = None,
        half_life: float | None = None,
        alpha: float | None = None,
        adjust: bool = True,
        min_samples: int = 1,
        ignore_nulls: bool = False,
    ) -> Expr:
        """Exponentially weighted mean over the rows so far, as polars' ``ewm_mean``.

        Give exactly one of ``com``, ``span``, ``half_life`` and ``alpha``. A
        null row gives null. See :meth:`over` for groups.

        Parameters
        ----------
        com : float, optional
            Center of mass: ``alpha = 1 / (1 + com)``.
        span : float, optional
            ``alpha = 2 / (span + 1)``.
        half_life : float, optional
            ``alpha = 1 - exp(-ln 2 / half_life)``.
        alpha : float, optional
            The smoothing factor, in (0, 1].
        adjust : bool, default True
            Divide by the sum of the weights (else the recursive form).
        min_samples : int, default 1
            Fewer values so far give null.
        ignore_nulls : bool, default False
            Weigh by the values' positions among the values, not among the rows.
        """
        given = [v for v in (com, span, half_life, alpha) if v is not None]
        if builtins.len(given) != 1:
            raise ValueError("ewm_mean needs exactly one of com, span, half_life and alpha")
        if com is not None:
            a = 1.0 / (1.0 + float(com))
        elif span is not None:
            a = 2.0 / (float(span) + 1.0)
        elif half_life is not None:
            a = 1.0 - math.exp(-math.log(2.0) / float(half_life))
        else:
            a = float(given[0])
        if not 0.0 < a <= 1.0:
            raise ValueError(f"ewm_mean's alpha must be in (0, 1], got {a}")
        return self._window(
            "ewm_mean", self, lit(a), bool(adjust), int(min_samples), bool(ignore_nulls)
        )

    def forward_fill(self, limit: int | None = None) -> Expr:
        """Fill a null with the last non-null value before it (at most ``limit`` rows back)."""
        return self._window("fill_forward", self, lit(None) if limit is None else _limit(limit))

    def backward_fill(self, limit: int | None = None) -> Expr:
        """Fill a null with the next non-null value after it (at most ``limit`` rows on)."""
        return self._window("fill_backward", self, lit(None) if limit is None else _limit(limit))

    def skew(self, *, bias: bool = True) -> Expr:
        """Sample skewness of the non-null values (an aggregate), as polars' ``skew``."""
        n, _, m2, m3, _ = _moments(self)
        g1 = m3 / m2**1.5
        if bias:
            return g1
        return g1 * (n * (n - 1)) ** 0.5 / (n - 2)

    def kurtosis(self, *, fisher: bool = True, bias: bool = True) -> Expr:
        """Kurtosis of the non-null values (an aggregate), as polars' ``kurtosis``."""
        n, _, m2, _, m4 = _moments(self)
        g2 = m4 / m2**2
        if not bias:
            g2 = ((n + 1) * (g2 - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)) + 3
        return g2 - 3 if fisher else g2

    def dot(self, other: Any) -> Expr:
        """Sum of the products with ``other`` (an aggregate)."""
        return (self * _column_or_expr(other)).sum()

    def has_nulls(self) -> Expr:
        """True if the values hold a null (an aggregate)."""
        return self.null_count() > 0

    def eq(self, other: Any) -> Expr:
        """``self == other``."""
        return self._call("eq", other)

    def ne(self, other: Any) -> Expr:
        """``self != other``."""
        return self._call("ne", other)

    def lt(self, other: Any) -> Expr:
        """``self < other``."""
        return self._call("lt", other)

    def le(self, other: Any) -> Expr:
        """``self <= other``."""
        return self._call("le", other)

    def gt(self, other: Any) -> Expr:
        """``self > other``."""
        return self._call("gt", other)

    def ge(self, other: Any) -> Expr:
        """``self >= other``."""
        return self._call("ge", other)

    def eq_missing(self, other: Any) -> Expr:
        """``self == other`` with null equal to null (true or false, never null)."""
        other = _to_expr(other)
        both, either = self.is_null() & other.is_null(), self.is_null() | other.is_null()
        return when(both).then(lit(True)).when(either).then(lit(False)).otherwise(self == other)

    def ne_missing(self, other: Any) -> Expr:
        """``self != other`` with null equal to null (true or false, never null)."""
        return ~self.eq_missing(other)

    def add(self, other: Any) -> Expr:
        """``self + other``."""
        return self._call("add", other)

    def sub(self, other: Any) -> Expr:
        """``self - other``."""
        return self._call("subtract", other)

    def mul(self, other: Any) -> Expr:
        """``self * other``."""
        return self._call("multiply", other)

    def truediv(self, other: Any) -> Expr:
        """``self / other``."""
        return self._call("divide", other)

    def mod(self, other: Any) -> Expr:
        """``self % other`` (floored, as polars)."""
        return _floored_mod(self, _to_expr(other))

    def neg(self) -> Expr:
        """``-self``."""
        return -self

    def and_(self, *others: Any) -> Expr:
        """``self & other & ...``."""
        out = self
        for o in others:
            out = out & o
        return out

    def or_(self, *others: Any) -> Expr:
        """``self | other | ...``."""
        out = self
        for o in others:
            out = out | o
        return out

    def pipe(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """``function(self, *args, **kwargs)``."""
        return function(self, *args, **kwargs)

    def len(self) -> Expr:
        """Number of rows, nulls included (an aggregate), as uint32."""
        return self.is_null().count().cast("uint32")

    def replace(self, old: Any, new: Any = None, *, default: Any = None) -> Expr:
        """Replace values, as polars' ``replace`` (others stay as they are).

        Parameters
        ----------
        old : value, list or dict
            The values to replace, or a ``{old: new}`` mapping.
        new : value or list
            Their replacements (one for all, or one each).
        """
        pairs = _replace_pairs(old, new)
        out: Any = None
        for o, n in pairs:
            cond = self.is_null() if o is None else self == o
            out = when(cond).then(_to_expr(n)) if out is None else out.when(cond).then(_to_expr(n))
        return self if out is None else out.otherwise(self if default is None else default)

    def replace_strict(
        self, old: Any, new: Any = None, *, default: Any = None, return_dtype: Any = None
    ) -> Expr:
        """Map values, as polars' ``replace_strict``: unmatched values become ``default``.

        polars raises when a value is unmatched and no default is given;
        here it becomes null.
        """
        pairs = _replace_pairs(old, new)
        out: Any = None
        for o, n in pairs:
            cond = self.is_null() if o is None else self == o
            out = when(cond).then(_to_expr(n)) if out is None else out.when(cond).then(_to_expr(n))
        res = lit(default) if out is None else out.otherwise(_to_expr(default))
        return res if return_dtype is None else res.cast(return_dtype)

    def sort_by(
        self,
        by: Any,
        *more_by: Any,
        descending: bool | builtins.list[bool] = False,
        nulls_last: bool | builtins.list[bool] = False,
        multithreaded: bool = True,
        maintain_order: bool = False,
    ) -> Expr:
        """Order the values by other columns, inside an aggregation, as polars.

        ``col("price").sort_by("t").last()`` is the price at the latest t (in
        ``agg`` and ``select`` of aggregates; ties keep the input order).
        Only ``first`` and ``last`` depend on the order; every aggregation of
        one ``agg`` that sorts must sort by the same keys.
        """
        keys = to_exprs([by, *more_by], {}, strings_are_columns=True)
        n = builtins.len(keys)
        desc = [descending] * n if isinstance(descending, bool) else list(descending)
        nl = [nulls_last] * n if isinstance(nulls_last, bool) else list(nulls_last)
        if builtins.len(desc) != n or builtins.len(nl) != n:
            raise ValueError(f"sort_by: descending and nulls_last need one value per key ({n})")
        args: list[Any] = []
        for k, d, z in zip(keys, desc, nl, strict=True):
            args += [k, bool(d), bool(z)]
        return self._call("sort_by", *args)

    def filter(self, *predicates: Any, **constraints: Any) -> Expr:
        """Keep the values where the predicates hold, inside an aggregation, as polars.

        ``col("x").filter(col("y") > 0).sum()`` sums x over the rows where
        y > 0 (in ``agg``, ``select`` of aggregates and ``over``); several
        predicates are combined with ``&``; ``name=value`` means
        ``col(name) == value``. On its own it is an error (it would change
        the number of rows): use ``DataFrame.filter``.
        """
        items = to_exprs(predicates, {}, strings_are_columns=True)
        items += [col(name) == value for name, value in constraints.items()]
        if not items:
            raise TypeError("filter() needs at least one predicate")
        cond = items[0]
        for p in items[1:]:
            cond = cond & p
        return self._call("filter", cond)

    def null_count(self) -> Expr:
        """Number of nulls (an aggregate), as uint32 like polars."""
        return self.is_null().sum().cast("uint32")

    def _cov(self, other: Any, ddof: int = 1) -> Expr:
        """Covariance with ``other`` over the rows where both are not null (an aggregate)."""
        x, y = _pairwise(self, _column_or_expr(other))
        n = x.count()
        return (((x * y).sum() - x.sum() * y.sum() / n) / (n - _ddof(ddof))).cast("float64")

    def _corr(self, other: Any, method: builtins.str = "pearson") -> Expr:
        """Pearson correlation with ``other`` over the rows where both are not null."""
        if method != "pearson":
            raise ValueError(f"corr(method={method!r}): only 'pearson' is supported")
        x, y = _pairwise(self, _column_or_expr(other))
        return x._cov(y, ddof=1) / (x.std() * y.std())

    # ---------------------------------------------------------------- windows

    def over(
        self,
        partition_by: Any = None,
        *more_by: Any,
        order_by: Any = None,
        descending: bool = False,
        nulls_last: bool = False,
    ) -> Expr:
        """Compute this expression within groups of rows, keeping every row.

        As polars' ``Expr.over``: an aggregation gives each row its group's
        value; a window function (:meth:`rank`, :meth:`shift`, :meth:`cum_sum`,
        ...) runs within each group in ``order_by`` order. Rows keep their order.

        Parameters
        ----------
        partition_by : str, Expr or list of them, optional
            The group keys; none means one group of all rows.
        *more_by : str or Expr
            More group keys.
        order_by : str, Expr or list of them, optional
            The order within a group, for window functions.
        descending, nulls_last : bool
            Direction and null placement of ``order_by``.

        Examples
        --------
        >>> t.with_columns(col("fare").sum().over("vendor").alias("vendor_total"))  # doctest: +SKIP
        >>> t.with_columns(col("fare").cum_sum().over("vendor", order_by="t"))  # doctest: +SKIP
        """
        keys: list[Any] = []
        for k in ([] if partition_by is None else [partition_by]) + list(more_by):
            keys.extend(k if isinstance(k, (list, tuple)) else [k])
        order = (
            []
            if order_by is None
            else (order_by if isinstance(order_by, (list, tuple)) else [order_by])
        )
        partition = [_column_or_expr(k)._pb for k in keys]
        sort_keys = [
            pb.SortKey(expr=_column_or_expr(k)._pb, descending=descending, nulls_last=nulls_last)
            for k in order
        ]
        return Expr(_over(self._pb, partition, sort_keys))

    def _window(
        self, function: builtins.str, *args: Any, order: bool = False, descending: bool = False
    ) -> Expr:
        call = pb.Call(function=function, args=[_to_expr(a)._pb for a in args])
        over = pb.Over(expr=pb.Expr(call=call))
        if order:
            over.order_by.append(pb.SortKey(expr=self._pb, descending=descending))
        return Expr(pb.Expr(over=over))

    def rank(
        self,
        method: builtins.str = "average",
        *,
        descending: bool = False,
        seed: int | None = None,
    ) -> Expr:
        """Rank of each value (1 for the smallest), as polars' ``Expr.rank``.

        A null has a null rank; NaN ranks above every number. Over the
        whole column, or within groups with :meth:`over` (whose
        ``order_by`` does not change a rank: the values do).

        Parameters
        ----------
        method : {"average", "min", "max", "dense", "ordinal"}
            How ties are ranked: ``average`` (the default) gives each the
            mean of their ranks, as float64; ``min`` / ``max`` the lowest /
            highest of them (SQL's ``rank`` is ``min``); ``dense`` ranks
            distinct values 1, 2, 3, ...; ``ordinal`` numbers the rows in
            order, ties in their input order. All but ``average`` give uint32.
        descending : bool
            Rank the largest value first.
        seed : None
            Only for polars' ``"random"`` method, which is not supported.
        """
        methods = ("average", "min", "max", "dense", "ordinal")
        if method not in methods:
            raise ValueError(f"rank(method={method!r}): expected one of {', '.join(methods)}")
        if seed is not None:
            raise ValueError("rank(seed=) applies only to method='random', which is not supported")
        functions = {"min": "rank", "dense": "dense_rank", "ordinal": "row_number"}

        def ranked(function: builtins.str) -> Expr:
            # Nulls last, so that they never push a value's rank up.
            call = pb.Call(function=function)
            key = pb.SortKey(expr=self._pb, descending=descending, nulls_last=True)
            return Expr(pb.Expr(over=pb.Over(expr=pb.Expr(call=call), order_by=[key])))

        if method in functions:
            out = ranked(functions[method])
        else:
            # Ties share the rank of the first of them (min) and span as many
            # ranks as there are: max = min + ties - 1, average = min + (ties - 1) / 2.
            ties = Expr(pb.Expr(over=pb.Over(expr=len()._pb, partition_by=[self._pb])))
            low = ranked("rank")
            out = low + (ties - 1) if method == "max" else low + (ties - 1) / 2
        out = when(self.is_null()).then(lit(None)).otherwise(out)
        return out.cast("float64" if method == "average" else "uint32")

    def _rolling(
        self,
        agg: Expr,
        window_size: int,
        weights: Any,
        min_samples: int | None,
        center: bool,
    ) -> Expr:
        if weights is not None:
            raise ValueError("rolling weights are not supported")
        if not isinstance(window_size, int) or isinstance(window_size, bool) or window_size < 1:
            raise ValueError(f"window_size must be a positive int, got {window_size!r}")
        if min_samples is None:
            min_samples = window_size
        if not isinstance(min_samples, int) or min_samples < 0:
            raise ValueError(f"min_samples must be a non-negative int, got {min_samples!r}")
        before, after = (
            (window_size // 2, window_size - 1 - window_size // 2)
            if center
            else (
                window_size - 1,
                0,
            )
        )
        call = pb.Call(
            function="rolling",
            args=[agg._pb, lit(before)._pb, lit(after)._pb, lit(min_samples)._pb],
        )
        return Expr(pb.Expr(over=pb.Over(expr=pb.Expr(call=call))))

    def rolling_sum(
        self,
        window_size: int,
        weights: Any = None,
        *,
        min_samples: int | None = None,
        center: bool = False,
    ) -> Expr:
        """Sum over a window of ``window_size`` rows ending at each row, as polars.

        Rows in input order (or an :meth:`over`'s ``order_by``); null where
        the window holds fewer than ``min_samples`` non-null values (default:
        ``window_size``). ``center`` centres the window on the row.
        """
        return self._rolling(self.sum(), window_size, weights, min_samples, center)

    def rolling_mean(
        self,
        window_size: int,
        weights: Any = None,
        *,
        min_samples: int | None = None,
        center: bool = False,
    ) -> Expr:
        """Mean over a window of rows, as :meth:`rolling_sum`."""
        return self._rolling(self.mean(), window_size, weights, min_samples, center)

    def rolling_min(
        self,
        window_size: int,
        weights: Any = None,
        *,
        min_samples: int | None = None,
        center: bool = False,
    ) -> Expr:
        """Minimum over a window of rows, as :meth:`rolling_sum`."""
        # A NaN in the window makes it NaN, as polars' rolling_min.
        return self._rolling(self._call("min", False), window_size, weights, min_samples, center)

    def rolling_max(
        self,
        window_size: int,
        weights: Any = None,
        *,
        min_samples: int | None = None,
        center: bool = False,
    ) -> Expr:
        """Maximum over a window of rows, as :meth:`rolling_sum`."""
        return self._rolling(self._call("max", False), window_size, weights, min_samples, center)

    def rolling_std(
        self,
        window_size: int,
        weights: Any = None,
        *,
        min_samples: int | None = None,
        center: bool = False,
        ddof: int = 1,
    ) -> Expr:
        """Standard deviation over a window of rows, as :meth:`rolling_sum`."""
        return self._rolling(self.std(ddof), window_size, weights, min_samples, center)

    def rolling_var(
        self,
        window_size: int,
        weights: Any = None,
        *,
        min_samples: int | None = None,
        center: bool = False,
        ddof: int = 1,
    ) -> Expr:
        """Variance over a window of rows, as :meth:`rolling_sum`."""
        return self._rolling(self.var(ddof), window_size, weights, min_samples, center)

    def rolling_median(
        self,
        window_size: int,
        weights: Any = None,
        *,
        min_samples: int | None = None,
        center: bool = False,
    ) -> Expr:
        """Median over a window of rows, as :meth:`rolling_sum`."""
        return self._rolling(self.median(), window_size, weights, min_samples, center)

    def rolling_quantile(
        self,
        quantile: float,
        interpolation: builtins.str = "nearest",
        window_size: int = 2,
        weights: Any = None,
        *,
        min_samples: int | None = None,
        center: bool = False,
    ) -> Expr:
        """A quantile over a window of rows, as :meth:`rolling_sum` and :meth:`quantile`."""
        agg = self.quantile(quantile, interpolation)
        return self._rolling(agg, window_size, weights, min_samples, center)

    def _rolling_by(
        self, agg: Expr, by: Any, window_size: Any, min_samples: int, closed: builtins.str
    ) -> Expr:
        if not isinstance(min_samples, int) or isinstance(min_samples, bool) or min_samples < 0:
            raise ValueError(f"min_samples must be a non-negative int, got {min_samples!r}")
        window = _rolling_window(agg._pb, window_size, min_samples, closed)
        key = pb.SortKey(expr=_column_or_expr(by)._pb)
        return Expr(pb.Expr(over=pb.Over(expr=pb.Expr(call=window), order_by=[key])))

    def rolling_sum_by(
        self,
        by: Any,
        window_size: Any,
        *,
        min_samples: int = 1,
        closed: builtins.str = "right",
    ) -> Expr:
        """Sum over the rows whose ``by`` lies within ``window_size`` of this row's, as polars.

        Parameters
        ----------
        by : str or Expr
            A date, timestamp or integer column; the rows need not be sorted by it.
        window_size : str or timedelta
            A fixed duration (``"2d"``, ``"1h30m"``, ``timedelta(...)``), or
            ``"3i"`` for an integer ``by``; months and years are not supported.
        min_samples : int
            The fewest non-null values a window needs, else null.
        closed : {"right", "left", "both", "none"}
            Which ends of ``(t - window_size, t]`` the window holds.
        """
        return self._rolling_by(self.sum(), by, window_size, min_samples, closed)

    def rolling_mean_by(
        self, by: Any, window_size: Any, *, min_samples: int = 1, closed: builtins.str = "right"
    ) -> Expr:
        """Mean over a window of ``by`` values, as :meth:`rolling_sum_by`."""
        return self._rolling_by(self.mean(), by, window_size, min_samples, closed)

    def rolling_min_by(
        self, by: Any, window_size: Any, *, min_samples: int = 1, closed: builtins.str = "right"
    ) -> Expr:
        """Minimum over a window of ``by`` values, as :meth:`rolling_sum_by`."""
        return self._rolling_by(self._call("min", False), by, window_size, min_samples, closed)

    def rolling_max_by(
        self, by: Any, window_size: Any, *, min_samples: int = 1, closed: builtins.str = "right"
    ) -> Expr:
        """Maximum over a window of ``by`` values, as :meth:`rolling_sum_by`."""
        return self._rolling_by(self._call("max", False), by, window_size, min_samples, closed)

    def rolling_std_by(
        self,
        by: Any,
        window_size: Any,
        *,
        min_samples: int = 1,
        closed: builtins.str = "right",
        ddof: int = 1,
    ) -> Expr:
        """Standard deviation over a window of ``by`` values, as :meth:`rolling_sum_by`."""
        return self._rolling_by(self.std(ddof), by, window_size, min_samples, closed)

    def rolling_var_by(
        self,
        by: Any,
        window_size: Any,
        *,
        min_samples: int = 1,
        closed: builtins.str = "right",
        ddof: int = 1,
    ) -> Expr:
        """Variance over a window of ``by`` values, as :meth:`rolling_sum_by`."""
        return self._rolling_by(self.var(ddof), by, window_size, min_samples, closed)

    def rolling_median_by(
        self, by: Any, window_size: Any, *, min_samples: int = 1, closed: builtins.str = "right"
    ) -> Expr:
        """Median over a window of ``by`` values, as :meth:`rolling_sum_by`."""
        return self._rolling_by(self.median(), by, window_size, min_samples, closed)

    def rolling_quantile_by(
        self,
        by: Any,
        window_size: Any,
        *,
        quantile: float,
        interpolation: builtins.str = "nearest",
        min_samples: int = 1,
        closed: builtins.str = "right",
    ) -> Expr:
        """A quantile over a window of ``by`` values, as :meth:`rolling_sum_by`."""
        agg = self.quantile(quantile, interpolation)
        return self._rolling_by(agg, by, window_size, min_samples, closed)

    def hash(
        self,
        seed: int = 0,
        seed_1: int | None = None,
        seed_2: int | None = None,
        seed_3: int | None = None,
    ) -> Expr:
        """A uint64 hash of each value, the same on every node and run, as polars' ``hash``.

        The values differ from polars' (another hash function); only ``seed``
        is used.
        """
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"hash(seed={seed!r}): expected a non-negative int")
        return self._call("hash", seed)

    def shift(self, n: int = 1) -> Expr:
        """The value ``n`` rows earlier (later when negative); null past the edge.

        Use with :meth:`over` and its ``order_by`` to say which rows come first.
        """
        if not isinstance(n, int):
            raise TypeError("shift() takes an integer")
        if n >= 0:
            return self._window("lag", self, n)
        return self._window("lead", self, -n)

    def cum_sum(self) -> Expr:
        """Running sum over the rows so far (nulls skipped); see :meth:`over`.

        A null stays null, as in polars. See :meth:`over` for the order.
        """
        return when(self.is_null()).then(lit(None)).otherwise(self._window("cum_sum", self))

    def cum_count(self) -> Expr:
        """Running count of non-null values over the rows so far."""
        return self._window("cum_count", self)

    def cum_min(self) -> Expr:
        """Running minimum over the rows so far (nulls skipped).

        A null stays null, as in polars. See :meth:`over` for the order.
        """
        return when(self.is_null()).then(lit(None)).otherwise(self._window("cum_min", self))

    def cum_max(self) -> Expr:
        """Running maximum over the rows so far (nulls skipped).

        A null stays null, as in polars. See :meth:`over` for the order.
        """
        return when(self.is_null()).then(lit(None)).otherwise(self._window("cum_max", self))


class When:
    """The ``when`` of ``sl.when(cond).then(value)``; call :meth:`then` next."""

    __slots__ = ("_args", "_cond")

    def __init__(self, args: list[tuple[pb.Expr, pb.Expr]], cond: pb.Expr) -> None:
        self._args = args
        self._cond = cond

    def then(self, value: Any) -> Then:
        """The value where the condition holds.

        Parameters
        ----------
        value : Expr, str or literal
            A string is a column name, as in polars; use ``lit("text")`` for text.
        """
        return Then([*self._args, (self._cond, _column_or_expr(value)._pb)])


class Then(Expr):
    """``sl.when(...).then(...)``: an expression (null where no condition holds).

    Chain another :meth:`when` or finish with :meth:`otherwise`.
    """

    __slots__ = ("_args",)

    def __init__(self, args: list[tuple[pb.Expr, pb.Expr]]) -> None:
        super().__init__(_case_when(args, lit(None)._pb))
        self._args = args

    def when(self, *predicates: Any) -> When:
        """Add a condition, tested when the previous ones are not true.

        Parameters
        ----------
        *predicates : Expr
            Boolean expressions, combined with ``&``.
        """
        return When(self._args, _all_of(predicates))

    def otherwise(self, value: Any) -> Expr:
        """The value where no condition holds (instead of null).

        Parameters
        ----------
        value : Expr, str or literal
            A string is a column name, as in polars; use ``lit("text")`` for text.
        """
        return Expr(_case_when(self._args, _column_or_expr(value)._pb))


def _case_when(branches: list[tuple[pb.Expr, pb.Expr]], otherwise: pb.Expr) -> pb.Expr:
    # The values first, then the conditions (see case_when in the registry).
    args = [v for _, v in branches] + [otherwise] + [c for c, _ in branches]
    return pb.Expr(call=pb.Call(function="case_when", args=args))


def _moments(e: Expr) -> tuple[Expr, Expr, Expr, Expr, Expr]:
    """Count, mean and the 2nd to 4th central moments of e, from power sums.

    Aggregations do not nest, so there is no mean of deviations from the mean.
    """
    x = e.cast("float64")
    n = x.count()
    s1, s2, s3, s4 = (x.sum() / n, (x * x).sum() / n, (x * x * x).sum() / n, (x**4).sum() / n)
    m2 = s2 - s1 * s1
    m3 = s3 - 3 * s1 * s2 + 2 * s1**3
    m4 = s4 - 4 * s1 * s3 + 6 * s1 * s1 * s2 - 3 * s1**4
    return n, s1, m2, m3, m4


def _floored_mod(a: Expr, b: Expr) -> Expr:
    """``a % b`` with the sign of ``b``, as polars and Python (SQL's has the sign of ``a``)."""
    r = a._call("modulo", b)
    return when((r != 0) & ((r < 0) != (b < 0))).then(r + b).otherwise(r)


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ValueError(f"limit must be a non-negative int, got {limit!r}")
    return limit


def _replace_pairs(old: Any, new: Any) -> list[tuple[Any, Any]]:
    if isinstance(old, dict):
        return list(old.items())
    olds = list(old) if isinstance(old, (list, tuple)) else [old]
    news = list(new) if isinstance(new, (list, tuple)) else [new] * builtins.len(olds)
    if builtins.len(news) != builtins.len(olds):
        raise ValueError(f"replace: {builtins.len(olds)} old values but {builtins.len(news)} new")
    return list(zip(olds, news, strict=True))


def _pairwise(x: Expr, y: Expr) -> tuple[Expr, Expr]:
    """Return x and y, each null where the other is (corr and cov use complete pairs)."""
    both = x.is_not_null() & y.is_not_null()
    return when(both).then(x), when(both).then(y)


def _column_or_expr(value: Any) -> Expr:
    return col(value) if isinstance(value, str) else _to_expr(value)


def _over(e: pb.Expr, partition: list[pb.Expr], order: list[pb.SortKey]) -> pb.Expr:
    """Rewrite ``e`` as ``e.over(partition, order_by=order)``, as polars reads it.

    Every window inside ``e`` is taken within the partitions (and in
    ``order`` when it has no order of its own), every aggregate outside a
    window becomes one, and the rest stays row by row.
    """
    kind = e.WhichOneof("kind")
    if kind == "over":
        out = pb.Over()
        out.CopyFrom(e.over)
        del out.partition_by[:]
        out.partition_by.extend(partition)
        out.partition_by.extend(e.over.partition_by)
        if order and not out.order_by:
            out.order_by.extend(order)
        return pb.Expr(over=out)
    if kind == "call" and e.call.function in _AGGREGATES:
        return pb.Expr(over=pb.Over(expr=e, partition_by=partition, order_by=order))
    if kind == "call":
        args = [_over(a, partition, order) for a in e.call.args]
        return pb.Expr(call=pb.Call(function=e.call.function, args=args))
    if kind == "alias":
        inner = _over(e.alias.expr, partition, order)
        return pb.Expr(alias=pb.Alias(expr=inner, name=e.alias.name))
    if kind == "cast":
        return pb.Expr(cast=pb.Cast(expr=_over(e.cast.expr, partition, order), to=e.cast.to))
    return e


_PERIOD_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
}


def _period(window_size: Any) -> pb.Expr:
    """A rolling window's span as a literal: a duration, or an int for ``"3i"``."""
    if isinstance(window_size, _dt.timedelta):
        return lit(window_size)._pb
    text = window_size if isinstance(window_size, str) else ""
    if re.fullmatch(r"\d+i", text):
        return lit(int(text[:-1]))._pb
    parts = re.findall(r"(\d+)(ns|us|ms|mo|s|m|h|d|w|q|y)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(
            f"window_size={window_size!r}: expected a polars duration such as '2d' or '1h30m', "
            "'3i' for an integer column, or a timedelta"
        )
    if any(u in ("mo", "q", "y") for _, u in parts):
        raise ValueError(
            f"window_size={window_size!r}: months, quarters and years are not supported"
        )
    ns = sum(int(n) * _PERIOD_NS[u] for n, u in parts)
    return lit(pb.Duration(value=ns, unit=pb.DataType.NANOSECOND))._pb


def _rolling_window(agg: pb.Expr, window_size: Any, min_samples: int, closed: str) -> pb.Call:
    """``rolling_by(agg, period, min_samples, closed)``, checked."""
    if closed not in ("right", "left", "both", "none"):
        raise ValueError(f"closed={closed!r}: expected 'right', 'left', 'both' or 'none'")
    args = [agg, _period(window_size), lit(min_samples)._pb, lit(closed)._pb]
    return pb.Call(function="rolling_by", args=args)


def _rolling_over(
    e: pb.Expr, index: pb.Expr, window_size: Any, closed: str, partition: list[pb.Expr]
) -> pb.Expr:
    """Rewrite ``e`` so that each aggregate in it runs over a rolling window of ``index``."""
    kind = e.WhichOneof("kind")
    if kind == "call" and e.call.function in _AGGREGATES:
        # min_samples 0: a window aggregates as a group does (a sum of nulls is 0)
        window = pb.Expr(call=_rolling_window(e, window_size, 0, closed))
        key = pb.SortKey(expr=index)
        return pb.Expr(over=pb.Over(expr=window, partition_by=partition, order_by=[key]))
    if kind == "call":
        args = [_rolling_over(a, index, window_size, closed, partition) for a in e.call.args]
        return pb.Expr(call=pb.Call(function=e.call.function, args=args))
    if kind == "alias":
        inner = _rolling_over(e.alias.expr, index, window_size, closed, partition)
        return pb.Expr(alias=pb.Alias(expr=inner, name=e.alias.name))
    if kind == "cast":
        inner = _rolling_over(e.cast.expr, index, window_size, closed, partition)
        return pb.Expr(cast=pb.Cast(expr=inner, to=e.cast.to))
    if kind == "over":
        raise ValueError("rolling(...).agg(): a window expression cannot also be rolled")
    return e


def _all_of(predicates: Iterable[Any]) -> pb.Expr:
    items = to_exprs(predicates, {}, strings_are_columns=True)
    if not items:
        raise TypeError("when() needs at least one condition")
    out = items[0]
    for p in items[1:]:
        out = out & p
    return out._pb


def when(*predicates: Any) -> When:
    """Start a conditional expression, as ``pl.when``.

    ``sl.when(c1).then(a).when(c2).then(b).otherwise(c)`` is ``a`` where ``c1``
    is true, else ``b`` where ``c2`` is true, else ``c``; a null condition
    counts as not true. Without ``otherwise`` the rest is null. All values
    are cast to their common type.

    Parameters
    ----------
    *predicates : Expr
        Boolean expressions, combined with ``&``.

    Examples
    --------
    >>> import slipstream as sl
    >>> from slipstream import col
    >>> from slipstream import lit
    >>> sl.when(col("x") > 0).then(lit("pos")).otherwise(lit("neg"))
    <Expr when(col("x") > 0).then('pos').otherwise('neg')>
    """
    return When([], _all_of(predicates))


def coalesce(*exprs: Any) -> Expr:
    """The first non-null value of the arguments, row by row.

    Parameters
    ----------
    *exprs : str, Expr, literal or lists of them
        Strings are column names, as in polars.

    Examples
    --------
    >>> import slipstream as sl
    >>> sl.coalesce("a", "b", 0)
    <Expr coalesce(col("a"), col("b"), 0)>
    """
    items = to_exprs(exprs, {}, strings_are_columns=True)
    if not items:
        raise TypeError("coalesce() needs at least one expression")
    return items[0]._call("coalesce", *items[1:])


def _break_text(b: float) -> builtins.str:
    """A break as polars writes it in a label: ``1``, ``2.5``, ``inf``."""
    if b != b:
        return "NaN"
    if b in (float("inf"), float("-inf")):
        return "inf" if b > 0 else "-inf"
    return builtins.str(int(b)) if b.is_integer() else repr(b)


def _bin(
    x: Expr,
    cuts: list[Expr],
    values: list[float] | None,
    labels: Sequence[builtins.str] | None,
    left_closed: bool,
    include_breaks: bool,
) -> Expr:
    """Cut / qcut: a when-chain over the breaks (constants, or aggregates)."""
    if include_breaks:
        raise ValueError("include_breaks=True is not supported: the result is the label only")
    n = builtins.len(cuts) + 1
    if labels is not None:
        names: list[Any] = [_text(lab, "a label") for lab in labels]
        if builtins.len(names) != n:
            raise ValueError(f"{n} labels are needed for {n - 1} breaks, got {builtins.len(names)}")
    else:
        if values is not None:
            edges: list[Any] = [lit(_break_text(v)) for v in values]
        else:  # quantile breaks: known once computed, written as polars writes floats
            edges = [_float_text(c) for c in cuts]
        edges = [lit("-inf"), *edges, lit("inf")]
        left, right = ("[", ")") if left_closed else ("(", "]")
        names = [
            concat_str(lit(left), edges[i], lit(", "), edges[i + 1], lit(right)) for i in range(n)
        ]
    chain = when(x.is_null()).then(lit(None, "utf8"))
    for c, name in zip(cuts, names, strict=False):
        chain = chain.when(x < c if left_closed else x <= c).then(_to_expr(name))
    out = chain.otherwise(_to_expr(names[-1]))
    if values is None:  # qcut: a Categorical, as polars
        return out._call("to_categorical")
    # cut: an Enum of its labels, in order, as polars
    if labels is not None:
        cats = [builtins.str(lab) for lab in labels]
    else:
        texts = ["-inf", *[_break_text(v) for v in values], "inf"]
        left, right = ("[", ")") if left_closed else ("(", "]")
        cats = [f"{left}{texts[i]}, {texts[i + 1]}{right}" for i in range(n)]
    return out._call("to_enum", lit(json.dumps(cats), "utf8"))


def _float_text(e: Expr) -> Expr:
    """A float as text without a trailing ``.0`` (``2`` for 2.0), as polars' labels."""
    text = e.cast("float64").cast("utf8")
    return when(e == e.floor()).then(e.cast("int64").cast("utf8")).otherwise(text)


def output_name(e: pb.Expr) -> str:
    """The name polars gives an expression's result.

    Its alias, else the first column it reads (depth first), else ``literal``.
    """
    kind = e.WhichOneof("kind")
    if kind == "alias":
        return e.alias.name
    if kind == "column":
        return e.column.name
    if kind == "cast":
        return output_name(e.cast.expr)
    if kind == "over":
        return output_name(e.over.expr)
    if kind == "call":
        for a in e.call.args:
            name = output_name(a)
            if name != "literal":
                return name
        if e.call.function == "len":  # pl.len() is named len
            return "len"
    if kind == "selector" and builtins.len(e.selector.names) == 1:
        return builtins.str(e.selector.names[0])
    return "literal"


def struct(*exprs: Any, **named: Any) -> Expr:
    """Pack columns into one struct column, as polars' ``pl.struct``.

    Parameters
    ----------
    *exprs : str, Expr or list of them
        The fields; each is named as its expression's output (its alias or
        the column it reads).
    **named
        ``name=expr`` adds a field called ``name``.

    Examples
    --------
    >>> import slipstream as sl
    >>> sl.struct("a", b=sl.col("x") * 2)
    <Expr struct(a=col("a"), b=col("x") * 2)>
    """
    items = to_exprs(exprs, named, strings_are_columns=True)
    if not items:
        raise TypeError("struct() needs at least one field")
    args: list[Any] = []
    for e in items:
        inner = e._pb.alias.expr if e._pb.WhichOneof("kind") == "alias" else e._pb
        args += [lit(output_name(e._pb)), Expr(inner)]
    return Expr(pb.Expr(call=pb.Call(function="struct", args=[_to_expr(a)._pb for a in args])))


def concat_str(
    exprs: Any, *more_exprs: Any, separator: str = "", ignore_nulls: bool = False
) -> Expr:
    """Concatenate columns as text, row by row, as ``pl.concat_str``.

    Parameters
    ----------
    exprs, *more_exprs : str, Expr or lists of them
        Strings are column names; non-text values are formatted as text.
    separator : str
        Put between the values.
    ignore_nulls : bool
        Skip nulls; by default a null anywhere makes the row null.

    Examples
    --------
    >>> import slipstream as sl
    >>> sl.concat_str(["first", "last"], separator=" ")
    <Expr concat_str(col("first"), col("last"), separator=' ')>
    """
    items = to_exprs([exprs, *more_exprs], {}, strings_are_columns=True)
    if not items:
        raise TypeError("concat_str() needs at least one expression")
    if not isinstance(separator, str):
        raise TypeError(f"separator must be a str, got {type(separator).__name__}")
    return items[0]._call("concat_str", *items[1:], separator, bool(ignore_nulls))


def col(name: Any, *more_names: Any) -> Expr:
    """Refer to a column by name, or to several columns, as ``pl.col``.

    Parameters
    ----------
    name : str, dtype or list of them
        A column name; a regular expression ``"^...$"`` selects every column
        whose name matches; a data type (``pl.Int64``, ``"float64"``,
        ``pa.utf8()``) every column of that type; a list, each of them.
    *more_names : str or dtype
        More names or types.

    An expression of several columns stands for one expression per column
    in ``select``, ``with_columns``, ``agg``, ``sort`` and ``filter``, and for
    several arguments in ``sum_horizontal`` and the like.

    Examples
    --------
    >>> from slipstream import col
    >>> col("fare") > 10
    <Expr col("fare") > 10>
    >>> col("a", "b").sum()
    <Expr col("a", "b").sum()>
    """
    items: list[Any] = []
    for n in [name, *more_names]:
        items.extend(n if isinstance(n, (list, tuple)) else [n])
    if builtins.len(items) == 1 and isinstance(items[0], str) and not _is_pattern(items[0]):
        return Expr(pb.Expr(column=pb.Column(name=items[0])))
    sel = pb.Selector()
    for item in items:
        if isinstance(item, str) and _is_pattern(item):
            sel.patterns.append(item)
        elif isinstance(item, str) and item not in _dtypes._SIMPLE:
            sel.names.append(item)
        else:
            try:
                sel.dtypes.append(_dtypes.to_plan_type(item))
            except (TypeError, ValueError):
                raise TypeError(
                    f"col() takes column names, ^...$ patterns or data types, got {item!r}"
                ) from None
    return Expr(pb.Expr(selector=sel))


def all_() -> Expr:
    """Every column of the input, as ``pl.all()`` (``sl.all()``).

    Examples
    --------
    >>> import slipstream as sl
    >>> sl.all().exclude("id").max()
    <Expr all().exclude('id').max()>
    """
    return Expr(pb.Expr(selector=pb.Selector(all=True)))


def exclude(columns: Any, *more_columns: Any) -> Expr:
    """Every column but those given, as ``pl.exclude``.

    Parameters
    ----------
    columns, *more_columns : str, dtype or lists of them
        Names, ``^...$`` patterns or data types to leave out.
    """
    return all_().exclude(columns, *more_columns)


def _is_pattern(name: str) -> bool:
    return name.startswith("^") and name.endswith("$")


def _add_exclusions(sel: pb.Selector, items: list[Any]) -> None:
    for item in items:
        kind = item._pb.WhichOneof("kind") if isinstance(item, Expr) else None
        if kind == "column":
            sel.exclude.append(item._pb.column.name)
        elif kind == "selector" and not item._pb.selector.all:
            other = item._pb.selector
            sel.exclude.extend([*other.names, *other.patterns])
            sel.exclude_dtypes.extend(other.dtypes)
        elif isinstance(item, Expr):
            raise TypeError(f"exclude() takes names, patterns, types or selectors, got {item}")
        elif isinstance(item, (list, tuple)):
            _add_exclusions(sel, list(item))
        elif isinstance(item, str) and item not in _dtypes._SIMPLE:
            sel.exclude.append(item)
        else:
            sel.exclude_dtypes.append(_dtypes.to_plan_type(item))


def _horizontal(function: str, exprs: tuple[Any, ...]) -> Expr:
    items = to_exprs(exprs, {}, strings_are_columns=True)
    if not items:
        raise TypeError(f"{function}() needs at least one expression")
    return items[0]._call(function, *items[1:])


def sum_horizontal(*exprs: Any, ignore_nulls: bool = True) -> Expr:
    """Row-wise sum of the columns, nulls counted as 0, as ``pl.sum_horizontal``.

    Parameters
    ----------
    *exprs : str, Expr or lists of them
        Columns (names) or expressions; a selector stands for its columns.
    ignore_nulls : bool
        Only True (polars' default) is supported.
    """
    _only_ignore_nulls("sum_horizontal", ignore_nulls)
    return _horizontal("sum_horizontal", exprs)


def mean_horizontal(*exprs: Any, ignore_nulls: bool = True) -> Expr:
    """Row-wise mean of the non-null values (null when none), as ``pl.mean_horizontal``."""
    _only_ignore_nulls("mean_horizontal", ignore_nulls)
    return _horizontal("mean_horizontal", exprs)


def min_horizontal(*exprs: Any) -> Expr:
    """Row-wise least non-null value (NaN only when all are), as ``pl.min_horizontal``."""
    return _horizontal("min_horizontal", exprs)


def max_horizontal(*exprs: Any) -> Expr:
    """Row-wise greatest non-null value (NaN only when all are), as ``pl.max_horizontal``."""
    return _horizontal("max_horizontal", exprs)


def any_horizontal(*exprs: Any) -> Expr:
    """Row-wise or of booleans, Kleene logic, as ``pl.any_horizontal``."""
    return _horizontal("any_horizontal", exprs)


def all_horizontal(*exprs: Any) -> Expr:
    """Row-wise and of booleans, Kleene logic, as ``pl.all_horizontal``."""
    return _horizontal("all_horizontal", exprs)


def corr(a: Any, b: Any, *, method: str = "pearson") -> Expr:
    """Pearson correlation of two columns (an aggregate), as ``pl.corr``."""
    return _column_or_expr(a)._corr(b, method=method)


def cov(a: Any, b: Any, *, ddof: int = 1) -> Expr:
    """Covariance of two columns (an aggregate), as ``pl.cov``."""
    return _column_or_expr(a)._cov(b, ddof=ddof)


def _only_ignore_nulls(function: str, ignore_nulls: bool) -> None:
    if not ignore_nulls:
        raise ValueError(f"{function}(ignore_nulls=False) is not supported; use + instead")


def len() -> Expr:
    """Count rows (an aggregate, like ``pl.len()``).

    Examples
    --------
    >>> import slipstream as sl
    >>> sl.len().alias("n")
    <Expr len() AS "n">
    """
    return Expr(pb.Expr(call=pb.Call(function="len")))


def lit(value: Any, dtype: Any = None) -> Expr:
    """A constant.

    Parameters
    ----------
    value : int, float, str, bool, bytes, None, datetime.date, datetime.datetime,
            datetime.time, datetime.timedelta, decimal.Decimal
        The value; numpy scalars and ``pandas.Timestamp`` are accepted too.
        Untyped integers and floats take the type of the column they meet when
        the value fits (``col("i32") + 1`` stays int32).
    dtype : optional
        Give the literal this type (any spelling :meth:`Expr.cast` accepts).
        ``lit(None, "int64")`` is a typed null.
    """
    if isinstance(value, Expr):
        return value if dtype is None else value.cast(dtype)
    if value is None and dtype is not None:
        return Expr(pb.Expr(literal=pb.Literal(null=_dtypes.to_plan_type(dtype))))
    expr = Expr(pb.Expr(literal=_literal(value)))
    return expr if dtype is None else expr.cast(dtype)


def _literal(value: Any) -> pb.Literal:
    value = _unwrap_numpy(value)
    if value is None:
        return pb.Literal(null=pb.DataType())
    if isinstance(value, bool):
        return pb.Literal(bool_value=value)
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return pb.Literal(int_value=value)
        if 0 <= value <= _UINT64_MAX:
            return pb.Literal(uint_value=value)
        raise OverflowError(f"integer literal {value} does not fit in 64 bits")
    if isinstance(value, float):
        return pb.Literal(float_value=value)
    if isinstance(value, str):
        return pb.Literal(string_value=value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return pb.Literal(binary_value=bytes(value))
    if isinstance(value, pb.Duration):
        return pb.Literal(duration_value=value)
    if isinstance(value, _dt.timedelta):
        if hasattr(value, "value") and hasattr(value, "nanoseconds"):  # pandas.Timedelta
            return pb.Literal(
                duration_value=pb.Duration(value=value.value, unit=pb.DataType.NANOSECOND)
            )
        micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
        return pb.Literal(duration_value=pb.Duration(value=micros, unit=pb.DataType.MICROSECOND))
    if isinstance(value, _dt.time):
        if value.tzinfo is not None:
            raise ValueError(f"a time of day with a time zone cannot be a literal: {value!r}")
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return pb.Literal(time_value=seconds * 1_000_000_000 + value.microsecond * 1000)
    if isinstance(value, (_dt.datetime, pb.Timestamp)):
        return pb.Literal(timestamp_value=_timestamp(value))
    if isinstance(value, _dt.date):
        return pb.Literal(date_value=(value - _EPOCH_DATE).days)
    if isinstance(value, decimal.Decimal):
        return pb.Literal(decimal_value=_decimal(value))
    raise TypeError(f"cannot use {type(value).__name__} {value!r} as a literal")


def _unwrap_numpy(value: Any) -> Any:
    module = type(value).__module__
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.datetime64):
            unit, _ = np.datetime_data(value.dtype)
            if unit == "D":
                return _EPOCH_DATE + _dt.timedelta(days=int(value.astype("int64")))
            if unit not in ("s", "ms", "us", "ns"):
                value = value.astype("datetime64[ns]")
                unit = "ns"
            return pb.Timestamp(value=int(value.astype("int64")), unit=_dtypes._UNITS[unit])
        if isinstance(value, np.timedelta64):
            unit, _ = np.datetime_data(value.dtype)
            if unit not in ("s", "ms", "us", "ns"):
                value = value.astype("timedelta64[ns]")
                unit = "ns"
            return pb.Duration(value=int(value.astype("int64")), unit=_dtypes._UNITS[unit])
        if isinstance(value, np.generic):
            return value.item()
    return value


def _timestamp(value: Any) -> pb.Timestamp:
    if isinstance(value, pb.Timestamp):
        return value
    tz = value.tzinfo
    if hasattr(value, "value") and hasattr(value, "nanosecond"):  # pandas.Timestamp
        ns = value.value if tz is not None else value.tz_localize("UTC").value
        return pb.Timestamp(value=ns, unit=pb.DataType.NANOSECOND, timezone=_tz_name(tz))
    delta = value - (_EPOCH_UTC if tz is not None else _EPOCH)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return pb.Timestamp(value=micros, unit=pb.DataType.MICROSECOND, timezone=_tz_name(tz))


def _tz_name(tz: Any) -> str:
    if tz is None:
        return ""
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)  # zoneinfo, pytz
    if key:
        return str(key)
    offset = tz.utcoffset(None)
    if offset is None:
        raise ValueError(f"cannot use the time zone {tz!r} in a literal")
    if offset == _dt.timedelta(0):
        return "UTC"
    sign = "-" if offset < _dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _decimal(value: decimal.Decimal) -> pb.Decimal:
    if not value.is_finite():
        raise ValueError(f"cannot use the decimal {value} as a literal")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    unscaled = int(value.scaleb(scale))
    precision = max(builtins.len(str(abs(unscaled))), scale, 1)
    if precision > 38:
        raise OverflowError(f"decimal literal {value} needs more than 38 digits")
    return pb.Decimal(unscaled=str(unscaled), precision=precision, scale=scale)


def _to_expr(value: Any) -> Expr:
    """Turn an operand into an expression: expressions as they are, anything else a literal."""
    return value if isinstance(value, Expr) else lit(value)


def to_exprs(
    items: Iterable[Any], named: dict[str, Any], *, strings_are_columns: bool
) -> list[Expr]:
    """Flatten positional arguments (lists allowed) and keyword aliases into expressions."""
    out: list[Expr] = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out.extend(to_exprs(item, {}, strings_are_columns=strings_are_columns))
        elif isinstance(item, str) and strings_are_columns:
            out.append(col(item))
        else:
            out.append(_to_expr(item))
    for name, item in named.items():
        e = col(item) if isinstance(item, str) and strings_are_columns else _to_expr(item)
        out.append(e.alias(name))
    return out


def contains_aggregate(e: pb.Expr) -> bool:
    """True if an aggregate call is anywhere in ``e`` (not inside a window)."""
    kind = e.WhichOneof("kind")
    if kind == "call" and e.call.function in _AGGREGATES:
        return True
    if kind == "over":
        return False
    if kind is None:
        return False
    inner = getattr(e, kind)
    for _, value in inner.ListFields():
        values = [value] if hasattr(value, "ListFields") else value
        for v in values if isinstance(values, Iterable) else []:
            if isinstance(v, pb.Expr) and contains_aggregate(v):
                return True
            if hasattr(v, "ListFields") and not isinstance(v, pb.Expr):  # e.g. SortKey
                for _, w in v.ListFields():
                    if isinstance(w, pb.Expr) and contains_aggregate(w):
                        return True
    return False


def is_aggregate(e: pb.Expr) -> bool:
    """True if ``e`` is an aggregate call, possibly under aliases."""
    while e.WhichOneof("kind") == "alias":
        e = e.alias.expr
    return e.WhichOneof("kind") == "call" and e.call.function in _AGGREGATES


def _ddof(ddof: int) -> int:
    if not isinstance(ddof, int) or isinstance(ddof, bool) or ddof < 0:
        raise ValueError(f"ddof must be a non-negative int, got {ddof!r}")
    return ddof


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


class ExprStringNameSpace:
    """String functions of an expression (``col("s").str``), named as in polars.

    They work on ``utf8``, ``large_utf8`` and ``string_view`` columns; a null
    in gives null out.
    """

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def contains(self, pattern: Any, *, literal: bool = False) -> Expr:
        """True where the text contains ``pattern``.

        Parameters
        ----------
        pattern : str or Expr
            A regular expression (RE2 syntax), or plain text with ``literal=True``.
        literal : bool
            Match ``pattern`` as plain text.

        Examples
        --------
        >>> from slipstream import col
        >>> col("s").str.contains("a.c", literal=True)
        <Expr col("s").str.contains('a.c', literal=True)>
        """
        return self._expr._call("contains" if literal else "regexp_matches", pattern)

    def starts_with(self, prefix: Any) -> Expr:
        """True where the text starts with ``prefix`` (plain text).

        Parameters
        ----------
        prefix : str or Expr
            The prefix.
        """
        return self._expr._call("starts_with", prefix)

    def ends_with(self, suffix: Any) -> Expr:
        """True where the text ends with ``suffix`` (plain text).

        Parameters
        ----------
        suffix : str or Expr
            The suffix.
        """
        return self._expr._call("ends_with", suffix)

    def like(self, pattern: str) -> Expr:
        """True where the whole text matches a SQL ``LIKE`` pattern.

        ``%`` matches any run of characters, ``_`` exactly one; everything
        else matches itself, case-sensitively.

        Parameters
        ----------
        pattern : str
            The pattern, e.g. ``"a%b_"``.
        """
        return self._expr._call("like", _text(pattern, "pattern"))

    def extract(self, pattern: str, group_index: int = 1) -> Expr:
        """The text matched by a capture group of a regular expression.

        Parameters
        ----------
        pattern : str
            A regular expression (RE2 syntax).
        group_index : int
            Which group; 0 is the whole match. Null where the pattern does not
            match or the group took no part in the match.
        """
        return self._expr._call("regexp_extract", _text(pattern, "pattern"), int(group_index))

    def split(self, by: str) -> Expr:
        """The text cut at every ``by``, as a list of strings (``""`` gives ``[""]``).

        Parameters
        ----------
        by : str
            The separator (plain text).
        """
        return self._expr._call("split", _text(by, "by"))

    def to_lowercase(self) -> Expr:
        """The text in lower case (Unicode rules)."""
        return self._expr._call("lower")

    def to_uppercase(self) -> Expr:
        """The text in upper case (Unicode rules)."""
        return self._expr._call("upper")

    def len_chars(self) -> Expr:
        """Number of characters (Unicode code points), as int64."""
        return self._expr._call("len_chars")

    def len_bytes(self) -> Expr:
        """Number of bytes of the UTF-8 text, as int64."""
        return self._expr._call("len_bytes")

    def slice(self, offset: Any, length: Any = None) -> Expr:
        """A substring by character position.

        Parameters
        ----------
        offset : int or Expr
            Start, counting from 0; negative counts from the end.
        length : int, Expr or None
            Number of characters; ``None`` takes the rest.
        """
        # A typed null: an untyped one would take the type of the text.
        length = lit(None, "int64") if length is None else length
        return self._expr._call("str_slice", offset, length)

    def strip_chars(self, characters: str | None = None) -> Expr:
        """Remove leading and trailing characters.

        Parameters
        ----------
        characters : str or None
            The set of characters to remove; ``None`` removes whitespace.
        """
        if characters is None:
            return self._expr._call("strip_chars")
        return self._expr._call("strip_chars", _text(characters, "characters"))

    def replace(self, pattern: str, value: str, *, literal: bool = False) -> Expr:
        """Replace the first match of ``pattern`` with ``value``.

        Parameters
        ----------
        pattern : str
            A regular expression (RE2 syntax), or plain text with ``literal=True``.
        value : str
            The replacement; ``$1`` / ``${name}`` refer to groups of a regular
            expression.
        literal : bool
            Treat ``pattern`` and ``value`` as plain text.
        """
        fn = "replace" if literal else "regexp_replace"
        return self._expr._call(fn, _text(pattern, "pattern"), _text(value, "value"))

    def replace_all(self, pattern: str, value: str, *, literal: bool = False) -> Expr:
        """Replace every non-overlapping match of ``pattern`` with ``value``.

        Parameters
        ----------
        pattern : str
            A regular expression (RE2 syntax), or plain text with ``literal=True``.
        value : str
            The replacement, as in :meth:`replace`.
        literal : bool
            Treat ``pattern`` and ``value`` as plain text.
        """
        fn = "replace_all" if literal else "regexp_replace_all"
        return self._expr._call(fn, _text(pattern, "pattern"), _text(value, "value"))


class ExprListNameSpace:
    """Functions of a list column (``col("l").list``), named as in polars.

    A null list gives null; an empty one what polars gives (``sum`` 0,
    ``mean``/``min``/``max`` null, ``len`` 0).
    """

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def len(self) -> Expr:
        """The number of values in each list, nulls included, as uint32."""
        return self._expr._call("list_len")

    def get(self, index: Any, *, null_on_oob: bool = False) -> Expr:
        """The value at ``index`` (negative counts from the end).

        Parameters
        ----------
        index : int, Expr or str
            The position: a constant, or an integer expression (a column
            name) giving one per row; a null index gives null.
        null_on_oob : bool, default False
            Give null for a list too short; otherwise that is an error, as polars.
        """
        if isinstance(index, str):
            index = col(index)
        elif not isinstance(index, Expr):
            index = int(index)
        return self._expr._call("list_get", index, bool(null_on_oob))

    def first(self) -> Expr:
        """The first value (null for an empty list)."""
        return self.get(0, null_on_oob=True)

    def last(self) -> Expr:
        """The last value (null for an empty list)."""
        return self.get(-1, null_on_oob=True)

    def sum(self) -> Expr:
        """The sum of each list (0 for an empty one; nulls skipped)."""
        return self._expr._call("list_sum")

    def mean(self) -> Expr:
        """The mean of each list, as float64."""
        return self._expr._call("list_mean")

    def min(self) -> Expr:
        """The smallest value of each list."""
        return self._expr._call("list_min")

    def max(self) -> Expr:
        """The largest value of each list."""
        return self._expr._call("list_max")

    def contains(self, item: Any, *, nulls_equal: bool = True) -> Expr:
        """True where the list holds ``item`` (a constant or an expression).

        Parameters
        ----------
        item : Any
            The value to look for; ``None`` looks for a null.
        nulls_equal : bool, default True
            Only True is supported: a null item matches a null value.
        """
        if not nulls_equal:
            raise ValueError("list.contains supports only nulls_equal=True (polars' default)")
        return self._expr._call("list_contains", item)

    def join(self, separator: str, *, ignore_nulls: bool = True) -> Expr:
        """The list's text values joined with ``separator`` (nulls skipped).

        Parameters
        ----------
        separator : str
            Put between values.
        ignore_nulls : bool, default True
            Only True is supported (polars' default).
        """
        if not ignore_nulls:
            raise ValueError("list.join supports only ignore_nulls=True (polars' default)")
        return self._expr._call("list_join", _text(separator, "separator"))

    def sort(self, *, descending: bool = False, nulls_last: bool = False) -> Expr:
        """Each list sorted (NaN above every number).

        Parameters
        ----------
        descending : bool, default False
            Largest first.
        nulls_last : bool, default False
            Nulls after the values.
        """
        return self._expr._call("list_sort", bool(descending), bool(nulls_last))

    def unique(self, *, maintain_order: bool = False) -> Expr:
        """Each list's distinct values (null counts as one), sorted.

        Parameters
        ----------
        maintain_order : bool, default False
            Only False is supported: the values come back sorted.
        """
        if maintain_order:
            raise ValueError("list.unique supports only maintain_order=False")
        return self._expr._call("list_unique")


class ExprStructNameSpace:
    """Functions of a struct column (``col("s").struct``), named as in polars."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def field(self, name: str) -> Expr:
        """The field ``name`` of each struct (null where the struct is null)."""
        return self._expr._call("struct_field", _text(name, "name")).alias(name)


class ExprDateTimeNameSpace:
    """Date and time functions of an expression (``col("d").dt``), named as in polars.

    They work on ``date32`` and ``timestamp`` columns (a timestamp with a
    time zone is read on its zone's wall clock, as polars); a null in gives
    null out.
    """

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def year(self) -> Expr:
        """The year, as int32."""
        return self._expr._call("year")

    def month(self) -> Expr:
        """The month, 1 to 12, as int8."""
        return self._expr._call("month")

    def day(self) -> Expr:
        """The day of the month, 1 to 31, as int8."""
        return self._expr._call("day")

    def weekday(self) -> Expr:
        """The ISO day of the week, Monday 1 to Sunday 7, as int8."""
        return self._expr._call("weekday")

    def hour(self) -> Expr:
        """The hour, 0 to 23, as int8 (0 for a date)."""
        return self._expr._call("hour")

    def minute(self) -> Expr:
        """The minute, 0 to 59, as int8 (0 for a date)."""
        return self._expr._call("minute")

    def second(self) -> Expr:
        """The second, 0 to 59, as int8 (0 for a date)."""
        return self._expr._call("second")

    def millisecond(self) -> Expr:
        """The milliseconds into the second, 0 to 999, as int32 (0 for a date)."""
        return self._expr._call("millisecond")

    def microsecond(self) -> Expr:
        """The microseconds into the second, 0 to 999999, as int32 (0 for a date)."""
        return self._expr._call("microsecond")

    def nanosecond(self) -> Expr:
        """The nanoseconds into the second, as int32 (0 for a date)."""
        return self._expr._call("nanosecond")

    def quarter(self) -> Expr:
        """The quarter of the year, 1 to 4, as int8."""
        return self._expr._call("quarter")

    def week(self) -> Expr:
        """The ISO 8601 week of the year, 1 to 53, as int8."""
        return self._expr._call("week")

    def iso_year(self) -> Expr:
        """The ISO 8601 year (the year of the week's Thursday), as int32."""
        return self._expr._call("iso_year")

    def ordinal_day(self) -> Expr:
        """The day of the year, 1 to 366, as int16."""
        return self._expr._call("ordinal_day")

    def epoch(self, time_unit: str = "us") -> Expr:
        """The time since 1970-01-01 00:00 UTC in whole units, rounded down.

        Parameters
        ----------
        time_unit : {"ns", "us", "ms", "s", "d"}, default "us"
            int64, but ``"d"`` gives int32, as polars.
        """
        return self._expr._call("epoch", _text(time_unit, "time_unit"))

    def truncate(self, every: str) -> Expr:
        """Round down to the start of a period.

        Parameters
        ----------
        every : str
            ``"1y"``, ``"1q"``, ``"1mo"``, ``"1w"`` (to Monday), or a fixed
            length such as ``"1d"``, ``"6h"``, ``"15m"``, ``"1s"`` (multiples
            of it from 1970-01-01). A timestamp with a time zone is
            truncated on its wall clock, as polars.
        """
        return self._expr._call("truncate", _text(every, "every"))

    def offset_by(self, by: str) -> Expr:
        """Shift by a duration, as polars' ``dt.offset_by``.

        Parameters
        ----------
        by : str
            A polars duration such as ``"3d"``, ``"-2mo"``, ``"1y2mo"``,
            ``"6h30m"``; units ``y``, ``q``, ``mo``, ``w``, ``d``, ``h``, ``m``,
            ``s``, ``ms``, ``us``, ``ns``. Months and years keep the day of
            the month, clamped to the month's last day. On a timestamp with
            a time zone, days, weeks, months and years move on its wall
            clock and hours and finer on the instant, as polars.
        """
        return self._expr._call("offset_by", _text(by, "by"))

    def strftime(self, format: str) -> Expr:
        """Format as text with polars' (chrono's) codes, e.g. ``"%Y-%m-%d %H:%M"``.

        Parameters
        ----------
        format : str
            ``%Y %y %m %d %e %H %I %M %S %f %.3f %.6f %.9f %.f %p %j %a %A %b %B
            %F %T %D %R %z %Z %%``. A timestamp with a time zone is formatted
            in its zone.
        """
        return self._expr._call("strftime", _text(format, "format"))

    def to_string(self, format: str) -> Expr:
        """Alias of :meth:`strftime`."""
        return self.strftime(format)

    def time(self) -> Expr:
        """The time of day of a timestamp (in its time zone), as polars' ``Time``."""
        return self._expr._call("time")

    def date(self) -> Expr:
        """The calendar day of a timestamp (in its time zone), as polars' ``Date``."""
        return self._expr._call("date")

    def convert_time_zone(self, time_zone: str) -> Expr:
        """The same instants in another time zone (the wall clock moves).

        Parameters
        ----------
        time_zone : str
            An IANA name such as ``"Europe/Berlin"`` or ``"UTC"``. The
            timestamp must have a time zone (see :meth:`replace_time_zone`).
        """
        return self._expr._call("convert_time_zone", _text(time_zone, "time_zone"))

    def replace_time_zone(
        self,
        time_zone: str | None,
        *,
        ambiguous: str = "raise",
        non_existent: str = "raise",
    ) -> Expr:
        """The same wall-clock times read in another time zone (the instants move).

        Parameters
        ----------
        time_zone : str or None
            An IANA name such as ``"America/New_York"``; None drops the zone
            (a naive timestamp of the wall-clock time).
        ambiguous : {"raise", "earliest", "latest", "null"}, default "raise"
            For a time the clocks repeat (when summer time ends).
        non_existent : {"raise", "null"}, default "raise"
            For a time the clocks skip (when summer time starts).
        """
        zone = lit(None, "utf8") if time_zone is None else _text(time_zone, "time_zone")
        return self._expr._call(
            "replace_time_zone",
            zone,
            _text(ambiguous, "ambiguous"),
            _text(non_existent, "non_existent"),
        )

    def _total(self, unit: str, fractional: bool) -> Expr:
        """The duration in whole ``unit`` (int64), or exactly (float64) when fractional."""
        if fractional:
            return self._expr._call(f"total_{unit}", True)
        return self._expr._call(f"total_{unit}")

    def total_days(self, *, fractional: bool = False) -> Expr:
        """Whole days in a duration, truncated toward zero, as int64.

        With ``fractional=True``, the exact quotient as float64.
        """
        return self._total("days", fractional)

    def total_hours(self, *, fractional: bool = False) -> Expr:
        """Whole hours in a duration, truncated toward zero, as int64.

        With ``fractional=True``, the exact quotient as float64.
        """
        return self._total("hours", fractional)

    def total_minutes(self, *, fractional: bool = False) -> Expr:
        """Whole minutes in a duration, truncated toward zero, as int64.

        With ``fractional=True``, the exact quotient as float64.
        """
        return self._total("minutes", fractional)

    def total_seconds(self, *, fractional: bool = False) -> Expr:
        """Whole seconds in a duration, truncated toward zero, as int64.

        With ``fractional=True``, the exact quotient as float64.
        """
        return self._total("seconds", fractional)

    def total_milliseconds(self, *, fractional: bool = False) -> Expr:
        """Whole milliseconds in a duration, truncated toward zero, as int64.

        With ``fractional=True``, the exact quotient as float64.
        """
        return self._total("milliseconds", fractional)

    def total_microseconds(self, *, fractional: bool = False) -> Expr:
        """Whole microseconds in a duration, truncated toward zero, as int64.

        With ``fractional=True``, the exact quotient as float64.
        """
        return self._total("microseconds", fractional)

    def total_nanoseconds(self) -> Expr:
        """Nanoseconds in a duration, as int64."""
        return self._expr._call("total_nanoseconds")

    def days_between(self, other: Any) -> Expr:
        """Whole days from ``other`` to this date, as int64 (``self - other``).

        Parameters
        ----------
        other : Expr or datetime.date
            The earlier date.
        """
        return self._expr._call("days_between", other)


class ExprNameNameSpace:
    """Naming of an expression's output (``expr.name``), as polars' ``Expr.name``.

    The name comes from the column the expression reads (the first one);
    with a selector of several columns, from each of them.
    """

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def _rename(self, prefix: str = "", suffix: str = "", case: int = 0) -> Expr:
        r = pb.Rename(expr=self._expr._pb, prefix=prefix, suffix=suffix, case=case)  # type: ignore[arg-type]
        return Expr(pb.Expr(rename=r))

    def keep(self) -> Expr:
        """Name the output after the column it reads (dropping any alias)."""
        return self._rename()

    def prefix(self, prefix: str) -> Expr:
        """Name the output ``prefix`` + the column's name."""
        return self._rename(prefix=_text(prefix, "prefix"))

    def suffix(self, suffix: str) -> Expr:
        """Name the output the column's name + ``suffix``."""
        return self._rename(suffix=_text(suffix, "suffix"))

    def to_lowercase(self) -> Expr:
        """Name the output after its column, in lower case."""
        return self._rename(case=pb.Rename.LOWER)

    def to_uppercase(self) -> Expr:
        """Name the output after its column, in upper case."""
        return self._rename(case=pb.Rename.UPPER)


# ---------------------------------------------------------------- text


def literal_to_text(lit_pb: pb.Literal) -> str:
    """Render a literal the way a user would write it."""
    kind = lit_pb.WhichOneof("value")
    if kind is None or kind == "null":
        t = lit_pb.null
        return "null" if t.kind == pb.DataType.UNSPECIFIED else f"null::{_dtypes.to_arrow_type(t)}"
    v = getattr(lit_pb, kind)
    if kind == "bool_value":
        return "true" if v else "false"
    if kind == "string_value":
        return repr(v)
    if kind == "date_value":
        return f"date '{_EPOCH_DATE + _dt.timedelta(days=v)}'"
    if kind == "timestamp_value":
        unit = {0: "s", 1: "ms", 2: "us", 3: "ns"}[v.unit]
        tz = f", tz={v.timezone}" if v.timezone else ""
        return f"timestamp[{unit}{tz}]({v.value})"
    if kind == "decimal_value":
        d = decimal.Decimal(v.unscaled).scaleb(-v.scale)
        return f"decimal({v.precision},{v.scale}) '{d}'"
    if kind == "duration_value":
        unit = {0: "s", 1: "ms", 2: "us", 3: "ns"}[v.unit]
        return f"duration[{unit}]({v.value})"
    if kind == "time_value":
        seconds, ns = divmod(v, 1_000_000_000)
        tod = _dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, ns // 1000)
        return f"time '{tod.isoformat()}'"
    return repr(v)


def expr_to_text(e: pb.Expr, top: bool = True) -> str:
    """Render an expression as polars-like text (for repr and plan display)."""
    kind = e.WhichOneof("kind")
    if kind == "column":
        return f'col("{e.column.name}")'
    if kind == "literal":
        return literal_to_text(e.literal)
    if kind == "alias":
        return f'{expr_to_text(e.alias.expr, top)} AS "{e.alias.name}"'
    if kind == "cast":
        return f"{expr_to_text(e.cast.expr, False)}.cast({_dtypes.to_arrow_type(e.cast.to)})"
    if kind == "selector":
        sel = e.selector
        head = "all()" if sel.all else ""
        if not head:
            parts = [f'"{n}"' for n in sel.names] + [f'"{p}"' for p in sel.patterns]
            parts += [str(_dtypes.to_arrow_type(t)) for t in sel.dtypes]
            head = f"col({', '.join(parts)})"
        excl = [repr(n) for n in sel.exclude] + [
            str(_dtypes.to_arrow_type(t)) for t in sel.exclude_dtypes
        ]
        return head + (f".exclude({', '.join(excl)})" if excl else "")
    if kind == "rename":
        r = e.rename
        inner = expr_to_text(r.expr, False)
        if r.prefix:
            return f"{inner}.name.prefix({r.prefix!r})"
        if r.suffix:
            return f"{inner}.name.suffix({r.suffix!r})"
        return (
            inner
            + {0: ".name.keep()", 1: ".name.to_lowercase()", 2: ".name.to_uppercase()"}[r.case]
        )
    if kind == "over":
        o = e.over
        parts = [expr_to_text(k) for k in o.partition_by]
        if o.order_by:
            parts.append("order_by=[" + ", ".join(expr_to_text(k.expr) for k in o.order_by) + "]")
        return f"{expr_to_text(o.expr, False)}.over({', '.join(parts)})"
    if kind == "call":
        fn = e.call.function
        args = [expr_to_text(a, False) for a in e.call.args]
        if fn in _INFIX and builtins.len(args) == 2:
            text = f"{args[0]} {_INFIX[fn]} {args[1]}"
            return text if top else f"({text})"
        if fn == "negate" and builtins.len(args) == 1:
            return f"-{args[0]}" if top else f"(-{args[0]})"
        if fn == "not" and builtins.len(args) == 1:
            return f"~{args[0]}"
        if fn == "case_when":
            args = [expr_to_text(a) for a in e.call.args]
            k = builtins.len(args) // 2
            parts = [f"when({args[k + 1 + i]}).then({args[i]})" for i in range(k)]
            return ".".join(parts) + f".otherwise({args[k]})"
        if fn == "concat_str" and builtins.len(args) >= 3:
            extra = ", ignore_nulls=True" if args[-1] == "true" else ""
            return f"concat_str({', '.join(args[:-2])}, separator={args[-2]}{extra})"
        if fn == "coalesce":
            return f"coalesce({', '.join(args)})"
        if fn == "struct":
            names = [a.literal.string_value for a in e.call.args[::2]]
            values = [expr_to_text(a) for a in e.call.args[1::2]]
            return f"struct({', '.join(f'{n}={v}' for n, v in zip(names, values, strict=True))})"
        if (
            fn in ("sum", "n_unique", "min", "max")
            and builtins.len(args) == 2
            and args[1] == "true"
        ):
            args = args[:1]  # polars' answer, the default here
        if fn in ("any", "all") and builtins.len(args) == 2:
            args = args[:1] if args[1] == "true" else [args[0], "ignore_nulls=False"]
        if fn == "round" and builtins.len(args) == 3 and args[2] == "'half_to_even'":
            args = args[:2]
        if fn in _NAMESPACED and args:
            method, flags = _NAMESPACED[fn]
            return f"{args[0]}.{method}({', '.join(args[1:] + flags)})"
        if args:
            return f"{args[0]}.{fn}({', '.join(args[1:])})"
        return f"{fn}()"
    return "?"
