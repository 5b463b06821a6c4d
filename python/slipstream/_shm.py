"""Results through shared memory from a node on this machine.

A node this client started (``sl.connect()``) runs with ``--shm-results``.
When a ``DoGet`` carries ``REQUEST``, the node writes the result's batches
to Arrow IPC stream files in its folder under ``/dev/shm`` instead of
sending them through the socket, and names each file on the stream (a
message with no data whose app_metadata is ``PREFIX`` and the path). The
client maps each file and unlinks it: the table's buffers are the file's
pages, with no copy on either side but the node's one write, and the pages
go back to the system when the table is freed. What the node could not
write there comes through the stream as batches, in order. ``to_arrow``
and ``to_batches`` both read so.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat

import pyarrow as pa
import pyarrow.flight as fl

__all__ = ["PREFIX", "REQUEST", "batches", "take"]

#: The header that asks a node for the result through shared memory.
REQUEST = (b"x-slipstream-results", b"shm")
#: How a stream message names a result file.
PREFIX = b"slipstream.shm:"
# Only files a node makes in its own folder are ever read or unlinked.
_NAME = re.compile(r"/dev/shm/slipstream-results-\d+-\d+/result-\d+\.arrow\Z")


def batches(chunk: fl.FlightStreamChunk, shm: bool) -> list[pa.RecordBatch]:
    """The batches a stream message carries, or maps when ``shm`` (the call asked)."""
    if chunk.data is not None:
        return [chunk.data]
    if shm and chunk.app_metadata is not None:
        return take(chunk.app_metadata)
    return []


def take(app_metadata: pa.Buffer) -> list[pa.RecordBatch]:
    """The batches of the result file a stream message names, mapped; unlinks it."""
    text = app_metadata.to_pybytes()
    if not text.startswith(PREFIX):
        return []
    path = text[len(PREFIX) :].decode()
    if not _NAME.match(path):
        raise ValueError(f"the node named {path!r} as a result file, not a file of its folder")
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            raise ValueError(f"result file {path} is not a regular file of this user")
        with pa.memory_map(path) as source:  # the batches keep the mapping
            return list(pa.ipc.open_stream(source))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
