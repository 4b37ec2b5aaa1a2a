"""One URL where a list of them is expected is a TypeError that says how to call, not one record
per character.

``corral.http.fetch("https://...")`` iterated the string and fetched 28 "URLs", one per
character. ``fetch`` returns a list in input order, so it takes a list: a lone string (or
bytes, or a single request) is refused at once, naming the fix; ``fetcher.fetch(url)`` fetches
one URL. The same holds for ``fetch_all`` and a crawler's seeds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import corral
from corral.http import FetchResult, fetch, open_crawler, open_fetcher, request_for
from corral.testing import Site, open_site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


@pytest.mark.parametrize("kind", ["str", "bytes", "request"])
async def test_fetch_refuses_one_url_and_says_to_pass_a_list(site: Site, kind: str) -> None:
    """``fetch(url)`` is a TypeError saying ``fetch([url])``; no request is made."""
    url = site.url("/page/1")
    one = {"str": url, "bytes": url.encode(), "request": request_for(url)}[kind]
    with pytest.raises(TypeError, match=r"a list of URLs.*fetch\(\[url\]\)"):
        await corral.to_thread(fetch, one)
    assert site.statistics().requests == 0


async def test_fetch_of_a_list_of_one_gives_one_record(site: Site) -> None:
    """``fetch([url])`` is the way: one record, for that URL."""
    url = site.url("/page/1")
    # On a thread of its own: in the full suite's order, fetch() on a reused corral.to_thread
    # thread hung twice in CI (a known open defect, not understood yet: see the closing note
    # of the stop that moved this); this test is about the list of one, not about that.
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[FetchResult]] = loop.create_future()

    def run() -> None:
        try:
            loop.call_soon_threadsafe(done.set_result, fetch([url]))
        except BaseException as exc:  # (handed to the test, which raises it)
            loop.call_soon_threadsafe(done.set_exception, exc)

    threading.Thread(target=run, daemon=True).start()
    (record,) = await done
    assert (record.url, record.status) == (url, 200)


async def test_fetch_all_refuses_one_url(site: Site) -> None:
    """``fetcher.fetch_all(url)`` is a TypeError at the call, pointing at ``fetch(url)``."""
    async with open_fetcher() as fetcher:
        with pytest.raises(TypeError, match=r"fetcher\.fetch\(url\)"):
            fetcher.fetch_all(site.url("/page/1"))
        record = await fetcher.fetch(site.url("/page/1"))
    assert record.ok
    assert site.statistics().requests == 1


async def test_a_crawler_refuses_one_seed_string(site: Site, tmp_path: Path) -> None:
    """``crawler.crawl(url)`` and ``crawler.run(url)``: a TypeError saying to pass a list."""
    async with open_crawler(store=tmp_path / "c.db") as crawler:
        with pytest.raises(TypeError, match=r"a list of seed URLs"):
            crawler.crawl(site.url("/"))
        with pytest.raises(TypeError, match=r"a list of seed URLs"):
            await crawler.run(site.url("/"))
    assert site.statistics().requests == 0
