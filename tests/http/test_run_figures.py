"""What a run says about itself, through the real entry point (issue 12, items 8 and 18).

- A resumed crawl counts each page once: "done" is every page the crawl fetched, "resumed" the
  pages earlier runs fetched (their skips said apart), and ``runs.summary`` saves the same.
- A crawl's frontier is every URL discovered and not yet recorded (leased ones included), and
  an interrupted crawl says how many are left.
- A fetch whose stdout reader goes away (``| head``) says it stopped for that, not "done".

A crawl is held in the middle by the *gate*: a server of the test's own whose one URL answers
only when the test opens it, so "the crawl is at this point" is a fact, not a matter of timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

import corral
from corral.testing import Site, SiteLayout, open_site

# What these tests check runs in a subprocess (the real command); the test body reads the
# files it wrote, which strict mode would (rightly) call blocking in library code.
pytestmark = pytest.mark.corral_guard(strict=False)

PAGES = 200


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=PAGES), log_size=100_000) as running:
        yield running


@dataclass(frozen=True, slots=True)
class Gate:
    """A URL that answers only once the test opens the gate."""

    url: str
    arrived: asyncio.Event  # a request for the URL has come in
    opened: asyncio.Event  # set by the test: answer it (and every later one) now


@pytest.fixture
async def gate() -> AsyncIterator[Gate]:
    arrived, opened = asyncio.Event(), asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        arrived.set()
        await opened.wait()
        return web.Response(text="<html><body>the gate</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/gate", hold)
    runner = web.AppRunner(app)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = runner.addresses[0][1]
    try:
        yield Gate(f"http://127.0.0.1:{port}/gate", arrived, opened)
    finally:
        opened.set()
        await runner.cleanup()


def start(args: list[str], stdout: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "corral", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error", "PYTHONFAULTHANDLER": "1"},
    )


def finished(job: subprocess.Popen[str], timeout: float = 60) -> str:
    """Wait for the child and return its stderr; abort it (stacks printed) if it hangs."""
    try:
        return job.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        job.send_signal(signal.SIGABRT)
        stderr = job.communicate()[1]
        pytest.fail(f"corral did not stop within {timeout} s; its stderr:\n{stderr}")


def run_corral(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def figures(db: Path) -> tuple[int, int]:
    """Return the store's pages fetched and URLs recorded unfetched (skips)."""
    ((fetched, skipped),) = query(
        db, "select coalesce(sum(attempts > 0), 0), coalesce(sum(attempts = 0), 0) from results"
    )
    return int(str(fetched)), int(str(skipped))


async def crawl_to_the_gate(site: Site, gate: Gate, args: list[str]) -> subprocess.Popen[str]:
    """Start the crawl and return it once the gate's URL is held in flight and the site has
    served 100 requests."""
    job = start(args)
    await gate.arrived.wait()
    await site.wait_until(lambda s: s.requests >= 100)
    return job


# --- item 8: a resumed crawl's figures ------------------------------------------------------


async def test_a_resumed_crawl_counts_each_page_once(
    site: Site, gate: Gate, tmp_path: Path
) -> None:
    """Killed part way, then run to the end: "done" is every page the crawl fetched,
    "resumed" the earlier run's pages (its skips said apart, not counted done), "ok" this
    run's; ``runs.summary`` saves the figures printed."""
    db = tmp_path / "crawl.db"
    args = ["crawl", site.url("/"), gate.url, "-o", str(db), "--no-progress"]
    job = await crawl_to_the_gate(site, gate, args)
    job.send_signal(signal.SIGKILL)
    job.communicate()
    fetched_before, skipped_before = figures(db)
    assert fetched_before > 0
    assert skipped_before > 0
    gate.opened.set()
    again = await corral.to_thread(run_corral, *args)
    assert again.returncode == 0, again.stderr
    fetched, skipped = figures(db)
    ok = fetched - fetched_before
    assert re.search(rf"URLs +{fetched:,} done\n", again.stderr), again.stderr
    assert re.search(rf"ok +{ok:,}\n", again.stderr), again.stderr
    resumed = (
        rf"resumed +{fetched_before:,}  \(done by an earlier run, not fetched again; "
        rf"{skipped_before:,} more skipped then\)"
    )
    assert re.search(resumed, again.stderr), again.stderr
    ((summary,),) = query(db, "select summary from runs order by id desc limit 1")
    saved = json.loads(str(summary))
    assert (saved["done"], saved["ok"], saved["resumed"]) == (fetched, ok, fetched_before)
    assert sum(saved["skipped"].values()) == skipped - skipped_before
    assert saved["skipped_before"] == skipped_before


async def test_max_pages_resumed_says_pages_not_records(site: Site, tmp_path: Path) -> None:
    """``--max-pages 150``, killed part way and resumed: the last summary says 150 done, and
    "resumed" is the pages the killed run fetched (its skips apart)."""
    db = tmp_path / "crawl.db"
    args = ["crawl", site.url("/"), "-o", str(db), "--no-progress", "--max-pages", "150"]
    job = start(args)
    try:
        await site.wait_until(lambda s: s.requests >= 60)
    finally:
        job.send_signal(signal.SIGKILL)
        job.communicate()
    fetched_before, skipped_before = figures(db)
    assert 0 < fetched_before < 150
    again = await corral.to_thread(run_corral, *args)
    assert again.returncode == 0, again.stderr
    assert figures(db)[0] == 150
    assert re.search(r"URLs +150 done\n", again.stderr), again.stderr
    assert re.search(rf"resumed +{fetched_before:,}  \(", again.stderr), again.stderr
    assert re.search(rf"ok +{150 - fetched_before:,}\n", again.stderr), again.stderr
    if skipped_before:
        assert f"{skipped_before:,} more skipped then" in again.stderr


# --- item 18: the frontier, and an interrupted crawl's count --------------------------------


async def test_the_frontier_counts_leased_urls_and_the_interruption_says_how_many(
    site: Site, gate: Gate, tmp_path: Path
) -> None:
    """Interrupted (SIGINT) with the gate's URL in flight: the summary's frontier and its
    "interrupted with N URLs left" count every URL discovered and not recorded, as the store
    has them (leased ones too)."""
    db = tmp_path / "crawl.db"
    args = ["crawl", site.url("/"), gate.url, "-o", str(db), "--no-progress"]
    job = await crawl_to_the_gate(site, gate, args)
    job.send_signal(signal.SIGINT)
    stderr = await corral.to_thread(finished, job)
    assert job.returncode == 130, stderr
    ((count,),) = query(db, "select count(*) from urls where state != 1")
    left = int(str(count))
    assert left >= 1  # the gate's URL at least
    assert re.search(rf"frontier +{left:,}  \(discovered, not fetched yet\)", stderr), stderr
    assert f"interrupted with {left:,} URLs discovered and not fetched yet." in stderr, stderr


# --- item 18: stdout closed early -----------------------------------------------------------


@pytest.mark.parametrize("quiet", [False, True], ids=["summary", "quiet"])
async def test_a_fetch_whose_reader_goes_away_says_so(
    site: Site, tmp_path: Path, quiet: bool
) -> None:
    """``corral fetch ... -o - | head -2``: exit 141, and the summary opens with why it stopped
    and how many records went out (not "done"); with -q that line alone."""
    urls = [site.url(f"/page/{i % PAGES}?i={i}") for i in range(3000)]
    source = tmp_path / "urls.txt"
    source.write_text("\n".join(urls) + "\n", encoding="utf-8")
    job = start(
        ["fetch", str(source), "-o", "-", "--no-progress", *(["-q"] if quiet else [])],
        stdout=subprocess.PIPE,
    )
    assert job.stdout is not None
    for _ in range(2):
        assert json.loads(await corral.to_thread(job.stdout.readline))["url"]
    job.stdout.close()  # as head does after its two lines
    stderr = await corral.to_thread(finished, job)
    assert job.returncode == 141, stderr
    lines = stderr.splitlines()
    stopped = r"corral: stopped: the reader of stdout went away \(([\d,]+) of 3,000 URLs written\)"
    match = re.fullmatch(stopped, lines[0])
    assert match, stderr
    # (the records handed to stdout: the last batch went out in part, the reader took 2)
    assert 2 <= int(match[1].replace(",", "")) < 3000
    assert "done in" not in stderr
    if quiet:
        assert len(lines) == 1, stderr
    else:
        assert re.search(r"URLs +[\d,]+ of 3,000 done", stderr), stderr
