"""How ``RedisFrontier`` rows, links and records travel to and from Redis: an element's
packed fields, a link's script arguments, a stream entry back as a record."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from corral.http.engine._request import InvalidLine, Request
from corral.http.engine._result import FetchResult
from corral.http.scale._queue import fingerprint
from corral.http.scale._wire import decode_result
from corral.http.store._frontier import LinkRow, PendingRow
from corral.http.web._urls import mask_credentials

_SEP, _JSON = "\x1f", "\x1e"
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True, slots=True)
class Record:
    """One record read from the frontier's stream (``RedisFrontier.records``)."""

    entry: str  # the stream entry id (``forget`` it once stored)
    ident: int
    run: int
    result: FetchResult
    items: list[Any]


def pack(fields: Sequence[str | None]) -> bytes:
    """Return a row's fields as an element's rest: joined by \\x1f, trailing empty ones
    dropped (None is empty: no field of a row is a meaningful empty string); JSON after a
    \\x1e when a field holds a separator."""
    parts = [field or "" for field in fields]
    while parts and not parts[-1]:
        parts.pop()
    if any(_SEP in part or part.startswith(_JSON) for part in parts):
        return (_JSON + _dumps(parts)).encode()
    return _SEP.join(parts).encode()


def unpack(packed: bytes) -> list[str | None]:
    """Return the fields ``pack`` packed, five of them (None where empty)."""
    text = packed.decode()
    parts: list[str] = json.loads(text[1:]) if text.startswith(_JSON) else text.split(_SEP)
    return [part or None for part in parts] + [None] * (5 - len(parts))


def row(element: bytes, host: str | None = None, depth: int = 0) -> PendingRow:
    """Return the ``PendingRow`` of an element (a crawl's: host and depth from its queue)."""
    ident, _, packed = element[8:].partition(b"\x1f")
    url, stored_host, found_on, request, invalid = unpack(packed)[:5]
    row_host = host if host is not None else stored_host or ""
    return PendingRow(int(ident), url or "", row_host, request, invalid, depth, found_on)


def input_key(item: Request | InvalidLine) -> str:
    return item.key if isinstance(item, Request) else f"invalid:{item.text}"


def input_fields(item: Request | InvalidLine) -> list[str | None]:
    if isinstance(item, InvalidLine):
        return [item.text, None, None, None, item.reason]
    return [item.url, item.host, item.found_on, item.to_json(), None]


def link_args(links: Sequence[LinkRow]) -> list[Any]:
    args: list[Any] = []
    for link in links:
        packed = pack([link.url, None, link.found_on])
        args += (fingerprint(link.key), link.host, link.depth, link.skip or "", packed)
    return args


def counts(flat: Sequence[Any]) -> Counter[str]:
    return Counter({name.decode(): int(n) for name, n in zip(flat[::2], flat[1::2], strict=True)})


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def read_record(entry: bytes, fields: Mapping[bytes, bytes]) -> Record:
    """Return a stream entry as a record: a fetched row's as committed, a skipped row's
    made here (its URL's password masked, as the SQLite store records it)."""
    ident, run = int(fields[b"i"]), int(fields[b"r"])
    if b"s" in fields:
        url, _, found_on, _, _ = unpack(fields[b"e"])[:5]
        reason = fields[b"s"].decode()
        result = FetchResult(
            url=mask_credentials(url or ""),
            error_kind=reason,
            error=f"not fetched: {reason.replace('_', ' ')}",
            depth=int(fields[b"dp"]),
            found_on=found_on,
            fetched_at="",
        )
        return Record(entry.decode(), ident, run, result, [])
    result = decode_result(fields[b"d"], fields.get(b"b"))
    items = json.loads(fields[b"it"]) if b"it" in fields else []
    return Record(entry.decode(), ident, run, result, items)
