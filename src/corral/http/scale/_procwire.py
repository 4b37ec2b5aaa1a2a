"""The frames between ``corral fetch --workers N`` and its worker processes, over their pipes.

A frame is a 4-byte big-endian length, then that many bytes of JSON (never pickle: a frame
is data, not code to run). The parent sends ``{"f": [[seq, url, host, request, depth,
found_on], ...]}`` (a batch of flights, ``request`` as ``Request.to_json`` stores it); the
child answers ``{"r": [[seq, record], ...], "c": {...}}``: finished records, with the
engine's counter deltas and gauges since its last frame (``Figures``). With ``--cookies``,
the parent's second frame is ``{"jar": {host: cookies}}`` (the run's jars, as a jar file holds
them) and a child's frame may carry ``"k": {host: cookies}``, the jars its responses changed.

Part R's Redis worker carries results too (``scale/_wire.py``); the two are to be folded
into one encoding once both exist.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from typing import Any

from corral.http.engine._request import Request
from corral.http.engine._result import FetchResult

_LENGTH = struct.Struct(">I")
MAX_FRAME = 1 << 30  # a frame longer than this is a broken pipe, not a batch of records


def frame(message: object) -> bytes:
    """Return ``message`` as one frame: its length, then its JSON."""
    data = json.dumps(message, separators=(",", ":")).encode()
    return _LENGTH.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """Return the next frame's message, or None at the end of the stream.

    Raises:
        ValueError: the stream ended inside a frame, or holds no frames.
    """
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ValueError("the stream ended inside a frame's length") from None
        return None
    (size,) = _LENGTH.unpack(head)
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes: not corral's frames")
    try:
        data = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise ValueError("the stream ended inside a frame") from None
    return json.loads(data)


def encode_request(seq: int, request: Request) -> list[Any]:
    """Return a request in flight as a row of a flights frame."""
    return [seq, request.url, request.host, request.to_json(), request.depth, request.found_on]


def decode_request(row: list[Any]) -> tuple[int, Request]:
    """Return the sequence number and request of a flights frame's row."""
    seq, url, host, stored, depth, found_on = row
    return int(seq), Request.from_stored(url, host, stored, depth, found_on)


def encode_result(result: FetchResult) -> dict[str, Any]:
    """Return a final record as JSON-ready data (its body, if any, in base64)."""
    return result.to_dict(body_as="base64")


def decode_result(data: dict[str, Any]) -> FetchResult:
    """Return the final record ``encode_result`` encoded."""
    body = data.pop("body_base64", None)
    return FetchResult(**data, body=base64.b64decode(body) if body is not None else None)
