"""Expressions: ``col``, ``lit``, ``len`` and the operators on them.

An :class:`Expr` wraps an immutable ``plan_pb2.Expr``; every operator builds a
new message, so expressions can be shared and reused freely.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import decimal
from collections.abc import Iterable
from typing import Any

from . import _dtypes
from ._proto import plan_pb2 as pb

__all__ = ["Expr", "col", "len", "lit"]

_AGGREGATES = frozenset({"count", "len", "sum", "min", "max", "mean"})
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
        return self._call("modulo", other)

    def __rmod__(self, other: Any) -> Expr:
        return self._rcall("modulo", other)

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

    # ---------------------------------------------------------------- naming, types

    def alias(self, name: str) -> Expr:
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
            ``"date"``, ``"timestamp[ms]"`` or ``"decimal(12,2)"``.
        """
        to = _dtypes.to_plan_type(dtype)
        return Expr(pb.Expr(cast=pb.Cast(expr=self._pb, to=to)))

    # ---------------------------------------------------------------- aggregates

    def sum(self) -> Expr:
        """Sum of the non-null values (null when there are none)."""
        return self._call("sum")

    def min(self) -> Expr:
        """Smallest non-null value (null when there are none)."""
        return self._call("min")

    def max(self) -> Expr:
        """Largest non-null value (null when there are none)."""
        return self._call("max")

    def mean(self) -> Expr:
        """Arithmetic mean of the non-null values, as float64 (null when there are none)."""
        return self._call("mean")

    def count(self) -> Expr:
        """Number of non-null values (use :func:`slipstream.len` to count rows)."""
        return self._call("count")


def col(name: str) -> Expr:
    """Refer to a column by name.

    Parameters
    ----------
    name : str
        The column name.

    Examples
    --------
    >>> from slipstream import col
    >>> col("fare") > 10
    <Expr col("fare") > 10>
    """
    if not isinstance(name, str):
        raise TypeError(f"col() takes a column name (str), got {type(name).__name__}")
    return Expr(pb.Expr(column=pb.Column(name=name)))


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
    value : int, float, str, bool, None, datetime.date, datetime.datetime, decimal.Decimal
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


def is_aggregate(e: pb.Expr) -> bool:
    """True if ``e`` is an aggregate call, possibly under aliases."""
    while e.WhichOneof("kind") == "alias":
        e = e.alias.expr
    return e.WhichOneof("kind") == "call" and e.call.function in _AGGREGATES


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
        if args:
            return f"{args[0]}.{fn}({', '.join(args[1:])})"
        return f"{fn}()"
    return "?"
