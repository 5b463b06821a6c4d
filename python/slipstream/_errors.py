"""Exceptions, and the translation of Arrow Flight errors into them.

pyarrow.flight turns each gRPC status into an Arrow exception whose class is
not one-to-one with the code (``INVALID_ARGUMENT``, ``RESOURCE_EXHAUSTED``,
``FAILED_PRECONDITION`` and ``OUT_OF_RANGE`` all become ``ArrowInvalid``;
``ALREADY_EXISTS`` becomes a bare ``ArrowException``), but the message always
starts with a fixed phrase naming the code, e.g. ``"Flight returned not found
error, with message: <server message>"``. We read the code from that phrase,
fall back on the exception class, and keep only the server's message.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.flight as fl

__all__ = [
    "AlreadyExistsError",
    "CancelledError",
    "InternalError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlanError",
    "QueryTimeoutError",
    "ResourceExhaustedError",
    "SlipstreamError",
    "UnauthenticatedError",
    "UnavailableError",
]


class SlipstreamError(Exception):
    """Base class of every error the Slipstream client raises for a server answer.

    Attributes
    ----------
    code : str
        The gRPC status code name, e.g. ``"INVALID_ARGUMENT"``; ``"UNKNOWN"``
        when the server did not give one.
    message : str
        The server's message.
    """

    code: str = "UNKNOWN"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class PlanError(SlipstreamError, ValueError):
    """The plan is invalid: unknown column or function, type mismatch, bad cast, bad bytes."""

    code = "INVALID_ARGUMENT"


class NotFoundError(SlipstreamError, LookupError):
    """A table or file does not exist."""

    code = "NOT_FOUND"


class AlreadyExistsError(SlipstreamError):
    """A table created with ``mode="create"`` already exists."""

    code = "ALREADY_EXISTS"


class ResourceExhaustedError(SlipstreamError):
    """The server ran out of memory or another resource for this query."""

    code = "RESOURCE_EXHAUSTED"


class UnavailableError(SlipstreamError):
    """The node cannot be reached."""

    code = "UNAVAILABLE"


class CancelledError(SlipstreamError):
    """The query was cancelled, and the client did not ask for it in this call.

    Raised by :meth:`QueryHandle.result` after :meth:`QueryHandle.cancel`, by a
    call whose query someone else cancelled (``cl.cancel(query_id)``, Flight's
    ``CancelFlightInfo`` from another client), and, as
    :class:`QueryTimeoutError`, when a call's ``timeout=`` passes. A Ctrl-C
    cancels the query on every node too, but raises ``KeyboardInterrupt``, as
    Python users expect.
    """

    code = "CANCELLED"


class QueryTimeoutError(CancelledError, TimeoutError):
    """The query ran past the call's ``timeout=``; it was cancelled on every node."""


class InternalError(SlipstreamError):
    """A bug in the server (a recovered panic included); the server keeps running."""

    code = "INTERNAL"


class NotSupportedError(SlipstreamError):
    """The request is valid but the server does not support it yet."""

    code = "UNIMPLEMENTED"


class UnauthenticatedError(SlipstreamError):
    """The server refused the credentials (or their absence)."""

    code = "UNAUTHENTICATED"


class PermissionDeniedError(SlipstreamError, PermissionError):
    """The server refused the request, e.g. a file outside the directories it may read.

    A node reads files (``read_parquet``, ``read_csv``, ``read_ipc``) only under
    the directories it was started with (``slipstream serve --allow-path DIR``;
    ``connect(allow_paths=...)`` for a local node); the message names them.
    """

    code = "PERMISSION_DENIED"


# The phrase pyarrow (Arrow C++ FromGrpcStatus) writes before the server's
# message, for each gRPC code. Measured with pyarrow 26 against a gRPC server
# aborting with every code.
_PHRASES: dict[str, str] = {
    "Flight cancelled call": "CANCELLED",
    "Flight RPC failed": "UNKNOWN",
    "Flight returned invalid argument error": "INVALID_ARGUMENT",
    "Flight returned timeout error": "DEADLINE_EXCEEDED",
    "Flight returned not found error": "NOT_FOUND",
    "Flight returned already exists error": "ALREADY_EXISTS",
    "Flight returned unauthorized error": "PERMISSION_DENIED",
    "gRPC returned resource exhausted error": "RESOURCE_EXHAUSTED",
    "gRPC returned precondition failed error": "FAILED_PRECONDITION",
    "gRPC returned aborted error": "ABORTED",
    "gRPC returned out-of-range error": "OUT_OF_RANGE",
    "Flight returned unimplemented error": "UNIMPLEMENTED",
    "Flight returned internal error": "INTERNAL",
    "Flight returned unavailable error": "UNAVAILABLE",
    "gRPC returned data loss error": "DATA_LOSS",
    "Flight returned unauthenticated error": "UNAUTHENTICATED",
}
_PHRASE_RE = re.compile(
    "(" + "|".join(re.escape(p) for p in _PHRASES) + r"), with message: (.*)", re.DOTALL
)
_DEBUG_CONTEXT_RE = re.compile(r"\.? ?gRPC client debug context: .*", re.DOTALL)
_DETAIL_RE = re.compile(r"\n(Detail|Additional context): .*", re.DOTALL)

_CLASSES: dict[str, type[SlipstreamError]] = {
    "INVALID_ARGUMENT": PlanError,
    "FAILED_PRECONDITION": PlanError,
    "OUT_OF_RANGE": PlanError,
    "NOT_FOUND": NotFoundError,
    "ALREADY_EXISTS": AlreadyExistsError,
    "RESOURCE_EXHAUSTED": ResourceExhaustedError,
    "UNAVAILABLE": UnavailableError,
    "DEADLINE_EXCEEDED": UnavailableError,
    "CANCELLED": CancelledError,
    "INTERNAL": InternalError,
    "DATA_LOSS": InternalError,
    "ABORTED": InternalError,
    "UNKNOWN": InternalError,
    "UNAUTHENTICATED": UnauthenticatedError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "UNIMPLEMENTED": NotSupportedError,
}

# Fallback when the message carries no phrase (e.g. errors raised locally by
# the Arrow C++ client). Order matters: subclasses first.
_BY_CLASS: list[tuple[type[BaseException], str]] = [
    (fl.FlightCancelledError, "CANCELLED"),
    (fl.FlightUnavailableError, "UNAVAILABLE"),
    (fl.FlightTimedOutError, "DEADLINE_EXCEEDED"),
    (fl.FlightUnauthenticatedError, "UNAUTHENTICATED"),
    (fl.FlightUnauthorizedError, "PERMISSION_DENIED"),
    (fl.FlightInternalError, "INTERNAL"),
    (fl.FlightServerError, "UNKNOWN"),
    (pa.ArrowKeyError, "NOT_FOUND"),
    (pa.ArrowInvalid, "INVALID_ARGUMENT"),
    (pa.ArrowNotImplementedError, "UNIMPLEMENTED"),
    (pa.ArrowCancelled, "CANCELLED"),
]


def parse_flight_error(exc: BaseException) -> tuple[str, str]:
    """Return ``(grpc_code_name, server_message)`` for an exception from pyarrow.flight."""
    text = str(exc)
    m = _PHRASE_RE.search(text)
    if m:
        code = _PHRASES[m.group(1)]
        message = m.group(2)
    else:
        code = next((c for cls, c in _BY_CLASS if isinstance(exc, cls)), "UNKNOWN")
        message = text
    message = _DEBUG_CONTEXT_RE.sub("", message)
    message = _DETAIL_RE.sub("", message)
    return code, message.strip()


def translate(exc: BaseException) -> BaseException:
    """Map an exception raised by pyarrow.flight to a :class:`SlipstreamError`.

    Exceptions that do not come from Arrow (``KeyboardInterrupt``, ``TypeError``
    raised by our own code, ...) and those already translated are returned
    unchanged.
    """
    if isinstance(exc, SlipstreamError):
        return exc
    # pyarrow raises some statuses of unary calls (UNAUTHENTICATED on
    # GetSchema) as a plain OSError carrying Flight's phrase.
    flight_os_error = isinstance(exc, OSError) and _PHRASE_RE.search(str(exc)) is not None
    if not isinstance(exc, pa.ArrowException) and not flight_os_error:
        return exc
    code, message = parse_flight_error(exc)
    cls = _CLASSES.get(code, SlipstreamError)
    err = cls(message, code)
    err.__cause__ = exc
    return err
