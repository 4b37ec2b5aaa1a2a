"""The crawler against corral.testing's crawl site: scope, robots, sitemaps, traps, items."""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import corral
from corral.http import Page, Parsed, open_crawler
from corral.testing import RobotsPolicy, Site, SiteLayout, open_site

SMALL = SiteLayout(pages=40, chain_length=8, orphans=3)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SMALL, log_size=100_000) as running:
        yield running


async def crawl(seeds: list[str], store: Path, **options: Any) -> list[Page]:
    options.setdefault("per_host", 8)
    async with open_crawler(store=store, **options) as crawler:
        return [page async for page in crawler.crawl(seeds)]


async def records(store: Path) -> dict[str, tuple[Any, ...]]:
    """Map each recorded URL to (status, error_kind, depth, found_on), read in a thread."""

    def read() -> dict[str, tuple[Any, ...]]:
        with sqlite3.connect(store) as conn:
            rows = conn.execute("select url, status, error_kind, depth, found_on from results")
            return {url: tuple(rest) for url, *rest in rows}

    return await corral.to_thread(read)


async def count_rows(store: Path, table: str) -> int:
    """Count a store's rows, in a thread."""

    def read() -> int:
        with sqlite3.connect(store) as conn:
            return int(conn.execute(f"select count(*) from {table}").fetchone()[0])

    return await corral.to_thread(read)


def requested(site: Site) -> list[str]:
    return [r.target for r in site.statistics().recent]


async def test_crawls_the_host_and_records_every_url_once(site: Site, tmp_path: Path) -> None:
    """From /, every generated page is fetched once and every URL met has one record."""
    store = tmp_path / "crawl.db"
    pages = await crawl([site.url("/")], store, max_depth=12)
    fetched = [p.url for p in pages]
    assert len(fetched) == len(set(fetched))
    for i in range(SMALL.pages):
        assert site.url(f"/site/{i}.html") in fetched
    seen = requested(site)
    assert len(seen) == len(set(seen))  # nothing requested twice
    got = await records(store)
    assert all(got[url][1] is None for url in fetched)
    assert got[site.url("/site/0.html")][2:] == (1, site.url("/"))


async def test_other_hosts_are_out_of_scope_by_default(site: Site, tmp_path: Path) -> None:
    """Links to the other host are recorded as out_of_scope and never requested."""
    store = tmp_path / "crawl.db"
    await crawl([site.url("/")], store, max_depth=3)
    got = await records(store)
    other = [url for url in got if url.startswith(site.other_base_url)]
    assert other
    assert all(got[url][1] == "out_of_scope" for url in other)


async def test_prefix_scope_and_patterns(site: Site, tmp_path: Path) -> None:
    """--scope prefix keeps to the seed's path; exclude drops matches; include keeps matches."""
    store = tmp_path / "crawl.db"
    pages = await crawl(
        [site.url("/site/0.html")],
        store,
        scope="prefix",
        exclude=[r"/site/1\d\.html$"],
        max_depth=20,
    )
    fetched = {p.url for p in pages}
    assert fetched  # the seed itself is under its own prefix
    assert all("/site/0.html" in url for url in fetched)
    store2 = tmp_path / "crawl2.db"
    pages = await crawl(
        [site.url("/site/0.html")], store2, include=[r"/site/\d\.html$"], exclude=[r"/site/7"]
    )
    fetched = {p.url.removeprefix(site.base_url) for p in pages}
    assert fetched <= {f"/site/{i}.html" for i in range(10)} - {"/site/7.html"}
    got = await records(store2)
    assert got[site.url("/site/7.html")][1] == "excluded"
    assert got[site.url("/site/10.html")][1] == "not_included"


async def test_robots_disallow_is_obeyed_and_recorded(site: Site, tmp_path: Path) -> None:
    """/private/ is disallowed (but for one page): never requested, recorded as robots."""
    store = tmp_path / "crawl.db"
    await crawl([site.url("/")], store, max_depth=2)
    got = await records(store)
    assert got[site.url("/private/secret.html")][1] == "robots"
    assert got[site.url("/private/public.html")][0] == 200
    assert "/private/secret.html" not in requested(site)
    assert requested(site)[0] == "/robots.txt"


async def test_ignore_robots(site: Site, tmp_path: Path) -> None:
    """With obey_robots=False, disallowed pages are fetched and robots.txt is not read."""
    store = tmp_path / "crawl.db"
    await crawl([site.url("/")], store, max_depth=2, obey_robots=False)
    assert "/private/secret.html" in requested(site)
    assert "/robots.txt" not in requested(site)


class JumpClock:
    """A politeness clock that jumps ahead when a sleep on it runs its course."""

    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        target = self.t + max(seconds, 0.0)
        await asyncio.sleep(0)  # a sleep cancelled now (a slot came free) moves no time
        self.t = max(self.t, target)  # noqa: COR107 - max() keeps the later of both


async def test_crawl_delay_spaces_requests_on_the_injected_clock(tmp_path: Path) -> None:
    """Crawl-delay: 3 puts exactly 3 s of (injected) time between starts on the host."""
    clock = JumpClock()
    starts: list[float] = []
    async with (
        open_site(layout=SMALL, robots=RobotsPolicy(crawl_delay=3)) as slow_site,
        open_crawler(store=tmp_path / "c.db", clock=clock, max_pages=6) as crawler,
    ):
        politeness = crawler._core.runtime.politeness
        start = politeness.start

        def record(state: Any, now: float) -> None:
            starts.append(now)
            start(state, now)

        politeness.start = record  # type: ignore[method-assign]
        pages = [page async for page in crawler.crawl([slow_site.url("/")])]
    assert len(pages) == 6
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(starts)]
    assert gaps == [3.0] * 5


async def test_sitemaps_find_orphan_pages(site: Site, tmp_path: Path) -> None:
    """With sitemaps=True, pages only the (gzipped) sitemap lists are crawled too."""
    store = tmp_path / "crawl.db"
    pages = await crawl([site.url("/")], store, sitemaps=True, max_depth=1)
    fetched = {p.url for p in pages}
    for i in range(SMALL.orphans):
        assert site.url(f"/orphan/{i}.html") in fetched


async def test_nofollow_links_are_not_followed(site: Site, tmp_path: Path) -> None:
    """rel=nofollow targets are recorded as nofollow and never requested."""
    store = tmp_path / "crawl.db"
    await crawl([site.url("/links/nofollow.html")], store, scope="prefix")
    got = await records(store)
    assert got[site.url("/links/nofollowed.html")][1] == "nofollow"
    assert got[site.url("/links/nofollowed-2.html")][1] == "nofollow"
    assert "/links/nofollowed.html" not in requested(site)


async def test_canonical_duplicates_follow_only_their_canonical(site: Site, tmp_path: Path) -> None:
    """A duplicate page leads only to its canonical; the original is fetched once."""
    store = tmp_path / "crawl.db"
    pages = await crawl([site.url("/dup/copy.html"), site.url("/dup/copy-2.html")], store)
    by_url = {p.url: p for p in pages}
    assert by_url[site.url("/dup/copy.html")].links == (site.url("/dup/original.html"),)
    assert requested(site).count("/dup/original.html") == 1


async def test_depth_limit_and_the_calendar_trap(site: Site, tmp_path: Path) -> None:
    """The endless calendar stops at max_depth; the next step is recorded as max_depth."""
    store = tmp_path / "crawl.db"
    seed = site.url("/calendar/2026/11")
    pages = await crawl([seed], store, max_depth=5)
    assert max(p.depth for p in pages) == 5
    got = await records(store)
    assert any(kind == "max_depth" for _, kind, _, _ in got.values())


async def test_max_pages_stops_the_trap_and_records_the_rest(site: Site, tmp_path: Path) -> None:
    """max_pages bounds an endless crawl; URLs left are recorded as max_pages."""
    store = tmp_path / "crawl.db"
    pages = await crawl([site.url("/calendar/2026/11")], store, max_pages=25)
    assert len(pages) == 25
    got = await records(store)
    assert any(kind == "max_pages" for _, kind, _, _ in got.values())


async def test_parse_callback_items_and_links(site: Site, tmp_path: Path) -> None:
    """A sync callback runs off the loop; its items land in the items table."""
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def parse(page: Page) -> Parsed:
        threads.add(threading.get_ident())
        title = page.text().split("<title>", 1)[-1].split("</title>", 1)[0]
        return Parsed(items=[{"url": page.url, "title": title}], links=page.links[:1])

    store = tmp_path / "crawl.db"
    async with open_crawler(store=store, parse=parse, max_pages=5) as crawler:
        pages = [p async for p in crawler.crawl([site.url("/site/0.html")])]
    assert loop_thread not in threads
    assert all(len(p.items) == 1 for p in pages)
    assert await count_rows(store, "items") == len(pages)


async def test_async_callback(site: Site, tmp_path: Path) -> None:
    """An async callback is awaited; returning plain dicts means items."""

    async def parse(page: Page) -> list[dict[str, object]]:
        await asyncio.sleep(0)
        return [{"depth": page.depth}]

    async with open_crawler(store=tmp_path / "c.db", parse=parse, max_pages=3) as crawler:
        pages = [p async for p in crawler.crawl([site.url("/")])]
    assert next(p.items for p in pages) == ({"depth": 0},)


async def test_frontier_bound_parks_bodies_and_crawls_everything(
    site: Site, tmp_path: Path
) -> None:
    """With a tiny frontier bound, link extraction pauses but no page or link is lost."""
    store = tmp_path / "crawl.db"
    pages = await crawl([site.url("/site/0.html")], store, frontier_bound=3, scope="prefix")
    unbounded = await crawl([site.url("/site/0.html")], tmp_path / "free.db", scope="prefix")
    assert {p.url for p in pages} == {p.url for p in unbounded}
    assert await count_rows(store, "parked") == 0


async def test_a_tiny_frontier_bound_loses_no_item_of_the_parse_callback(
    site: Site, tmp_path: Path
) -> None:
    """A frontier bound that would park bodies, and a parse callback: every page fetched
    gets its item (parked pages were parsed for links only, later: their items were lost,
    472 of 1,728 in a trial)."""

    def parse(page: Page) -> list[dict[str, object]]:
        return [{"url": page.url}]

    store = tmp_path / "crawl.db"
    async with open_crawler(store=store, parse=parse, frontier_bound=3) as crawler:
        pages = [p async for p in crawler.crawl([site.url("/site/0.html")])]
    html = [p for p in pages if p.result.ok and "html" in (p.result.content_type or "")]
    assert len(html) > 100
    assert await count_rows(store, "items") == len(html)


async def test_running_again_resumes_without_refetching(site: Site, tmp_path: Path) -> None:
    """The same crawl again finds everything recorded and fetches nothing."""
    store = tmp_path / "crawl.db"
    await crawl([site.url("/")], store, max_depth=3)
    before = len(requested(site))
    again = await crawl([site.url("/")], store, max_depth=3)
    assert again == []
    assert len(requested(site)) == before


def test_recent_set_remembers_recent_strings_and_forgets_old_ones() -> None:
    from corral.http.crawler._recent import RecentSet

    recent = RecentSet(4)  # two generations of two
    assert recent.seen("a") is False
    assert recent.seen("b") is False  # the newer generation is full: {a, b} becomes the older
    assert recent.seen("a") is True  # found in the older, brought forward
    assert recent.seen("c") is False  # newer {a, c} becomes the older; {a, b} is dropped
    assert recent.seen("b") is False  # forgotten with its generation
    assert recent.seen("a") is True
    assert len(recent) <= 4


async def test_a_crawler_used_outside_async_with_says_so() -> None:
    """``open_crawler()`` without ``async with``: a ``RuntimeError`` naming the fix, as the
    fetcher gives (it was a bare ``AssertionError``)."""
    crawler = open_crawler()
    with pytest.raises(RuntimeError, match="inside 'async with open_crawler"):
        await crawler.run(["http://127.0.0.1:9/"])


async def test_open_crawler_refuses_a_file_that_is_not_a_corral_store(tmp_path: Path) -> None:
    """``open_crawler(store=...)`` refuses another program's SQLite database and a user's
    file, as ``corral crawl -o`` does, and leaves each byte for byte (it added corral's
    tables to the database and crawled into it)."""
    from corral.http import StoreError

    database, text = tmp_path / "notes.db", tmp_path / "notes.txt"
    await asyncio.to_thread(_someone_elses_files, database, text)
    for path, says in ((database, "not made by corral (its tables: notes)"), (text, "not SQLite")):
        before = await asyncio.to_thread(_digest, path)
        with pytest.raises(StoreError, match=re.escape(says)):
            async with open_crawler(store=path):
                pass
        assert await asyncio.to_thread(_digest, path) == before


def _someone_elses_files(database: Path, text: Path) -> None:
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    text.write_text("keep me too\n")


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
