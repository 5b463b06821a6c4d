"""One query's run from the client: its id, deadline, cancel and progress.

Every query the client runs gets an id made here, sent in the
``x-slipstream-query-id`` header of its ``GetFlightInfo`` (and ``DoGet``, with
the caller's ``traceparent``: _trace.py), so
the client can follow it (``query_status``) and cancel it (``cancel_query``)
on the node coordinating it before any call returns — in planning, while
tasks run on a cluster, or while the result downloads.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.flight as fl

from . import _progress, _shm, _trace
from ._errors import CancelledError, NotFoundError, QueryTimeoutError, translate

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["QUERY_ID_HEADER", "QueryHandle", "Run", "new_query_id", "with_query_id"]

QUERY_ID_HEADER = b"x-slipstream-query-id"
#: The key of a result table's schema metadata that holds its query id.
QUERY_ID_KEY = b"slipstream.query_id"

Progress = bool | Callable[[_progress.QueryProgress], object] | None


def new_query_id() -> str:
    return uuid.uuid4().hex[:16]


def with_query_id(table: pa.Table, query_id: str) -> pa.Table:
    """``table`` with its query id in the schema metadata (no copy of the data)."""
    meta = dict(table.schema.metadata or {})
    meta[QUERY_ID_KEY] = query_id.encode()
    return table.replace_schema_metadata(meta)


class _Stopped(BaseException):
    """Raised in the waiting thread when the run was cancelled or timed out."""


class Run:
    """The client's side of one query: which node coordinates it, under what id.

    ``check()`` raises once ``cancel()`` was called or the deadline passed;
    the client's waits call it about twenty times a second.
    """

    def __init__(
        self,
        client: Client,
        *,
        progress: Progress = None,
        timeout: float | None = None,
        query_id: str | None = None,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.client = client
        self.query_id = query_id or new_query_id()
        self.flight = client._flight  # the node that coordinates it
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self._cancelled = threading.Event()
        self._reason = ""
        # The caller's trace context, read in the caller's thread (_trace.py).
        self.trace_headers = _trace.trace_headers()
        self.monitor: _progress.Monitor | None = None
        if progress is None:
            progress = bool(_progress.config()["progress"])
        callback = progress if callable(progress) else None
        show_bar = progress is True
        if callback is not None or show_bar:
            self.monitor = _progress.Monitor(self.query_id, self.status, callback, show_bar)

    def again(self) -> Run:
        """Give the run a new id, for running the query once more."""
        self.query_id = new_query_id()
        self.client.last_query_id = self.query_id
        if self.monitor is not None:
            self.monitor.query_id = self.query_id
        return self

    # ------------------------------------------------------------ calls on its node

    def options(self, timeout: float | None = None, shm: bool = False) -> fl.FlightCallOptions:
        """The calls' options; ``shm`` asks for the result through shared memory (_shm.py)."""
        headers = [(QUERY_ID_HEADER, self.query_id.encode()), *self.trace_headers]
        if shm:
            headers.append(_shm.REQUEST)
        return fl.FlightCallOptions(timeout=timeout, headers=headers)

    def status(self) -> dict[str, Any] | None:
        """The query's status from its node, or None while the node does not know it yet."""
        action = fl.Action("query_status", self.query_id.encode())
        try:
            results = list(self.flight.do_action(action, fl.FlightCallOptions(timeout=5)))
        except Exception as e:
            if isinstance(translate(e), NotFoundError):
                return None
            raise
        return json.loads(results[0].body.to_pybytes())  # type: ignore[no-any-return]

    def cancel_on_server(self) -> None:
        """Ask the coordinating node to stop the query everywhere (best effort, ≤ 2 s)."""
        action = fl.Action("cancel_query", self.query_id.encode())
        with contextlib.suppress(Exception):
            list(self.flight.do_action(action, fl.FlightCallOptions(timeout=2)))

    # ------------------------------------------------------------ cancel and deadline

    def cancel(self, reason: str = "cancelled") -> None:
        self._reason = reason
        self._cancelled.set()

    def check(self) -> None:
        if self._cancelled.is_set():
            raise _Stopped
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise _Stopped

    def stopped_error(self) -> CancelledError:
        if self._cancelled.is_set():
            return CancelledError(
                f"query {self.query_id} was {self._reason or 'cancelled'}", "CANCELLED"
            )
        return QueryTimeoutError(
            f"query {self.query_id} ran past its timeout of {self.timeout:g} s "
            "and was cancelled on every node",
            "CANCELLED",
        )

    # ------------------------------------------------------------ the end

    def end(self, error: BaseException | None) -> BaseException | None:
        """Finish the run: on an error, cancel the query on its node first.

        Returns the exception to raise (a cancel or timeout becomes
        :class:`CancelledError` / :class:`QueryTimeoutError`; a Ctrl-C stays a
        ``KeyboardInterrupt``), or None.
        """
        if error is not None:
            self.cancel_on_server()
        if self.monitor is not None:
            # A failing progress callback does not change the query's outcome.
            with contextlib.suppress(Exception):
                self.monitor.stop()
        if isinstance(error, _Stopped):
            return self.stopped_error()
        return error


class QueryHandle:
    """A query running in the background (``DataFrame.to_arrow_async()``).

    Attributes
    ----------
    query_id : str
        The query's id, known as soon as it is started.

    Examples
    --------
    >>> h = df.to_arrow_async()  # doctest: +SKIP
    >>> h.cancel()  # stops it on every node  # doctest: +SKIP
    """

    def __init__(self, run: Run, work: Callable[[Run], pa.Table]) -> None:
        self._run = run
        self.query_id = run.query_id
        self._done = threading.Event()
        self._result: pa.Table | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._work, args=(work,), name="slipstream-query", daemon=True
        )
        self._thread.start()

    def _work(self, work: Callable[[Run], pa.Table]) -> None:
        try:
            self._result = work(self._run)
        except BaseException as e:
            self._error = e
        finally:
            self._done.set()

    def cancel(self) -> bool:
        """Cancel the query on every node; returns False if it had already finished.

        :meth:`result` then raises :class:`CancelledError`.
        """
        if self._done.is_set():
            return False
        self._run.cancel("cancelled by QueryHandle.cancel()")
        return True

    def done(self) -> bool:
        """Whether the query has finished (result, error or cancel)."""
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> pa.Table:
        """Wait for the result and return it, or raise the query's error.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; past them ``TimeoutError`` is raised and the query
            goes on (cancel it with :meth:`cancel`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._done.wait(0.05):  # short waits: Ctrl-C interrupts them
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"query {self.query_id} has not finished after {timeout} s")
        except KeyboardInterrupt:
            self.cancel()  # Ctrl-C while waiting cancels the query, as in to_arrow()
            self._done.wait(5)
            raise
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def status(self) -> dict[str, Any]:
        """The query's status on the node coordinating it (:meth:`Client.query_status`)."""
        return self._run.client.query_status(self.query_id)

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"<slipstream.QueryHandle {self.query_id} ({state})>"
