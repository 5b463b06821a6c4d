"""Slipstream: lazy dataframe plans executed by a Slipstream node over Arrow Flight.

Examples
--------
>>> import slipstream as sl
>>> from slipstream import col
>>> cl = sl.connect()  # doctest: +SKIP
>>> trips = cl.from_pandas(df, name="trips")  # doctest: +SKIP
>>> (trips.filter(col("fare") > 10)
...       .group_by("vendor")
...       .agg(col("fare").sum().alias("total"), sl.len().alias("n"))
...       .sort("total", descending=True)
...       .limit(5)
...       .to_pandas())  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import metadata as _metadata

from . import selectors
from ._client import Client, TableInfo, connect
from ._errors import (
    AlreadyExistsError,
    CancelledError,
    InternalError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    PlanError,
    QueryTimeoutError,
    ResourceExhaustedError,
    SlipstreamError,
    UnauthenticatedError,
    UnavailableError,
)
from ._expr import (
    Expr,
    all_horizontal,
    any_horizontal,
    coalesce,
    col,
    concat_str,
    corr,
    cov,
    exclude,
    len,
    lit,
    max_horizontal,
    mean_horizontal,
    min_horizontal,
    struct,
    sum_horizontal,
    when,
)
from ._expr import all_ as all
from ._frame import DataFrame, GroupBy, PlanText, concat
from ._progress import QueryProgress, config
from ._query import QueryHandle
from ._trace import traceparent

# Tracebacks say slipstream.PlanError, the name users import.
for _cls in (
    AlreadyExistsError,
    CancelledError,
    InternalError,
    NotFoundError,
    PermissionDeniedError,
    PlanError,
    QueryHandle,
    QueryProgress,
    QueryTimeoutError,
    ResourceExhaustedError,
    SlipstreamError,
    UnauthenticatedError,
    UnavailableError,
):
    _cls.__module__ = __name__
del _cls

try:
    __version__ = _metadata.version("slipstream")
except _metadata.PackageNotFoundError:  # imported from a source checkout
    __version__ = "0.0.0+unknown"

__all__ = [
    "AlreadyExistsError",
    "CancelledError",
    "Client",
    "DataFrame",
    "Expr",
    "GroupBy",
    "InternalError",
    "NotFoundError",
    "NotSupportedError",
    "PermissionDeniedError",
    "PlanError",
    "PlanText",
    "QueryHandle",
    "QueryProgress",
    "QueryTimeoutError",
    "ResourceExhaustedError",
    "SlipstreamError",
    "TableInfo",
    "UnauthenticatedError",
    "UnavailableError",
    "__version__",
    "all",
    "all_horizontal",
    "any_horizontal",
    "coalesce",
    "col",
    "concat",
    "concat_str",
    "config",
    "connect",
    "corr",
    "cov",
    "exclude",
    "len",
    "lit",
    "max_horizontal",
    "mean_horizontal",
    "min_horizontal",
    "selectors",
    "struct",
    "sum_horizontal",
    "traceparent",
    "when",
]
