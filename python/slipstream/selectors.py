"""Column selectors by type or name, as ``polars.selectors``.

``import slipstream.selectors as cs``, then ``cs.numeric()`` and so on.

Each returns an expression of several columns (see :func:`slipstream.col`),
expanded by the server against the input's schema. Combine them with
``.exclude(...)``.

Examples
--------
>>> import slipstream.selectors as cs
>>> cs.string().exclude("id")
<Expr col(string).exclude('id')>
"""

from __future__ import annotations

import re
from typing import Any

from ._expr import Expr, all_
from ._proto import plan_pb2 as pb

__all__ = [
    "all",
    "boolean",
    "by_dtype",
    "by_name",
    "contains",
    "date",
    "datetime",
    "decimal",
    "ends_with",
    "float",
    "integer",
    "matches",
    "numeric",
    "signed_integer",
    "starts_with",
    "string",
    "temporal",
    "unsigned_integer",
]

_DT = pb.DataType
_SIGNED = [_DT.INT8, _DT.INT16, _DT.INT32, _DT.INT64]
_UNSIGNED = [_DT.UINT8, _DT.UINT16, _DT.UINT32, _DT.UINT64]
_FLOAT = [_DT.FLOAT32, _DT.FLOAT64]


def _kinds(kinds: list[Any]) -> Expr:
    sel = pb.Selector(dtypes=[pb.DataType(kind=k, precision=38) for k in kinds])
    return Expr(pb.Expr(selector=sel))


def all() -> Expr:
    """Every column."""
    return all_()


def by_name(*names: str | list[str]) -> Expr:
    """The named columns, in the order given."""
    flat: list[str] = []
    for n in names:
        flat.extend(n if isinstance(n, list) else [n])
    return Expr(pb.Expr(selector=pb.Selector(names=flat)))


def by_dtype(*dtypes: Any) -> Expr:
    """The columns of the given data types (any spelling ``Expr.cast`` takes)."""
    from ._expr import col

    return col(list(dtypes))


def matches(pattern: str) -> Expr:
    """The columns whose name matches a regular expression (RE2) anywhere."""
    return Expr(pb.Expr(selector=pb.Selector(patterns=[f"^.*(?:{pattern}).*$"])))


def starts_with(*prefix: str) -> Expr:
    """The columns whose name starts with one of the prefixes."""
    return matches("^(?:" + "|".join(re.escape(p) for p in prefix) + ")")


def ends_with(*suffix: str) -> Expr:
    """The columns whose name ends with one of the suffixes."""
    return matches("(?:" + "|".join(re.escape(s) for s in suffix) + ")$")


def contains(*substring: str) -> Expr:
    """The columns whose name contains one of the substrings."""
    return matches("|".join(re.escape(s) for s in substring))


def numeric() -> Expr:
    """Integer, float and decimal columns."""
    return _kinds(_SIGNED + _UNSIGNED + _FLOAT + [_DT.DECIMAL128])


def integer() -> Expr:
    """Integer columns, signed or not."""
    return _kinds(_SIGNED + _UNSIGNED)


def signed_integer() -> Expr:
    """Signed integer columns."""
    return _kinds(_SIGNED)


def unsigned_integer() -> Expr:
    """Unsigned integer columns."""
    return _kinds(_UNSIGNED)


def float() -> Expr:
    """Float columns."""
    return _kinds(_FLOAT)


def decimal() -> Expr:
    """Decimal columns."""
    return _kinds([_DT.DECIMAL128])


def string() -> Expr:
    """Text columns (utf8, large_utf8, string_view)."""
    return _kinds([_DT.UTF8])


def boolean() -> Expr:
    """Boolean columns."""
    return _kinds([_DT.BOOL])


def date() -> Expr:
    """Date columns."""
    return _kinds([_DT.DATE32])


def datetime() -> Expr:
    """Timestamp columns (any unit, any time zone)."""
    return _kinds([_DT.TIMESTAMP])


def temporal() -> Expr:
    """Date and timestamp columns."""
    return _kinds([_DT.DATE32, _DT.TIMESTAMP])
