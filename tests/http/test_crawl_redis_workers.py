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

# A parse callback whose pages after the 10th wait until the file GATE exists (the crawl
# cannot end before the test has done what it does mid-crawl, however loaded the machine).
_GATED = """\
import os, threading, time

parsed, lock = 0, threading.Lock()

def items(page):
    global parsed
    with lock:
        parsed += 1
        mine = parsed
    while mine > 10 and not os.path.exists({gate!r}):
        time.sleep(0.01)
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
    # (which worker got which page is a race: one may end the crawl before the other has
    # started; two workers committing the same links at once is test_crawl_redis_frontier's)
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


async def test_a_robots_txt_that_does_not_answer_holds_the_host_back_for_the_next_run(
    tmp_path: Path, redis_url: str
) -> None:
    """robots.txt answering 503: the worker puts the seed back, its host held (1, 2 and 4 s),
    then the host is held back for the run as in one process: nothing recorded (not
    "robots": robots.txt did not refuse), the seed left pending in the store, the summary
    and the run's record name the host, exit 1 (the crawl is not complete); nothing else of
    the host is fetched. ``corral status`` says what the finished job left pending."""
    async with open_site(robots=RobotsPolicy(status=503)) as site:
        db = tmp_path / "r.db"
        run = await _corral(tmp_path, "crawl", site.url("/site/0.html"), "-o", str(db),
                            "--no-progress", "--redis", redis_url, "--job", "silent")  # fmt: skip
        _, err = await asyncio.wait_for(run.communicate(), 120)
        targets = {r.target for r in site.statistics().recent}
    assert run.returncode == 1, err.decode()
    assert targets == {"/robots.txt"}
    assert "robots.txt did not answer (HTTP 503)" in err.decode()
    with sqlite3.connect(db) as conn:
        assert list(conn.execute("select count(*) from results")) == [(0,)]
        assert list(conn.execute("select count(*) from urls")) == [(1,)]  # pending
        (summary,) = conn.execute("select summary from runs").fetchone()
    (held,) = json.loads(summary)["held_back"].values()
    assert (held["urls"], held["tries"]) == (1, 4)
    status = await _corral(tmp_path, "status", "--redis", redis_url, "--job", "silent")
    out, _ = await asyncio.wait_for(status.communicate(), 60)
    assert (
        out.decode()
        .splitlines()[0]
        .endswith(
            "; held back: 1 URL of 1 host left pending in the store (robots.txt did not answer)"
        )
    )


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
    ones seen again, saying so in one line as a fetch does; the crawl completes with the
    records one process makes, each once."""
    gate = tmp_path / "go"  # the pages after the 10th wait for it: Redis restarts mid-crawl
    (tmp_path / "p.py").write_text(_GATED.format(gate=str(gate)), encoding="utf-8")
    seed = site.url("/site/0.html")
    db = tmp_path / "r.db"
    args = ["crawl", seed, "-o", str(db), "--parse", "p:items", "--no-progress"]
    run = await _corral(tmp_path, *args, "--redis", redis_server.url, "--job", "lost")
    await site.wait_until(lambda stats: stats.requests >= 10)
    await asyncio.to_thread(redis_server.stop)
    await asyncio.to_thread(redis_server.start)
    gate.touch()
    _, err = await asyncio.wait_for(run.communicate(), 120)
    assert run.returncode == 0, err.decode()
    assert b"Traceback" not in err
    assert b"corral: Redis is back; the job's settings and its " in err, err.decode()
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
    from corral.http.scale._runworker import run_worker

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
