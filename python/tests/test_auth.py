"""Authentication on every call: a real node with ``--auth`` refuses each Flight
method and action without a good token (``Unauthenticated``) or with too low a
role (``PermissionDenied``), keeps serving good clients, and never logs a token."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import selectors
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl
import pytest

import slipstream as sl
from slipstream import col
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
    gossip: str = ""

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
        while buf.count(b"\n") < 2:
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
    line, second = buf.decode().split("\n")[:2]
    m = READY.match(line)
    assert m, line
    return Node(proc, m.group(1), log, gossip=second.rsplit(" ", 1)[1])


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


# Flight SQL's actions: a reader may call them (a statement that changes
# tables checks the writer role itself).
FLIGHT_SQL = {
    "CreatePreparedStatement",
    "ClosePreparedStatement",
    "CreatePreparedSubstraitPlan",
    "CancelQuery",
    "BeginSavepoint",
    "BeginTransaction",
    "EndTransaction",
    "EndSavepoint",
}


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
            "list_functions",
            "cluster",
            "queries",
            "query_status",
        }:
            call(client, opts)  # a reader may
            continue
        if kind in {"explain", "explain_analyze", "cancel_query", "CancelFlightInfo"} | FLIGHT_SQL:
            # a reader may: these fail on their empty body, not on the role
            with pytest.raises(Exception) as info:
                call(client, opts)
            assert not isinstance(translate(info.value), sl.PermissionDeniedError), name
            continue
        msg = refused(lambda call=call: call(client, opts), fl.FlightUnauthorizedError)
        writes = {"DoPut", "DoAction drop_table", "DoAction execute_sql", "DoAction write"}
        want = "writer" if name in writes else "admin"
        assert f"needs role {want}" in msg and 'token "rita" has role reader' in msg, msg
        denied += 1
    # DoPut, drop_table, execute_sql, write and eleven node-to-node actions
    assert denied == 15
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


# ---------------------------------------------------------------- TLS and mutual TLS


@dataclass
class TlsCluster:
    nodes: list[Node]
    certs: Path
    other: Path
    tokens_file: Path
    tokens: dict[str, str]
    env: dict[str, str]
    base: Path

    def connect(self, **kw: object) -> sl.Client:
        kw.setdefault("token", self.tokens["ada"])
        kw.setdefault("tls_root_certs", self.certs / "ca.crt")
        return sl.connect(self.nodes[0].address, **kw)  # type: ignore[arg-type]


def tls_flags(certs: Path, host: str) -> list[str]:
    return [
        "--tls-cert", str(certs / f"{host}.crt"),
        "--tls-key", str(certs / f"{host}.key"),
        "--tls-ca", str(certs / "ca.crt"),
    ]  # fmt: skip


def wait_members(cl: sl.Client, want: dict[str, str], timeout: float = 30) -> None:
    """Wait until the node sees each named member in the given state."""
    deadline = time.monotonic() + timeout
    while True:
        seen = {m["name"]: m["state"] for m in cl.cluster()}
        if all(seen.get(k) == v for k, v in want.items()):
            return
        assert time.monotonic() < deadline, f"members {seen}, want {want}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    base = tmp_path_factory.mktemp("tls")
    certs, other = base / "certs", base / "other"
    slipstream("certs", "--out", str(certs), "--hosts", "n1,n2,n3")
    slipstream("certs", "--out", str(other), "--hosts", "rogue")
    file = base / "tokens.toml"
    tokens = {
        name: slipstream(
            "token", "create", "--name", name, "--role", role, "--auth", str(file)
        ).strip()
        for name, role in [("ada", "admin"), ("rita", "reader")]
    }
    env = dict(os.environ, SLIPSTREAM_GOSSIP_KEY=base64.b64encode(os.urandom(32)).decode())
    nodes: list[Node] = []
    try:
        for i, host in enumerate(["n1", "n2", "n3"]):
            join = ["--join", nodes[0].gossip] if nodes else []
            flags = ["--name", host, "--gossip", "127.0.0.1:0", "--auth", str(file), *join]
            flags += tls_flags(certs, host)
            nodes.append(start(base / host, base / f"{host}.log", *flags, env=env))
            assert nodes[i].address.startswith("grpc+tls://127.0.0.1:")
        c = TlsCluster(nodes, certs, other, file, tokens, env, base)
        with c.connect() as cl:
            wait_members(cl, {"n1": "alive", "n2": "alive", "n3": "alive"})
        yield c
    finally:
        for n in nodes:
            assert n.stop() == 0
    for n in nodes:
        log = n.log.read_text()
        assert "Flight is served over TLS" in log
        for tok in tokens.values():
            assert tok not in log and tok[4:20] not in log


def test_tls_cluster_runs_queries(tls_cluster: TlsCluster) -> None:
    data = pa.table({"k": [i % 10 for i in range(30_000)], "v": list(range(30_000))})
    with tls_cluster.connect() as cl:
        cl.from_arrow(data, name="tls_t", mode="replace")
        got = cl.table("tls_t").group_by("k").agg(col("v").sum().alias("s")).sort("k").to_arrow()
        want = [sum(v for v in range(30_000) if v % 10 == k) for k in range(10)]
        assert got.column("s").to_pylist() == want
        info = cl.cluster()
        assert {m["name"] for m in info if m["state"] == "alive"} == {"n1", "n2", "n3"}
        assert sum(m["partitions"] for m in info) >= 2  # partitions sent to other nodes over mTLS
    # a reader's token over TLS, through Basic and bearer
    with tls_cluster.connect(
        token=None, username="rita", password=tls_cluster.tokens["rita"]
    ) as cl:
        assert cl.table("tls_t").to_arrow().num_rows == 30_000
        with pytest.raises(sl.PermissionDeniedError, match="needs role writer"):
            cl.drop("tls_t")


def test_node_from_another_ca_gets_no_work(tls_cluster: TlsCluster) -> None:
    c = tls_cluster
    flags = ["--name", "rogue", "--gossip", "127.0.0.1:0", "--join", c.nodes[0].gossip]
    flags += ["--auth", str(c.tokens_file), *tls_flags(c.other, "rogue")]
    flags[-1] = str(c.other / "ca.crt")
    rogue = start(c.base / "rogue", c.base / "rogue.log", *flags, env=c.env)
    try:
        with c.connect() as cl:
            # it gossips (it has the key), but fails the certificate check
            wait_members(cl, {"rogue": "untrusted", "n2": "alive", "n3": "alive"})
            data = pa.table({"x": list(range(5000))})
            cl.from_arrow(data, name="after_rogue", mode="replace")
            got = cl.table("after_rogue").select(col("x").sum().alias("s")).to_arrow()
            assert got["s"][0].as_py() == sum(range(5000))
            held = {m["name"]: m["partitions"] for m in cl.cluster()}
            assert held["rogue"] == 0
        # with its own certificate it cannot call a node's node-to-node actions
        with open(c.other / "rogue.crt", "rb") as f1, open(c.other / "rogue.key", "rb") as f2:
            raw = fl.FlightClient(
                c.nodes[1].address,
                tls_root_certs=(c.certs / "ca.crt").read_bytes(),
                cert_chain=f1.read(),
                private_key=f2.read(),
            )
        with pytest.raises(Exception) as info:
            list(raw.do_action(fl.Action("catalog", b"")))
        assert not isinstance(info.value, AssertionError)
        raw.close()
    finally:
        assert rogue.stop() == 0
    assert "failed the TLS check" in c.nodes[0].log.read_text()


def test_tls_errors_name_the_problem(tls_cluster: TlsCluster, tmp_path: Path) -> None:
    c = tls_cluster
    with pytest.raises(sl.UnavailableError, match="not signed by the CA in tls_root_certs"):
        c.connect(tls_root_certs=c.other / "ca.crt")
    # a node refuses to start with an expired certificate
    old = tmp_path / "old"
    slipstream("certs", "--out", str(old), "--hosts", "n1", "--days", "-1")
    out = subprocess.run(
        [find_binary(), "serve", "--addr", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
         "--auth", str(c.tokens_file), *tls_flags(old, "n1")],
        capture_output=True, text=True, timeout=30, env=c.env, check=False,
    )  # fmt: skip
    assert out.returncode != 0 and "expired at" in out.stderr, out.stderr
    # TLS wants gossip encrypted
    out = subprocess.run(
        [find_binary(), "serve", "--addr", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
         *tls_flags(c.certs, "n1")],
        capture_output=True, text=True, timeout=30, check=False,
        env={k: v for k, v in c.env.items() if k != "SLIPSTREAM_GOSSIP_KEY"},
    )  # fmt: skip
    assert out.returncode != 0 and "--encrypt-key" in out.stderr, out.stderr
    # a certificate that expired while its server ran: the client names it
    with expired_tls_server(old) as port, pytest.raises(sl.UnavailableError, match="has expired"):
        sl.connect(f"grpc+tls://127.0.0.1:{port}", token="x", tls_root_certs=old / "ca.crt")


@contextlib.contextmanager
def expired_tls_server(certs: Path) -> Iterator[int]:
    """A TLS listener presenting an expired node certificate (a node refuses to
    start with one, so this stands for a node whose certificate expired while it ran)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs / "n1.crt", certs / "n1.key")
    ctx.set_alpn_protocols(["h2"])
    sock = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(OSError), ctx.wrap_socket(conn, server_side=True):
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        t.join(5)
        sock.close()


def test_tls_without_tokens_wants_client_certificates(tls_cluster: TlsCluster) -> None:
    c = tls_cluster
    node = start(
        c.base / "certonly", c.base / "certonly.log", "--addr", "0.0.0.0:0",
        *tls_flags(c.certs, "n1"), env=c.env,
    )  # fmt: skip
    try:
        address = "grpc+tls://127.0.0.1:" + node.address.rsplit(":", 1)[1]
        with pytest.raises(sl.SlipstreamError):
            sl.connect(address, tls_root_certs=c.certs / "ca.crt")
        with sl.connect(
            address,
            tls_root_certs=c.certs / "ca.crt",
            tls_cert_chain=c.certs / "client.crt",
            tls_private_key=c.certs / "client.key",
        ) as cl:
            assert cl.health()["status"] == "ok"
    finally:
        assert node.stop() == 0


def test_nodes_without_tls_use_a_node_token(tmp_path: Path) -> None:
    """--auth FILE and --node-token-file: the calls between nodes carry an admin token."""
    file = tmp_path / "tokens.toml"

    def create(name: str, role: str) -> str:
        return slipstream("token", "create", "--name", name, "--role", role, "--auth", str(file))

    user, node_tok, weak = (
        create("u", "writer").strip(),
        create("nodes", "admin"),
        create("r", "reader"),
    )
    (tmp_path / "node.token").write_text(node_tok)
    (tmp_path / "weak.token").write_text(weak)
    out = subprocess.run(
        [find_binary(), "serve", "--addr", "127.0.0.1:0", "--data-dir", str(tmp_path / "w"),
         "--auth", str(file), "--node-token-file", str(tmp_path / "weak.token")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert out.returncode != 0 and 'node token "r" has role reader' in out.stderr, out.stderr
    flags = ["--gossip", "127.0.0.1:0", "--auth", str(file)]
    flags += ["--node-token-file", str(tmp_path / "node.token"), "--replication", "2"]
    a = start(tmp_path / "a", tmp_path / "a.log", "--name", "a", *flags)
    b = start(tmp_path / "b", tmp_path / "b.log", "--name", "b", "--join", a.gossip, *flags)
    try:
        with sl.connect(a.address, token=user) as cl:
            wait_members(cl, {"a": "alive", "b": "alive"})
            cl.from_arrow(pa.table({"x": list(range(3000))}), name="both")
            held = {m["name"]: m["partitions"] for m in cl.cluster()}
            assert held["a"] >= 1 and held["b"] >= 1  # stored on b through a's node token
            got = cl.table("both").select(col("x").sum().alias("s")).to_arrow()
            assert got["s"][0].as_py() == sum(range(3000))
    finally:
        assert a.stop() == 0 and b.stop() == 0
    for n in (a, b):
        log = n.log.read_text()
        assert node_tok.strip() not in log and user not in log


def test_only_the_owner_or_an_admin_cancels_a_query(authed: Cluster) -> None:
    """A query is its starter's: another user's cancel (cancel_query or
    CancelFlightInfo) is PermissionDenied; the owner's and an admin's are not."""
    with sl.connect(authed.node.address, token=authed.tokens["rita"]) as cl:
        assert cl.table("t").to_arrow().num_rows == 3
        qid = cl.last_query_id
        assert cl.query_status(qid)["user"] == "rita"
    client = fl.FlightClient(authed.node.address)

    def cancel(name: str) -> dict[str, object]:
        action = fl.Action("cancel_query", qid.encode())
        out = list(client.do_action(action, bearer(authed.tokens[name])))
        return json.loads(out[0].body.to_pybytes())  # type: ignore[no-any-return]

    msg = refused(lambda: cancel("wes"), fl.FlightUnauthorizedError)
    assert "rita" in msg and "only they or an admin" in msg, msg
    assert cancel("rita")["result"] == "not_cancellable"  # it had ended
    assert cancel("ada")["result"] == "not_cancellable"
    still_serves(authed)
    client.close()


def test_certificates_rotate_without_a_restart(tls_cluster: TlsCluster) -> None:
    """New certificate, key and CA files written over a running node's are used
    for the next connections; files that fail the checks are refused and the node
    keeps its certificate."""
    c = tls_cluster
    mine, fresh, old = c.base / "rot-certs", c.base / "rot-fresh", c.base / "rot-old"
    slipstream("certs", "--out", str(mine), "--hosts", "n1")
    slipstream("certs", "--out", str(fresh), "--hosts", "n1")  # another CA
    slipstream("certs", "--out", str(old), "--hosts", "n1", "--days", "-1")
    flags = ["--name", "rot", "--auth", str(c.tokens_file), *tls_flags(mine, "n1")]
    node = start(c.base / "rot", c.base / "rot.log", *flags, env=c.env)

    def works(ca: Path) -> bool:
        try:
            with sl.connect(node.address, token=c.tokens["ada"], tls_root_certs=ca) as cl:
                return cl.health()["status"] == "ok"
        except sl.UnavailableError:
            return False

    def overwrite(src: Path) -> None:
        for name in ["n1.key", "n1.crt", "ca.crt"]:
            (mine / name).write_bytes((src / name).read_bytes())

    first_ca = c.base / "rot-first-ca.crt"
    first_ca.write_bytes((mine / "ca.crt").read_bytes())
    try:
        assert works(first_ca) and not works(fresh / "ca.crt")
        overwrite(fresh)
        deadline = time.monotonic() + 10
        while not works(fresh / "ca.crt"):
            assert time.monotonic() < deadline, "the rotated certificate was never served"
            time.sleep(0.2)
        assert not works(first_ca)
        overwrite(old)  # expired: refused, the node keeps serving the fresh one
        time.sleep(1.5)
        assert works(fresh / "ca.crt")
        assert not works(old / "ca.crt")
    finally:
        assert node.stop() == 0
    log = node.log.read_text()
    assert "TLS certificate reloaded" in log
    assert "refused" in log and "expired at" in log
