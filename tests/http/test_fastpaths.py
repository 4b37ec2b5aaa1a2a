"""The engine's and the store's fast paths give what the plain ways give."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict

from corral._clock import LOOP_CLOCK
from corral.http.engine._dispatch import Dispatcher
from corral.http.engine._flight import Flight
from corral.http.engine._politeness import Politeness
from corral.http.engine._request import Request, parse_line, request_for
from corral.http.engine._result import FetchResult, make_record
from corral.http.store._rows import headers_json, insert_rows


def test_make_record_is_the_same_frozen_record() -> None:
    """make_record sets every field as FetchResult(...) does; the record stays frozen."""
    made = make_record(
        "http://a.test/1",
        "http://a.test/2",
        200,
        True,
        None,
        None,
        2,
        12.5,
        "2026-11-21T00:00:00.000+00:00",
        901,
        "text/html",
        {"Server": "nginx"},
        "ab" * 32,
        b"<p>",
        "GET",
        1,
        "http://a.test/",
        "socks5://p.test:1080",
    )
    assert made == FetchResult(
        url="http://a.test/1",
        final_url="http://a.test/2",
        status=200,
        ok=True,
        attempts=2,
        elapsed_ms=12.5,
        fetched_at="2026-11-21T00:00:00.000+00:00",
        bytes=901,
        content_type="text/html",
        headers={"Server": "nginx"},
        sha256="ab" * 32,
        body=b"<p>",
        method="GET",
        depth=1,
        found_on="http://a.test/",
        proxy="socks5://p.test:1080",
    )
    assert (made.error_kind, made.error, made.body_path) == (None, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.status = 500  # type: ignore[misc]


@pytest.mark.parametrize(
    "headers",
    [
        {"Server": "nginx/1.22.1", "ETag": '"6b01-385"', "X-Note": "caf\u00e9 \u2603 \\ \n"},
        {},
        CIMultiDict([("Set-Cookie", "a=1"), ("Content-Type", "text/html")]),
    ],
)
def test_headers_json_writes_what_json_dumps_writes(headers: Any) -> None:
    assert headers_json(headers) == json.dumps(dict(headers))


def test_insert_rows_writes_none_as_null_in_every_pattern(tmp_path: Path) -> None:
    """Rows with None in different places, many to a statement, land as the plain
    executemany would put them."""
    patterns = [
        ("a", None, 3.5, None),
        (None, b"x", None, "e"),
        ("c", None, 1.0, None),
        (None, None, None, None),
        ("", b"", 0.0, ""),
    ]
    # 305 rows: statements of 256, 32, 4 and 1 rows for the common patterns
    rows = [(n, *patterns[n % 7 % 5]) for n in range(1, 306)]
    with sqlite3.connect(tmp_path / "t.db") as conn:
        for table in ("plain", "shaped"):
            conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, a, b, c, d)")
        conn.executemany("INSERT INTO plain (id, a, b, c, d) VALUES (?, ?, ?, ?, ?)", rows)
        insert_rows(conn, "INSERT INTO shaped", "id, a, b, c, d", rows)
        plain = conn.execute("SELECT *, typeof(a), typeof(b) FROM plain ORDER BY id").fetchall()
        shaped = conn.execute("SELECT *, typeof(a), typeof(b) FROM shaped ORDER BY id").fetchall()
    assert shaped == plain
    assert len(shaped) == len(rows)


def test_insert_rows_keeps_every_column_of_a_wide_row(tmp_path: Path) -> None:
    """A row wider than any table corral has today (40 columns, Nones among them) is
    written whole: the None pattern covers every column, not a fixed number of them."""
    columns = ["id", *(f"c{i}" for i in range(1, 40))]
    rows = [
        (n, *(None if (i + n) % 3 == 0 else f"{n}:{i}" for i in range(1, 40))) for n in range(9)
    ]
    with sqlite3.connect(tmp_path / "t.db") as conn:
        conn.execute(f"CREATE TABLE wide ({', '.join(columns)})")
        insert_rows(conn, "INSERT INTO wide", ", ".join(columns), rows)
        stored = conn.execute("SELECT * FROM wide ORDER BY id").fetchall()
    assert stored == rows


async def test_a_source_of_lists_is_read_within_the_buffer() -> None:
    """Lists of flights longer than the buffer: every flight comes out once, and the dispatcher
    holds at most the buffer plus the rest of one list."""
    buffer, size, lists = 16, 100, 5
    pulled = 0

    async def source() -> AsyncIterator[list[Flight]]:
        nonlocal pulled
        for n in range(lists):
            pulled += size
            yield [
                Flight(request_for(f"http://h{i % 3}.test/{n}/{i}"), (n, i)) for i in range(size)
            ]

    politeness = Politeness(concurrency=4, per_host=4, interval=0.0, adaptive=True)
    seen: list[object] = []
    most_held = 0

    async def worker(dispatcher: Dispatcher) -> None:
        nonlocal most_held
        while (flight := await dispatcher.next()) is not None:
            most_held = max(most_held, pulled - len(seen) - dispatcher.running)
            seen.append(flight.ident)
            await asyncio.sleep(0)
            politeness.finish(flight.host, 200, None, 0.0)  # type: ignore[arg-type]
            dispatcher.finished()

    async with Dispatcher(source(), politeness, buffer, LOOP_CLOCK) as dispatcher:
        await asyncio.gather(*(worker(dispatcher) for _ in range(4)))
    assert sorted(seen) == sorted((n, i) for n in range(lists) for i in range(size))  # type: ignore[type-var]
    assert most_held <= buffer + size


@pytest.mark.parametrize(
    "url", ["http://a.test/", "https://b.test:8443/p?q=1", "http://127.0.0.1:18099/f/1.html"]
)
def test_a_plain_line_is_the_request_the_constructor_makes(url: str) -> None:
    """parse_line's fast path makes the same frozen Request as Request(url=..., host=...)."""
    made = parse_line(f"  {url}\n", 1)
    assert made == Request(url=url, host=url.split("/")[2])
    assert isinstance(made, Request)
    assert (made.method, made.body, made.json, made.depth, made.found_on) == (
        "GET",
        None,
        None,
        0,
        None,
    )
    assert not made.headers
    assert made.to_json() is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.url = "http://c.test/"  # type: ignore[misc]


def test_the_read_buffer_setting_is_harmless_to_call() -> None:
    """The CLI's heap setting for socket reads runs on any platform (a no-op off glibc)."""
    from corral.http._cli import _reads_from_the_heap

    _reads_from_the_heap()
    _reads_from_the_heap()
    assert bytearray(300_000)[:3] == b"\x00\x00\x00"  # allocation still works after it
