"""Cookies in a job spread over processes (issue 17): ``--workers N`` keeps a host's jar in the
worker process that has the host, and the parent loads and saves the run's jar file; with
``--redis`` the jars live in Redis, per host, for every worker of the job.

Two test sites on two ports are two hosts (two jars, spread over two worker processes); each
has the cookie area: ``/cookie/start`` sets ``session``, ``/cookie/page/{1..5}`` answer 401
without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from corral_cli import COMMAND, acorral, children

from corral.http.engine._cookies import HostJars
from corral.testing import Site, open_site

pytestmark = pytest.mark.corral_guard(strict=False)  # (the tests read small files on the loop)

_TOKEN = "corral-test-session"
_PAGES = [f"/cookie/page/{n}" for n in range(1, 6)]


@pytest.fixture
async def sites() -> AsyncIterator[list[Site]]:
    async with open_site() as first, open_site() as second:
        yield [first, second]


def _statuses(store: Path) -> dict[tuple[int, str], int | None]:
    """Return each record's status by (port, path)."""
    with sqlite3.connect(store) as conn:
        rows = conn.execute("select url, status from results").fetchall()
    found = {}
    for url, status in rows:
        port, path = url.split("127.0.0.1:", 1)[1].split("/", 1)
        found[int(port), f"/{path}"] = status
    return found


def _jar_hosts(jar: Path) -> dict[str, str]:
    """Return each host's session cookie in a jar file."""
    hosts = json.loads(jar.read_text())["hosts"]
    return {
        host: cookies["127.0.0.1|/cookie"]["session"]["value"] for host, cookies in hosts.items()
    }


def _host(site: Site) -> str:
    return f"127.0.0.1:{site.port}"


async def test_a_crawl_over_two_worker_processes_keeps_each_hosts_cookies(
    sites: list[Site], tmp_path: Path
) -> None:
    """``crawl --workers 2 --cookies`` of two cookie-gated sites (one in each worker
    process): every page is let through, and the jar beside the store holds both hosts'
    cookies, sent back by the workers to the parent, which saved them."""
    out = tmp_path / "crawl.db"
    seeds = [site.url("/cookie/start") for site in sites]
    done = await acorral("crawl", *seeds, "-o", str(out), "--cookies", "--workers", "2")
    assert done.returncode == 0, done.stderr
    statuses = _statuses(out)
    assert len(statuses) == 12
    assert set(statuses.values()) == {200}
    assert _jar_hosts(tmp_path / "crawl.db.cookies.json") == dict.fromkeys(
        map(_host, sites), _TOKEN
    )


async def test_a_fetch_over_two_worker_processes_is_given_the_jar_and_saves_what_it_gained(
    sites: list[Site], tmp_path: Path
) -> None:
    """``fetch --workers 2 --cookie-jar FILE``: the jar the file holds (the first site's
    cookie) reaches the worker processes (its gated pages: 200), and the cookie the second
    site sets in a worker comes back into the file."""
    first, second = sites
    jar, urls = tmp_path / "jar.json", tmp_path / "urls.txt"
    urls.write_text(first.url("/cookie/start") + "\n")
    logged = await acorral(
        "fetch", str(urls), "-o", str(tmp_path / "a.db"), "--cookie-jar", str(jar)
    )
    assert logged.returncode == 0, logged.stderr
    assert _jar_hosts(jar) == {_host(first): _TOKEN}
    urls.write_text("".join(first.url(p) + "\n" for p in _PAGES) + second.url("/cookie/start"))
    out = tmp_path / "b.db"
    args = ["fetch", str(urls), "-o", str(out), "--cookie-jar", str(jar), "--workers", "2"]
    done = await acorral(*args)
    assert done.returncode == 0, done.stderr
    assert _statuses(out) == {
        **{(first.port, p): 200 for p in _PAGES},
        (second.port, "/cookie/start"): 200,
    }
    assert _jar_hosts(jar) == {_host(first): _TOKEN, _host(second): _TOKEN}


async def _job_keys(redis_url: str, job: str) -> set[str]:
    """Return the names of the keys job ``job`` has in Redis (its prefix taken off)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    prefix = f"corral:{{{job}}}:"
    try:
        return {key.decode().removeprefix(prefix) async for key in client.scan_iter(prefix + "*")}
    finally:
        await client.aclose()


async def test_a_redis_fetch_is_given_the_jar_and_saves_what_its_workers_gained(
    sites: list[Site], tmp_path: Path, redis_url: str
) -> None:
    """``fetch --redis --job J --workers 2 --cookie-jar FILE``: the file's cookie reaches the
    workers through Redis (the first site's gated pages: 200), the cookie the second site
    sets in a worker comes back into the file, no cookie is printed, and the finished job's
    cookie keys are gone from Redis."""
    first, second = sites
    jar, urls = tmp_path / "jar.json", tmp_path / "urls.txt"
    urls.write_text(first.url("/cookie/start") + "\n")
    logged = await acorral(
        "fetch", str(urls), "-o", str(tmp_path / "a.db"), "--cookie-jar", str(jar)
    )
    assert logged.returncode == 0, logged.stderr
    urls.write_text("".join(first.url(p) + "\n" for p in _PAGES) + second.url("/cookie/start"))
    out = tmp_path / "b.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--cookie-jar", str(jar),
        "--redis", redis_url, "--job", "jar", "--workers", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _TOKEN not in done.stderr
    assert _statuses(out) == {
        **{(first.port, p): 200 for p in _PAGES},
        (second.port, "/cookie/start"): 200,
    }
    assert _jar_hosts(jar) == {_host(first): _TOKEN, _host(second): _TOKEN}
    assert await _job_keys(redis_url, "jar") == {"meta", "stats"}


async def test_a_redis_crawl_sends_a_cookie_one_worker_got_from_the_others_requests(
    sites: list[Site], tmp_path: Path, redis_url: str
) -> None:
    """``crawl --redis --job J --workers 2 --cookies`` of two cookie-gated sites: the
    cookie a start page set, in whichever worker fetched it, goes with every gated page,
    in whichever worker fetches it (all 200); the jar beside the store has both hosts', and
    the finished job left no cookie in Redis."""
    out = tmp_path / "crawl.db"
    seeds = [site.url("/cookie/start") for site in sites]
    done = await acorral(
        "crawl", *seeds, "-o", str(out), "--cookies",
        "--redis", redis_url, "--job", "crawl", "--workers", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    statuses = _statuses(out)
    assert len(statuses) == 12
    assert set(statuses.values()) == {200}
    assert _jar_hosts(tmp_path / "crawl.db.cookies.json") == dict.fromkeys(
        map(_host, sites), _TOKEN
    )
    assert await _job_keys(redis_url, "crawl") == {"meta", "stats"}


async def _get(jars: HostJars, url: str) -> int:
    """Return the status of a GET of ``url`` by a session with those jars."""
    async with aiohttp.ClientSession(cookie_jar=jars) as session, session.get(url) as response:
        return response.status


async def test_a_hosts_jar_in_redis_goes_from_one_worker_to_another(
    sites: list[Site], redis_url: str
) -> None:
    """Two workers' jars over one job in Redis: the cookie one's response set, once written,
    is read by the other's next refresh for that host (its request: 200); a refresh when
    nothing changed reads nothing; of two writes to one host, the later one stays; the
    coordinator's pull reads the jars written since its last pull, and only those."""
    from corral.http.scale._queue import JobQueue

    site = sites[0]
    queue = await JobQueue.connect(redis_url, "jars")
    try:
        one, other = queue.jars(), queue.jars()
        jars_one, jars_other = HostJars(), HostJars()
        assert await _get(jars_one, site.url("/cookie/start")) == 200
        await one.write(jars_one.take_changed())
        await other.refresh(jars_other, [_host(site)])
        assert await _get(jars_other, site.url("/cookie/page/1")) == 200
        version = jars_other.version
        await other.refresh(jars_other, [_host(site)])
        assert jars_other.version == version  # (nothing changed: nothing replaced)
        jars_other.jar(_host(site)).clear()
        jars_other.changed.add(_host(site))
        await other.write(jars_other.take_changed())  # the later write: an empty jar
        await one.refresh(jars_one, [_host(site)])
        assert len(jars_one) == 0
        coordinator, saved = queue.jars(), HostJars()
        assert await coordinator.pull(saved)
        assert not await coordinator.pull(saved)  # (nothing written since)
        assert await _get(jars_one, sites[1].url("/cookie/start")) == 200
        await one.write(jars_one.take_changed())
        version = saved.version
        assert await coordinator.pull(saved)
        assert saved.version == version + 1  # (one host's jar read: the one written)
        assert _TOKEN in saved.dumps()
    finally:
        await queue.delete()
        await queue.close()


@pytest.mark.parametrize("how", ["--workers 2", "--redis"])
async def test_a_browsers_cookies_txt_reaches_every_worker(
    sites: list[Site], tmp_path: Path, how: str, redis_if_asked: str | None
) -> None:
    """A Netscape cookies.txt given to a fetch over two worker processes, or through Redis:
    its cookie (sent wherever its domain and path match) logs both sites' pages in, and
    the file is left as the browser wrote it."""
    cookies, urls, out = tmp_path / "cookies.txt", tmp_path / "urls.txt", tmp_path / "o.db"
    cookies.write_text(f"127.0.0.1\tFALSE\t/cookie\tFALSE\t0\tsession\t{_TOKEN}\n")
    before = cookies.read_bytes()
    urls.write_text("".join(site.url(p) + "\n" for site in sites for p in _PAGES[:2]))
    scaled = ["--workers", "2"]
    if redis_if_asked is not None:
        scaled += ["--redis", redis_if_asked, "--job", "txt"]
    done = await acorral("fetch", str(urls), "-o", str(out), "--cookie-jar", str(cookies), *scaled)
    assert done.returncode == 0, done.stderr
    assert set(_statuses(out).values()) == {200}
    assert len(_statuses(out)) == 4
    assert cookies.read_bytes() == before


async def test_a_worker_process_started_again_is_given_the_jars(
    sites: list[Site], tmp_path: Path
) -> None:
    """``fetch --workers 2 --cookie-jar FILE``, both worker processes killed (``kill -9``)
    mid-run: their replacements are handed the run's jars too, so every gated page is let
    through."""
    site = sites[0]
    jar, urls, out = tmp_path / "jar.json", tmp_path / "urls.txt", tmp_path / "o.db"
    urls.write_text(site.url("/cookie/start") + "\n")
    logged = await acorral(
        "fetch", str(urls), "-o", str(tmp_path / "a.db"), "--cookie-jar", str(jar)
    )
    assert logged.returncode == 0, logged.stderr
    pages = [f"/cookie/page/{n}" for n in range(1, 41)]
    urls.write_text("".join(site.url(p) + "\n" for p in pages))
    args = ["fetch", str(urls), "-o", str(out), "--cookie-jar", str(jar), "--workers", "2"]
    run = await asyncio.create_subprocess_exec(
        *COMMAND, *args, "--rate", "10/s", stderr=asyncio.subprocess.PIPE
    )
    try:
        await asyncio.wait_for(site.wait_until(lambda s: s.by_prefix.get("/cookie", 0) >= 4), 30)
        for pid in children(run.pid, "corral.http.scale._child"):
            os.kill(pid, signal.SIGKILL)
        _, err = await asyncio.wait_for(run.communicate(), 60)
    finally:
        if run.returncode is None:
            run.kill()
            await run.wait()
    assert run.returncode == 0, err
    assert b"ended (exit code -9); starting another" in err, err  # (the one with the host)
    statuses = _statuses(out)
    assert len(statuses) == 40
    assert set(statuses.values()) == {200}
