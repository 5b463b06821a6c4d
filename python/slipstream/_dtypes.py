"""Data types accepted by ``Expr.cast`` and ``lit(dtype=)``, as plan messages.

A type may be given as a pyarrow ``DataType``, a polars dtype (class or
instance), a numpy dtype, a Python type (``int``, ``float``, ``str``,
``bool``, ``datetime.date``, ``datetime.datetime``, ``decimal.Decimal``), or a
string such as ``"int64"``, ``"float64"``, ``"utf8"``, ``"date"``,
``"timestamp[ms, tz=UTC]"``, ``"duration[us]"``, ``"time"``, ``"binary"`` or
``"decimal(12,2)"``.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import re
from typing import Any

import pyarrow as pa

from ._proto import plan_pb2 as pb

DT = pb.DataType

_UNITS = {"s": DT.SECOND, "ms": DT.MILLISECOND, "us": DT.MICROSECOND, "ns": DT.NANOSECOND}

_SIMPLE: dict[str, Any] = {
    "bool": DT.BOOL,
    "boolean": DT.BOOL,
    "int8": DT.INT8,
    "i8": DT.INT8,
    "int16": DT.INT16,
    "i16": DT.INT16,
    "int32": DT.INT32,
    "i32": DT.INT32,
    "int": DT.INT64,
    "int64": DT.INT64,
    "i64": DT.INT64,
    "uint8": DT.UINT8,
    "u8": DT.UINT8,
    "uint16": DT.UINT16,
    "u16": DT.UINT16,
    "uint32": DT.UINT32,
    "u32": DT.UINT32,
    "uint64": DT.UINT64,
    "u64": DT.UINT64,
    "float32": DT.FLOAT32,
    "f32": DT.FLOAT32,
    "float": DT.FLOAT64,
    "double": DT.FLOAT64,
    "float64": DT.FLOAT64,
    "f64": DT.FLOAT64,
    "utf8": DT.UTF8,
    "string": DT.UTF8,
    "str": DT.UTF8,
    "large_utf8": DT.LARGE_UTF8,
    "large_string": DT.LARGE_UTF8,
    "string_view": DT.STRING_VIEW,
    "utf8_view": DT.STRING_VIEW,
    "date": DT.DATE32,
    "date32": DT.DATE32,
    "date32[day]": DT.DATE32,
    "binary": DT.BINARY,
    "bytes": DT.BINARY,
    "large_binary": DT.LARGE_BINARY,
}

_TIMESTAMP_RE = re.compile(
    r"^(?:timestamp|datetime)(?:\[\s*(s|ms|us|ns)\s*(?:,\s*(?:tz\s*=\s*)?([^\]]+?)\s*)?\])?$",
    re.IGNORECASE,
)
_DURATION_RE = re.compile(r"^duration(?:\[\s*(s|ms|us|ns)\s*\])?$", re.IGNORECASE)
_TIME_RE = re.compile(r"^time(?:64)?(?:\[\s*(us|ns)\s*\])?$", re.IGNORECASE)
_DECIMAL_RE = re.compile(r"^decimal(?:128)?\s*\(\s*(\d+)\s*,\s*(-?\d+)\s*\)$", re.IGNORECASE)

_POLARS_SIMPLE: dict[str, Any] = {
    "Boolean": DT.BOOL,
    "Int8": DT.INT8,
    "Int16": DT.INT16,
    "Int32": DT.INT32,
    "Int64": DT.INT64,
    "UInt8": DT.UINT8,
    "UInt16": DT.UINT16,
    "UInt32": DT.UINT32,
    "UInt64": DT.UINT64,
    "Float32": DT.FLOAT32,
    "Float64": DT.FLOAT64,
    "String": DT.UTF8,
    "Utf8": DT.UTF8,
    "Date": DT.DATE32,
    "Binary": DT.BINARY,
}


def _timestamp(unit: str, tz: str | None) -> pb.DataType:
    return DT(kind=DT.TIMESTAMP, unit=_UNITS[unit], timezone=tz or "")


def _decimal(precision: int, scale: int) -> pb.DataType:
    return DT(kind=DT.DECIMAL128, precision=precision, scale=scale)


def _from_arrow(t: pa.DataType) -> pb.DataType:
    simple = {
        pa.bool_(): DT.BOOL,
        pa.int8(): DT.INT8,
        pa.int16(): DT.INT16,
        pa.int32(): DT.INT32,
        pa.int64(): DT.INT64,
        pa.uint8(): DT.UINT8,
        pa.uint16(): DT.UINT16,
        pa.uint32(): DT.UINT32,
        pa.uint64(): DT.UINT64,
        pa.float32(): DT.FLOAT32,
        pa.float64(): DT.FLOAT64,
        pa.string(): DT.UTF8,
        pa.large_string(): DT.LARGE_UTF8,
        pa.string_view(): DT.STRING_VIEW,
        pa.date32(): DT.DATE32,
    }
    if t in simple:
        return DT(kind=simple[t])
    if pa.types.is_timestamp(t):
        return _timestamp(t.unit, t.tz)
    if pa.types.is_decimal128(t):
        return _decimal(t.precision, t.scale)
    if pa.types.is_duration(t):
        return DT(kind=DT.DURATION, unit=_UNITS[t.unit])
    if pa.types.is_time64(t):
        return DT(kind=DT.TIME64, unit=_UNITS[t.unit])
    if t == pa.binary():
        return DT(kind=DT.BINARY)
    if t in (pa.large_binary(), pa.binary_view()):
        return DT(kind=DT.LARGE_BINARY)
    raise TypeError(f"Slipstream does not support the Arrow type {t}")


def _from_string(s: str) -> pb.DataType:
    key = s.strip()
    if key.lower() in _SIMPLE:
        return DT(kind=_SIMPLE[key.lower()])
    m = _TIMESTAMP_RE.match(key)
    if m:  # the zone keeps its case: "Europe/Paris"
        return _timestamp((m.group(1) or "us").lower(), m.group(2))
    m = _DECIMAL_RE.match(key)
    if m:
        return _decimal(int(m.group(1)), int(m.group(2)))
    m = _DURATION_RE.match(key)
    if m:
        return DT(kind=DT.DURATION, unit=_UNITS[(m.group(1) or "us").lower()])
    m = _TIME_RE.match(key)
    if m:
        return DT(kind=DT.TIME64, unit=_UNITS[(m.group(1) or "ns").lower()])
    raise TypeError(
        f"unknown data type {s!r}; use e.g. 'int64', 'float64', 'bool', 'utf8', 'date', "
        "'timestamp[us]', 'decimal(12,2)', a pyarrow type or a polars dtype"
    )


def _from_polars(dtype: Any) -> pb.DataType:
    if isinstance(dtype, type):
        dtype = dtype()
    name = type(dtype).__name__
    if name in _POLARS_SIMPLE:
        return DT(kind=_POLARS_SIMPLE[name])
    if name == "Datetime":
        return _timestamp(getattr(dtype, "time_unit", None) or "us", dtype.time_zone)
    if name == "Decimal":
        return _decimal(dtype.precision or 38, dtype.scale or 0)
    if name == "Duration":
        return DT(kind=DT.DURATION, unit=_UNITS[getattr(dtype, "time_unit", None) or "us"])
    if name == "Time":
        return DT(kind=DT.TIME64, unit=DT.NANOSECOND)
    raise TypeError(f"Slipstream does not support the polars type {dtype}")


def to_plan_type(dtype: Any) -> pb.DataType:
    """Convert any accepted spelling of a data type to a plan ``DataType``."""
    if isinstance(dtype, pb.DataType):
        return dtype
    if isinstance(dtype, pa.DataType):
        return _from_arrow(dtype)
    if isinstance(dtype, str):
        return _from_string(dtype)
    python_types: dict[Any, pb.DataType] = {
        bool: DT(kind=DT.BOOL),
        int: DT(kind=DT.INT64),
        float: DT(kind=DT.FLOAT64),
        str: DT(kind=DT.UTF8),
        _dt.datetime: _timestamp("us", None),
        _dt.date: DT(kind=DT.DATE32),
        _dt.timedelta: DT(kind=DT.DURATION, unit=DT.MICROSECOND),
        _dt.time: DT(kind=DT.TIME64, unit=DT.NANOSECOND),
        bytes: DT(kind=DT.BINARY),
    }
    if isinstance(dtype, type) and dtype in python_types:
        return python_types[dtype]
    if dtype is decimal.Decimal:
        raise TypeError("cast to decimal needs a precision and scale: use 'decimal(p,s)'")
    module = getattr(dtype if isinstance(dtype, type) else type(dtype), "__module__", "")
    if module.startswith("polars"):
        return _from_polars(dtype)
    try:
        import numpy as np

        return _from_arrow(pa.from_numpy_dtype(np.dtype(dtype)))
    except (TypeError, ValueError, pa.ArrowNotImplementedError):
        pass
    raise TypeError(f"cannot interpret {dtype!r} as a data type")


def to_arrow_type(t: pb.DataType) -> pa.DataType:
    """Convert a plan ``DataType`` back to pyarrow (used for readable plan text)."""
    kinds = {
        DT.BOOL: pa.bool_(),
        DT.INT8: pa.int8(),
        DT.INT16: pa.int16(),
        DT.INT32: pa.int32(),
        DT.INT64: pa.int64(),
        DT.UINT8: pa.uint8(),
        DT.UINT16: pa.uint16(),
        DT.UINT32: pa.uint32(),
        DT.UINT64: pa.uint64(),
        DT.FLOAT32: pa.float32(),
        DT.FLOAT64: pa.float64(),
        DT.UTF8: pa.string(),
        DT.LARGE_UTF8: pa.large_string(),
        DT.STRING_VIEW: pa.string_view(),
        DT.DATE32: pa.date32(),
        DT.BINARY: pa.binary(),
        DT.LARGE_BINARY: pa.large_binary(),
    }
    if t.kind in kinds:
        return kinds[t.kind]
    if t.kind == DT.TIMESTAMP:
        unit = {v: k for k, v in _UNITS.items()}[t.unit]
        return pa.timestamp(unit, tz=t.timezone or None)
    if t.kind == DT.DECIMAL128:
        return pa.decimal128(t.precision, t.scale)
    if t.kind == DT.DURATION:
        return pa.duration({v: k for k, v in _UNITS.items()}[t.unit])
    if t.kind == DT.TIME64:
        return pa.time64({v: k for k, v in _UNITS.items()}[t.unit])
    return pa.null()


# ---------------------------------------------------------------- categoricals and enums
#
# The server computes a categorical or enum column as its text values; the
# type travels as field metadata, which the server keeps on every output
# column that holds the same values as an input column (selected, filtered,
# sorted, a group or join key, first/last/min/max, cast to the type). The
# client turns such columns back into dictionaries on collect.

CATEGORY_KEY = b"slipstream.type"  # b"categorical" or b"enum"
CATEGORIES_KEY = b"slipstream.categories"  # an enum's categories, a JSON list

_PL_ENUM = b"_PL_ENUM_VALUES2"  # polars' own field metadata for an Enum


def _polars_enum_categories(text: bytes) -> list[str] | None:
    """The categories in polars' enum metadata (``"2;lo3;mid2;hi"``), or None."""
    out: list[str] = []
    raw = text
    try:
        while raw:
            n, _, rest = raw.partition(b";")
            size = int(n)
            out.append(rest[:size].decode())
            raw = rest[size:]
    except (ValueError, UnicodeDecodeError):
        return None
    return out


def category_metadata(f: pa.Field) -> dict[bytes, bytes] | None:
    """The metadata that marks an uploaded dictionary column, or None for other columns.

    polars' ``Enum`` (recognized by polars' own field metadata) keeps its
    categories; polars' ``Categorical`` and pandas' ``category`` become
    categorical.
    """
    if not pa.types.is_dictionary(f.type):
        return None
    value = f.type.value_type
    if not (
        pa.types.is_string(value)
        or pa.types.is_large_string(value)
        or pa.types.is_string_view(value)
    ):
        return None  # a dictionary of numbers (or bytes) is uploaded as its values
    meta = f.metadata or {}
    if _PL_ENUM in meta:
        cats = _polars_enum_categories(meta[_PL_ENUM])
        if cats is not None:
            return {CATEGORY_KEY: b"enum", CATEGORIES_KEY: json.dumps(cats).encode()}
    return {CATEGORY_KEY: b"categorical"}


def enum_categories(f: pa.Field) -> list[str] | None:
    """An enum column's categories (None when ``f`` is not an enum)."""
    meta = f.metadata or {}
    if meta.get(CATEGORY_KEY) != b"enum":
        return None
    cats = json.loads(meta.get(CATEGORIES_KEY, b"[]"))
    return [str(c) for c in cats]


def is_categorical(f: pa.Field) -> bool:
    """Whether ``f`` carries a categorical or enum type in its metadata."""
    return (f.metadata or {}).get(CATEGORY_KEY) in (b"categorical", b"enum")


def _encode(column: Any, cats: list[str] | None) -> Any:
    """``column`` (text) as a dictionary array; an enum's dictionary is its categories."""
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        return column
    if cats is None:
        return pc.dictionary_encode(column)
    dictionary = pa.array(cats, pa.large_string())
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = [
        pa.DictionaryArray.from_arrays(pc.index_in(c, value_set=dictionary), dictionary)
        for c in chunks
    ]
    typ = pa.dictionary(pa.int32(), pa.large_string())
    return pa.chunked_array(out, typ) if isinstance(column, pa.ChunkedArray) else out[0]


def _is_text_list(t: pa.DataType) -> bool:
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)):
        return False
    value = t.value_type
    return bool(pa.types.is_string(value) or pa.types.is_large_string(value))


def _encode_lists(column: Any, cats: list[str] | None) -> Any:
    """A list column's text values as a dictionary array (the lists stay)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = []
    for c in chunks:
        make = pa.LargeListArray if pa.types.is_large_list(c.type) else pa.ListArray
        values = _encode(c.values, cats)
        out.append(make.from_arrays(c.offsets, values, mask=c.is_null()))
    if not isinstance(column, pa.ChunkedArray):
        return out[0]
    if not out:
        value = pa.dictionary(pa.int32(), column.type.value_type)
        typ = (pa.large_list if pa.types.is_large_list(column.type) else pa.list_)(value)
        return pa.chunked_array([], typ)
    return pa.chunked_array(out)


def restore_categoricals(data: Any, schema: pa.Schema) -> Any:
    """A table or batch with the columns ``schema`` marks as categorical made dictionaries.

    ``schema`` is the result's schema as the server planned it (its fields
    carry the metadata); ``data`` has the same columns, as text.
    """
    marked = [i for i, f in enumerate(schema) if is_categorical(f)]
    if not marked or len(schema) != data.num_columns:
        return data
    columns = list(data.columns)
    fields = list(data.schema)
    for i in marked:
        f = schema.field(i)
        t = columns[i].type
        cats = enum_categories(f)
        if _is_text_list(t):  # a list of them (implode)
            columns[i] = _encode_lists(columns[i], cats)
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            columns[i] = _encode(columns[i], cats)
        else:
            continue  # only text is made a categorical again
        fields[i] = pa.field(fields[i].name, columns[i].type, True, f.metadata)
    out_schema = pa.schema(fields, data.schema.metadata)
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(columns, schema=out_schema)
    return pa.Table.from_arrays(columns, schema=out_schema)


def restore_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with categorical columns typed as dictionaries (for an empty result)."""
    dictionary = pa.dictionary(pa.int32(), pa.large_string())
    fields = []
    for f in schema:
        if is_categorical(f) and _is_text_list(f.type):
            f = pa.field(f.name, pa.list_(dictionary), True, f.metadata)
        elif is_categorical(f):
            f = pa.field(f.name, dictionary, True, f.metadata)
        fields.append(f)
    return pa.schema(fields, schema.metadata)


def polars_casts(schema: pa.Schema) -> dict[str, Any]:
    """The polars dtype of each categorical or enum column of a result."""
    import polars as pl

    out: dict[str, Any] = {}
    for f in schema:
        if not is_categorical(f):
            continue
        cats = enum_categories(f)
        dtype: Any = pl.Categorical if cats is None else pl.Enum(cats)
        if pa.types.is_list(f.type) or pa.types.is_large_list(f.type):
            dtype = pl.List(dtype)
        out[f.name] = dtype
    return out


def categorical_kind(dtype: Any) -> str | list[str] | None:
    """What a cast to ``dtype`` makes of text: a categorical, an enum, or neither.

    ``"categorical"`` for polars' ``Categorical`` (or ``"category"``), an
    ``Enum``'s categories, or None for any other type.
    """
    if isinstance(dtype, str):
        return "categorical" if dtype.lower() in ("category", "categorical") else None
    module = getattr(dtype if isinstance(dtype, type) else type(dtype), "__module__", "")
    if not module.startswith("polars"):
        return None
    name = dtype.__name__ if isinstance(dtype, type) else type(dtype).__name__
    if name == "Categorical":
        return "categorical"
    if name == "Enum":
        if isinstance(dtype, type):
            raise TypeError("cast to Enum needs its categories: pl.Enum([...])")
        return [str(c) for c in dtype.categories.to_list()]
    return None
