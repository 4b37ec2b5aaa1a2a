"""The crawl keeps its host slots busy and follows a new link at once (issue 13, items 1-2).

Both defects were waits on a timer: the claimer leased a host's next rows only after a batch
of pages had been written (every 0.1 s), and a page's links became claimable only then. These
tests set that timer to an hour: the crawl must finish by events alone (a freed slot wakes the
claimer; a claimer with nothing to claim has the finished pages written at once). The speed
figures themselves are benchmarks (``bench/crawl.py``: default settings and the chain).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from corral.http import open_crawler
from corral.http.pipeline import _writer as writer_module
from corral.testing import SiteLayout, open_site

_HOUR = 3600.0


@pytest.fixture
def no_timed_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the page writer's timed flush (and its size flush) never come in a test."""
    monkeypatch.setattr(writer_module, "FLUSH_SECONDS", _HOUR)
    monkeypatch.setattr(writer_module, "BATCH", 1_000_000)


@pytest.mark.usefixtures("no_timed_writes")
async def test_a_host_slot_is_refilled_when_it_frees_not_when_a_batch_is_written(
    tmp_path: Path,
) -> None:
    """100 pending pages of one host at --per-host 2: the claimer leases more as slots free.

    It used to wait for the next batch write after each claim of 2 x per-host rows.
    """
    async with open_site() as site:
        seeds = [site.url(f"/page/{i}") for i in range(100)]
        async with (
            asyncio.timeout(20),
            open_crawler(store=tmp_path / "c.db", per_host=2, obey_robots=False) as crawler,
        ):
            pages = [page async for page in crawler.crawl(seeds)]
    assert sorted(p.url for p in pages) == sorted(seeds)
    assert site.statistics().peak_in_flight <= 2


@pytest.mark.usefixtures("no_timed_writes")
async def test_a_link_on_a_finished_page_is_claimable_at_once(tmp_path: Path) -> None:
    """A chain of 60 pages, each linking only to the next, is crawled with no timed write.

    When the claimer has nothing left to claim, a finished page is written at once, so the
    link it holds is claimed as soon as it is found (pagination: one page at a time).
    """
    async with (
        open_site(layout=SiteLayout(chain_length=60)) as site,
        asyncio.timeout(20),
        open_crawler(store=tmp_path / "c.db", max_depth=100) as crawler,
    ):
        pages = [page async for page in crawler.crawl([site.url("/chain/0.html")])]
    assert [p.url for p in pages] == [site.url(f"/chain/{i}.html") for i in range(60)]
