"""``--max-pages`` over several runs of one crawl: the budget counts the pages fetched in
all, and a later run with a bigger budget (or none) crawls the URLs an earlier run's budget
left, instead of taking their "not fetched: max pages" records as final."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import corral
from corral.http import open_crawler
from corral.testing import Site, SiteLayout, open_site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=12)) as running:
        yield running


async def _crawl(store: Path, seed: str, max_pages: int | None) -> None:
    async with open_crawler(store=store, max_pages=max_pages) as crawler:
        await crawler.run([seed])


async def _counts(store: Path) -> tuple[int, int, int]:
    """Return the store's pages fetched, URLs skipped for max_pages, and records in all."""

    def read() -> tuple[int, int, int]:
        with sqlite3.connect(store) as conn:
            fetched = conn.execute("select count(*) from results where attempts > 0").fetchone()
            skipped = conn.execute(
                "select count(*) from results where error_kind = 'max_pages'"
            ).fetchone()
            total = conn.execute("select count(*) from results").fetchone()
        return int(fetched[0]), int(skipped[0]), int(total[0])

    return await corral.to_thread(read)


async def _urls(store: Path) -> list[tuple[str, str | None]]:
    def read() -> list[tuple[str, str | None]]:
        with sqlite3.connect(store) as conn:
            return list(conn.execute("select url, error_kind from results order by url"))

    return await corral.to_thread(read)


async def _one_record_per_url(store: Path) -> bool:
    def read() -> bool:
        with sqlite3.connect(store) as conn:
            row = conn.execute("select count(*), count(distinct url) from results").fetchone()
        return bool(row[0] == row[1])

    return await corral.to_thread(read)


async def test_a_bigger_budget_crawls_what_a_smaller_one_left(site: Site, tmp_path: Path) -> None:
    """3 pages, then a budget of 8 (5 more), then none (the rest: the records of the same
    crawl made in one run), then 2 (nothing more): one record per URL at each step, the
    earlier skip records replaced by the fetches."""
    store, seed = tmp_path / "c.db", site.url("/site/0.html")
    await _crawl(store, seed, 3)
    fetched, skipped, _ = await _counts(store)
    assert (fetched, skipped > 0) == (3, True)
    await _crawl(store, seed, 8)
    fetched, skipped, _ = await _counts(store)
    assert (fetched, skipped > 0) == (8, True)
    assert await _one_record_per_url(store)
    await _crawl(store, seed, None)
    whole = tmp_path / "whole.db"
    await _crawl(whole, seed, None)  # the same crawl in one run, without a budget
    assert await _counts(store) == await _counts(whole)
    assert await _urls(store) == await _urls(whole)
    requests = site.statistics().requests
    await _crawl(store, seed, 2)
    assert await _counts(store) == await _counts(whole)
    assert site.statistics().requests == requests  # nothing fetched again


async def test_the_same_budget_again_fetches_nothing(site: Site, tmp_path: Path) -> None:
    """The budget is the crawl's, not a run's: the same --max-pages run again has spent it."""
    store, seed = tmp_path / "c.db", site.url("/site/0.html")
    await _crawl(store, seed, 4)
    before = await _counts(store)
    requests = site.statistics().requests
    await _crawl(store, seed, 4)
    assert await _counts(store) == before
    assert site.statistics().requests == requests
