"""A job in Redis belongs to one store: a store made afresh under a killed coordinator's job
(``rm``, ``--overwrite``) is refused, or with ``--overwrite`` starts the job afresh; no row
ever holds another URL's record (the trial of ``--redis`` that found 238 such rows).

Real commands (``python -m corral``), corral's test site and a real redis-server.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import acorral

from corral.http.engine._config import FetchConfig
from corral.http.engine._result import FetchResult
from corral.http.scale._queue import JobQueue
from corral.http.scale._wire import config_to_json
from corral.testing import Site, SiteLayout, open_site

pytestmark = [pytest.mark.corral_guard(strict=False, threshold=1000), pytest.mark.timeout(120)]


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(log_size=100_000, layout=SiteLayout(pages=120)) as running:
        yield running


def _write(path: Path, urls: list[str]) -> str:
    path.write_text("".join(url + "\n" for url in urls))
    return str(path)


def _foreign(db: Path) -> int:
    """Return how many rows hold another URL's record."""
    with sqlite3.connect(db) as conn:
        query = "select count(*) from results r join urls u on u.id = r.id where u.url <> r.url"
        (count,) = conn.execute(query).fetchone()
    return int(count)


def _urls(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {url for (url,) in conn.execute("select url from results")}


def _remove_store(db: Path) -> None:
    for path in db.parent.glob(db.name + "*"):
        path.unlink()


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, stderr=asyncio.subprocess.PIPE
    )


async def _killed(site: Site, redis_url: str, job: str, *args: str) -> asyncio.subprocess.Process:
    """The trial's start: a worker started apart, and a coordinator (``args``) killed with
    ``kill -9`` mid-run, its job left in Redis, records waiting there for it; return the
    worker (it goes on)."""
    worker = await _start("worker", "--redis", redis_url, "--job", job, "--name", "ext")
    first = await _start(*args, "--redis", redis_url, "--job", job, "--workers", "0")
    async with asyncio.timeout(60):
        await site.wait_until(lambda stats: stats.requests >= 40)
    first.kill()
    await first.wait()
    return worker


async def _ended(worker: asyncio.subprocess.Process) -> str:
    """Wait for a worker started apart to exit (once its job is finished): its stderr."""
    _, err = await asyncio.wait_for(worker.communicate(), 60)
    assert worker.returncode == 0, err
    return err.decode()


async def test_a_fresh_store_under_a_killed_coordinator_s_job_is_refused_then_overwrites(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """The store removed, the input less its first line: one line, exit 2, no store made;
    with ``--overwrite`` the job starts afresh: every URL of this input once, none holding
    another URL's record, and the worker started apart joins the new job and exits at its end."""
    urls = [site.url(f"/delay/30?n={n}") for n in range(1, 301)]
    a300, a299 = _write(tmp_path / "a300.txt", urls), _write(tmp_path / "a299.txt", urls[1:])
    db = tmp_path / "ow.db"
    worker = await _killed(site, redis_url, "ow2", "fetch", a300, "-o", str(db), "--no-progress")
    _remove_store(db)
    args = ["fetch", a299, "--redis", redis_url, "--job", "ow2", "-o", str(db), "--no-progress"]
    refused = await acorral(*args, "--workers", "0")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "job 'ow2' on" in refused.stderr
    assert "belongs to another store" in refused.stderr
    assert "--overwrite" in refused.stderr
    assert not list(tmp_path.glob("ow.db*"))  # nothing written
    again = await acorral(*args, "--overwrite")
    assert again.returncode == 0, again.stderr
    assert _urls(db) == set(urls[1:])
    assert _foreign(db) == 0
    await _ended(worker)


async def test_overwrite_with_another_input_starts_the_job_afresh(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """``--overwrite`` on the killed run's store, with another input: the old run's records
    are not drained into it (the trial: 236 of 300 rows held them, never fetched)."""
    a = [site.url(f"/delay/30?n={n}") for n in range(1, 301)]
    b = [site.url(f"/delay/30?m={n}") for n in range(1, 301)]
    a300, b300 = _write(tmp_path / "a300.txt", a), _write(tmp_path / "b300.txt", b)
    db = tmp_path / "ow.db"
    worker = await _killed(site, redis_url, "ow3", "fetch", a300, "-o", str(db), "--no-progress")
    run = await acorral(
        "fetch", b300, "--redis", redis_url, "--job", "ow3", "-o", str(db), "--overwrite"
    )
    assert run.returncode == 0, run.stderr
    assert _urls(db) == set(b)
    assert _foreign(db) == 0
    await _ended(worker)


async def test_a_crawl_s_fresh_store_is_refused_then_overwrites(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """The same for ``crawl --redis``: refused in one line with no store made, then started
    afresh with ``--overwrite``: no row holds another URL's record."""
    seed = site.url("/site/0.html")
    db = tmp_path / "c.db"
    worker = await _killed(site, redis_url, "cw", "crawl", seed, "-o", str(db), "--no-progress")
    _remove_store(db)
    args = ["crawl", seed, "--redis", redis_url, "--job", "cw", "-o", str(db), "--no-progress"]
    refused = await acorral(*args)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "belongs to another store" in refused.stderr
    assert not list(tmp_path.glob("c.db*"))
    again = await acorral(*args, "--overwrite")
    assert again.returncode == 0, again.stderr
    assert len(_urls(db)) > 100
    assert _foreign(db) == 0
    await _ended(worker)


async def test_a_record_for_another_url_than_its_row_s_is_dropped(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """Records waiting in Redis whose URL is not their row's (by id: an old job's rows one
    off, as in the trial) are dropped with a line, never written; the rows get their own
    URLs' records, those URLs fetched again (Redis knew them by the dropped records)."""
    db = tmp_path / "s.db"
    first = [site.url("/page/1")]
    made = await acorral("fetch", _write(tmp_path / "one.txt", first), "-o", str(db), "-q")
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(db) as conn:
        store_id = conn.execute("select value from meta where name = 'store_id'").fetchone()[0]
    urls = first + [site.url(f"/page/{n}") for n in range(2, 13)]
    queue = await JobQueue.connect(redis_url, "dr")
    try:  # the old job: row n+1 was URL n+2 (its input one line shorter at the top)
        owner = f"{socket.gethostname()}:{db}"
        config = config_to_json(FetchConfig())
        settings = {"store": owner, "store_id": store_id, "config": config, "per_host": "50"}
        await queue.configure(settings)
        old = [(n, u, u, u.split("/")[2], None) for n, u in enumerate(urls[2:], 2)]
        await queue.add(old)
        tasks, _ = await queue.claim("old", 100)
        ok = [
            (t.token, FetchResult(url=t.url, status=200, ok=True, attempts=1), None) for t in tasks
        ]
        await queue.commit("old", ok)
    finally:
        await queue.close()
    assert len(tasks) == 10
    run = await acorral(
        "fetch", _write(tmp_path / "b.txt", urls), "--redis", redis_url, "--job", "dr",
        "-o", str(db), "--no-progress",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "a record for another URL than its row's was dropped" in run.stderr
    assert _urls(db) == set(urls)
    assert _foreign(db) == 0


async def test_a_finished_job_run_again_ends_without_its_worker_s_error(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """The same command after the job finished: its summary, exit 0, and no line from the
    local worker that found the job over (``job j1 is finished: nothing to do``)."""
    urls = _write(tmp_path / "u.txt", [site.url(f"/page/{n}") for n in range(1, 21)])
    args = ["fetch", urls, "--redis", redis_url, "--job", "j1", "-o", str(tmp_path / "j.db")]
    for _ in range(2):
        run = await acorral(*args, "--no-progress")
        assert run.returncode == 0, run.stderr
        assert "corral: error" not in run.stderr, run.stderr
        assert "nothing to do" not in run.stderr, run.stderr


async def test_overwrite_is_refused_while_the_job_s_coordinator_may_run(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """``--overwrite`` of a job whose coordinator beat just now (another store's): one line,
    exit 2, the job in Redis and this -o left as they were."""
    db = tmp_path / "mine.db"
    db.write_bytes(b"mine")
    queue = await JobQueue.connect(redis_url, "live")
    try:
        config = config_to_json(FetchConfig())
        await queue.configure({"store": "elsewhere:/x.db", "store_id": "ab", "config": config})
        await queue.heartbeat("coordinator", {"recorded": 0, "waiting": 1})
        urls = _write(tmp_path / "u.txt", [site.url("/page/1")])
        run = await acorral(
            "fetch", urls, "--redis", redis_url, "--job", "live", "-o", str(db), "--overwrite"
        )
        assert run.returncode == 2, run.stderr
        assert run.stderr.count("\n") == 1, run.stderr
        assert "has a coordinator, writing into elsewhere:/x.db, that was alive" in run.stderr
        assert "stop it first" in run.stderr
        assert db.read_bytes() == b"mine"
        settings = await queue.settings()
        assert settings is not None
        assert settings["store_id"] == "ab"
    finally:
        await queue.close()


async def test_overwrite_is_refused_while_the_job_s_coordinator_runs_here(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """``--overwrite`` of a job whose coordinator runs on this machine (it holds its store's
    lock; a killed one does not): one line, exit 2, the running job untouched."""
    urls = _write(tmp_path / "u.txt", [site.url(f"/delay/50?n={n}") for n in range(200)])
    args = ["fetch", urls, "--redis", redis_url, "--job", "here", "--concurrency", "2"]
    first = await _start(*args, "-o", str(tmp_path / "a.db"), "--no-progress")
    async with asyncio.timeout(60):
        await site.wait_until(lambda stats: stats.requests >= 1)  # the job is in Redis
    other = await acorral(*args, "-o", str(tmp_path / "b.db"), "--overwrite")
    first.send_signal(2)
    await first.communicate()
    assert other.returncode == 2, other.stderr
    assert "has a coordinator running here (its store" in other.stderr
    assert "a.db is in use)" in other.stderr
    assert not (tmp_path / "b.db").exists()
