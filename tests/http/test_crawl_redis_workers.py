"""``corral crawl --redis`` with the frontier and seen set in Redis (issue 15): workers apply
the crawl's rules and robots.txt, Redis deduplicates the links of every worker, and the
store ends with what one process records, each URL once, through kills of a worker and of
the coordinator."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import ENV
from redis_server import RedisServer

from corral.testing import RobotsPolicy, Site, SiteLayout, open_site

pytestmark = [pytest.mark.corral_guard(strict=False, threshold=1000), pytest.mark.timeout(150)]
_PARSE = """\
import time

def items(page):
    time.sleep({pause})
    return [{{"url": page.url, "depth": page.depth}}]
"""


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=80), log_size=10_000) as served:
        yield served


async def _corral(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV, cwd=tmp_path,
    )  # fmt: skip


async def _run(tmp_path: Path, *args: str) -> str:
    process = await _corral(tmp_path, *args)
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return err.decode()


def _records(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        rows = sorted(conn.execute("select url, status, ok, error_kind from results"))
        (urls,) = conn.execute("select count(distinct url) from results").fetchone()
    assert urls == len(rows)  # one record per URL
    return rows


def _fetched(site: Site) -> collections.Counter[str]:
    """Return how many times the site served each page (robots.txt left out)."""
    targets = [r.target for r in site.statistics().recent if r.target != "/robots.txt"]
    return collections.Counter(targets)


async def test_two_workers_fetch_each_page_once_and_record_what_one_process_does(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """Two workers of one crawl: the site serves each page once (a link both workers found
    was queued once), and the store has the records one process makes, the crawl rules'
    skips (robots.txt, scope, nofollow, depth) included."""
    seed = site.url("/site/0.html")
    db, one = tmp_path / "r.db", tmp_path / "one.db"
    bound = ["--max-depth", "3"]
    await _run(tmp_path, "crawl", seed, "-o", str(db), "-q", *bound, "--redis", redis_url,
               "--job", "twice", "--workers", "2")  # fmt: skip
    served = _fetched(site)
    assert served
    assert max(served.values()) == 1, served.most_common(3)
    with sqlite3.connect(db) as conn:
        (summary,) = conn.execute("select summary from runs").fetchone()
    assert len(json.loads(summary)["workers"]) == 2  # (both fetched and found links)
    await _run(tmp_path, "crawl", seed, "-o", str(one), "-q", *bound)
    assert _records(db) == _records(one)
    kinds = {kind for *_, kind in _records(db)}
    assert {"robots", "out_of_scope", "nofollow", "max_depth"} <= kinds


async def test_max_pages_holds_across_workers(site: Site, tmp_path: Path, redis_url: str) -> None:
    """``--max-pages 12`` with two workers: 12 pages fetched in all, the rest recorded as
    not fetched for max_pages, each URL once."""
    db = tmp_path / "r.db"
    args = ["crawl", site.url("/site/0.html"), "-o", str(db), "-q", "--max-pages", "12"]
    await _run(tmp_path, *args, "--redis", redis_url, "--job", "budget", "--workers", "2")
    with sqlite3.connect(db) as conn:
        (fetched,) = conn.execute("select count(*) from results where attempts > 0").fetchone()
        kinds = dict(conn.execute("select error_kind, count(*) from results group by 1"))
    assert fetched == 12
    assert kinds.get("max_pages", 0) > 0
    assert sum(_fetched(site).values()) == 12
    _records(db)


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    return [int(child) for child in text.split()]


async def test_a_killed_worker_and_a_killed_coordinator_lose_nothing(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """``kill -9`` of a worker mid-crawl (the coordinator starts another; its URLs are handed
    back), then of the coordinator, then the same command again: the crawl completes with
    the records and items one process makes, each URL once."""
    (tmp_path / "p.py").write_text(_PARSE.format(pause=0.02), encoding="utf-8")
    seed = site.url("/site/0.html")
    db = tmp_path / "r.db"
    args = ["crawl", seed, "-o", str(db), "--parse", "p:items", "--no-progress"]
    args += ["--redis", redis_url, "--job", "kills", "--workers", "2"]
    run = await _corral(tmp_path, *args)
    await site.wait_until(lambda stats: stats.requests >= 20)
    workers = _children(run.pid)
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    await site.wait_until(lambda stats: stats.requests >= 50)
    run.send_signal(signal.SIGKILL)
    await run.wait()
    with sqlite3.connect(db) as conn:
        (before,) = conn.execute("select count(*) from results").fetchone()
    assert before < 80  # (killed mid-crawl)
    await _run(tmp_path, *args)
    one = tmp_path / "one.db"
    await _run(tmp_path, "crawl", seed, "-o", str(one), "-q", "--parse", "p:items")
    assert _records(db) == _records(one)
    with sqlite3.connect(db) as conn, sqlite3.connect(one) as ref:
        query = "select json_extract(data, '$.url') from items order by 1"
        items = list(conn.execute(query))
        assert items == list(ref.execute(query))
        assert len(items) == len(set(items))


async def test_a_robots_txt_that_does_not_answer_holds_the_host_then_records_it(
    tmp_path: Path, redis_url: str
) -> None:
    """robots.txt answering 503: the worker puts the seed back, its host held (1, 2 and 4 s),
    then records it as refused by robots.txt, saying why; nothing else of the host is
    fetched."""
    async with open_site(robots=RobotsPolicy(status=503)) as site:
        db = tmp_path / "r.db"
        await _run(tmp_path, "crawl", site.url("/site/0.html"), "-o", str(db), "-q",
                   "--redis", redis_url, "--job", "silent")  # fmt: skip
        targets = {r.target for r in site.statistics().recent}
    assert targets == {"/robots.txt"}
    with sqlite3.connect(db) as conn:
        rows = list(conn.execute("select error_kind, error from results"))
    assert rows == [("robots", "robots.txt did not answer (HTTP 503)")]


async def test_a_crawl_run_again_does_not_fetch_a_page_again(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """A crawl stopped by ``--max-pages`` run again without it (a new job in Redis): the
    store's recorded URLs are marked seen first, so the pages fetched before are not fetched
    again when the new pages link to them; each page served once, each URL recorded once."""
    db = tmp_path / "r.db"
    args = ["crawl", site.url("/site/0.html"), "-o", str(db), "-q", "--redis", redis_url]
    await _run(tmp_path, *args, "--job", "more", "--max-pages", "10")
    await _run(tmp_path, *args, "--job", "more")
    with sqlite3.connect(db) as conn:
        (fetched,) = conn.execute("select count(*) from results where attempts > 0").fetchone()
    served = _fetched(site)
    assert max(served.values()) == 1, served.most_common(3)
    assert sum(served.values()) == fetched > 25
    _records(db)


async def test_redis_restarted_without_its_data_mid_crawl_loses_nothing(
    site: Site, tmp_path: Path, redis_server: RedisServer
) -> None:
    """Redis stopped mid-crawl and started again empty (the worst of an AOF's lost second):
    the coordinator hands Redis back the store's URLs not recorded and marks the recorded
    ones seen again; the crawl completes with the records one process makes, each once."""
    (tmp_path / "p.py").write_text(_PARSE.format(pause=0.02), encoding="utf-8")
    seed = site.url("/site/0.html")
    db = tmp_path / "r.db"
    args = ["crawl", seed, "-o", str(db), "--parse", "p:items", "--no-progress"]
    run = await _corral(tmp_path, *args, "--redis", redis_server.url, "--job", "lost")
    await site.wait_until(lambda stats: stats.requests >= 30)
    await asyncio.to_thread(redis_server.stop)
    await asyncio.to_thread(redis_server.start)
    _, err = await asyncio.wait_for(run.communicate(), 120)
    assert run.returncode == 0, err.decode()
    assert b"Traceback" not in err
    one = tmp_path / "one.db"
    await _run(tmp_path, "crawl", seed, "-o", str(one), "-q", "--parse", "p:items")
    assert _records(db) == _records(one)


async def test_a_worker_of_an_older_corral_is_named(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """A worker that sends a page's links back with its record (an older corral's way: its
    examination without the crawl's rules) is named in one line: its links are not
    followed, and nothing else goes wrong."""
    from corral.http.crawler._child import RemoteExaminer
    from corral.http.scale._worker import run_worker

    db = tmp_path / "r.db"
    args = ["crawl", site.url("/site/0.html"), "-o", str(db), "--no-progress"]
    run = await _corral(tmp_path, *args, "--redis", redis_url, "--job", "old", "--workers", "0")
    stop = asyncio.Event()
    worker = asyncio.ensure_future(
        run_worker(redis_url, "old", stop=stop, make_after=RemoteExaminer)
    )
    _, err = await asyncio.wait_for(run.communicate(), 60)
    stop.set()
    assert await worker == 0
    assert run.returncode == 0, err.decode()
    assert err.decode().count("runs an older corral: the links it finds are not followed") == 1
    assert len(_records(db)) == 1
