"""A crawl's figures: skips are not failures, each is counted by reason, and items are counted.

The URLs a crawl records without fetching them (robots, max_pages, out_of_scope, ...) are
counted as skipped, by reason, from what the store actually recorded in this run; a robots skip
is not a failure (nor is any other). The summary also says how many items the parse callback
stored.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import corral
from corral.http import Page, Refresh, open_crawler
from corral.http.report._stats import RunCounters
from corral.http.report._summary import render_summary
from corral.testing import Site, SiteLayout, open_site

# The CLI test reads files the subprocess wrote; strict mode would call that blocking.
pytestmark = pytest.mark.corral_guard(strict=False)

SMALL = SiteLayout(pages=40, chain_length=8, orphans=3)
_FETCH_ERRORS = {"dns", "connect", "tls", "timeout", "reset", "protocol", "too_large"}


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SMALL) as running:
        yield running


def _kinds(store: Path, *, run: str = "(select max(run) from results)") -> dict[str, int]:
    """Count a run's records by error_kind ("" for successes)."""
    with sqlite3.connect(store) as conn:
        rows = conn.execute(
            f"select coalesce(error_kind, ''), count(*) from results where run = {run} group by 1"
        )
        return dict(rows.fetchall())


def _items(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return int(conn.execute("select count(*) from items").fetchone()[0])


def _two_items(page: Page) -> list[dict[str, object]]:
    return [{"url": page.url, "n": 1}, {"url": page.url, "n": 2}]


async def test_skips_are_counted_by_reason_and_never_as_failures(
    site: Site, tmp_path: Path
) -> None:
    """From /, with max_pages: robots, max_pages, nofollow and out_of_scope are skips whose
    counts are the store's; failed, done and by_error count fetched pages only; items are
    the items table's rows."""
    store = tmp_path / "c.db"
    async with open_crawler(store=store, parse=_two_items, max_pages=20) as crawler:
        await crawler.run([site.url("/")])
        stats = crawler.statistics()
    kinds = await corral.to_thread(_kinds, store)
    assert kinds["robots"] >= 1
    assert kinds["max_pages"] >= 1
    fetched = {k: n for k, n in kinds.items() if k in _FETCH_ERRORS | {"", "http_status"}}
    skipped = {k: n for k, n in kinds.items() if k not in fetched}
    assert dict(stats.by_skip) == skipped
    assert stats.done == sum(fetched.values()) == 20
    assert stats.failed == stats.done - stats.ok == sum(fetched.values()) - fetched.get("", 0)
    assert "robots" not in stats.by_error
    assert stats.items == await corral.to_thread(_items, store) > 0


async def test_a_later_run_counts_only_the_skips_it_recorded(site: Site, tmp_path: Path) -> None:
    """A second run on the same store meets links the first already recorded as skipped
    (a refresh parses the page again): they are not counted again (the store ignored them),
    so its counts are its own records. (It crawled other seeds into the store: another
    crawl, refused since; test_crawl_sameness.py.)"""
    store = tmp_path / "c.db"
    async with open_crawler(store=store, max_depth=0) as crawler:
        await crawler.run([site.url("/site/0.html")])
    async with open_crawler(store=store, max_depth=0, refresh=Refresh(max_age=1e-9)) as crawler:
        await crawler.run([site.url("/site/0.html")])
        stats = crawler.statistics()
    kinds = await corral.to_thread(_kinds, store)
    assert kinds.pop("") == stats.done == 1
    assert dict(stats.by_skip) == kinds
    assert stats.items is None  # no parse callback: nothing to count


def test_summary_shows_skips_by_reason_and_items() -> None:
    """The summary has a skipped row (most common reason first) and an items row."""
    counters = RunCounters(output="c.db", started=0.0, clock=lambda: 2.0, done=30, ok=29, items=58)
    counters.by_status.update({200: 29, 404: 1})
    counters.by_error.update({"http_status": 1})
    counters.by_skip.update({"robots": 1, "max_pages": 38, "out_of_scope": 4, "nofollow": 2})
    lines = render_summary(counters.snapshot(), store_kind="sqlite").splitlines()
    assert lines[1:9] == [
        "  URLs        30 done",
        "  ok          29",
        "  failed       1",
        "  skipped     45  (not fetched: max_pages 38, out_of_scope 4, nofollow 2, robots 1)",
        "  resumed      0",
        "  duplicates   0",
        "  retries      0",
        "  items       58  (stored by the parse callback, table items)",
    ]


def test_a_fetch_summary_has_no_skipped_or_items_row() -> None:
    """A fetch (nothing skipped, no parse callback) shows neither row."""
    counters = RunCounters(output="o.db", started=0.0, clock=lambda: 2.0, done=3, ok=3)
    summary = render_summary(counters.snapshot(), store_kind="sqlite")
    assert "skipped" not in summary
    assert "items" not in summary


async def test_the_crawl_cli_summary_and_exit_code(site: Site, tmp_path: Path) -> None:
    """`corral crawl --fail-on-error` where only skips happened exits 0; its summary gives
    the store's skip counts and the items stored, and no "failed" robots."""
    (tmp_path / "twoitems.py").write_text(
        "def parse(page):\n    return [{'url': page.url, 'n': 1}, {'url': page.url, 'n': 2}]\n"
    )
    store = tmp_path / "c.db"
    command = [sys.executable, "-m", "corral", "crawl", site.url("/"), "-o", str(store)]
    command += ["--max-pages", "20", "--parse", "twoitems:parse", "--fail-on-error"]
    run = await corral.to_thread(
        lambda: subprocess.run(
            [*command, "--no-progress"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
            env={**os.environ, "PYTHONWARNINGS": "error"},
        )
    )
    assert run.returncode == 0, run.stderr
    kinds = _kinds(store)
    assert kinds.pop("") == 20
    assert re.search(r"^  failed +0$", run.stderr, re.MULTILINE), run.stderr
    row = re.search(r"^  skipped +([\d,]+)  \(not fetched: (.*)\)$", run.stderr, re.MULTILINE)
    assert row is not None, run.stderr
    reasons = dict(part.rsplit(" ", 1) for part in row.group(2).split(", "))
    assert {k: int(v.replace(",", "")) for k, v in reasons.items()} == kinds
    assert int(row.group(1).replace(",", "")) == sum(kinds.values())
    items = re.search(r"^  items +([\d,]+)  \(stored by the parse callback", run.stderr, re.M)
    assert items is not None, run.stderr
    assert int(items.group(1)) == _items(store) > 0
    assert "by error    none" in run.stderr
