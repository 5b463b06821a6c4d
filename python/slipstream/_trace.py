"""Trace context from the client to the cluster (W3C ``traceparent``).

Every query the client runs sends the caller's trace context in the
``traceparent`` header of its calls, so the cluster's spans for the query
(the query, its stages, its tasks on every node) join the caller's trace:

- inside ``with sl.traceparent("00-<trace id>-<span id>-01"):``, that one;
- else, when the ``opentelemetry`` package is installed and a span is
  active, that span's context (``tracestate`` too);
- else none: the node starts a trace of its own.

The header is read once, when a query starts, in the caller's thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["trace_headers", "traceparent"]

_FORMAT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_given: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "slipstream_traceparent", default=None
)
_inject: Any = None  # opentelemetry.propagate.inject once looked up; False when absent


def _check(value: str) -> str:
    m = _FORMAT.match(value.strip().lower()) if isinstance(value, str) else None
    if m is None or m.group(1) == "ff" or set(m.group(2)) == {"0"} or set(m.group(3)) == {"0"}:
        raise ValueError(
            f"traceparent {value!r} is not a W3C trace context; want "
            "'00-<32 hex digits of trace id>-<16 hex digits of parent span id>-<2 hex digits of "
            "flags>', such as '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', "
            "with neither id all zeros"
        )
    return m.group(0)


@contextlib.contextmanager
def traceparent(value: str) -> Iterator[None]:
    """Run the queries started in the block as part of the trace ``value`` names.

    Use it when the caller's trace does not come from the ``opentelemetry``
    package (whose active span every query joins without this). A query's
    status (:meth:`Client.query_status`) shows the trace it joined as
    ``trace_id``.

    Parameters
    ----------
    value : str
        A W3C ``traceparent``: ``"00-<trace id>-<parent span id>-<flags>"``;
        flags ``01`` asks the cluster to record the query's spans (when it
        exports traces), ``00`` not to.

    Examples
    --------
    >>> with sl.traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"):
    ...     table = df.to_arrow()  # doctest: +SKIP
    >>> cl.query_status()["trace_id"]  # doctest: +SKIP
    '4bf92f3577b34da6a3ce929d0e0e4736'
    """
    token = _given.set(_check(value))
    try:
        yield
    finally:
        _given.reset(token)


def trace_headers() -> list[tuple[bytes, bytes]]:
    """The trace-context headers a query started now sends (none when no trace)."""
    given = _given.get()
    if given is not None:
        return [(b"traceparent", given.encode())]
    global _inject
    if _inject is None:
        try:
            from opentelemetry import propagate
        except ImportError:
            _inject = False
        else:
            _inject = propagate.inject
    if _inject is False:
        return []
    carrier: dict[str, str] = {}
    _inject(carrier)
    return [
        (key.encode(), carrier[key].encode())
        for key in ("traceparent", "tracestate")
        if carrier.get(key)
    ]
