"""Start and stop a local ``slipstream serve`` process for ``sl.connect()``."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._errors import UnavailableError

_BINARY = "slipstream.exe" if sys.platform == "win32" else "slipstream"
_READY_RE = re.compile(r"^slipstream: serving on (grpc(?:\+tcp|\+tls)?://\S+)\s*$")
_NODE_RE = re.compile(r"^slipstream: node \S+ serving on (grpc(?:\+tcp|\+tls)?://\S+)")
_CLUSTER_RE = re.compile(r"^slipstream: cluster of \d+ nodes ready")


_SIZE_RE = re.compile(r"^\s*\d+(\.\d+)?\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def _size(name: str, value: str | int) -> str:
    """``value`` as a size the node's flags take ("4GiB", "512MB", bytes)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"{name} takes a size such as '4GiB' or a number of bytes, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
        return str(value)
    if not _SIZE_RE.match(value):
        raise ValueError(
            f"{name}={value!r} is not a size: write a number of bytes with an optional "
            "unit, such as '4GiB', '512MiB' or '2000000000' (KiB, MiB, GiB are powers of "
            "1024; KB, MB, GB of 1000)"
        )
    return value.strip()


def find_binary() -> str:
    """Locate the ``slipstream`` server binary.

    Looked up in order: ``$SLIPSTREAM_BIN``; the binary shipped in the wheel
    (``slipstream/bin/slipstream``); ``bin/slipstream`` of the source checkout
    this package is imported from (development); ``slipstream`` on ``PATH``.
    """
    env = os.environ.get("SLIPSTREAM_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise FileNotFoundError(f"SLIPSTREAM_BIN={env} is not an executable file")
        return env
    here = Path(__file__).resolve().parent
    for candidate in (here / "bin" / _BINARY, here.parent.parent / "bin" / _BINARY):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which(_BINARY)
    if on_path:
        return on_path
    raise FileNotFoundError(
        "cannot find the slipstream server binary: install the package with "
        "`pip install .` (which builds it), set SLIPSTREAM_BIN, or pass an address "
        "to connect()"
    )


def default_allow_paths() -> list[str]:
    """The directories a local node may read files from by default: the user's own.

    The home directory, the current working directory and
    :func:`tempfile.gettempdir`, those of them that exist; never the root of
    the file system (a home directory of ``/`` would allow every file).

    Returns
    -------
    list of str
        Absolute paths, without repeats.
    """
    found: list[str] = []
    getters: list[Callable[[], str]] = [lambda: str(Path.home()), os.getcwd, tempfile.gettempdir]
    for get in getters:
        try:
            path = os.path.abspath(get())
        except (OSError, RuntimeError, KeyError):  # no home, or a deleted working directory
            continue
        if os.path.isdir(path) and path not in found and os.path.dirname(path) != path:
            found.append(path)
    return found


class LocalNode:
    """A ``slipstream serve`` child process on a free loopback port.

    The node accepts one random token, :attr:`token` (its role is admin),
    passed to it in the environment: another user of the machine cannot
    call it.

    With ``nodes > 1``, a ``slipstream local`` process running that many nodes.

    Parameters
    ----------
    data_dir : str or Path, optional
        Where the node stores tables. Default: a temporary directory removed
        when the node stops.
    nodes : int
        How many node processes (a cluster on loopback when more than one).
    binary : str, optional
        The server binary; default :func:`find_binary`.
    startup_timeout : float
        Seconds to wait for the node to announce its address.
    allow_paths : list of str or Path, optional
        The directories whose files the node may read (``read_parquet``,
        ``read_csv``, ``read_ipc``; ``slipstream serve --allow-path``); each
        must exist. Default: the user's own files, see
        :func:`default_allow_paths`. An empty list allows only the node's
        data directory.
    memory_limit : str or int, optional
        The memory each node may use (``--memory-limit``): bytes, or a size
        such as ``"4GiB"``. Default: 80% of what the process may use.
    spill_dir : str or Path, optional
        Where queries over their memory write spill files (``--spill-dir``;
        one node only). Default: a folder under the data directory.
    spill_limit : str or int, optional
        The most bytes of spill files at once (``--spill-limit``); 0 turns
        spilling off. Default: half the free space of that disk.
    tls : bool
        Serve over TLS with certificates of a CA made for this node
        (``slipstream certs``), nodes calling each other with mutual TLS and
        gossip encrypted; :attr:`tls_root_certs` is the CA's certificate.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        binary: str | None = None,
        startup_timeout: float = 30.0,
        nodes: int = 1,
        allow_paths: Sequence[str | os.PathLike[str]] | None = None,
        memory_limit: str | int | None = None,
        spill_dir: str | os.PathLike[str] | None = None,
        spill_limit: str | int | None = None,
        tls: bool = False,
    ) -> None:
        if nodes < 1:
            raise ValueError(f"nodes must be at least 1, got {nodes}")
        if spill_dir is not None and nodes > 1:
            raise ValueError(
                "spill_dir applies to one node; the nodes of a cluster each spill "
                "under their own data directory"
            )
        serve_flags: list[str] = []
        # Results come through shared memory, mapped without a copy, when
        # the system has it (the node falls back to the socket otherwise).
        self.shm_results = sys.platform.startswith("linux") and os.path.isdir("/dev/shm")
        if self.shm_results:
            serve_flags += ["--shm-results"]
        if memory_limit is not None:
            serve_flags += ["--memory-limit", _size("memory_limit", memory_limit)]
        if spill_limit is not None:
            serve_flags += ["--spill-limit", _size("spill_limit", spill_limit)]
        if spill_dir is not None:
            serve_flags += ["--spill-dir", os.path.abspath(os.fspath(spill_dir))]
        if isinstance(allow_paths, (str, os.PathLike)):
            raise TypeError("allow_paths takes a list of directories, not one path")
        self.addresses: list[str] = []
        self.binary = binary or find_binary()
        if allow_paths is None:
            self.allow_paths = default_allow_paths()
        else:
            self.allow_paths = [os.path.abspath(os.fspath(p)) for p in allow_paths]
        self._tmp = tempfile.mkdtemp(prefix="slipstream-node-")
        env = dict(os.environ)
        self.tls_root_certs: str | None = None
        if tls:
            certs = os.path.join(self._tmp, "certs")
            subprocess.run(
                [self.binary, "certs", "--out", certs, "--hosts", "localhost"],
                capture_output=True,
                check=True,
            )
            self.tls_root_certs = os.path.join(certs, "ca.crt")
            serve_flags += ["--tls-cert", os.path.join(certs, "localhost.crt")]
            serve_flags += ["--tls-key", os.path.join(certs, "localhost.key")]
            serve_flags += ["--tls-ca", self.tls_root_certs]
            env["SLIPSTREAM_GOSSIP_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
        self.data_dir = str(data_dir) if data_dir is not None else os.path.join(self._tmp, "data")
        self.log_path = os.path.join(self._tmp, "server.log")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        # --stop-with-stdin: the node stops when the pipe to its standard
        # input closes, which the system does when this process ends, even
        # killed; a node is never left running without its client.
        cmd = [self.binary, "serve", "--addr", "127.0.0.1:0", "--http", "127.0.0.1:0"]
        cmd += ["--data-dir", self.data_dir, "--stop-with-stdin"]
        cmd += serve_flags
        if nodes > 1:
            cmd = [self.binary, "local", "--nodes", str(nodes), "--data-dir", self.data_dir]
            cmd += ["--stop-with-stdin"]
            if serve_flags:
                cmd += ["--serve-args", " ".join(serve_flags)]
        for path in self.allow_paths:
            cmd += ["--allow-path", path]
        # The node accepts only this random token, handed over in its
        # environment (readable by this user alone, unlike a command line).
        self.token = "sst_" + secrets.token_urlsafe(32)
        env["SLIPSTREAM_NODE_TOKEN"] = self.token
        # A new session: Ctrl-C in a terminal or notebook interrupts the client
        # (cancelling its query) without killing the node under it.
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        try:
            self.address = self._wait_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise
        # The node logs to stderr only, but drain stdout anyway so that a
        # stray write can never block it on a full pipe.
        threading.Thread(target=self._drain, name="slipstream-node-stdout", daemon=True).start()

    def _wait_ready(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while True:
                if b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode("utf-8", "replace")
                    m = _READY_RE.match(text) or _NODE_RE.match(text)
                    if m:
                        self.addresses.append(m.group(1))
                        if _READY_RE.match(text):
                            return m.group(1)
                    if _CLUSTER_RE.match(text) and self.addresses:
                        return self.addresses[0]
                    self._log.write(line + b"\n")
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise UnavailableError(
                        f"the slipstream node did not start within {timeout:.0f}s{self._log_tail()}"
                    )
                if sel.select(min(left, 0.5)):
                    chunk = os.read(self.proc.stdout.fileno(), 4096)
                    if not chunk:
                        self.proc.wait(5)
                        raise UnavailableError(
                            f"the slipstream node exited with code {self.proc.returncode} "
                            f"before serving{self._log_tail()}"
                        )
                    buf += chunk

    def _drain(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            for line in stdout:
                self._log.write(line)
        except (OSError, ValueError):
            pass

    def _log_tail(self, lines: int = 20) -> str:
        self._log.flush()
        try:
            with open(self.log_path, "rb") as f:
                tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return ""
        return ("; its log ends with:\n" + "\n".join(tail)) if tail else ""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the node (SIGTERM, then SIGKILL after ``timeout`` seconds) and clean up."""
        _stop(self.proc, self._tmp, self._log, timeout)


def _stop(proc: subprocess.Popen[bytes], tmp: str, log: Any, timeout: float = 10.0) -> None:
    """Stop ``proc`` and remove ``tmp``; safe to call more than once (a finalizer)."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except OSError:
            pass
    for f in (proc.stdin, proc.stdout, log):
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
    shutil.rmtree(tmp, ignore_errors=True)
