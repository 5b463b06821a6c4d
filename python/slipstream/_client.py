"""The :class:`Client`: a connection to a Slipstream node over Arrow Flight."""

from __future__ import annotations

import contextlib
import html
import json
import os
import queue
import re
import threading
import urllib.parse
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pyarrow as pa
import pyarrow.flight as fl
from google.protobuf import any_pb2

from . import _shm
from ._auth import Credentials, PathOrPem, diagnose_tls, flight_client
from ._cluster import ClusterView
from ._dtypes import category_metadata, restore_categoricals, restore_schema
from ._errors import PlanError, SlipstreamError, UnavailableError, translate
from ._frame import DataFrame
from ._node import LocalNode, _stop
from ._proto import plan_pb2 as pb
from ._query import Progress, QueryHandle, Run, with_query_id

if TYPE_CHECKING:
    import pandas
    import polars

__all__ = ["Client", "TableInfo", "connect"]

T = TypeVar("T")
PathLike = str | os.PathLike[str]
UploadMode = Literal["create", "replace", "append"]

_MODES = {"create": pb.Upload.CREATE, "replace": pb.Upload.REPLACE, "append": pb.Upload.APPEND}
_REUSE = "arrow-flight-reuse-connection://?"
# Rows per uploaded batch, and a byte cap for wide rows.
UPLOAD_BATCH_ROWS = 128 * 1024
UPLOAD_BATCH_BYTES = 64 * 1024 * 1024
_MAX_FETCH_THREADS = 8


def _any(message: Any) -> bytes:
    wrapped = any_pb2.Any()
    wrapped.Pack(message)  # type_url = type.googleapis.com/slipstream.plan.v1.<Message>
    return bytes(wrapped.SerializeToString())


def _normalize_address(address: str) -> str:
    if "://" not in address:
        address = "grpc://" + address
    return address


@dataclass(frozen=True)
class TableInfo:
    """A stored table, as listed by :meth:`Client.tables`.

    Attributes
    ----------
    name : str
        The table name.
    rows : int
        Number of rows.
    schema : pyarrow.Schema
        Its columns and types.
    """

    name: str
    rows: int
    schema: pa.Schema


class Client:
    """A connection to a Slipstream node. Create one with :func:`connect`.

    The client is thread-safe. Close it with :meth:`close` or use it as a
    context manager; a node it started itself stops with it (and at the
    latest when the interpreter exits).
    """

    def __init__(
        self,
        address: str,
        node: LocalNode | None = None,
        fallbacks: Sequence[str] = (),
        creds: Credentials | None = None,
    ) -> None:
        self.address = _normalize_address(address)
        # The token and TLS settings every call, to every node, presents.
        self._creds = creds or Credentials()
        # Nodes to turn to, in order, when the one in use is unavailable.
        self._fallbacks = [
            _normalize_address(a) for a in fallbacks if _normalize_address(a) != self.address
        ]
        self._node = node
        self._lock = threading.Lock()
        self._flight = flight_client(self.address, self._creds)
        self._others: dict[str, fl.FlightClient] = {}
        flights = [self._flight]
        # Tables DataFrame.cache() made: dropped when the client closes.
        self._cached: list[str] = []
        if node is not None:
            # Runs on close(), on garbage collection, or at interpreter exit.
            self._finalizer = weakref.finalize(
                self, _close, flights, self._cached, node.proc, node._tmp, node._log
            )
        else:
            self._finalizer = weakref.finalize(
                self, _close, flights, self._cached, None, None, None
            )
        self._flights = flights
        #: The id of the query this client started last (``None`` before any).
        self.last_query_id: str | None = None

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the connection, and stop the local node if this client started it."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return not self._finalizer.alive

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self) -> str:
        if self._node is None:
            return "node"
        n = len(self._node.addresses)
        return f"local cluster of {n} nodes" if n > 1 else "local node"

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<slipstream.Client {self._where()} {self.address} ({state})>"

    def _repr_html_(self) -> str:
        where = self._where()
        text = f"slipstream.Client: {where} {html.escape(self.address)}"
        if self.closed:
            return text + " (closed)"
        url = None
        with contextlib.suppress(Exception):
            url = self.dashboard_url
        if url is None:
            return text
        return f'{text} · <a href="{html.escape(url, quote=True)}" target="_blank">dashboard</a>'

    @property
    def dashboard_url(self) -> str | None:
        """The address of the connected node's dashboard, or None when it has no HTTP port.

        A node serves its dashboard and Prometheus ``/metrics`` on the port
        given with ``slipstream serve --http``; nodes started by
        :func:`connect` (and ``slipstream local``) serve them on a free
        loopback port. In Jupyter, the client itself renders as a link to it.

        The dashboard asks for the same token as the node (a browser opens
        the address with ``?token=`` once and is given a cookie): for a node
        started by :func:`connect` the address carries its token, so the
        link works as it is; keep it to yourself.
        """
        url = self.health().get("dashboard")
        # Only a web address is a link (never a javascript: or data: URL).
        if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            return None
        if self._node is not None and self.token:
            url += "?" + urllib.parse.urlencode({"token": self.token})
        return url

    @property
    def token(self) -> str | None:
        """The bearer token this client sends (``None`` when it sends none).

        For a node started by :func:`connect` it is the node's random token:
        give it to other Flight clients of that node as
        ``authorization: Bearer <token>``.
        """
        return self._creds.token

    @property
    def data_dir(self) -> str | None:
        """The data directory of the local node this client started (None for remote nodes)."""
        return self._node.data_dir if self._node is not None else None

    # ---------------------------------------------------------------- flight plumbing

    def _call(self, fn: Any, *args: Any) -> Any:
        if self.closed:
            raise RuntimeError("this slipstream Client is closed")
        try:
            return fn(*args)
        except Exception as e:
            raise translate(e) from None

    def _client_for(self, location: fl.Location | None) -> fl.FlightClient:
        uri = location.uri.decode() if location is not None else None
        if uri is None or uri == _REUSE or uri == self.address:
            return self._flight
        with self._lock:
            if uri not in self._others:
                client = flight_client(uri, self._creds)
                self._others[uri] = client
                self._flights.append(client)
            return self._others[uri]

    def _failover(self, fn: Any) -> Any:
        """Run ``fn()``, moving to another node when the one in use is unavailable.

        The next node given to :func:`connect` that answers becomes the one in
        use, and ``fn()`` runs again there.
        """
        try:
            return fn()
        except UnavailableError:
            if not self._fallbacks or self._answers(self._flight):
                raise  # the node is up: the error is about the query (data lost)
            for addr in list(self._fallbacks):
                candidate = flight_client(addr, self._creds)
                if not self._answers(candidate):
                    _quietly(candidate.close)
                    continue
                with self._lock:
                    self._fallbacks.remove(addr)
                    self._fallbacks.append(self.address)
                    self.address, self._flight = addr, candidate
                    self._flights.append(candidate)
                return fn()
            raise UnavailableError(
                f"no node answers: tried {self.address} and {', '.join(self._fallbacks)}"
            ) from None

    @staticmethod
    def _answers(client: fl.FlightClient) -> bool:
        try:
            options = fl.FlightCallOptions(timeout=2)
            list(client.do_action(fl.Action("health", b""), options))
        except Exception:
            return False
        return True

    def _handshake(self, username: str, password: str) -> None:
        """Basic credentials on Flight's Handshake; the bearer it answers is used from then on."""
        key, value = self._call(self._flight.authenticate_basic_token, username, password)
        scheme, _, bearer = value.decode().partition(" ")
        if key.lower() != b"authorization" or scheme.lower() != "bearer" or not bearer:
            raise UnavailableError(
                f"the node at {self.address} answered the handshake without a bearer token"
            )
        self._creds.set_token(bearer)

    def _action(self, kind: str, body: bytes = b"") -> list[bytes]:
        def run() -> list[bytes]:
            return [r.body.to_pybytes() for r in self._flight.do_action(fl.Action(kind, body))]

        return self._failover(lambda: self._call(run))  # type: ignore[no-any-return]

    def _json_action(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        payload = json.dumps(body).encode() if body is not None else b""
        results = self._action(kind, payload)
        return json.loads(results[0]) if results else None

    def _get_schema(self, query: pb.Query) -> pa.Schema:
        desc = fl.FlightDescriptor.for_command(_any(query))
        schema: pa.Schema = self._call(lambda: self._flight.get_schema(desc).schema)
        return schema

    def _explain(self, query: pb.Query, analyze: bool = False) -> str:
        kind = "explain_analyze" if analyze else "explain"
        body = query.SerializeToString()
        if analyze:  # runs the query: interruptible as a collect is
            results = _interruptible(lambda: self._action(kind, body))
        else:
            results = self._action(kind, body)
        return b"".join(results).decode("utf-8")

    def _run_action(
        self, kind: str, body: bytes, *, progress: Progress = None, timeout: float | None = None
    ) -> Any:
        """Run an action that runs a query (a statement, a write) as one query.

        Its id goes in the call; Ctrl-C and the timeout cancel it on every node.
        """

        def work(run: Run) -> Any:
            def call() -> Any:
                run.flight = self._flight
                results = _interruptible(
                    lambda: self._call(
                        lambda: [
                            r.body.to_pybytes()
                            for r in run.flight.do_action(fl.Action(kind, body), run.options())
                        ]
                    ),
                    run,
                )
                return json.loads(results[0]) if results else None

            return self._failover(call)

        return self._run(work, progress=progress, timeout=timeout)

    def _flight_info(self, query: pb.Query, run: Run) -> fl.FlightInfo:
        desc = fl.FlightDescriptor.for_command(_any(query))

        def call() -> fl.FlightInfo:
            run.flight = self._flight  # after a failover: the node that now coordinates it
            return _interruptible(
                lambda: self._call(run.flight.get_flight_info, desc, run.options()), run
            )

        return self._failover(call)

    def _run(
        self,
        work: Any,
        *,
        progress: Progress = None,
        timeout: float | None = None,
        query_id: str | None = None,
    ) -> Any:
        """Run ``work(run)`` as one query.

        On Ctrl-C, a cancel or the timeout, the query is cancelled on every
        node before the exception is raised.
        """
        run = Run(self, progress=progress, timeout=timeout, query_id=query_id)
        self.last_query_id = run.query_id
        return self._finish(run, work)

    def _finish(self, run: Run, work: Any) -> Any:
        try:
            result = work(run)
        except BaseException as e:
            raise run.end(e) from None  # type: ignore[misc]
        run.end(None)
        return result

    def _collect(
        self,
        query: pb.Query,
        *,
        progress: Progress = None,
        timeout: float | None = None,
    ) -> pa.Table:
        return self._run(
            lambda run: self._collect_run(query, run), progress=progress, timeout=timeout
        )

    def _collect_async(
        self, query: pb.Query, *, progress: Progress = None, timeout: float | None = None
    ) -> QueryHandle:
        run = Run(self, progress=progress, timeout=timeout)
        self.last_query_id = run.query_id
        return QueryHandle(run, lambda r: self._finish(r, lambda r2: self._collect_run(query, r2)))

    def _collect_run(self, query: pb.Query, run: Run) -> pa.Table:
        info = self._flight_info(query, run)
        try:
            table = self._fetch_all(info, run)
        except UnavailableError:
            # A node holding part of the result died after the query ran:
            # run it again (on the survivors; it re-reads replicas).
            info = self._flight_info(query, run.again())
            table = self._fetch_all(info, run)
        return with_query_id(restore_categoricals(table, info.schema), run.query_id)

    def _fetch_all(self, info: fl.FlightInfo, run: Run) -> pa.Table:
        endpoints = list(info.endpoints)
        readers: list[fl.FlightStreamReader] = []
        lock = threading.Lock()

        # A node this client started hands results through shared memory.
        shm = self._node is not None and self._node.shm_results

        def fetch(ep: fl.FlightEndpoint) -> pa.Table:
            client = self._client_for(ep.locations[0] if ep.locations else None)
            reader = self._call(client.do_get, ep.ticket, run.options(shm=shm))
            with lock:
                readers.append(reader)
            table: pa.Table = self._call(_read_all, reader, shm)
            return table

        try:
            tables = _parallel_map(fetch, endpoints, _MAX_FETCH_THREADS, run)
        except BaseException:
            with lock:  # stop the other streams: the server sees the calls cancelled
                for r in readers:
                    _quietly(r.cancel)
            raise
        if not tables:
            return info.schema.empty_table()
        if len(tables) == 1:
            return tables[0]
        return pa.concat_tables(tables)

    def _stream(
        self, query: pb.Query, *, progress: Progress = None, timeout: float | None = None
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        run = Run(self, progress=progress, timeout=timeout)
        self.last_query_id = run.query_id
        try:
            info = self._flight_info(query, run)
        except BaseException as e:
            raise run.end(e) from None  # type: ignore[misc]
        schema = info.schema
        fetched = self._batches(list(info.endpoints), run)
        batches = (restore_categoricals(b, schema) for b in fetched)
        return restore_schema(schema), batches

    def _batches(self, endpoints: list[fl.FlightEndpoint], run: Run) -> Iterator[pa.RecordBatch]:
        """Yield the batches of each endpoint in order, read ahead by a daemon thread.

        The reading thread keeps at most a few batches ahead. When the consumer
        stops early (``break``, Ctrl-C, garbage collection), the current stream
        is cancelled so the server stops producing it.
        """
        ahead: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=4)
        stop = threading.Event()
        current: list[fl.FlightStreamReader] = []

        def put(item: tuple[str, Any]) -> bool:
            while not stop.is_set():
                try:
                    ahead.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        # Through shared memory from a node this client started: the node
        # writes at most two files ahead of what this thread has taken.
        shm = self._node is not None and self._node.shm_results

        def produce() -> None:
            try:
                for ep in endpoints:
                    client = self._client_for(ep.locations[0] if ep.locations else None)
                    reader = self._call(client.do_get, ep.ticket, run.options(shm=shm))
                    current[:] = [reader]
                    for chunk in reader:
                        for batch in _shm.batches(chunk, shm):
                            if not put(("batch", batch)):
                                return
                put(("end", None))
            except BaseException as e:
                put(("error", translate(e)))

        threading.Thread(target=produce, name="slipstream-stream", daemon=True).start()
        error: BaseException | None = None
        kind = ""
        try:
            while True:
                try:
                    kind, value = ahead.get(timeout=0.05)
                except queue.Empty:
                    run.check()
                    continue
                if kind == "batch":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        except BaseException as e:
            error = e
            raise
        finally:
            stop.set()
            for r in current:
                _quietly(r.cancel)
            if error is None and kind != "end":
                # The consumer stopped early (break, close, garbage collection).
                error = GeneratorExit()
            end = run.end(error)
            if end is not None and error is not None and end is not error:
                raise end from None

    # ---------------------------------------------------------------- tables

    def sql(self, query: str, tables: Mapping[str, DataFrame] | None = None) -> DataFrame:
        """Return a lazy :class:`DataFrame` of a SQL query.

        The query is written in the SQL DuckDB and DataFusion users write (a
        Postgres-family dialect) and may read stored tables by name and files
        with ``read_parquet('path')``, ``read_csv('path')`` and
        ``read_ipc('path')``. The node compiles it into the same plan as the
        DataFrame API, so the result chains like any other frame::

            top = cl.sql("SELECT vendor, sum(fare) AS total FROM trips GROUP BY vendor")
            top.sort("total", descending=True).limit(3).to_pandas()

        ``tables`` names frames the query may read as tables (they hide
        stored tables of the same name), as polars' ``SQLContext`` does.

        A statement that changes tables (``CREATE TABLE``, ``CREATE TABLE AS``,
        ``INSERT``, ``DROP TABLE``, ``COPY ... TO``) runs at once, as
        :meth:`execute` runs it, and returns a one-row frame of the rows it
        wrote (column ``rows``).

        A syntax error names the line and column, with a caret under the
        token; what is not supported yet says which feature.
        """
        if _is_statement(query):
            if tables:
                raise PlanError(
                    "tables= is for queries; a statement that changes tables reads stored "
                    "tables only (store a frame first with write_table)"
                )
            rows = self.execute(query)
            cell = pb.Expr(literal=pb.Literal(int_value=rows))
            done = pb.Values(names=["rows"], rows=[pb.Values.Row(cells=[cell])])
            return DataFrame(self, pb.Node(values=done))
        given = {name: frame._node for name, frame in (tables or {}).items()}
        return DataFrame(self, pb.Node(sql=pb.Sql(query=query, tables=given)))

    def execute(self, statement: str, *, timeout: float | None = None) -> int:
        """Run a SQL statement that changes tables and return the rows it wrote.

        ``CREATE TABLE t (a INTEGER, b VARCHAR)``, ``CREATE [OR REPLACE] TABLE t AS
        SELECT ...``, ``INSERT INTO t [(columns)] SELECT ... / VALUES ...``,
        ``DROP TABLE [IF EXISTS] t`` and ``COPY (SELECT ...) TO 'dir' (FORMAT
        parquet)``. The query runs on the nodes and its result stays there:
        a table is stored (replicated and durable, as an upload) where its
        partitions are computed; COPY writes one Parquet file per result
        partition into the directory, on the nodes (under their
        ``--allow-path`` directories). Nothing passes through the client.
        ``cl.sql`` runs statements through this method.
        """
        body = json.dumps({"sql": statement}).encode()
        result = self._run_action("execute_sql", body, progress=False, timeout=timeout)
        return int(result["rows"]) if result else 0

    def table(self, name: str) -> DataFrame:
        """Return a lazy :class:`DataFrame` over the stored table ``name``.

        The table is not looked up until a query runs.
        """
        return DataFrame(self, pb.Node(table_scan=pb.TableScan(table=name)))

    def tables(self) -> list[TableInfo]:
        """List the stored tables with their row counts and schemas, sorted by name."""

        def run() -> list[TableInfo]:
            out = []
            for info in self._flight.list_flights():
                path = info.descriptor.path
                name = path[0].decode() if path else ""
                out.append(TableInfo(name, info.total_records, info.schema))
            return sorted(out, key=lambda t: t.name)

        return self._call(run)  # type: ignore[no-any-return]

    def drop(self, name: str, if_exists: bool = False) -> bool:
        """Delete a stored table.

        Parameters
        ----------
        name : str
            The table.
        if_exists : bool, default False
            If False, a missing table raises :class:`~slipstream.NotFoundError`.

        Returns
        -------
        bool
            Whether a table was dropped.
        """
        result = self._json_action("drop_table", {"name": name, "if_exists": if_exists})
        return bool(result and result.get("dropped"))

    def health(self) -> dict[str, Any]:
        """Ask the node how it is: ``{"status": "ok", "version": "...", ...}``.

        Also its ``name``, ``tables``, ``memory_used`` and ``memory_limit``
        (its memory pool, in bytes) and ``dashboard`` when it has an HTTP port.
        """
        return self._json_action("health")  # type: ignore[no-any-return]

    def cluster(self) -> ClusterView:
        """The members of the cluster as the connected node sees them.

        Returns
        -------
        ClusterView
            A list of dicts, one per node, by name: ``name``, ``state``
            (``alive``, ``failed``, ``left``, ``leaving``), ``address`` (its
            Flight URI), ``gossip``, ``cores``, ``memory_bytes`` and
            ``partitions`` (how many table partitions it holds); its
            attributes say how replication stands: ``under_replicated``
            partitions, ``min_replicas``, ``repairs_pending`` and more.
        """
        return ClusterView(self._json_action("cluster"))

    def query_status(self, query_id: str | None = None) -> dict[str, Any]:
        """How a query the connected node coordinates is doing, or did (default: the latest).

        Every collected result names its query: ``cl.last_query_id``, the
        ``query_id`` of a :class:`QueryHandle`, and a result table's schema
        metadata ``b"slipstream.query_id"``.

        The answer has the query's ``state`` (``planning``, ``ready``,
        ``running``, ``cancelling``, ``done``, ``failed``, ``cancelled``),
        ``seconds`` (so far, while it runs), its ``stages`` (as text), the
        ``progress`` of each stage (``tasks``, ``done``, ``running``,
        ``attempts``), the ``stage`` it is in, ``tasks`` and ``tasks_done``
        over all stages, ``nodes``, ``rows_read`` and ``bytes_read`` (stored
        partitions and shuffles read by finished tasks), ``spilled_bytes``,
        ``rows_out`` and ``bytes_out`` (the result sent, for a query run by
        one node alone), ``bytes_shuffled`` between nodes, and the
        ``receipts`` of every task attempt: query, stage, task, attempt, node,
        state (``done``, ``failed``, or ``lost`` when its node died
        afterwards), rows, bytes. A query run across nodes also shows the
        ``under_replicated`` partitions of the tables it reads and the
        ``repairs`` of them in progress on the connected node (as in
        :meth:`cluster`).

        Memory: ``peak_bytes`` (the most it held; on a cluster, its largest
        task's) and ``operators``: for each operator that held memory, its
        ``operator`` (its line in the plan), ``stage``, ``peak_bytes``,
        ``spilled_bytes`` and ``count`` (how many of that name were folded
        together: parallel pipelines, the tasks of a stage, the rounds of a
        spilled aggregate). A query run by the connected node alone also has
        its ``plan`` with those figures per operator (as in
        ``explain(analyze=True)``).
        """
        results = self._action("query_status", (query_id or "").encode())
        return json.loads(results[0])  # type: ignore[no-any-return]

    def queries(self) -> list[dict[str, Any]]:
        """The queries the connected node coordinates, running and recent, newest first.

        Each has ``id``, ``state``, ``started``, ``seconds``, ``nodes``,
        ``tasks``, ``tasks_done``, ``tasks_running`` and ``error`` if any; see
        :meth:`query_status` for one query's details. A node keeps the last 200.
        """
        return list(self._json_action("queries")["queries"])

    def cancel(self, query_id: str) -> str:
        """Cancel a query the connected node coordinates, on every node it runs on.

        Returns
        -------
        str
            ``"cancelled"``; ``"not_cancellable"`` when it had already ended;
            ``"unknown"`` when the node does not know it (should it arrive,
            it is refused). A call waiting for the query raises
            :class:`CancelledError`.
        """
        return str(self._json_action_text("cancel_query", query_id)["result"])

    def _json_action_text(self, kind: str, body: str) -> Any:
        results = self._action(kind, body.encode())
        return json.loads(results[0])

    # ---------------------------------------------------------------- uploads

    def from_arrow(self, data: Any, name: str, *, mode: UploadMode = "create") -> DataFrame:
        """Upload Arrow data as table ``name`` and return it as a lazy :class:`DataFrame`.

        Parameters
        ----------
        data : pyarrow.Table, RecordBatch, RecordBatchReader, or any object with
            ``__arrow_c_stream__`` (polars and pandas DataFrames, DuckDB results, ...)
            The rows; a reader or stream is uploaded as it is read.
        name : str
            The table name.
        mode : {"create", "replace", "append"}, default "create"
            ``create`` fails with :class:`~slipstream.AlreadyExistsError` if the
            table exists; ``replace`` swaps its contents atomically; ``append``
            adds rows (the schema must match).

        Returns
        -------
        DataFrame
            ``self.table(name)``; the server acknowledged the rows as durable.
            A Slipstream :class:`DataFrame` of this cluster is stored where it
            is computed (:meth:`DataFrame.write_table`), not downloaded and
            uploaded again.
        """
        if isinstance(data, DataFrame) and data._client is self:
            data.write_table(name, mode=mode)
            return self.table(name)
        reader = _as_reader(data)
        self._upload(reader, name, mode)
        return self.table(name)

    def from_pandas(
        self,
        df: pandas.DataFrame,
        name: str,
        *,
        mode: UploadMode = "create",
        include_index: bool = False,
    ) -> DataFrame:
        """Upload a pandas DataFrame as table ``name`` (see :meth:`from_arrow`).

        Parameters
        ----------
        df : pandas.DataFrame
            The rows.
        name : str
            The table name.
        mode : {"create", "replace", "append"}, default "create"
            What to do if the table exists.
        include_index : bool, default False
            Upload the index as columns too (as polars' ``from_pandas``).
        """
        if isinstance(df, DataFrame):  # a query of this cluster stays on it
            return self.from_arrow(df, name, mode=mode)
        if include_index:
            df = df.reset_index()
        table = pa.Table.from_pandas(df, preserve_index=False)
        return self.from_arrow(table, name, mode=mode)

    def from_polars(
        self, df: polars.DataFrame, name: str, *, mode: UploadMode = "create"
    ) -> DataFrame:
        """Upload a polars DataFrame as table ``name`` (see :meth:`from_arrow`).

        Strings travel as ``string_view``, as polars holds them (no copy).
        """
        if isinstance(df, DataFrame):  # a query of this cluster stays on it
            return self.from_arrow(df, name, mode=mode)
        try:  # polars' own layout: strings as string_view, no conversion
            import polars as pl

            table = df.to_arrow(compat_level=pl.CompatLevel.newest())
        except (ImportError, AttributeError, TypeError):
            table = df.to_arrow()
        return self.from_arrow(table, name, mode=mode)

    def _upload(self, reader: pa.RecordBatchReader, name: str, mode: str) -> pb.UploadResult:
        if not isinstance(name, str) or not name:
            raise ValueError("a table name must be a non-empty string")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
        schema, batches = _upload_batches(reader)
        desc = fl.FlightDescriptor.for_command(_any(pb.Upload(table=name, mode=_MODES[mode])))
        writer, ack = self._call(self._flight.do_put, desc, schema)
        try:
            for batch in batches:
                writer.write_batch(batch)
            writer.done_writing()
            buf = ack.read()
        except BaseException as e:
            # The real error, when the server refused the upload, comes from close().
            try:
                writer.close()
            except Exception as close_err:
                raise translate(close_err) from None
            raise translate(e) from None
        self._call(writer.close)
        result = pb.UploadResult()
        if buf is not None:
            result.ParseFromString(buf.to_pybytes())
        return result

    # ---------------------------------------------------------------- file scans

    def _scan(
        self, source: PathLike | Sequence[PathLike], fmt: int, csv: pb.CsvOptions | None = None
    ) -> DataFrame:
        paths = (
            [os.fspath(source)]
            if isinstance(source, (str, os.PathLike))
            else [os.fspath(p) for p in source]
        )
        if not paths:
            raise ValueError("no paths given")
        scan = pb.FileScan(paths=paths, format=fmt, csv=csv)  # type: ignore[arg-type]
        return DataFrame(self, pb.Node(file_scan=scan))

    def read_parquet(self, source: PathLike | Sequence[PathLike]) -> DataFrame:
        """Scan Parquet files on the server, lazily.

        Parameters
        ----------
        source : str, path or list of them
            Paths on the *server's* file system; globs such as
            ``"data/*.parquet"`` are allowed. Every file must have the same schema.
            A relative path is relative to the server's working directory
            (for ``connect()`` without an address: this process's). The
            server reads only under the directories it allows (``--allow-path``;
            ``connect(allow_paths=...)``); a path elsewhere, or a symbolic link
            leading out of them, raises :class:`PermissionDeniedError`.
        """
        return self._scan(source, pb.PARQUET)

    def read_csv(
        self,
        source: PathLike | Sequence[PathLike],
        *,
        has_header: bool = True,
        separator: str = ",",
    ) -> DataFrame:
        """Scan CSV files on the server, lazily (paths as in :meth:`read_parquet`).

        Parameters
        ----------
        source : str, path or list of them
            Server-side paths or globs.
        has_header : bool, default True
            Whether the first line names the columns.
        separator : str, default ","
            The field delimiter (one character).
        """
        if len(separator) != 1:
            raise ValueError("separator must be a single character")
        opts = pb.CsvOptions(no_header=not has_header, delimiter=separator)
        return self._scan(source, pb.CSV, opts)

    def read_ipc(self, source: PathLike | Sequence[PathLike]) -> DataFrame:
        """Scan Arrow IPC files (file or stream format; ``.arrow``, ``.feather``), lazily.

        Paths as in :meth:`read_parquet`.
        """
        return self._scan(source, pb.IPC)


def connect(
    address: str | Sequence[str] | None = None,
    *,
    data_dir: PathLike | None = None,
    nodes: int = 1,
    allow_paths: Sequence[PathLike] | None = None,
    memory_limit: str | int | None = None,
    spill_dir: PathLike | None = None,
    spill_limit: str | int | None = None,
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    tls_root_certs: PathOrPem | None = None,
    tls_cert_chain: PathOrPem | None = None,
    tls_private_key: PathOrPem | None = None,
    tls: bool = False,
) -> Client:
    """Connect to a Slipstream node, or start one.

    Parameters
    ----------
    address : str or list of str, optional
        ``"grpc://host:port"`` (or ``"host:port"``) of a running node
        (``slipstream serve``); any node of a cluster will do. With a list,
        the first node that answers is used and the others are turned to, in
        order, when it becomes unavailable. Without an address, a local node
        is started from the binary installed with this package, listening on
        a free loopback port; it stops when the client is closed or the
        interpreter exits. Its results come through shared memory
        (``/dev/shm``, where the system has it): the tables ``to_arrow``
        returns map the node's result files instead of copying them.
    nodes : int, default 1
        Only without ``address``: how many local node processes to start.
        More than one makes a cluster on loopback (``slipstream local``).
    data_dir : str or path, optional
        Only without ``address``: where the local node keeps its tables.
        Default: a temporary directory, deleted when the node stops.
    allow_paths : list of str or path, optional
        Only without ``address``: the directories whose files the local node
        may read with ``read_parquet``, ``read_csv`` and ``read_ipc`` (its
        ``--allow-path``); each must exist. A path elsewhere raises
        :class:`PermissionDeniedError`. Default: the user's own files, i.e.
        the home directory, the current working directory and
        ``tempfile.gettempdir()``. An empty list allows only the node's data
        directory. A node started with ``slipstream serve`` reads only under
        its ``--allow-path`` directories (default: its ``--data-dir``).
    memory_limit : str or int, optional
        Only without ``address``: the memory each local node may use
        (``--memory-limit``), in bytes or as a size such as ``"4GiB"``;
        queries over it spill to disk, and one that cannot fails alone with
        :class:`ResourceExhaustedError`. Default: 80% of the memory the
        process may use (the cgroup's limit, else physical memory).
    spill_dir : str or path, optional
        Only without ``address`` and with one node: where spill files go
        (``--spill-dir``). Default: a folder under the data directory.
    spill_limit : str or int, optional
        Only without ``address``: the most bytes of spill files at once
        (``--spill-limit``); 0 turns spilling off. Default: half the free
        space of the spill directory's disk.
    token : str, optional
        Only with ``address``: the token to send on every call
        (``authorization: Bearer``), from ``slipstream token create``. A node
        started by ``connect()`` itself gets a random token, handed to this
        client (never on a command line).
    username, password : str, optional
        Only with ``address``, instead of ``token``: Basic credentials for the
        Flight handshake (the token's name and the token); the node answers
        with the bearer used from then on.
    tls_root_certs : str, path or bytes, optional
        The CA certificate (a PEM file, or its bytes) that signed the nodes'
        certificates, for ``grpc+tls://`` addresses. Default: the system's.
    tls_cert_chain, tls_private_key : str, path or bytes, optional
        A client certificate and its key (both or neither), for nodes that
        require one (TLS without ``--auth``).
    tls : bool, default False
        Only without ``address``: serve the local nodes over TLS with
        certificates of a CA made for them, nodes calling each other with
        mutual TLS (as a cluster on a network would).

    Returns
    -------
    Client

    Examples
    --------
    >>> import slipstream as sl
    >>> with sl.connect() as cl:  # doctest: +SKIP
    ...     cl.health()
    {'status': 'ok', 'version': '...'}
    """
    if address is not None:
        local_only = (data_dir, allow_paths, memory_limit, spill_dir, spill_limit)
        if nodes != 1 or tls or any(x is not None for x in local_only):
            raise ValueError(
                "data_dir, nodes, allow_paths, memory_limit, spill_dir, spill_limit and tls "
                "only apply when connect() starts local nodes"
            )
        addresses = [address] if isinstance(address, str) else list(address)
        if not addresses:
            raise ValueError("connect() needs at least one address")
        if token is not None and (username is not None or password is not None):
            raise ValueError("give token=, or username= and password=, not both")
        if (username is None) != (password is None):
            raise ValueError("username= and password= go together (the token's name and the token)")
        creds = Credentials.make(token, tls_root_certs, tls_cert_chain, tls_private_key)
        client = Client(addresses[0], fallbacks=addresses[1:], creds=creds)
        try:
            if username is not None and password is not None:
                client._handshake(username, password)
            client.health()
        except UnavailableError as e:
            client.close()
            why = diagnose_tls(client.address, creds)
            if why is not None:
                raise UnavailableError(why, e.code) from None
            raise
        except BaseException:
            client.close()
            raise
        return client
    if any(x is not None for x in (token, username, password, tls_root_certs)):
        raise ValueError(
            "token, username, password and the TLS settings apply to an address; "
            "a node started by connect() makes its own token"
        )
    node = LocalNode(
        data_dir=data_dir,
        nodes=nodes,
        allow_paths=allow_paths,
        memory_limit=memory_limit,
        spill_dir=spill_dir,
        spill_limit=spill_limit,
        tls=tls,
    )
    try:
        creds = Credentials.make(node.token, node.tls_root_certs, None, None)
        client = Client(node.address, node, fallbacks=node.addresses, creds=creds)
        client.health()
    except BaseException:
        node.stop()
        raise
    return client


# -------------------------------------------------------------------- helpers


def _close(
    flights: list[fl.FlightClient], cached: list[str], proc: Any, tmp: str | None, log: Any
) -> None:
    for name in cached:  # before the node stops: its data directory may be the user's
        body = json.dumps({"name": name, "if_exists": True}).encode()
        _quietly(lambda b=body: list(flights[0].do_action(fl.Action("drop_table", b))))
    for f in flights:
        _quietly(f.close)
    if proc is not None and tmp is not None:
        _stop(proc, tmp, log)


def _quietly(fn: Any) -> None:
    with contextlib.suppress(Exception):
        fn()


_STATEMENT = re.compile(
    r"^(?:\s+|--[^\n]*\n?|/\*.*?\*/)*(create|insert|drop|copy|delete|update|alter|truncate)\b",
    re.IGNORECASE | re.DOTALL,
)


def _is_statement(sql: str) -> bool:
    """Whether ``sql`` changes tables rather than returning rows (by its first keyword)."""
    return _STATEMENT.match(sql) is not None


def _interruptible(fn: Any, run: Run | None = None) -> Any:
    """Run ``fn`` in a daemon thread so that Ctrl-C in the caller never waits on it.

    pyarrow's Flight calls block in C++ without checking for signals; here the
    calling thread waits on a queue (which Ctrl-C interrupts) and abandons the
    call on KeyboardInterrupt, or when ``run`` is cancelled or times out
    (``run.check()`` raises; the caller then cancels the query on its node).
    """
    if run is None and threading.current_thread() is not threading.main_thread():
        return fn()
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def work() -> None:
        try:
            box.put((True, fn()))
        except BaseException as e:
            box.put((False, e))

    threading.Thread(target=work, name="slipstream-call", daemon=True).start()
    while True:
        try:
            ok, value = box.get(timeout=0.05)
            break
        except queue.Empty:
            if run is not None:
                run.check()
    if ok:
        return value
    raise _reraisable(value)


def _read_all(reader: fl.FlightStreamReader, shm: bool = False) -> pa.Table:
    """``reader.read_all()`` without its signal handling.

    pyarrow's ``read_all`` turns any ``ArrowCancelled`` — such as a stream the
    server cancelled because the query was — into a simulated Ctrl-C in the
    main thread, even when it runs on another thread; reading chunk by chunk
    does not. ``shm``: the call asked for the result through shared memory,
    so the stream may name files that hold its batches (_shm.py).
    """
    batches = [batch for chunk in reader for batch in _shm.batches(chunk, shm)]
    return pa.Table.from_batches(batches, schema=reader.schema)


def _reraisable(err: BaseException) -> BaseException:
    """A server error raised again in the caller's thread, without the worker's frames."""
    return err.with_traceback(None) if isinstance(err, SlipstreamError) else err


def _parallel_map(fn: Any, items: list[Any], max_threads: int, run: Run | None = None) -> list[Any]:
    """``[fn(x) for x in items]`` on daemon threads; interruptible; first error wins."""
    if not items:
        return []
    results: list[Any] = [None] * len(items)
    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(items)):
        todo.put(i)
    done: queue.Queue[tuple[int, BaseException | None]] = queue.Queue()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[i] = fn(items[i])
                done.put((i, None))
            except BaseException as e:
                done.put((i, e))

    for _ in range(min(max_threads, len(items))):
        threading.Thread(target=worker, name="slipstream-fetch", daemon=True).start()
    try:
        for _ in items:
            while True:
                try:
                    _, err = done.get(timeout=0.05)
                    break
                except queue.Empty:
                    if run is not None:
                        run.check()
            if err is not None:
                raise _reraisable(err)
    finally:
        stop.set()
    return results


def _as_reader(data: Any) -> pa.RecordBatchReader:
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.Table):
        return data.to_reader()
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatchReader.from_batches(data.schema, [data])
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data)
    if hasattr(data, "__arrow_c_array__"):
        batch = pa.record_batch(data)
        return pa.RecordBatchReader.from_batches(batch.schema, [batch])
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False).to_reader()
    raise TypeError(
        f"from_arrow() takes a pyarrow Table, RecordBatch or RecordBatchReader, or an object "
        f"with __arrow_c_stream__; got {type(data).__name__}"
    )


def _plain_type(t: pa.DataType) -> pa.DataType:
    """The type the server stores for ``t``: dictionaries are decoded.

    Inside lists and structs too. A dictionary of views decodes to the
    large type (Arrow's ``take`` has no kernel for views).
    """
    if pa.types.is_dictionary(t):
        views = {pa.string_view(): pa.large_string(), pa.binary_view(): pa.large_binary()}
        return views.get(t.value_type, t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = t.value_field
        plain = _plain_type(inner.type)
        if plain == inner.type:
            return t
        make = pa.large_list if pa.types.is_large_list(t) else pa.list_
        return make(pa.field(inner.name, plain, inner.nullable))
    if pa.types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        plain_fields = [pa.field(f.name, _plain_type(f.type), f.nullable) for f in fields]
        if all(p.type == f.type for p, f in zip(plain_fields, fields, strict=True)):
            return t
        return pa.struct(plain_fields)
    return t


def _upload_field(f: pa.Field) -> pa.Field:
    """The field uploaded for ``f``: its plain type and a categorical's mark.

    A list of categoricals carries the mark on the list.
    """
    meta = category_metadata(f)
    if meta is None and (pa.types.is_list(f.type) or pa.types.is_large_list(f.type)):
        meta = category_metadata(f.type.value_field)
    return pa.field(f.name, _plain_type(f.type), f.nullable, meta)


def _upload_batches(
    reader: pa.RecordBatchReader,
) -> tuple[pa.Schema, Iterable[pa.RecordBatch]]:
    """The upload schema (no pandas metadata, no dictionaries) and right-sized batches."""
    src = reader.schema
    fields = [_upload_field(f) for f in src]
    schema = pa.schema(fields)
    needs_cast = any(_plain_type(f.type) != f.type for f in src)

    def batches() -> Iterator[pa.RecordBatch]:
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for batch in reader:
            if needs_cast:
                batch = pa.RecordBatch.from_arrays(
                    [_decoded(c) for c in batch.columns], schema=schema
                )
            else:
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
            # Coalesce small batches (pandas gives one chunk, but readers may
            # give many) and split big ones into about UPLOAD_BATCH_ROWS rows.
            rows = batch.num_rows
            if rows == 0:
                continue
            width = max(1, batch.nbytes // rows)
            step = max(1, min(UPLOAD_BATCH_ROWS, UPLOAD_BATCH_BYTES // width))
            if rows < step // 4:
                pending.append(batch)
                pending_rows += rows
                if pending_rows >= step:
                    yield from _combine(pending, schema)
                    pending, pending_rows = [], 0
                continue
            if pending:
                yield from _combine(pending, schema)
                pending, pending_rows = [], 0
            for offset in range(0, rows, step):
                yield batch.slice(offset, step)
        if pending:
            yield from _combine(pending, schema)

    return schema, batches()


def _decoded(column: pa.Array) -> pa.Array:
    """A dictionary array's values, row by row (pandas and polars categoricals).

    Inside lists and structs too. ``take`` rather than a cast: Arrow cannot cast a dictionary of
    ``string_view`` (polars' Categorical and Enum) to a string type.
    """
    t = column.type
    if _plain_type(t) == t:
        return column
    if pa.types.is_dictionary(t):
        return column.dictionary.cast(_plain_type(t)).take(column.indices)
    mask = column.is_null() if column.null_count else None
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        make = pa.LargeListArray if pa.types.is_large_list(t) else pa.ListArray
        out = make.from_arrays(column.offsets, _decoded(column.values), mask=mask)
        return out.cast(_plain_type(t))
    children = [_decoded(column.field(i)) for i in range(t.num_fields)]
    names = [t.field(i).name for i in range(t.num_fields)]
    return pa.StructArray.from_arrays(children, names=names, mask=mask)


def _combine(batches: list[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    yield from pa.Table.from_batches(batches, schema).combine_chunks().to_batches()
