"""Progress of a running query: events read from the server, bars that show them.

The server reports a query's progress through the ``query_status`` action
(pyarrow.flight has no ``poll_flight_info``); a :class:`Monitor` asks for it
from a daemon thread every :data:`POLL_SECONDS` while the query runs, turns
each answer into a :class:`QueryProgress` and gives it to a callback and, once
the query has run :data:`SHOW_AFTER` seconds, to a bar: an ipywidgets widget in
Jupyter (an HTML display that updates in place without ipywidgets), a text bar
on a terminal's stderr. The bar is removed when the result arrives.
"""

from __future__ import annotations

import html
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO, cast

__all__ = ["QueryProgress", "config"]

POLL_SECONDS = 0.25
SHOW_AFTER = 1.0
_ENDED = ("done", "failed", "cancelled")

_settings: dict[str, Any] = {"progress": True}


def config(*, progress: bool | None = None) -> dict[str, Any]:
    """Set the client's defaults; return them all.

    Parameters
    ----------
    progress : bool, optional
        Whether a query that runs longer than about a second shows a progress
        bar (a widget in Jupyter, a text bar on a terminal). A call's own
        ``progress=`` argument wins. Default: True.

    Examples
    --------
    >>> import slipstream as sl
    >>> sl.config(progress=False)["progress"]
    False
    >>> _ = sl.config(progress=True)
    """
    if progress is not None:
        _settings["progress"] = bool(progress)
    return dict(_settings)


@dataclass(frozen=True)
class QueryProgress:
    """How far a query is, as the node coordinating it reports it.

    Given to a ``progress=fn`` callback while the query runs (about four
    times a second) and once more when it ends (``final`` is then True).

    Attributes
    ----------
    query_id : str
        The query's id (``cl.query_status(query_id)`` has the details).
    state : str
        ``planning``, ``ready`` (one node: waiting for its result to be
        read), ``running``, ``cancelling``, ``done``, ``failed`` or
        ``cancelled``.
    stage, stages : int
        The stage running now (0-based) and how many the query has; a query
        one node runs alone is one stage.
    stage_name : str
        The stage's top operator (``Aggregate``, ``HashJoin``, ``Sort``...);
        empty for a query one node runs alone.
    tasks, tasks_done, tasks_running : int
        Tasks over every stage.
    rows_read, bytes_read : int
        What its finished tasks read: stored partitions and data shuffled
        between nodes (reads of files given to ``read_parquet`` and the like
        are not counted).
    rows_out, bytes_out : int
        The result sent so far, for a query run by one node alone.
    spilled_bytes : int
        Written to spill files by its finished tasks (one node alone: live).
    nodes : int
        How many nodes it runs on.
    elapsed : float
        Seconds since the client sent it.
    final : bool
        True for the last event, sent when the result has arrived or the
        query failed or was cancelled.
    """

    query_id: str
    state: str
    stage: int
    stages: int
    stage_name: str
    tasks: int
    tasks_done: int
    tasks_running: int
    rows_read: int
    bytes_read: int
    rows_out: int
    bytes_out: int
    spilled_bytes: int
    nodes: int
    elapsed: float
    final: bool = False

    @classmethod
    def from_status(
        cls, query_id: str, status: dict[str, Any], elapsed: float, final: bool = False
    ) -> QueryProgress:
        progress = status.get("progress") or []
        stage = max(0, int(status.get("stage", 0)))
        return cls(
            query_id=query_id,
            state=str(status.get("state", "running")),
            stage=stage,
            stages=len(progress),
            stage_name=_stage_name(str(status.get("stages", "")), stage),
            tasks=int(status.get("tasks", 0)),
            tasks_done=int(status.get("tasks_done", 0)),
            tasks_running=sum(int(p.get("running", 0)) for p in progress),
            rows_read=int(status.get("rows_read", 0)),
            bytes_read=int(status.get("bytes_read", 0)),
            rows_out=int(status.get("rows_out", 0)),
            bytes_out=int(status.get("bytes_out", 0)),
            spilled_bytes=int(status.get("spilled_bytes", 0)),
            nodes=int(status.get("nodes", 1)),
            elapsed=elapsed,
            final=final,
        )

    @property
    def fraction(self) -> float:
        """Tasks done over tasks (0 before any is known)."""
        return self.tasks_done / self.tasks if self.tasks else 0.0

    def describe(self) -> str:
        """One line: stage, tasks, rows and bytes, spilled bytes, elapsed time."""
        parts = [f"stage {self.stage + 1}/{max(self.stages, 1)}"]
        if self.stage_name:
            parts[0] += f" {self.stage_name}"
        parts.append(f"tasks {self.tasks_done}/{self.tasks}")
        if self.rows_read or self.bytes_read:
            parts.append(f"read {_count(self.rows_read)} rows, {_size(self.bytes_read)}")
        if self.rows_out:
            parts.append(f"out {_count(self.rows_out)} rows")
        if self.spilled_bytes:
            parts.append(f"spilled {_size(self.spilled_bytes)}")
        parts.append(f"{self.elapsed:.1f}s")
        if self.state not in ("running", "ready"):
            parts.append(self.state)
        return " · ".join(parts)


def _stage_name(stages: str, stage: int) -> str:
    """The top operator of a stage in the server's text of the stages.

    The text is ``Stage <n> tasks=... output=...`` followed by the stage's
    operators, indented, the top one first.
    """
    lines = stages.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"Stage {stage} ") and i + 1 < len(lines):
            words = lines[i + 1].split()
            return words[0] if words else ""
    return ""


def _count(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


# -------------------------------------------------------------------- bars


class TextBar:
    """A one-line bar redrawn in place (carriage return) on a terminal stream."""

    WIDTH = 24

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._len = 0

    def show(self, event: QueryProgress) -> None:
        filled = round(self.WIDTH * event.fraction)
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        line = f"slipstream {bar} {event.describe()}"
        pad = " " * max(0, self._len - len(line))
        self._len = len(line)
        self.stream.write("\r" + line + pad)
        self.stream.flush()

    def close(self) -> None:
        # Collapse: wipe the line so the result prints where the bar was.
        self.stream.write("\r" + " " * self._len + "\r")
        self.stream.flush()


class WidgetBar:
    """An ipywidgets progress bar with a line of figures, closed at the end."""

    def __init__(self) -> None:
        import ipywidgets as widgets
        from IPython import display as ipd

        display: Callable[..., Any] = getattr(ipd, "display")  # noqa: B009 (IPython has no type hints)
        self._bar = widgets.FloatProgress(min=0.0, max=1.0, description="slipstream")
        self._label = widgets.HTML()
        self._box = widgets.HBox([self._bar, self._label])
        display(self._box)

    def show(self, event: QueryProgress) -> None:
        self._bar.value = event.fraction
        self._label.value = html.escape(event.describe())

    def close(self) -> None:
        self._box.close()


class HtmlBar:
    """A bar drawn as HTML in a notebook display that updates in place."""

    def __init__(self) -> None:
        from IPython import display as ipd

        # IPython has no type hints: name the two calls' types here
        display: Callable[..., Any] = getattr(ipd, "display")  # noqa: B009
        self._html = cast(Callable[[str], Any], ipd.HTML)
        self._handle: Any = display(self._html(""), display_id=True)

    def show(self, event: QueryProgress) -> None:
        pct = round(100 * event.fraction)
        self._handle.update(
            self._html(
                f'<div><progress value="{pct}" max="100" style="width:16em"></progress> '
                f"<code>{html.escape(event.describe())}</code></div>"
            )
        )

    def close(self) -> None:
        self._handle.update(self._html(""))


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and hasattr(shell, "kernel")


def make_bar() -> TextBar | WidgetBar | HtmlBar | None:
    """The bar for where this process runs, or None (no terminal, no notebook)."""
    if _in_notebook():
        try:
            return WidgetBar()
        except ImportError:
            return HtmlBar()
    stream = sys.stderr
    if stream is not None and hasattr(stream, "isatty") and stream.isatty():
        return TextBar(stream)
    return None


# -------------------------------------------------------------------- monitor

Callback = Callable[[QueryProgress], object]


class Monitor:
    """Polls a query's status from a daemon thread while the query runs.

    ``poll()`` returns the status dict of the query or None when it is not
    known yet. Events go to ``callback`` (all of them) and, after
    :data:`SHOW_AFTER` seconds, to a bar when ``show_bar`` is set.
    """

    def __init__(
        self,
        query_id: str,
        poll: Callable[[], dict[str, Any] | None],
        callback: Callback | None,
        show_bar: bool,
    ) -> None:
        self.query_id = query_id
        self._poll = poll
        self._callback = callback
        self._show_bar = show_bar
        self._bar: TextBar | WidgetBar | HtmlBar | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one event at a time, in order
        self._thread = threading.Thread(target=self._run, name="slipstream-progress", daemon=True)
        self._thread.start()

    def _event(self, final: bool) -> QueryProgress | None:
        try:
            status = self._poll()
        except Exception:
            return None  # progress is best effort: never fail the query for it
        if status is None:
            return None
        elapsed = time.monotonic() - self._started
        return QueryProgress.from_status(self.query_id, status, elapsed, final)

    def _deliver(self, event: QueryProgress) -> None:
        with self._lock:
            if self._callback is not None:
                self._callback(event)
            if event.final:
                return
            if self._show_bar and self._bar is None and event.elapsed >= SHOW_AFTER:
                try:
                    self._bar = make_bar()
                except Exception:
                    self._show_bar = False
            if self._bar is not None:
                self._bar.show(event)

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            event = self._event(final=False)
            if event is not None and not self._stop.is_set():
                try:
                    self._deliver(event)
                except Exception:
                    self._callback = None  # a failing callback is not called again
            if event is not None and event.state in _ENDED:
                return

    def stop(self) -> QueryProgress | None:
        """Stop polling, remove the bar, and send the final event."""
        self._stop.set()
        self._thread.join(timeout=2)
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        event = self._event(final=True)
        if event is not None:
            self._deliver(event)
        return event
