"""A tiny OTLP/HTTP trace receiver: it accepts exports and counts (or keeps) them.

Slipstream nodes export spans with OTLP over HTTP (``--otlp-endpoint``). This
receiver answers every ``POST /v1/traces`` as a collector does (200, an empty
ExportTraceServiceResponse), so the export path is real — spans encoded,
batched and sent — without a collector to install. The tracing tests read the
bodies it keeps; the tracing-overhead benchmark only counts them.

Run alone it prints its URL and serves until Ctrl-C::

    python bench/otlp_sink.py
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _messages(buf: bytes, field: int) -> list[bytes]:
    """The embedded messages of protobuf field ``field`` in message ``buf``."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            _, i = _varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _varint(buf, i)
            if key >> 3 == field:
                out.append(buf[i : i + n])
            i += n
        else:
            raise ValueError(f"protobuf wire type {wire} is not used by OTLP")
    return out


def count_spans(body: bytes) -> int:
    """The spans in an ExportTraceServiceRequest (resource_spans 1 > scope_spans 2 > spans 2)."""
    return sum(
        len(_messages(scope, 2))
        for resource in _messages(body, 1)
        for scope in _messages(resource, 2)
    )


class OTLPSink:
    """An OTLP/HTTP receiver on a free loopback port; ``url`` is its base URL.

    It counts the exports, bytes and spans it receives.
    """

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.bodies: list[bytes] = []
        self.requests = 0
        self.bytes = 0
        self.spans = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                spans = count_spans(body)
                with sink._lock:
                    sink.requests += 1
                    sink.bytes += len(body)
                    sink.spans += spans
                    if sink.keep:
                        sink.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def received(self) -> list[bytes]:
        """The bodies received so far (with ``keep=True``)."""
        with self._lock:
            return list(self.bodies)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    sink = OTLPSink()
    print(f"OTLP/HTTP receiver at {sink.url} (Ctrl-C stops it)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print(f"received {sink.requests} exports, {sink.spans} spans, {sink.bytes} bytes")
        sink.close()
