"""Authentication on every call: a real node with ``--auth`` refuses each Flight
method and action without a good token (``Unauthenticated``) or with too low a
role (``PermissionDenied``), keeps serving good clients, and never logs a token."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl
import pytest

import slipstream as sl
from slipstream._errors import translate
from slipstream._node import find_binary

READY = re.compile(r"^slipstream: serving on (grpc(?:\+tls)?://\S+)$")


def slipstream(*args: str) -> str:
    """Run the binary; its stdout."""
    out = subprocess.run(
        [find_binary(), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, f"slipstream {' '.join(args)}: {out.stderr}"
    return out.stdout


@dataclass
class Node:
    proc: subprocess.Popen[bytes]
    address: str
    log: Path

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start(
    data: Path, log: Path, *flags: str, env: dict[str, str] | None = None, timeout: float = 30
) -> Node:
    """``slipstream serve`` with flags, once it prints its address."""
    cmd = [find_binary(), "serve", "--data-dir", str(data), *flags]
    if "--addr" not in flags:
        cmd += ["--addr", "127.0.0.1:0"]
    f = open(log, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=f, stdin=subprocess.DEVNULL, env=env
    )
    f.close()
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                proc.kill()
                raise AssertionError(f"node did not start: {log.read_text()[-2000:]}")
            if sel.select(min(left, 0.5)):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    proc.wait(5)
                    raise AssertionError(f"node exited: {log.read_text()[-2000:]}")
                buf += chunk
    line = buf.split(b"\n", 1)[0].decode()
    m = READY.match(line)
    assert m, line
    return Node(proc, m.group(1), log)


def bearer(token: str) -> fl.FlightCallOptions:
    return fl.FlightCallOptions(headers=[(b"authorization", f"Bearer {token}".encode())])


@dataclass
class Cluster:
    node: Node
    tokens_file: Path
    tokens: dict[str, str]
    ticket: fl.Ticket
    actions: list[str]


@pytest.fixture(scope="module")
def authed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("auth")
    file = base / "tokens.toml"
    tokens = {}
    for name, role in [("rita", "reader"), ("wes", "writer"), ("ada", "admin"), ("vic", "reader")]:
        tokens[name] = slipstream(
            "token", "create", "--name", name, "--role", role, "--auth", str(file)
        ).strip()
    tokens["eve"] = slipstream(
        "token",
        "create",
        "--name",
        "eve",
        "--role",
        "admin",
        "--expires",
        "1s",
        "--auth",
        str(file),
    ).strip()
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    for tok in tokens.values():
        assert tok.startswith("sst_") and tok not in file.read_text()
    node = start(base / "data", base / "node.log", "--auth", str(file))
    client = fl.FlightClient(node.address)
    admin = bearer(tokens["ada"])
    table = pa.table({"x": [1, 2, 3]})
    writer, _ = client.do_put(fl.FlightDescriptor.for_path("t"), table.schema, admin)
    writer.write_table(table)
    writer.close()
    info = client.get_flight_info(fl.FlightDescriptor.for_path("t"), admin)
    actions = [a.type for a in client.list_actions(admin)]
    yield Cluster(node, file, tokens, info.endpoints[0].ticket, actions)
    client.close()
    assert node.stop() == 0
    log = node.log.read_text()
    for name, tok in tokens.items():
        assert tok not in log and tok[4:20] not in log, f"token {name} is in the node's log"
    assert "every call needs a token" in log


def calls(c: Cluster) -> dict[str, Callable[[fl.FlightClient, fl.FlightCallOptions], object]]:
    """Every Flight method, and DoAction once per action, each driven to its end."""
    desc = fl.FlightDescriptor.for_path("t")

    def do_put(client: fl.FlightClient, opts: fl.FlightCallOptions) -> None:
        table = pa.table({"y": [1]})
        writer, _ = client.do_put(fl.FlightDescriptor.for_path("up"), table.schema, opts)
        writer.write_table(table)
        writer.close()

    out: dict[str, Callable[[fl.FlightClient, fl.FlightCallOptions], object]] = {
        "ListFlights": lambda cl, o: list(cl.list_flights(b"", o)),
        "GetFlightInfo": lambda cl, o: cl.get_flight_info(desc, o),
        "GetSchema": lambda cl, o: cl.get_schema(desc, o),
        "DoGet": lambda cl, o: cl.do_get(c.ticket, o).read_all(),
        "DoPut": do_put,
        "ListActions": lambda cl, o: list(cl.list_actions(o)),
    }
    for kind in c.actions:
        out[f"DoAction {kind}"] = lambda cl, o, k=kind: list(cl.do_action(fl.Action(k, b""), o))
    return out


def refused(fn: Callable[[], object], err: type[Exception]) -> str:
    """The message of the error fn raises, which must be err's (pyarrow raises
    some codes as a plain OSError: they are told apart as the client does)."""
    with pytest.raises(Exception) as info:
        fn()
    got = translate(info.value)
    want = {
        fl.FlightUnauthenticatedError: sl.UnauthenticatedError,
        fl.FlightUnauthorizedError: sl.PermissionDeniedError,
    }[err]
    assert isinstance(got, want), f"want {want.__name__}, got {info.value!r}"
    return str(got)


def still_serves(c: Cluster) -> None:
    with fl.FlightClient(c.node.address) as good:
        assert good.get_schema(fl.FlightDescriptor.for_path("t"), bearer(c.tokens["ada"])).schema
    assert c.node.proc.poll() is None


def test_every_call_needs_a_good_token(authed: Cluster) -> None:
    assert len(authed.actions) >= 19 and "run_task" in authed.actions
    client = fl.FlightClient(authed.node.address)
    # eve's token lives one second: wait on the node's word, not a clock.
    deadline = time.monotonic() + 15
    while True:
        try:
            list(client.do_action(fl.Action("health", b""), bearer(authed.tokens["eve"])))
        except fl.FlightUnauthenticatedError as e:
            assert "expired" in str(e)
            break
        assert time.monotonic() < deadline, "an expired token still works"
        time.sleep(0.1)
    cases = {
        "no token": fl.FlightCallOptions(),
        "wrong token": bearer("sst_" + "A" * 43),
        "malformed header": fl.FlightCallOptions(headers=[(b"authorization", b"Token abc")]),
        "expired token": bearer(authed.tokens["eve"]),
    }
    for case, opts in cases.items():
        for name, call in calls(authed).items():
            msg = refused(
                lambda call=call, opts=opts: call(client, opts), fl.FlightUnauthenticatedError
            )
            assert authed.tokens["eve"][4:20] not in msg, f"{case} {name}: {msg}"
        still_serves(authed)
    # Handshake: Basic credentials must name a good token.
    for user, password in [
        ("ada", "sst_wrong"),
        ("rita", authed.tokens["ada"]),
        ("eve", authed.tokens["eve"]),
    ]:
        refused(
            lambda u=user, p=password: client.authenticate_basic_token(u, p),
            fl.FlightUnauthenticatedError,
        )
    client.close()


def test_reader_cannot_write_or_run_the_cluster(authed: Cluster) -> None:
    client = fl.FlightClient(authed.node.address)
    opts = bearer(authed.tokens["rita"])
    allowed = {"ListFlights", "GetFlightInfo", "GetSchema", "DoGet", "ListActions"}
    denied = 0
    for name, call in calls(authed).items():
        kind = name.removeprefix("DoAction ")
        if name in allowed or kind in {
            "health",
            "list_tables",
            "cluster",
            "queries",
            "query_status",
        }:
            call(client, opts)  # a reader may
            continue
        if kind in {"explain", "explain_analyze", "cancel_query", "CancelFlightInfo"}:
            # a reader may: these fail on their empty body, not on the role
            with pytest.raises(Exception) as info:
                call(client, opts)
            assert not isinstance(translate(info.value), sl.PermissionDeniedError), name
            continue
        msg = refused(lambda call=call: call(client, opts), fl.FlightUnauthorizedError)
        want = "writer" if name in {"DoPut", "DoAction drop_table"} else "admin"
        assert f"needs role {want}" in msg and 'token "rita" has role reader' in msg, msg
        denied += 1
    assert denied == 11  # DoPut, drop_table and nine node-to-node actions
    # a writer uploads and drops, but does no node-to-node work
    wes = bearer(authed.tokens["wes"])
    calls(authed)["DoPut"](client, wes)
    list(client.do_action(fl.Action("drop_table", b'{"name": "up"}'), wes))
    msg = refused(
        lambda: list(client.do_action(fl.Action("catalog", b""), wes)), fl.FlightUnauthorizedError
    )
    assert "needs role admin" in msg
    still_serves(authed)
    client.close()


def test_revoked_while_running(authed: Cluster) -> None:
    victim = authed.tokens["vic"]
    with sl.connect(authed.node.address, token=victim) as cl:
        assert cl.table("t").to_arrow().num_rows == 3
        slipstream("token", "revoke", "--name", "vic", "--auth", str(authed.tokens_file))
        assert "revoked" in slipstream("token", "list", "--auth", str(authed.tokens_file))
        deadline = time.monotonic() + 15
        while True:
            try:
                cl.tables()
            except sl.UnauthenticatedError as e:
                assert "revoked" in str(e)
                break
            assert time.monotonic() < deadline, "a revoked token still works"
            time.sleep(0.1)
    client = fl.FlightClient(authed.node.address)
    for call in calls(authed).values():
        refused(lambda call=call: call(client, bearer(victim)), fl.FlightUnauthenticatedError)
    still_serves(authed)
    client.close()


def test_connect_with_token_or_password(authed: Cluster) -> None:
    with sl.connect(authed.node.address, token=authed.tokens["rita"]) as cl:
        assert cl.table("t").to_arrow().column("x").to_pylist() == [1, 2, 3]
        with pytest.raises(sl.PermissionDeniedError, match="needs role writer"):
            cl.from_arrow(pa.table({"z": [1]}), name="nope")
    with sl.connect(authed.node.address, username="wes", password=authed.tokens["wes"]) as cl:
        cl.from_arrow(pa.table({"z": [1]}), name="by_wes")
        assert "by_wes" in [t.name for t in cl.tables()]
        cl.drop("by_wes")
    with pytest.raises(sl.UnauthenticatedError, match="wrong user name or token"):
        sl.connect(authed.node.address, username="rita", password=authed.tokens["wes"])
    with pytest.raises(sl.UnauthenticatedError, match="no token"):
        sl.connect(authed.node.address)


def test_local_node_has_a_private_token() -> None:
    with sl.connect() as cl:
        assert cl.address.startswith("grpc://127.0.0.1:")
        node = cl._node
        assert node is not None
        cmdline = Path(f"/proc/{node.proc.pid}/cmdline").read_bytes()
        assert node.token.encode() not in cmdline
        with fl.FlightClient(cl.address) as other:
            refused(lambda: list(other.list_actions()), fl.FlightUnauthenticatedError)
        assert cl.health()["status"] == "ok"
        log = Path(node.log_path).read_text()
        assert node.token not in log


def test_served_beyond_loopback_with_auth_only(tmp_path: Path) -> None:
    """--auth lifts the loopback rule; no auth still needs --insecure."""
    out = subprocess.run(
        [find_binary(), "serve", "--addr", "0.0.0.0:0", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode != 0 and "--insecure" in out.stderr
    file = tmp_path / "tokens.toml"
    tok = slipstream(
        "token", "create", "--name", "a", "--role", "reader", "--auth", str(file)
    ).strip()
    node = start(tmp_path / "d", tmp_path / "n.log", "--addr", "0.0.0.0:0", "--auth", str(file))
    try:
        port = node.address.rsplit(":", 1)[1]
        with sl.connect(f"grpc://127.0.0.1:{port}", token=tok) as cl:
            assert cl.health()["status"] == "ok"
    finally:
        assert node.stop() == 0
