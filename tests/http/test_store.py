"""The job's SQLite store: the frontier gives each key one row, across batches and runs."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from corral.http.engine._request import InvalidLine, Request, parse_line
from corral.http.store._sqlite import JobKind, SQLiteFrontier

CRAWL_INDEX_NAMES = {"urls_host_pending", "urls_leased"}


def lines(*texts: str) -> list[Request | InvalidLine]:
    parsed = [parse_line(text, number) for number, text in enumerate(texts, 1)]
    return [item for item in parsed if item is not None]


def urls_by_id(path: Path) -> dict[int, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT id, url FROM urls"))


async def test_a_fresh_store_adds_each_key_once_across_batches(tmp_path: Path) -> None:
    """A key already added by an earlier batch of this run is a duplicate, not a new row."""
    path = tmp_path / "out.db"
    store = SQLiteFrontier(path)
    await store.open(["corral", "fetch"], "2026-11-21T00:00:00+00:00")
    first, first_new = await store.add(lines("http://a.test/1", "http://a.test/2"))
    second, second_new = await store.add(
        lines("http://a.test/2", "http://a.test/3", "http://a.test/3", "not a url")
    )
    await store.finish("finished", "2026-11-21T00:00:01+00:00", {})

    assert (first.new, first.duplicates) == (2, 0)
    assert (second.new, second.duplicates) == (2, 2)  # /2 from the first batch, /3 twice here
    new = first_new + second_new
    ids = [ident for ident, _ in new]
    assert len(set(ids)) == len(ids) == 4
    rows = await asyncio.to_thread(urls_by_id, path)
    assert {ident: rows[ident] for ident in ids} == {
        ident: (item.url if isinstance(item, Request) else item.text) for ident, item in new
    }
    assert sorted(rows.values()) == [
        "http://a.test/1",
        "http://a.test/2",
        "http://a.test/3",
        "not a url",
    ]


async def test_a_store_error_is_a_corral_error(tmp_path: Path) -> None:
    """StoreError sits under the one root: ``except corral.CorralError`` catches a store that
    cannot be used (here: a file that is not a database)."""
    import corral
    from corral.http._faults import StoreError

    path = tmp_path / "not.db"
    await asyncio.to_thread(path.write_bytes, b"not a database, " * 512)
    store = SQLiteFrontier(path)
    with pytest.raises(corral.CorralError) as info:
        await store.open(["corral", "fetch"], "2026-11-21T00:00:00+00:00")
    assert isinstance(info.value, StoreError)


def index_names(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {str(name) for (name,) in rows if not str(name).startswith("sqlite_")}


@pytest.mark.parametrize(("kind", "indexes"), [("fetch", set()), ("crawl", CRAWL_INDEX_NAMES)])
async def test_only_a_crawl_store_keeps_the_crawl_indexes(
    tmp_path: Path, kind: JobKind, indexes: set[str]
) -> None:
    """A fetch never claims: its store does not pay for the claim and lease indexes."""
    path = tmp_path / "out.db"
    store = SQLiteFrontier(path, kind=kind)
    await store.open(["corral", kind], "2026-11-21T00:00:00+00:00")
    await store.finish("finished", "2026-11-21T00:00:01+00:00", {})
    assert await asyncio.to_thread(index_names, path) == indexes
