"""``corral crawl --refresh`` against a real nginx: every recorded page is crawled again with
its validators, and a page that answers 304 keeps its subtree (elastic/crawler#221 dropped
the pages under a 304)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from corral_cli import run_corral
from nginx_server import NginxServer

import corral
import corral.http
from corral.http import Page, Refresh

_PAGES = {
    "index.html": ["a.html", "b.html"],
    "a.html": ["c.html"],
    "b.html": [],
    "c.html": [],
}


def _page(links: list[str]) -> str:
    anchors = "".join(f'<a href="/{link}">{link}</a>' for link in links)
    return f"<html><body>{anchors}</body></html>"


def _pages(store: Path) -> dict[str, str | None]:
    conn = sqlite3.connect(store)
    try:
        rows = conn.execute("SELECT url, change FROM results WHERE attempts > 0").fetchall()
    finally:
        conn.close()
    return {url.rsplit("/", 1)[1]: change for url, change in rows}


def test_a_304_page_keeps_its_subtree_and_new_links_are_found(
    nginx: NginxServer, tmp_path: Path
) -> None:
    """A refresh of an unchanged site: every page is ``not_modified``, none dropped (the
    pages under a 304 come again from the frontier). Then the seed gains a link: it is
    ``changed``, the new page ``new``, the rest ``not_modified``, and a page gone (404)
    counted as failed in the summary's ``refreshed`` line, which adds up."""
    for name, links in _PAGES.items():
        (nginx.root / name).write_text(_page(links))
    store = tmp_path / "crawl.db"
    seed = nginx.url("index.html")
    first = run_corral("crawl", seed, "-o", str(store), "-q")
    assert first.returncode == 0, first.stderr
    assert set(_pages(store)) == set(_PAGES)

    again = run_corral("crawl", seed, "-o", str(store), "--refresh", "--no-progress")

    assert again.returncode == 0, again.stderr
    assert _pages(store) == dict.fromkeys(_PAGES, "not_modified")
    assert "not_modified 4" in again.stderr, again.stderr

    index = nginx.root / "index.html"
    index.write_text(_page(["a.html", "b.html", "d.html"]))
    stat = index.stat()
    os.utime(index, (stat.st_atime + 60, stat.st_mtime + 60))
    (nginx.root / "d.html").write_text(_page([]))
    (nginx.root / "c.html").unlink()
    third = run_corral("crawl", seed, "-o", str(store), "--refresh", "--no-progress")

    assert third.returncode == 0, third.stderr
    assert _pages(store) == {
        "index.html": "changed",
        "a.html": "not_modified",
        "b.html": "not_modified",
        "c.html": None,  # now 404: no body, no change
        "d.html": "new",  # found by this run: no earlier record
    }
    # the refreshed figure is the pages fetched again, its breakdown adds up to it (the
    # page gone counted as failed), and the page new to the store is not one of them
    line = next(line for line in third.stderr.splitlines() if "refreshed" in line)
    assert line.split() == [
        *("refreshed", "4", "(fetched", "again:", "not_modified", "2,", "changed", "1,"),
        *("failed", "1;", "1", "new", "to", "the", "store", "besides)"),
    ], line


def _title(page: Page) -> list[dict[str, str]]:
    return [{"page": page.url.rsplit("/", 1)[1], "text": (page.body or b"").decode()[:40]}]


async def _crawl(store: Path, seed: str, refresh: Refresh | None) -> None:
    async with corral.http.open_crawler(store=store, parse=_title, refresh=refresh) as crawler:
        await crawler.run([seed])


def test_items_of_a_changed_page_replace_the_earlier_ones(
    nginx: NginxServer, tmp_path: Path
) -> None:
    """Through the Python API (``refresh=Refresh()``): a page that changed is parsed again and
    its new items replace the earlier ones (``replaced_in``); a 304 page is not parsed and
    its earlier items stay its latest; ``corral export`` writes the latest items, and every
    item with ``--all-runs``."""
    for name, links in _PAGES.items():
        (nginx.root / name).write_text(_page(links))
    store = tmp_path / "crawl.db"
    seed = nginx.url("index.html")
    corral.run_sync(lambda: _crawl(store, seed, None))
    page_b = nginx.root / "b.html"
    page_b.write_text(_page([]) + "<!-- v2 -->")
    stat = page_b.stat()
    os.utime(page_b, (stat.st_atime + 60, stat.st_mtime + 60))

    corral.run_sync(lambda: _crawl(store, seed, Refresh()))

    conn = sqlite3.connect(store)
    try:
        rows = conn.execute("SELECT url, run, replaced_in FROM items ORDER BY id").fetchall()
    finally:
        conn.close()
    by_page = [(str(url).rsplit("/", 1)[1], run, replaced) for url, run, replaced in rows]
    assert sorted(by_page) == sorted(
        [
            *((name, 1, None) for name in _PAGES if name != "b.html"),
            ("b.html", 1, 2),
            ("b.html", 2, None),
        ]
    )
    latest = run_corral("export", str(store), "--table", "items")
    assert latest.returncode == 0, latest.stderr
    texts = [json.loads(line)["data"] for line in latest.stdout.splitlines()]
    assert len(texts) == 4
    assert [t["text"] for t in texts if t["page"] == "b.html"] == [(_page([]) + "<!-- v2 -->")[:40]]
    every = run_corral("export", str(store), "--table", "items", "--all-runs")
    assert len(every.stdout.splitlines()) == 5


def test_a_refresh_cut_short_is_finished_by_the_next_run(
    nginx: NginxServer, tmp_path: Path
) -> None:
    """A refresh that stopped with pages queued again (made here as a killed refresh leaves
    the store: every page pending, ``requeued`` noted) is finished by the plain command:
    the pages still carry their validators (304s), and their records move to history
    instead of colliding with the earlier ones. ``--max-pages`` in a refresh leaves the
    pages it did not reach with their earlier records."""
    for name, links in _PAGES.items():
        (nginx.root / name).write_text(_page(links))
    store = tmp_path / "crawl.db"
    seed = nginx.url("index.html")
    assert run_corral("crawl", seed, "-o", str(store), "-q").returncode == 0
    limited = run_corral("crawl", seed, "-o", str(store), "-q", "--refresh", "--max-pages", "1")
    assert limited.returncode == 0, limited.stderr
    assert sorted(_pages(store).values(), key=str) == [None, None, None, "not_modified"]

    conn = sqlite3.connect(store)
    with conn:
        conn.execute("UPDATE urls SET state = 0")
        conn.execute("INSERT INTO meta (name, value) VALUES ('requeued', '1')")
        conn.execute("UPDATE runs SET status = 'killed'")
    conn.close()
    before = len(nginx.log_lines())
    resumed = run_corral("crawl", seed, "-o", str(store), "--no-progress")

    assert resumed.returncode == 0, resumed.stderr
    line = next(line for line in resumed.stderr.splitlines() if "refreshed" in line)
    assert line.split() == ["refreshed", "4", "(fetched", "again:", "not_modified", "4)"], line
    with sqlite3.connect(store) as conn:
        (summary,) = conn.execute("SELECT summary FROM runs ORDER BY id DESC").fetchone()
    assert json.loads(summary)["refreshed"] == 4  # the run's record says what it printed
    assert {status for uri, status, _, _ in nginx.log_lines()[before:] if uri != "/robots.txt"} == {
        304
    }
    assert _pages(store) == dict.fromkeys(_PAGES, "not_modified")
