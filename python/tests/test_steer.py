"""Seeing and steering a running query: its id, cancel from every side, progress.

The long query joins 200k rows with 20k on a key with 1538 matches per row
(308M pairs) and counts the pairs a condition keeps: tens of seconds on
every node, from tables small enough to upload in a moment.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl
import pytest
from conftest import child_pids

import slipstream as sl
from slipstream import col
from slipstream._auth import flight_client

CLOCK = os.sysconf("SC_CLK_TCK")


def _connect(nodes: int) -> sl.Client:
    old = os.environ.get("SLIPSTREAM_PART_ROWS")
    os.environ["SLIPSTREAM_PART_ROWS"] = "2000"  # 100 partitions: every node works
    try:
        return sl.connect(nodes=nodes)
    finally:
        if old is None:
            del os.environ["SLIPSTREAM_PART_ROWS"]
        else:
            os.environ["SLIPSTREAM_PART_ROWS"] = old


@pytest.fixture(scope="module", params=["one", "three"])
def steer(request: pytest.FixtureRequest) -> Iterator[sl.Client]:
    """A client of its own (its node processes are measured), one node or three."""
    with _connect(1 if request.param == "one" else 3) as cl:
        n = 200_000
        big = pa.table(
            {
                "a": pa.array(range(n), pa.int64()),
                "b": pa.array([i % 13 for i in range(n)], pa.int64()),
            }
        )
        cl.from_arrow(big, name="big")
        cl.from_arrow(big.slice(0, 20_000).rename_columns(["c", "d"]), name="small")
        cl.from_arrow(big.slice(0, 5_000), name="few")
        yield cl


def long_query(cl: sl.Client) -> sl.DataFrame:
    joined = cl.table("big").join(cl.table("small"), left_on="b", right_on="d")
    return joined.filter((col("a") * col("c")) % 7 > col("b") % 5).select(sl.len().alias("n"))


def short_query(cl: sl.Client) -> sl.DataFrame:
    return cl.table("few").group_by("b").agg(col("a").sum().alias("s")).sort("b")


def node_pids(cl: sl.Client) -> list[int]:
    """The node processes: the local node, or the children of ``slipstream local``."""
    assert cl._node is not None
    root = cl._node.proc.pid
    return child_pids(root) or [root]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK  # utime + stime


def cpu_use(pids: list[int], seconds: float = 0.5) -> list[float]:
    """Cores each process used over the next ``seconds``."""
    before = [cpu_seconds(p) for p in pids]
    time.sleep(seconds)
    return [(cpu_seconds(p) - b) / seconds for p, b in zip(pids, before, strict=True)]


def wait_state(cl: sl.Client, query_id: str, state: str, within: float) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + within
    while True:
        status = cl.query_status(query_id)
        if status["state"] == state or time.monotonic() > deadline:
            return status
        time.sleep(0.02)


def assert_stopped(cl: sl.Client, query_id: str, since: float) -> None:
    """Within 2 s of ``since`` the query says cancelled, runs no task, and the nodes are idle."""
    status = wait_state(cl, query_id, "cancelled", within=2 - (time.monotonic() - since))
    assert status["state"] == "cancelled", status["state"]
    assert time.monotonic() - since < 2
    assert all(p["running"] == 0 for p in status["progress"]), status["progress"]
    assert not [r for r in status["receipts"] if r["state"] == "running"]
    assert status["tasks_done"] < status["tasks"]  # it was stopped, not finished
    use = cpu_use(node_pids(cl))
    assert time.monotonic() - since < 2.6
    # Idle nodes use a few hundredths of a core (gossip, timers).
    assert sum(use) < 0.1, f"nodes still busy after the cancel: {use} cores"


def busy(cl: sl.Client) -> None:
    # The machine may be shared: a loaded one gives the query less than a core.
    use = cpu_use(node_pids(cl))
    assert sum(use) > 0.2, f"the query should keep the nodes busy: {use} cores"


# ------------------------------------------------------------------ the query id


def test_every_result_names_its_query(steer: sl.Client) -> None:
    table = short_query(steer).to_arrow()
    query_id = table.schema.metadata[b"slipstream.query_id"].decode()
    assert query_id == steer.last_query_id
    status = steer.query_status(query_id)
    assert status["id"] == query_id and status["state"] == "done"
    assert status["tasks"] >= 1 and status["tasks_done"] == status["tasks"]
    listed = {q["id"]: q for q in steer.queries()}
    assert listed[query_id]["state"] == "done"
    steer.table("few").to_pandas()
    assert steer.last_query_id != query_id
    assert steer.queries()[0]["id"] == steer.last_query_id  # newest first
    with pytest.raises(sl.PlanError):
        steer.table("few").select(col("nope")).to_arrow()
    failed = steer.query_status(steer.last_query_id)
    assert failed["state"] == "failed" and "nope" in failed["error"]
    assert steer.cancel("no-such-query") == "unknown"
    assert steer.cancel(query_id) in ("not_cancellable", "cancelled")


# ------------------------------------------------------------------ cancel


def test_ctrl_c_cancels_on_every_node(steer: sl.Client) -> None:
    query = long_query(steer)
    interrupted: list[float] = []

    def interrupt() -> None:
        busy(steer)  # measured while it runs: the nodes are working on it
        interrupted.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C

    timer = threading.Timer(1.0, interrupt)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        query.to_arrow(progress=False)
    raised = time.monotonic()
    timer.join()
    # the client raises promptly (a loaded machine may take a while to schedule it)
    assert interrupted and raised - interrupted[0] < 2
    assert_stopped(steer, steer.last_query_id or "", interrupted[0])
    assert short_query(steer).to_arrow().num_rows == 13  # the nodes answer the next query


def test_cancel_of_a_background_query(steer: sl.Client) -> None:
    handle = long_query(steer).to_arrow_async()
    assert handle.query_id == steer.last_query_id
    time.sleep(1.0)
    assert not handle.done()
    assert handle.status()["state"] in ("planning", "ready", "running")
    since = time.monotonic()
    assert handle.cancel()
    with pytest.raises(sl.CancelledError, match="cancel"):
        handle.result(timeout=5)
    assert_stopped(steer, handle.query_id, since)


def test_timeout_cancels(steer: sl.Client) -> None:
    started = time.monotonic()
    with pytest.raises(sl.QueryTimeoutError, match="timeout of 1 s") as info:
        long_query(steer).to_arrow(timeout=1)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, sl.CancelledError)
    assert time.monotonic() - started < 3  # the timeout, and promptly after it
    assert_stopped(steer, steer.last_query_id or "", started + 1)


def test_stopping_a_stream_early_cancels(steer: sl.Client) -> None:
    if len(steer.cluster()) == 1:
        # Streamed as it is computed (308M rows): stopping early stops it.
        df = steer.table("big").join(steer.table("small"), left_on="b", right_on="d")
    else:
        # A cluster holds the result on the nodes until read: stopping drops it.
        df = steer.table("big").filter(col("a") >= 0)
    stream = df.to_batches()
    first = next(stream)
    assert first.num_rows > 0
    query_id = steer.last_query_id or ""
    stream.close()  # as a `break` out of the loop, or garbage collection, does
    status = wait_state(steer, query_id, "cancelled", within=2)
    assert status["state"] == "cancelled", status


def _cancel_flight_info(client: fl.FlightClient, info: fl.FlightInfo) -> bytes:
    """Flight's CancelFlightInfo, as any Flight client sends it (pyarrow has no helper)."""
    raw = info.serialize()
    size, length = b"", len(raw)
    while True:  # CancelFlightInfoRequest{info = 1}: tag, varint length, bytes
        byte = length & 0x7F
        length >>= 7
        size += bytes([byte | (0x80 if length else 0)])
        if not length:
            break
    results = list(client.do_action(fl.Action("CancelFlightInfo", b"\x0a" + size + raw)))
    return results[0].body.to_pybytes()


CANCEL_STATUS_CANCELLED = b"\x08\x01"  # CancelFlightInfoResult{status = CANCELLED}


def test_cancel_flight_info_from_plain_pyarrow(steer: sl.Client) -> None:
    client = flight_client(steer.address, steer._creds)  # plain pyarrow, with the token
    try:
        if len(steer.cluster()) == 1:
            # One node: GetFlightInfo plans, DoGet runs; cancel while it streams.
            desc = fl.FlightDescriptor.for_command(_descriptor_cmd(long_query(steer)))
            info = client.get_flight_info(desc)
            query_id = info.app_metadata.decode()
            errors: list[BaseException] = []

            def read() -> None:
                # Chunk by chunk: pyarrow's read_all() turns a stream the server
                # cancelled into a simulated Ctrl-C in the main thread.
                try:
                    for _ in client.do_get(info.endpoints[0].ticket):
                        pass
                except BaseException as e:
                    errors.append(e)

            reader = threading.Thread(target=read)
            reader.start()
            time.sleep(1.0)
            assert steer.query_status(query_id)["state"] == "running"
            since = time.monotonic()
            assert _cancel_flight_info(client, info) == CANCEL_STATUS_CANCELLED
            reader.join(5)
            assert not reader.is_alive()
            assert errors and isinstance(errors[0], fl.FlightCancelledError), errors
            assert_stopped(steer, query_id, since)
        else:
            # A cluster answers GetFlightInfo once the query is done; its result
            # waits on the nodes until read, and a cancel drops it.
            desc = fl.FlightDescriptor.for_command(_descriptor_cmd(short_query(steer)))
            info = client.get_flight_info(desc)
            query_id = info.app_metadata.decode()
            assert steer.query_status(query_id)["state"] == "done"
            assert _cancel_flight_info(client, info) == CANCEL_STATUS_CANCELLED
            assert steer.query_status(query_id)["state"] == "cancelled"
            time.sleep(0.5)
            ep = info.endpoints[0]
            with pytest.raises(pa.ArrowKeyError, match="no output for query"):
                for _ in flight_client(ep.locations[0].uri.decode(), steer._creds).do_get(
                    ep.ticket
                ):
                    pass
    finally:
        client.close()


def _descriptor_cmd(df: sl.DataFrame) -> bytes:
    from slipstream._client import _any

    return _any(df._query())


# ------------------------------------------------------------------ progress


def test_progress_callback(steer: sl.Client) -> None:
    events: list[sl.QueryProgress] = []
    handle = long_query(steer).to_arrow_async(progress=events.append)
    cluster = len(steer.cluster()) > 1

    def seen_enough() -> bool:
        """Two running events, and on a cluster a task done between them:
        about four events a second come, fewer on a loaded machine."""
        running = [e for e in list(events) if e.state == "running"]
        if len(running) < 2:
            return False
        return not cluster or running[-1].tasks_done > running[0].tasks_done

    deadline = time.monotonic() + 20
    time.sleep(3.0)
    while not seen_enough() and time.monotonic() < deadline and not handle.done():
        time.sleep(0.2)
    handle.cancel()
    with pytest.raises(sl.CancelledError):
        handle.result(timeout=5)
    assert len(events) >= 2, events
    assert all(e.query_id == handle.query_id for e in events)
    assert [e.elapsed for e in events] == sorted(e.elapsed for e in events)
    assert events[-1].final and events[-1].state in ("cancelling", "cancelled")
    assert not any(e.final for e in events[:-1])
    running = [e for e in events if e.state == "running"]
    assert running and running[0].tasks >= 1
    if not cluster:  # counted as its scans read (a cluster's: as tasks end)
        assert events[-1].rows_read > 0 and events[-1].bytes_read > 0, events[-1]
    else:
        done = [e.tasks_done for e in running]
        assert done == sorted(done) and done[-1] > done[0], done  # tasks finish as it runs
        assert running[-1].rows_read > 0 and running[-1].bytes_read > 0
        assert running[-1].nodes == 3 and running[-1].stages == 3
        assert running[-1].stage_name  # the stage's top operator, from the server's stages
        assert running[-1].stage_name in running[-1].describe()


def test_progress_callback_to_the_end(steer: sl.Client) -> None:
    events: list[sl.QueryProgress] = []
    table = short_query(steer).to_arrow(progress=events.append)
    assert table.num_rows == 13
    assert events and events[-1].final and events[-1].state == "done"
    assert events[-1].tasks_done == events[-1].tasks >= 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_bar_on_a_terminal(steer: sl.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with pytest.raises(sl.QueryTimeoutError):
        # progress: on by default; shown after about a second, redrawn four
        # times a second (time enough on a loaded machine for a redraw)
        long_query(steer).to_arrow(timeout=5)
    text = terminal.getvalue()
    frames = [f for f in text.split("\r") if f.strip()]
    assert frames, text
    assert all(f.startswith("slipstream ") for f in frames)
    assert "tasks " in frames[-1] and "stage " in frames[-1] and "s" in frames[-1]
    assert len(frames) >= 2  # redrawn in place while it ran
    assert text.endswith("\r") and not text.rsplit("\r", 2)[-2].strip()  # wiped at the end

    quiet = _Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    with pytest.raises(sl.QueryTimeoutError):
        long_query(steer).to_arrow(timeout=1.5, progress=False)
    sl.config(progress=False)
    try:
        with pytest.raises(sl.QueryTimeoutError):
            long_query(steer).to_arrow(timeout=1.5)
    finally:
        sl.config(progress=True)
    assert quiet.getvalue() == ""


_NOTEBOOK_CELL = """
import slipstream as sl
from slipstream import _progress
shown = []
_show = _progress.HtmlBar.show
_progress.HtmlBar.show = lambda self, event: (shown.append(event), _show(self, event))[1]
cl = sl.connect({address!r}, token={token!r})
joined = cl.table("big").join(cl.table("small"), left_on="b", right_on="d")
q = joined.filter((sl.col("a") * sl.col("c")) % 7 > sl.col("b") % 5).select(sl.len())
try:
    q.to_arrow(timeout=2.5)
except sl.QueryTimeoutError:
    print("timed out")
print("bar updates", len(shown), shown[-1].describe() if shown else "")
"""


@pytest.mark.parametrize("steer", ["one"], indirect=True)  # the bar is the client's
def test_progress_bar_in_a_notebook(steer: sl.Client, tmp_path: Path) -> None:
    """In Jupyter (without ipywidgets) a long query shows an HTML bar, collapsed at the end."""
    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(
        nbformat.v4.new_code_cell(_NOTEBOOK_CELL.format(address=steer.address, token=steer.token))
    )
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = nb.cells[0].outputs
    texts = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "timed out" in texts and "bar updates" in texts and "tasks " in texts, outputs
    updates = int(texts.split("bar updates", 1)[1].split()[0])
    assert updates >= 2, texts
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1, outputs  # one bar, updated in place
    assert displays[0].data.get("text/html", "") == ""  # collapsed once the query ended
