"""A parse callback that raises gives its page an outcome; the crawl goes on (issue 13, item 6).

It used to end the crawl (a 78-line traceback, exit 1, and a summary advising a resume that
failed again). Now the page is recorded with ``error_kind`` ``parse_error`` (its status
stays), the error names the exception and the callback's file:line, the page's links are
followed as if there were no callback, and the summary counts such pages and shows the first
traceback once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import corral
from corral.http import Page, open_crawler
from corral.testing import Site, SiteLayout, open_site

LAYOUT = SiteLayout(pages=20)
FAILING = {"/site/3.html", "/site/7.html"}


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=LAYOUT) as running:
        yield running


def price(page: Page) -> list[dict[str, Any]]:
    """A callback with a bug: pages 3 and 7 have no price."""
    prices = {} if page.url.endswith(("/site/3.html", "/site/7.html")) else {page.url: 1.0}
    return [{"url": page.url, "price": prices[page.url]}]  # KeyError on pages 3 and 7


async def aprice(page: Page) -> list[dict[str, Any]]:
    """The same bug in an async callback."""
    prices = {} if page.url.endswith(("/site/3.html", "/site/7.html")) else {page.url: 1.0}
    return [{"url": page.url, "price": prices[page.url]}]  # KeyError on pages 3 and 7


def where(callback: Any) -> str:
    """Return "name at file:line" of the line that raises in ``callback``."""
    code = callback.__code__
    return f"{code.co_name} at {os.path.relpath(code.co_filename)}:{code.co_firstlineno + 3}"


async def crawl(site: Site, store: Path, parse: Any) -> list[Page]:
    async with asyncio.timeout(60), open_crawler(store=store, parse=parse) as crawler:
        pages = [page async for page in crawler.crawl([site.url("/site/0.html")])]
        assert crawler.statistics().by_error.get("parse_error") == len(FAILING)
    return pages


async def stored(store: Path) -> dict[str, tuple[Any, ...]]:
    def read() -> dict[str, tuple[Any, ...]]:
        with sqlite3.connect(store) as conn:
            rows = conn.execute("select url, status, ok, error_kind, error from results")
            return {url: tuple(rest) for url, *rest in rows}

    return await corral.to_thread(read)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_raising_callback_gives_its_page_parse_error_and_the_crawl_goes_on(
    site: Site, tmp_path: Path, kind: str
) -> None:
    """Pages 3 and 7 fail in the callback; every page of the site is still crawled."""
    store = tmp_path / "c.db"
    callback = price if kind == "sync" else aprice
    pages = await crawl(site, store, callback)
    by_path = {p.url.removeprefix(site.base_url): p for p in pages}
    assert {f"/site/{i}.html" for i in range(LAYOUT.pages)} <= set(by_path)
    for path in FAILING:
        page = by_path[path]
        assert page.result.error_kind == "parse_error"
        assert page.result.error == f"KeyError: {page.url!r} (in {where(callback)})"
        assert page.items == ()
        assert page.links  # followed as if there were no callback
    assert all(len(by_path[f"/site/{i}.html"].items) == 1 for i in (0, 1, 2, 4))
    rows = await stored(store)
    assert rows[site.url("/site/3.html")][:3] == (200, 0, "parse_error")
    assert rows[site.url("/site/4.html")][:3] == (200, 1, None)


async def test_a_callback_returning_the_wrong_type_is_a_parse_error(
    site: Site, tmp_path: Path
) -> None:
    """Returning a number (not items, Parsed or None) is the callback's error, not the crawl's."""

    def number(page: Page) -> Any:  # (typed Any: the point is a wrong return at run time)
        return 3

    async with open_crawler(store=tmp_path / "c.db", parse=number, max_pages=2) as crawler:
        pages = [page async for page in crawler.crawl([site.url("/site/0.html")])]
    assert pages[0].result.error_kind == "parse_error"
    assert (pages[0].result.error or "").startswith(
        "TypeError: a parse callback returns Parsed, items or None, not int (in number at "
    )


PARSER = """\
def price(page):
    prices = {}
    if page.url.endswith(("/site/3.html", "/site/7.html")):
        return [{"price": prices[page.url]}]
    return [{"price": 1}]
"""


def run_corral(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


@pytest.mark.corral_guard(strict=False)  # the command runs in a subprocess, waited in a thread
@pytest.mark.parametrize("fail_on_error", [False, True])
async def test_the_command_counts_parse_errors_and_shows_the_first_traceback_once(
    site: Site, tmp_path: Path, fail_on_error: bool
) -> None:
    """`corral crawl --parse mod:fn` ends 0 (1 with --fail-on-error) with a parse error count."""
    await corral.to_thread((tmp_path / "shop.py").write_text, PARSER)
    args = ["crawl", site.url("/site/0.html"), "-o", "c.db", "--parse", "shop:price"]
    args += ["--no-progress", *(["--fail-on-error"] if fail_on_error else [])]
    run = await corral.to_thread(run_corral, tmp_path, *args)
    assert run.returncode == (1 if fail_on_error else 0), run.stderr
    assert "parse errors 2" in run.stderr
    assert run.stderr.count("Traceback (most recent call last)") == 1
    assert 'shop.py", line 4, in price' in run.stderr
    assert "KeyError" in run.stderr
    assert "To resume" not in run.stderr


@pytest.mark.corral_guard(strict=False)  # the command runs in a subprocess, waited in a thread
async def test_system_exit_in_a_callback_is_that_pages_parse_error(
    site: Site, tmp_path: Path
) -> None:
    """``raise SystemExit`` in a callback ended the crawl (exit 4, "Task exception was never
    retrieved"): it is the page's parse error, the crawl goes on, exit 0."""
    text = (
        "def price(page):\n    if page.url.endswith('/site/3.html'):\n        raise SystemExit(4)\n"
    )
    await corral.to_thread((tmp_path / "shop.py").write_text, text)
    args = ["crawl", site.url("/site/0.html"), "-o", "c.db", "--parse", "shop:price"]
    run = await corral.to_thread(run_corral, tmp_path, *args, "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "parse errors 1" in run.stderr
    assert "never retrieved" not in run.stderr
    rows = await stored(tmp_path / "c.db")
    assert rows[site.url("/site/3.html")][2:] == (
        "parse_error",
        "SystemExit: 4 (in price at shop.py:3)",
    )
    assert len(rows) > LAYOUT.pages


async def test_an_item_with_nan_is_a_parse_error_naming_the_field(
    site: Site, tmp_path: Path
) -> None:
    """NaN or infinity in an item is not JSON: the page's outcome is ``parse_error`` naming the
    item and field, and the store holds only valid JSON (it once stored a bare ``NaN``)."""

    def ratio(page: Page) -> list[dict[str, Any]]:
        bad = page.url.endswith("/site/1.html")
        return [{"url": page.url, "scores": {"ratio": float("nan") if bad else 0.5}}]

    store = tmp_path / "c.db"
    async with open_crawler(store=store, parse=ratio, max_pages=3) as crawler:
        pages = [page async for page in crawler.crawl([site.url("/site/0.html")])]
    bad = next(page for page in pages if page.url.endswith("/site/1.html"))
    assert bad.result.error_kind == "parse_error"
    assert (bad.result.error or "").startswith(
        "ValueError: item 0: scores.ratio is NaN, not JSON (store null or skip it) (in ratio at "
    )
    assert bad.items == ()

    def read() -> list[str]:
        with sqlite3.connect(store) as conn:
            return [row[0] for row in conn.execute("select data from items")]

    data = await corral.to_thread(read)
    assert len(data) == 2
    assert all(json.loads(text, parse_constant=_reject) for text in data)


def _reject(name: str) -> None:
    raise AssertionError(f"invalid JSON constant {name} in the store")


async def test_a_callback_that_does_not_return_is_named_with_its_page(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A callback blocked on a page (a lock, a socket with no timeout) stalled the crawl
    without a word: after ``STALL_AFTER`` seconds one line names the callback and the URL.
    (Here the line itself lets the callback go on.)"""
    from corral.http.crawler import _pages

    release = threading.Event()
    said = _pages.notice

    def notice(line: str) -> None:
        said(line)
        release.set()

    monkeypatch.setattr(_pages, "STALL_AFTER", 0.05)
    monkeypatch.setattr(_pages, "notice", notice)
    stuck = site.url("/site/3.html")

    def blocking(page: Page) -> list[dict[str, Any]]:
        if page.url == stuck:
            assert release.wait(30)  # (blocked until the line is printed)
        return [{"url": page.url}]

    async with asyncio.timeout(60), open_crawler(store=tmp_path / "c.db", parse=blocking) as c:
        await c.run([site.url("/site/0.html")])
    err = capsys.readouterr().err
    name = (
        f"{__name__}:test_a_callback_that_does_not_return_is_named_with_its_page.<locals>.blocking"
    )
    assert err == (
        f"corral: the parse callback {name} has not returned after 0.05 s on {stuck}; the crawl "
        "cannot end until it does (a call blocked without a timeout?)\n"
    )
