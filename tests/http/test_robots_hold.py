"""A robots.txt that does not answer holds its host back; it never records the host's URLs as
refused by robots.txt.

A crawl behind a dead proxy recorded its seed as ``robots`` ("robots.txt unreachable"),
exited 0, and a resume had nothing left to do. Now (RFC 9309 2.3.1.4 read as Google does):
5xx, 429 or no answer keeps the host's URLs pending, robots.txt is read again after a
backoff, and after the last try the host is held back for the run: the summary names it and
the cause, the command exits 1, and the same command crawls it once robots.txt answers. 4xx
still allows everything.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from corral_cli import acorral

import corral
from corral.http import open_crawler
from corral.testing import RobotsPolicy, Site, SiteLayout, open_site

DEAD_PROXY = "http://127.0.0.1:1"  # port 1: nothing listens, the connect is refused at once
QUICK = (0.01, 0.01, 0.01)  # robots_backoff: three more tries, at once


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=10)) as running:
        yield running


async def rows(store: Path) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with sqlite3.connect(store) as conn:
            results = dict(conn.execute("select url, error_kind from results").fetchall())
            urls = conn.execute("select count(*) from urls").fetchone()[0]
        return {"results": results, "urls": urls}

    return await corral.to_thread(read)


async def summaries(store: Path) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        with sqlite3.connect(store) as conn:
            found = conn.execute("select summary from runs order by id").fetchall()
        return [json.loads(text) for (text,) in found]

    return await corral.to_thread(read)


async def test_a_dead_proxy_holds_the_host_back_and_the_next_run_crawls_it(
    site: Site, tmp_path: Path
) -> None:
    """Through a dead proxy: nothing recorded, the host held back with the proxy's error
    (4 tries); the same store without the proxy then crawls the site."""
    store = tmp_path / "c.db"
    seed = site.url("/site/0.html")
    async with open_crawler(store=store, proxies=(DEAD_PROXY,), robots_backoff=QUICK) as crawler:
        await crawler.run([seed])
        held = crawler.held_back
    assert len(held) == 1
    assert held[0].host == seed.split("/")[2]
    assert (held[0].urls, held[0].tries) == (1, 4)
    assert "Cannot connect to host 127.0.0.1:1" in held[0].reason
    assert f"(through proxy {DEAD_PROXY})" in held[0].reason
    first = await rows(store)
    assert first == {"results": {}, "urls": 1}  # the seed: pending, not "robots"
    assert (await summaries(store))[-1]["held_back"] == {
        held[0].host: {"urls": 1, "tries": 4, "reason": held[0].reason}
    }  # (the run's record says why it is not complete)
    async with open_crawler(store=store, robots_backoff=QUICK) as crawler:
        await crawler.run([seed])
        assert crawler.held_back == []
    results = (await rows(store))["results"]
    assert results[seed] is None  # fetched
    assert sum(kind is None for kind in results.values()) >= 10


async def test_a_robots_txt_answering_again_within_the_run_lets_the_host_be_crawled(
    tmp_path: Path,
) -> None:
    """503 for the first two reads, then a file: the host waits, then is crawled, its
    Disallow obeyed; nothing is recorded as refused for the 503s."""
    reads = 0

    async def robots(request: web.Request) -> web.Response:
        nonlocal reads
        reads += 1
        if reads <= 2:
            return web.Response(status=503, text="busy")
        return web.Response(text="User-agent: *\nDisallow: /private\n")

    async def page(request: web.Request) -> web.Response:
        body = '<a href="/a">a</a> <a href="/private">p</a>'
        return web.Response(text=f"<html><body>{body}</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/{path:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    try:
        port = runner.addresses[0][1]
        seed = f"http://127.0.0.1:{port}/"
        store = tmp_path / "c.db"
        async with asyncio.timeout(30), open_crawler(store=store, robots_backoff=QUICK) as c:
            await c.run([seed])
            assert c.held_back == []
    finally:
        await runner.cleanup()
    assert reads == 3
    results = (await rows(store))["results"]
    assert results == {seed: None, f"{seed}a": None, f"{seed}private": "robots"}


async def test_a_robots_txt_answering_404_allows_everything(tmp_path: Path) -> None:
    """4xx is "unavailable" (RFC 9309 2.3.1.3): every page is crawled, none held."""
    async with open_site(layout=SiteLayout(pages=5), robots=RobotsPolicy(status=404)) as site:
        store = tmp_path / "c.db"
        async with open_crawler(store=store, robots_backoff=QUICK) as crawler:
            await crawler.run([site.url("/site/0.html")])
            assert crawler.held_back == []
    results = (await rows(store))["results"]
    assert results[site.url("/private/secret.html")] is None


@pytest.mark.corral_guard(strict=False)  # the command runs in a subprocess, waited in a thread
async def test_the_command_names_the_host_held_back_and_the_cause_and_exits_1(
    site: Site, tmp_path: Path
) -> None:
    """`corral crawl SITE --proxy DEAD`: exit 1, a line naming the host and the proxy's
    error, no `robots` record; the same command without the proxy crawls the site."""
    store = str(tmp_path / "c.db")
    seed = site.url("/site/0.html")
    run = await acorral("crawl", seed, "--proxy", DEAD_PROXY, "-o", store, "--no-progress")
    assert run.returncode == 1, run.stderr
    host = seed.split("/")[2]
    assert (
        "held back   1 host not crawled: robots.txt did not answer (tried 4x); 1 URL left "
        "pending: run the same command again to crawl them" in run.stderr
    )
    assert f"    {host}  1 URL: ClientProxyConnectionError: Cannot connect" in run.stderr
    assert "robots" not in (await rows(Path(store)))["results"].values()
    again = await acorral("crawl", seed, "-o", store, "--no-progress")
    assert again.returncode == 0, again.stderr
    assert (await rows(Path(store)))["results"][seed] is None


@pytest.mark.corral_guard(strict=False)  # the commands run in subprocesses, waited in a thread
async def test_the_report_shows_the_hosts_held_back_and_the_urls_left(
    site: Site, tmp_path: Path
) -> None:
    """A crawl that held a host back is not "done": the report's verdict says
    ``incomplete``, lists the host (URLs, tries, the cause), and its last sample's frontier
    counts the URL left pending (it said 0)."""
    store = tmp_path / "c.db"
    seed = site.url("/site/0.html")
    run = await acorral("crawl", seed, "--proxy", DEAD_PROXY, "-o", str(store), "-q")
    assert run.returncode == 1, run.stderr
    made = await acorral("report", str(store), "--format", "json")
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip())
    figures = json.loads(await corral.to_thread(path.read_text))
    assert figures["header"]["status"] == "incomplete"
    assert figures["header"]["pending"] == 1
    [held] = figures["held_back"]
    assert (held["host"], held["urls"], held["tries"]) == (seed.split("/")[2], 1, 4)
    assert "ClientProxyConnectionError" in held["reason"]
    assert figures["samples"]["frontier"][-1] == 1
    page = await acorral("report", str(store))
    assert page.returncode == 0, page.stderr
    html = await corral.to_thread(Path(page.stdout.strip()).read_text)
    assert 'data-figure="status" data-value="incomplete"' in html
    assert f"{seed.split('/')[2]}: 1 URL held back" in html
