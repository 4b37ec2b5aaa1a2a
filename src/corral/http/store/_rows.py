"""Records as the store writes them: result rows, JSON lines, many rows to an INSERT.

These run for every record of a fetch; each shortcut here was measured (``docs/design.md``).
"""

from __future__ import annotations

import errno
import itertools
import json
import json.encoder
import operator
import sqlite3
from collections.abc import Callable, Sequence
from typing import IO, Any

from corral.http.engine._result import FetchResult


def jsonl_lines(results: Sequence[FetchResult], body_as: str) -> bytes:
    """Return records as JSON lines (``body_as``: ``base64`` or ``omit``)."""
    return "".join(
        json.dumps(r.to_dict(body_as=body_as), separators=(",", ":")) + "\n" for r in results
    ).encode()


def write_all(file: IO[bytes], data: bytes) -> None:
    """Write all of ``data`` (an unbuffered file may take part of it) and flush it."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:  # (a regular file raises instead: ENOSPC, EFBIG)
            raise OSError(errno.EIO, "the output took no bytes")
        view = view[written:]
    file.flush()


def result_row(
    ident: int, r: FetchResult, run: int, *, store_body: bool, store_headers: bool = True
) -> tuple[Any, ...]:
    """Return a record as a row of ``results`` (in ``RESULT_COLUMNS`` order)."""
    headers = r.headers
    return (
        ident,
        r.url,
        r.final_url,
        r.status,
        int(r.ok),
        r.error_kind,
        r.error,
        r.attempts,
        r.elapsed_ms,
        r.fetched_at,
        r.bytes,
        r.content_type,
        headers_json(headers) if headers is not None and store_headers else None,
        r.sha256,
        r.body if store_body else None,
        r.body_path,
        r.method,
        r.depth,
        r.found_on,
        run,
        (headers.get("ETag") or headers.get("Etag") or headers.get("etag")) if headers else None,
        (headers.get("Last-Modified") or headers.get("last-modified")) if headers else None,
        r.change,
        r.proxy,
    )


def slim_row(ident: int, r: FetchResult, run: int) -> tuple[Any, ...]:
    """Return a record as the state of a JSON lines output keeps it: no headers, no body
    (the line has them), its validators and digest for a later ``--refresh``."""
    return result_row(ident, r, run, store_body=False, store_headers=False)


# json.dumps builds an encoder at every call (2.5 µs for a response's eight headers); the
# same C encoder made once writes the same text in 1.4 µs.
_encode: Callable[[Any, int], Sequence[str]] | None = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, None, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, False
    )
    if getattr(json.encoder, "c_make_encoder", None) is not None
    else None
)


def headers_json(headers: Any) -> str:
    """Return a headers mapping as ``json.dumps(dict(headers))`` writes it."""
    if _encode is None or type(headers) is not dict:
        return json.dumps(dict(headers))
    return "".join(_encode(headers, 0))


_CHUNKS = (256, 32, 4, 1)  # rows a statement: few distinct statements, few steps a batch
_shapes: dict[tuple[str, str, tuple[bool, ...], int], str] = {}


def insert_rows(
    conn: sqlite3.Connection, head: str, columns: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT ``rows``, many to a statement, with their None values written as NULL in the SQL.

    Two costs of ``executemany`` that a batch of records pays per row:

    - Python's sqlite3 binds a None by trying to adapt it, which raises and formats an
      AttributeError inside (about 0.3 µs a None), and a record has several (no error, no
      body). The rows of a batch share a few patterns of None: one statement per pattern,
      with NULL where the pattern has None, binds only the values.
    - Each row's step releases the GIL and takes it back: with the event loop's thread
      waiting for it, two to four futex calls a row (measured: 8.5 a URL). A statement of
      many rows (``VALUES (...), (...)``) is one step.
    """
    groups: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
    is_not, compress = operator.is_not, itertools.compress
    nones = (None,) * (columns.count(",") + 1)  # one a column: map() stops at the shorter
    for row in rows:
        keep = tuple(map(is_not, row, nones))
        values = tuple(compress(row, keep))
        group = groups.get(keep)
        if group is None:
            groups[keep] = [values]
        else:
            group.append(values)
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    for keep, values_list in groups.items():
        most = max(1, limit // len(keep))
        start = 0
        for size in _CHUNKS:
            size = min(size, most)
            while len(values_list) - start >= size:
                chunk = values_list[start : start + size]
                start += size
                conn.execute(_statement(head, columns, keep, size), [*itertools.chain(*chunk)])


def _statement(head: str, columns: str, keep: tuple[bool, ...], rows: int) -> str:
    sql = _shapes.get((head, columns, keep, rows))
    if sql is None:
        one = "(" + ",".join("?" if k else "NULL" for k in keep) + ")"
        sql = _shapes[(head, columns, keep, rows)] = (
            f"{head} ({columns}) VALUES {','.join([one] * rows)}"
        )
    return sql
