"""The depth bound and the trap guards may change when a crawl is run again (a trial).

A crawl stopped by the trap guards' depth bound said "--max-depth N or --no-trap-guards to
go further", and the same command with either was refused: the store took them for another
crawl. They are how far to crawl, as ``--max-pages`` is: a later run with a bigger bound, or
without the guards, crawls the URLs the earlier bound stopped (their "not fetched" records
are replaced as they are fetched), and one with a smaller bound records the URLs left
pending beyond it as skipped, as a crawl with that bound from the start would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import acorral

import corral
from corral.http import open_crawler
from corral.testing import Site, SiteLayout, open_site

pytestmark = pytest.mark.corral_guard(strict=False)  # commands run in subprocesses


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=10)) as running:
        yield running


async def records(store: Path) -> list[tuple[str, str | None, int]]:
    """Return each URL's record (url, error_kind, depth), and check there is one per URL."""

    def read() -> list[tuple[str, str | None, int]]:
        with sqlite3.connect(store) as conn:
            rows = conn.execute("select url, error_kind, depth from results order by url")
            return [(url, kind or None, depth) for url, kind, depth in rows]

    rows = await corral.to_thread(read)
    assert len({url for url, _, _ in rows}) == len(rows)
    return rows


async def test_the_advised_max_depth_goes_further(site: Site, tmp_path: Path) -> None:
    """The summary's advice works: the same command with ``--max-depth 25`` crawls on from
    the months the default bound stopped, and the store ends as one run with that bound."""
    seed = site.url("/calendar/2026/11")
    first = await acorral("crawl", seed, "-o", str(tmp_path / "c.db"), "--no-progress")
    assert first.returncode == 0, first.stderr
    assert "(run the same command with --max-depth N" in first.stderr
    again = await acorral(
        "crawl", seed, "-o", str(tmp_path / "c.db"), "--no-progress", "--max-depth", "25"
    )
    assert again.returncode == 0, again.stderr
    assert "max_depth 2" in again.stderr  # this run's skips: the months 26 links away
    whole = await acorral(
        "crawl", seed, "-o", str(tmp_path / "w.db"), "--no-progress", "--max-depth", "25"
    )
    assert whole.returncode == 0, whole.stderr
    got = await records(tmp_path / "c.db")
    assert got == await records(tmp_path / "w.db")
    assert max(depth for _, kind, depth in got if kind is None) == 25


async def test_no_trap_guards_follows_what_the_guards_stopped(site: Site, tmp_path: Path) -> None:
    """The repeated segment the guards stopped is crawled by a run with ``--no-trap-guards``
    (bounded here by ``--max-depth 5``)."""
    seed, store = site.url("/repeat/"), str(tmp_path / "c.db")
    assert (await acorral("crawl", seed, "-o", store, "-q")).returncode == 0
    first = {(kind, depth) for _, kind, depth in await records(Path(store))}
    assert ("repeated_segment", 3) in first
    again = await acorral("crawl", seed, "-o", store, "-q", "--no-trap-guards", "--max-depth", "5")
    assert again.returncode == 0, again.stderr
    got = await records(Path(store))
    assert [depth for _, kind, depth in got if kind is None] == [0, 1, 2, 3, 4, 5]
    assert [kind for _, kind, _ in got if kind is not None] == ["max_depth"]


def _as_before(store: Path) -> None:
    """Make ``store`` as a corral before this change left it: the bounds in the crawl's
    identity, no loosest bounds kept."""
    with sqlite3.connect(store) as conn:
        (text,) = conn.execute("select value from meta where name = 'job_identity'").fetchone()
        job = {**json.loads(text), "--max-depth": 30, "--no-trap-guards": False}
        conn.execute("update meta set value = ? where name = 'job_identity'", (json.dumps(job),))
        conn.execute("delete from meta where name = 'loosest_bounds'")
    conn.close()


@pytest.mark.parametrize("before", [False, True], ids=["store", "store-from-before"])
async def test_a_smaller_bound_skips_the_urls_pending_beyond_it(
    site: Site, tmp_path: Path, before: bool
) -> None:
    """A crawl interrupted with URLs pending, resumed with a smaller ``max_depth``: those
    beyond it get their ``max_depth`` record instead of being fetched (a store from before
    the bounds could change too: its crawl's identity has them)."""
    store, seed = tmp_path / "c.db", site.url("/calendar/2026/11")
    crawler = open_crawler(store=store, max_depth=30)
    async with asyncio.timeout(60), crawler, contextlib.aclosing(crawler.crawl([seed])) as pages:
        async for page in pages:
            if page.depth == 5:
                break  # interrupted: months 6 and more links away pending or not found yet
    if before:
        await corral.to_thread(_as_before, store)
    async with asyncio.timeout(60), open_crawler(store=store, max_depth=3) as crawler:
        depths = [page.depth async for page in crawler.crawl([seed])]
        skipped = crawler.statistics().by_skip
    assert all(depth <= 3 for depth in depths)
    pending_then = [depth for _, kind, depth in await records(store) if kind == "max_depth"]
    assert pending_then
    assert all(depth > 3 for depth in pending_then)
    assert skipped["max_depth"] == len(pending_then)
