"""Reading ``Request`` objects lazily from a file or stdin (the ``corral fetch`` input).

The input is one URL per line (blank lines and ``#`` comments skipped) or JSON lines of
request objects ``{"url": ..., "method": ..., "headers": {...}, "body": "..." | "json": ...}``;
both may be mixed. A line that is neither becomes an ``InvalidLine``, which the job records
as an ``invalid_url`` result and goes on: so does a line that is not UTF-8, a JSON line nested
deeper than ``MAX_DEPTH``, and a line longer than ``MAX_LINE`` (read in bounded memory, see
``_input.py``). A byte-order mark before a line is dropped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import IO

from corral import to_thread
from corral.http.engine._request import InvalidLine, Request, request_for
from corral.http.fetcher._input import KEPT, MAX_LINE, LongLine, read_lines
from corral.http.web._urls import BadURL, mask_credentials, not_utf8

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# JSON nested deeper is refused: far past any request body, and far enough from the
# interpreter's recursion limit that parsing, keying and storing it never reach it.
MAX_DEPTH = 100


def parse_line(text: str, number: int) -> Request | InvalidLine | None:
    """Return the request on one input line, an ``InvalidLine``, or None for a blank/comment."""
    line = text.strip()
    if not line or line[0] == "#":
        return None
    if not line.isascii() and (undecodable := not_utf8(line)) is not None:
        return _invalid(line, undecodable, number)
    try:
        if line[0] == "{":
            return _from_object(_load(line))
        return request_for(line)
    except BadURL as exc:
        if line[0] == "\ufeff":  # a byte-order mark: a file's first line, or files joined
            return parse_line(line.lstrip("\ufeff"), number)
        return _invalid(line, str(exc), number)
    except (ValueError, TypeError, KeyError) as exc:
        return _invalid(line, f"bad request object: {exc}", number)


def _invalid(line: str, reason: str, number: int) -> InvalidLine:
    """Return the ``InvalidLine`` of a line: its start, bad bytes as ``\\x`` escapes,
    passwords masked (it is never fetched: nothing needs them)."""
    text = line[:KEPT]
    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return InvalidLine(mask_credentials(text), mask_credentials(reason), number)


def _load(line: str) -> object:
    """Return the JSON value of a line, refusing one nested deeper than ``MAX_DEPTH``."""
    try:
        data = json.loads(line)
    except RecursionError:  # json's C scanner counts its depth against the recursion limit
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if line.count("[") + line.count("{") > MAX_DEPTH and _deeper(data, MAX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return data


def _deeper(data: object, limit: int) -> bool:
    """Return whether ``data`` nests lists and objects more than ``limit`` deep (a walk by
    levels, without recursion)."""
    level = [data] if isinstance(data, dict | list) else []
    for _ in range(limit):
        if not level:
            return False
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, dict | list)
        ]
    return bool(level)


def _from_object(data: object) -> Request:
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise ValueError('expected an object with a "url" string')
    method = str(data.get("method", "GET")).upper()
    if method not in _METHODS:
        raise ValueError(f"unsupported method {method!r}")
    headers = data.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError('"headers" must map strings to strings')
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError('"body" must be a string (use "json" for structured bodies)')
    if body is not None and "json" in data:
        raise ValueError('give "body" or "json", not both')
    return request_for(
        data["url"],
        method=method,
        headers=headers,
        body=body.encode() if body is not None else None,
        json=data.get("json"),
    )


def _batches(stream: IO[str], batch: int) -> Iterator[list[Request | InvalidLine]]:
    chunk: list[Request | InvalidLine] = []
    number = 0
    for lines in read_lines(stream):
        if isinstance(lines, LongLine):
            number += 1
            reason = f"line too long: {lines.length:,} characters (the limit is {MAX_LINE:,})"
            chunk.append(_invalid(lines.head, reason, number))
            continue
        first = number + 1
        for number, line in enumerate(lines, first):
            parsed = parse_line(line, number)
            if parsed is not None:
                chunk.append(parsed)
        while len(chunk) >= batch:
            yield chunk[:batch]
            chunk = chunk[batch:]
    if chunk:
        yield chunk


def count_lines(stream: IO[str]) -> int:
    """Count the lines that may hold a request (not blank, not a comment), then rewind.

    Only a first guess at the job's size, for the progress display: duplicates count too.
    The lines are read as ``read_requests`` reads them, in bounded memory.
    """
    if not stream.seekable():
        return 0
    start = stream.tell()
    count = 0
    for lines in read_lines(stream):
        if isinstance(lines, LongLine):
            count += 1
        else:
            count += sum(1 for line in lines if (text := line.strip()) and text[0] != "#")
    stream.seek(start)
    return count


async def read_requests(
    stream: IO[str], *, batch: int = 1000
) -> AsyncIterator[list[Request | InvalidLine]]:
    """Yield the requests of a text stream in batches, reading it lazily off the loop.

    Reading (a file, a pipe on stdin) and parsing happen in a corral thread, ``batch`` lines
    at a time, so the event loop never waits on the input nor spends its time on URLs.
    """
    batches = _batches(stream, batch)
    while True:
        chunk = await to_thread(next, batches, None)
        if chunk is None:
            return
        yield chunk
