"""``corral crawl --redis URL --job NAME`` against a real redis-server: the pages fetched and
examined (links, the ``--parse`` callback) by ``corral worker`` processes, the frontier and
store in the coordinator; the same records and items as one process, robots.txt's
Crawl-delay held across workers, workers started apart, the coordinator killed and run
again (issue 15)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import ENV

from corral.testing import RobotsPolicy, Site, SiteLayout, open_site

# The commands run in subprocesses; the test's loop forks them (0.1 s on a loaded machine).
pytestmark = [pytest.mark.corral_guard(strict=False, threshold=1000), pytest.mark.timeout(120)]
_PARSE = """\
import time

def items(page):
    if page.url.endswith("/site/13.html"):
        raise KeyError("price")
    if {slow}:
        time.sleep(0.01)
    return [{{"url": page.url, "links": len(page.links), "depth": page.depth}}]
"""


@pytest.fixture
async def sites() -> AsyncIterator[list[Site]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(open_site(layout=SiteLayout(pages=80)))
            for _ in range(2)
        ]


async def _corral(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV, cwd=tmp_path,
    )  # fmt: skip


async def _done(process: asyncio.subprocess.Process) -> str:
    _, err = await asyncio.wait_for(process.communicate(), 100)
    return err.decode()


def _records(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("select url, status, ok, error_kind from results"))


def _items(db: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(db) as conn:
        rows = [json.loads(text) for (text,) in conn.execute("select data from items")]
    return sorted((str(d["url"]), int(d["links"]), int(d["depth"])) for d in rows)


async def _alone(tmp_path: Path, seeds: list[str]) -> Path:
    """Crawl ``seeds`` in one process, as the reference."""
    one = tmp_path / "one.db"
    run = await _corral(tmp_path, "crawl", *seeds, "-o", str(one), "--parse", "p:items", "-q")
    assert await _done(run) is not None
    assert run.returncode == 0
    return one


def _callback(tmp_path: Path, *, slow: bool = False) -> None:
    (tmp_path / "p.py").write_text(_PARSE.format(slow=slow), encoding="utf-8")


async def test_a_crawl_through_redis_records_what_one_process_does(
    sites: list[Site], tmp_path: Path, redis_url: str
) -> None:
    """The coordinator and its local worker: the same records and items (the depth travels
    with the task: the callback sees it) as one process; the callback's failure is ``parse_error``
    with its traceback once in the summary."""
    _callback(tmp_path)
    seeds = [site.url("/site/0.html") for site in sites]
    db = tmp_path / "c.db"
    args = ["crawl", *seeds, "-o", str(db), "--parse", "p:items", "--no-progress"]
    run = await _corral(tmp_path, *args, "--redis", redis_url, "--job", "c1")
    stderr = await _done(run)
    assert run.returncode == 0, stderr
    one = await _alone(tmp_path, seeds)
    assert _records(db) == _records(one)
    # (a page's depth is where it was first found: the order pages come back in decides
    # between equal ways to it, so depths are compared as a whole, not page by page)
    assert [item[:2] for item in _items(db)] == [item[:2] for item in _items(one)]
    assert max(d for *_, d in _items(db)) == max(d for *_, d in _items(one)) > 1
    assert "parse errors 2 (" in stderr, stderr
    assert stderr.count("Traceback") == 1


async def test_workers_started_apart_crawl_and_exit_when_the_crawl_is_done(
    sites: list[Site], tmp_path: Path, redis_url: str
) -> None:
    """``--workers 0``: two ``corral worker`` processes started apart do the fetching and
    parsing; they exit 0 once the crawl is finished; the store has every page once."""
    _callback(tmp_path)
    seeds = [site.url("/site/0.html") for site in sites]
    db = tmp_path / "c.db"
    args = ["crawl", *seeds, "-o", str(db), "--parse", "p:items", "--no-progress"]
    workers = [
        await _corral(tmp_path, "worker", "--redis", redis_url, "--job", "apart") for _ in range(2)
    ]
    run = await _corral(tmp_path, *args, "--redis", redis_url, "--job", "apart", "--workers", "0")
    stderr = await _done(run)
    assert run.returncode == 0, stderr
    for worker in workers:
        said = await _done(worker)
        assert worker.returncode == 0, said
    assert _records(db) == _records(await _alone(tmp_path, seeds))
    assert sum(site.statistics().requests for site in sites) > 160


async def test_robots_crawl_delay_holds_across_workers(tmp_path: Path, redis_url: str) -> None:
    """``Crawl-delay: 0.3`` read by the coordinator: two workers keep the site's requests
    0.3 s apart between them (the site's own clock)."""
    _callback(tmp_path)
    async with open_site(layout=SiteLayout(pages=30), robots=RobotsPolicy(crawl_delay=0.3)) as site:
        run = await _corral(
            tmp_path, "crawl", site.url("/site/0.html"), "-o", str(tmp_path / "c.db"),
            "--max-pages", "8", "--no-progress", "--redis", redis_url, "--job", "slow",
            "--workers", "2",
        )  # fmt: skip
        stderr = await _done(run)
        assert run.returncode == 0, stderr
        starts = [r.at for r in site.statistics().recent if r.target.startswith("/site/")]
    assert len(starts) >= 4  # (of the 8 pages, some are on the other host name)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # The site's clock sees arrivals: a request whose start was delayed on a loaded machine
    # shortens the next gap by that delay (0.289 seen). Without the delay they are ms apart.
    assert min(gaps) >= 0.25, gaps


async def test_a_killed_coordinator_is_run_again_with_one_record_per_url(
    sites: list[Site], tmp_path: Path, redis_url: str
) -> None:
    """``kill -9`` of the coordinator mid-crawl, then the same command: the crawl completes,
    and the store has the records and items one process makes, each once."""
    _callback(tmp_path, slow=True)
    seeds = [site.url("/site/0.html") for site in sites]
    db = tmp_path / "c.db"
    args = ["crawl", *seeds, "-o", str(db), "--parse", "p:items", "--no-progress"]
    args += ["--redis", redis_url, "--job", "again"]
    run = await _corral(tmp_path, *args)
    await sites[0].wait_until(lambda stats: stats.requests >= 30)
    run.send_signal(signal.SIGKILL)
    await run.wait()
    again = await _corral(tmp_path, *args)
    stderr = await _done(again)
    assert again.returncode == 0, stderr
    one = await _alone(tmp_path, seeds)
    assert _records(db) == _records(one)
    assert [item[:2] for item in _items(db)] == [item[:2] for item in _items(one)]


async def test_status_names_the_urls_a_finished_crawl_held_back(
    tmp_path: Path, redis_url: str
) -> None:
    """A crawl over Redis whose robots.txt did not answer (a dead proxy) ends with its URL
    pending in the store: ``corral status`` says so, beside "finished" (it read as if all
    were done)."""
    async with open_site(layout=SiteLayout(pages=5)) as site:
        args = ["crawl", site.url("/site/0.html"), "-o", "c.db", "--no-progress"]
        args += ["--proxy", "http://127.0.0.1:1", "--redis", redis_url, "--job", "held"]
        run = await _corral(tmp_path, *args)
        stderr = await _done(run)
        assert run.returncode == 1, stderr
    status = await _corral(tmp_path, "status", "--redis", redis_url, "--job", "held")
    out, err = await asyncio.wait_for(status.communicate(), 60)
    assert status.returncode == 0, err.decode()
    first = out.decode().splitlines()[0]
    assert first.startswith("job held: finished; ")
    assert first.endswith(
        "; held back: 1 URL of 1 host left pending in the store (robots.txt did not answer)"
    )
