"""Credentials a client presents: a bearer token on every call, and TLS settings."""

from __future__ import annotations

import os
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pyarrow.flight as fl

PathOrPem = str | os.PathLike[str] | bytes


def _pem(name: str, value: PathOrPem | None) -> bytes | None:
    """PEM bytes given as bytes, or read from a path."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} takes a file path or PEM bytes, not {type(value).__name__}")
    try:
        with open(value, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"{name}={os.fspath(value)!r}: cannot read it: {e.strerror}") from None


@dataclass
class Credentials:
    """What every Flight client of one :class:`Client` presents."""

    token: str | None = None
    tls_root_certs: bytes | None = None
    cert_chain: bytes | None = None
    private_key: bytes | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def make(
        cls,
        token: str | None,
        tls_root_certs: PathOrPem | None,
        tls_cert_chain: PathOrPem | None,
        tls_private_key: PathOrPem | None,
    ) -> Credentials:
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise ValueError(
                "token must be a non-empty string (slipstream token create prints one)"
            )
        if (tls_cert_chain is None) != (tls_private_key is None):
            raise ValueError("tls_cert_chain and tls_private_key go together: give both or neither")
        return cls(
            token=token.strip() if token else None,
            tls_root_certs=_pem("tls_root_certs", tls_root_certs),
            cert_chain=_pem("tls_cert_chain", tls_cert_chain),
            private_key=_pem("tls_private_key", tls_private_key),
        )

    def header(self) -> bytes | None:
        with self._lock:
            return f"Bearer {self.token}".encode() if self.token else None

    def set_token(self, token: str) -> None:
        with self._lock:
            self.token = token

    def __repr__(self) -> str:  # never show the token
        token = "set" if self.token else None
        return f"Credentials(token={token}, tls={self.tls_root_certs is not None})"


class _BearerFactory(fl.ClientMiddlewareFactory):  # type: ignore[misc]
    def __init__(self, creds: Credentials) -> None:
        super().__init__()
        self._creds = creds

    def start_call(self, info: Any) -> fl.ClientMiddleware | None:
        header = self._creds.header()
        return _Bearer(header) if header is not None else None


class _Bearer(fl.ClientMiddleware):  # type: ignore[misc]
    def __init__(self, header: bytes) -> None:
        super().__init__()
        self._header = header

    def sending_headers(self) -> dict[str, list[bytes]]:
        return {"authorization": [self._header]}


def flight_client(location: str, creds: Credentials) -> fl.FlightClient:
    """A Flight client for ``location`` presenting ``creds`` on every call."""
    kwargs: dict[str, Any] = {}
    if creds.tls_root_certs is not None:
        kwargs["tls_root_certs"] = creds.tls_root_certs
    if creds.cert_chain is not None:
        kwargs["cert_chain"] = creds.cert_chain
        kwargs["private_key"] = creds.private_key
    # No 4 MiB trap: unlimited gRPC message sizes both ways.
    return fl.FlightClient(
        location,
        middleware=[_BearerFactory(creds)],
        generic_options=[
            ("grpc.max_receive_message_length", -1),
            ("grpc.max_send_message_length", -1),
        ],
        **kwargs,
    )


def diagnose_tls(address: str, creds: Credentials, timeout: float = 5.0) -> str | None:
    """Why a TLS connection to ``address`` fails, named; None when it does not.

    gRPC reports a failed handshake as an unnamed verify failure; this makes the
    same handshake with Python's ``ssl`` (the same root certificates) to learn
    whether the certificate expired, is signed by another CA or names another host.
    """
    url = urlparse(address)
    if url.scheme != "grpc+tls" or not url.hostname or not url.port:
        return None
    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(["h2"])
    if creds.tls_root_certs is not None:
        ctx.load_verify_locations(cadata=creds.tls_root_certs.decode("ascii", "replace"))
    try:
        with (
            socket.create_connection((url.hostname, url.port), timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname=url.hostname),
        ):
            return None
    except ssl.SSLCertVerificationError as e:
        why = e.verify_message or str(e)
        if e.verify_code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
            hint = "the node's certificate has expired: make it a new one"
        elif e.verify_code in (18, 19, 20, 21):  # self-signed / unknown issuer
            hint = (
                "the node's certificate is not signed by the CA in tls_root_certs "
                "(a wrong CA): pass the cluster's CA certificate"
            )
        elif e.verify_code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
            hint = f"the node's certificate does not name {url.hostname}"
        else:
            hint = "the node's certificate was refused"
        return f"TLS with {url.hostname}:{url.port} failed: {hint} ({why})"
    except ssl.SSLError as e:
        return (
            f"TLS with {url.hostname}:{url.port} failed: {e.reason or e} "
            "(is the node serving TLS, with --tls-cert?)"
        )
    except OSError:
        return None
