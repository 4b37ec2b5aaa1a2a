"""``FetchStatistics.in_flight`` (the live display's "active"): the requests being fetched now.

Slow URLs of the test site hold a known number of requests open; the tests wait for the site
to see them (an event, not a sleep) and read the fetcher's figure at that moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import corral
from corral.http import FetchResult, open_crawler, open_fetcher
from corral.testing import Site, open_site

_SLOW = "/delay/600000"  # ten minutes: still running when the test looks, ended by the site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


async def test_in_flight_counts_the_requests_under_way(site: Site) -> None:
    """With 4 slow URLs open and 3 fast ones answered, ``in_flight`` is 4; closing the run
    (its requests cancelled) brings it back to 0."""
    slow = [site.url(f"{_SLOW}?n={i}") for i in range(4)]
    fast = [site.url(f"/page/{i}") for i in range(3)]
    got: list[FetchResult] = []
    three = asyncio.Event()
    async with open_fetcher(per_host=10, retries=0) as fetcher:
        run = fetcher.fetch_all(fast + slow)

        async def read() -> None:
            async for result in run:
                got.append(result)
                if len(got) == 3:
                    three.set()

        async with corral.open_scope() as scope:
            reader = await scope.spawn(read)
            await three.wait()
            await site.wait_until(lambda s: s.in_flight == 4)
            assert fetcher.statistics().in_flight == 4
            reader.cancel()
        await run.aclose()
        assert fetcher.statistics().in_flight == 0
    assert sorted(r.url for r in got) == sorted(fast)


async def test_in_flight_is_zero_once_the_run_is_over(site: Site) -> None:
    """After every URL has its record, nothing is in flight (retries included)."""
    urls = [site.url(f"/page/{i}") for i in range(20)] + [site.url("/flaky/1/after")]
    async with open_fetcher(backoff=corral.Backoff(initial=0.01, max=0.01)) as fetcher:
        results = [r async for r in fetcher.fetch_all(urls)]
        stats = fetcher.statistics()
    assert len(results) == 21
    assert stats.retries == 1
    assert stats.in_flight == 0


async def test_a_crawls_statistics_count_its_pages_in_flight(site: Site, tmp_path: Path) -> None:
    """A crawl's ``statistics()`` (what its progress display shows) counts the pages being
    fetched: three slow seeds held open are 3 in flight."""
    seeds = [site.url(f"{_SLOW}?seed={i}") for i in range(3)]
    crawler = open_crawler(store=tmp_path / "c.db", per_host=8, retries=0)
    async with crawler, corral.open_scope() as scope:
        crawling = await scope.spawn(crawler.run, seeds)
        await site.wait_until(lambda s: s.in_flight == 3)
        assert crawler.statistics().in_flight == 3
        crawling.cancel()
