"""Crawl trap guards, on by default (issue 13, item 5).

A crawl with no limits used to run forever on the test site's calendar (every month links
to the next). The guards: a default bound of 20 links from a seed (Heritrix's max-hops),
and no URL whose path repeats a segment, or a run of two or three, three times in a row
(Heritrix's PathologicalPathDecideRule, Nutch's default loop filter). Each URL they stop is
recorded with its reason; ``trap_guards=False`` (``--no-trap-guards``) lifts them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import corral
from corral.http import Page, open_crawler
from corral.http.web._rules import CrawlRules
from corral.testing import Site, SiteLayout, open_site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=40, chain_length=8, orphans=3)) as running:
        yield running


async def crawl(seeds: list[str], store: Path, **options: Any) -> list[Page]:
    async with asyncio.timeout(60), open_crawler(store=store, **options) as crawler:
        return [page async for page in crawler.crawl(seeds)]


async def skips(store: Path) -> dict[str, tuple[str, int]]:
    """Map each URL recorded as not fetched to (reason, depth), read in a thread."""

    def read() -> dict[str, tuple[str, int]]:
        with sqlite3.connect(store) as conn:
            rows = conn.execute("select url, error_kind, depth from results where status is null")
            return {url: (kind, depth) for url, kind, depth in rows}

    return await corral.to_thread(read)


async def test_a_crawl_with_no_limits_ends_on_the_calendar_trap(site: Site, tmp_path: Path) -> None:
    """From /, with no max_depth and no max_pages, the endless calendar stops at 20 links.

    The months 20 links from the seed are fetched; the next ones are recorded as max_depth.
    """
    pages = await crawl([site.url("/")], tmp_path / "c.db")
    calendar = [p for p in pages if "/calendar/" in p.url]
    assert max(p.depth for p in calendar) == 20
    assert len(calendar) == 39  # 2026/11 at depth 1, then 19 months each way
    skipped = await skips(tmp_path / "c.db")
    assert skipped[site.url("/calendar/2028/7")] == ("max_depth", 21)
    assert skipped[site.url("/calendar/2025/3")] == ("max_depth", 21)


async def test_an_explicit_max_depth_replaces_the_default(site: Site, tmp_path: Path) -> None:
    """max_depth=30 goes past the default 20, guards on."""
    pages = await crawl([site.url("/calendar/2026/11")], tmp_path / "c.db", max_depth=30)
    assert max(p.depth for p in pages) == 30


async def test_trap_guards_can_be_lifted(site: Site, tmp_path: Path) -> None:
    """trap_guards=False: no default depth bound (max_pages still ends the crawl)."""
    pages = await crawl(
        [site.url("/calendar/2026/11")], tmp_path / "c.db", trap_guards=False, max_pages=80
    )
    assert max(p.depth for p in pages) > 20


async def test_a_repeated_path_segment_is_recorded_and_not_fetched(
    site: Site, tmp_path: Path
) -> None:
    """/repeat/ links to again/ below itself, forever: the third again/ in a row is skipped."""
    pages = await crawl([site.url("/repeat/")], tmp_path / "c.db")
    assert [p.url for p in pages] == [
        site.url("/repeat/"),
        site.url("/repeat/again/"),
        site.url("/repeat/again/again/"),
    ]
    skipped = await skips(tmp_path / "c.db")
    assert skipped[site.url("/repeat/again/again/again/")] == ("repeated_segment", 3)


async def test_without_guards_the_repeated_segment_is_followed(site: Site, tmp_path: Path) -> None:
    """trap_guards=False follows /repeat/again/again/again/ (max_depth bounds it here)."""
    pages = await crawl([site.url("/repeat/")], tmp_path / "c.db", trap_guards=False, max_depth=5)
    assert len(pages) == 6


@pytest.mark.parametrize(
    ("path", "trapped"),
    [
        pytest.param("/a/a/a/", True, id="one-segment-thrice"),
        pytest.param("/x/a/a/a", True, id="at-the-end"),
        pytest.param("/x/a/b/a/b/a/b/page.html", True, id="a-pair-thrice"),
        pytest.param("/a/b/c/a/b/c/a/b/c/", True, id="a-triple-thrice"),
        pytest.param("/a/a/b/", False, id="twice-only"),
        pytest.param("/a/b/a/c/a/", False, id="not-in-a-row"),
        pytest.param("/2026/01/01/", False, id="a-date"),
        pytest.param("/ab/b/b/", False, id="part-of-a-segment"),
        pytest.param("/page?a/a/a/", False, id="in-the-query"),
    ],
)
def test_the_repeated_segment_rule(path: str, trapped: bool) -> None:
    """Three repeats in a row of one, two or three whole segments, in the path only."""
    scope = CrawlRules(seeds=("http://h/",))
    url = f"http://h{path}"
    expected = "repeated_segment" if trapped else None
    assert scope.allows(url, depth=1).reason == expected
    assert scope.allows_normal(url, "h", depth=1).reason == expected
    assert CrawlRules(seeds=("http://h/",), traps=False).allows(url, depth=1).reason is None
