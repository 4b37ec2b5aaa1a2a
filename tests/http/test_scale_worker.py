"""The worker against a real redis-server and corral.testing's site: every URL fetched and
recorded once, through a worker killed with ``kill -9`` and through Redis going away."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis_server import RedisServer

from corral.http.engine._config import FetchConfig
from corral.http.scale._queue import JobQueue, Outcome
from corral.http.scale._runworker import run_worker
from corral.http.scale._wire import config_to_json
from corral.testing import Site, open_site

# The subprocess workers are waited on by the test's loop; a loaded machine may be late.
pytestmark = [pytest.mark.corral_guard(strict=False, threshold=1000), pytest.mark.timeout(90)]


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


async def seed(url: str, job: str, urls: list[str], **settings: str) -> JobQueue:
    """Make the job (concurrency 50) and queue ``urls`` with idents 1..n."""
    queue = await JobQueue.connect(url, job)
    config = config_to_json(FetchConfig(concurrency=50, per_host=50, retries=0))
    await queue.configure({"per_host": "50", "config": config, **settings})
    await queue.add([(i, u, u, u.split("/")[2], None) for i, u in enumerate(urls, 1)])
    return queue


async def drain(queue: JobQueue, expected: int) -> list[Outcome]:
    """Read and acknowledge results (as the coordinator does) until ``expected`` came."""
    outcomes: list[Outcome] = []
    while len(outcomes) < expected:
        batch = await queue.results("coordinator-1", 100, 1000)
        await queue.acknowledge([outcome.entry for outcome in batch])
        outcomes += batch
    return outcomes


async def start_worker(url: str, job: str, name: str) -> asyncio.subprocess.Process:
    code = (
        "import asyncio, sys; from corral.http.scale._runworker import run_worker; "
        f"sys.exit(asyncio.run(run_worker({url!r}, {job!r}, name={name!r})))"
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stderr=asyncio.subprocess.PIPE
    )


async def test_a_worker_fetches_every_url_once(redis_url: str, site: Site) -> None:
    """Every queued URL is fetched and its one result is in the stream; when the job is
    finished the worker exits 0."""
    urls = [site.url(f"page/{i}") for i in range(60)]
    queue = await seed(redis_url, "pages", urls)
    stop = asyncio.Event()
    worker = asyncio.ensure_future(run_worker(redis_url, "pages", name="w1", stop=stop))
    outcomes = await drain(queue, len(urls))
    await queue.finish("done")
    assert await asyncio.wait_for(worker, 30) == 0
    assert sorted(o.ident for o in outcomes) == list(range(1, 61))
    assert all(o.result.ok and o.worker == "w1" for o in outcomes)
    assert sorted(o.result.url for o in outcomes) == sorted(urls)
    assert site.statistics().by_prefix["/page"] == 60
    status = await queue.status()
    assert (status.queued, status.leased, status.done) == (0, 0, 60)
    await queue.close()


async def test_a_stop_ends_the_worker_with_its_work_committed(redis_url: str, site: Site) -> None:
    """Set ``stop`` mid-run: no more claims, what was in flight is committed, exit 0."""
    urls = [site.url(f"delay/100?i={i}") for i in range(200)]
    queue = await seed(redis_url, "stopped", urls)
    stop = asyncio.Event()
    worker = asyncio.ensure_future(run_worker(redis_url, "stopped", stop=stop, concurrency=10))
    await site.wait_until(lambda stats: stats.requests >= 5)
    stop.set()
    assert await asyncio.wait_for(worker, 30) == 0
    status = await queue.status()
    assert status.leased == 0
    assert status.done == site.statistics().requests
    assert status.queued == 200 - status.done
    await queue.close()


async def test_a_worker_holds_a_few_urls_beyond_its_concurrency(redis_url: str, site: Site) -> None:
    """At --concurrency 8 the worker leases 10: 8 in flight and 2 waiting in its engine, so
    that a request that ends starts the next at once, without waiting for a claim."""
    urls = [site.url(f"delay/2000?i={i}") for i in range(40)]
    queue = await seed(redis_url, "ahead", urls)
    stop = asyncio.Event()
    worker = asyncio.ensure_future(run_worker(redis_url, "ahead", stop=stop, concurrency=8))
    await site.wait_until(lambda stats: stats.in_flight >= 8)
    assert site.statistics().in_flight == 8
    assert (await queue.status()).leased == 10
    stop.set()
    assert await asyncio.wait_for(worker, 30) == 0
    await queue.close()


async def test_a_worker_waits_for_its_job_to_be_created(
    redis_url: str, site: Site, capfd: pytest.CaptureFixture[str]
) -> None:
    """A worker started before its coordinator says so in one line and waits; the job's
    first URLs wake it, and it fetches them."""
    worker = asyncio.ensure_future(run_worker(redis_url, "early", name="early"))
    queue = await JobQueue.connect(redis_url, "early")
    try:
        said = ""
        while "waiting for its coordinator" not in said:
            await asyncio.sleep(0)  # (yields to the worker until it has said it; no clock)
            said += capfd.readouterr().err
        assert len(said.strip().splitlines()) == 1
        await queue.configure({"config": config_to_json(FetchConfig())})
        url = site.url("page/1")
        await queue.add([(1, url, url, url.split("/")[2], None)])
        (outcome,) = await drain(queue, 1)
        assert outcome.result.status == 200
        await queue.finish("finished")
        assert await worker == 0
    finally:
        await queue.close()


async def test_a_killed_worker_s_urls_are_fetched_by_another(redis_url: str, site: Site) -> None:
    """A worker ``kill -9``-ed mid-fetch leaves leases; once they expire, another worker
    fetches those URLs, and each URL has one result."""
    urls = [site.url(f"delay/400?i={i}") for i in range(20)]
    queue = await seed(redis_url, "killed", urls, lease_ms="1000")
    doomed = await start_worker(redis_url, "killed", "doomed")
    await site.wait_until(lambda stats: stats.in_flight >= 10)
    doomed.kill()
    await doomed.communicate()
    assert (await queue.status()).leased > 0  # it died holding leases
    stop = asyncio.Event()
    survivor = asyncio.ensure_future(run_worker(redis_url, "killed", name="survivor", stop=stop))
    outcomes = await drain(queue, len(urls))
    stop.set()
    assert await asyncio.wait_for(survivor, 30) == 0
    assert sorted(o.ident for o in outcomes) == list(range(1, 21))
    assert all(o.result.ok for o in outcomes)
    await queue.close()


async def test_a_worker_waits_out_redis_going_away(tmp_path: Path, site: Site) -> None:
    """Redis stopped mid-run: the worker says so in one line, no traceback, and finishes
    its URLs once Redis is back on the same port (with its AOF, nothing was lost)."""
    server = RedisServer(tmp_path / "aof", appendonly=True)
    await asyncio.to_thread(server.start)
    try:
        urls = [site.url(f"delay/300?i={i}") for i in range(20)]
        queue = await seed(server.url, "outage", urls)
        worker = await start_worker(server.url, "outage", "patient")
        await site.wait_until(lambda stats: stats.in_flight >= 20)
        await asyncio.to_thread(server.stop)
        assert worker.stderr is not None
        line = (await worker.stderr.readline()).decode()
        assert line.startswith(f"corral worker: {server.url} unreachable (")
        assert line.endswith(": retrying every 2 s\n")
        await asyncio.to_thread(server.start)
        await queue.close()
        queue = await JobQueue.connect(server.url, "outage")
        outcomes = await drain(queue, len(urls))
        await queue.finish("done")
        _, rest = await asyncio.wait_for(worker.communicate(), 30)
        assert worker.returncode == 0
        assert b"Traceback" not in rest
        assert rest.count(b"unreachable") <= 1  # one line per outage
        assert sorted(o.ident for o in outcomes) == list(range(1, 21))
        await queue.close()
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_retry_after_one_worker_met_holds_the_host_for_every_worker(
    redis_url: str, site: Site
) -> None:
    """A worker whose request got 429 with ``Retry-After: 60`` (and waits it out before its
    retry) hands the wait to the job: another worker claims nothing of that host meanwhile,
    and is told the host is due in about a minute, not now."""
    import redis.asyncio

    url = site.url("retry-after/60")
    host = url.split("/")[2]
    queue = await seed(redis_url, "paced", [url])
    stop = asyncio.Event()
    worker = asyncio.ensure_future(run_worker(redis_url, "paced", name="w1", stop=stop))
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        await site.wait_until(lambda stats: stats.requests >= 1)
        while not await raw.hget(f"corral:{{paced}}:h:{host}", "until"):
            await queue.wait_for_work(0.05)  # (a Redis-side wait until the worker has told it)
        await queue.add([(2, "k2", site.url("page/1"), host, None)])
        tasks, wait = await queue.claim("other", 10)
        assert tasks == []
        assert wait is not None
        assert wait > 30
    finally:
        stop.set()
        await raw.aclose()
        await asyncio.wait_for(worker, 30)
        await queue.close()


@pytest.mark.parametrize(("how", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
@pytest.mark.parametrize("waits_for", ["job", "redis"])
async def test_a_waiting_worker_stops_on_a_signal_with_its_exit_code(
    redis_url: str, tmp_path: Path, how: str, code: int, waits_for: str
) -> None:
    """``corral worker`` waiting for its job's coordinator, or for a Redis it cannot reach,
    ends on SIGTERM / Ctrl-C with 143 / 130 and no traceback, as it does once working (it
    died of the signal: exit -15)."""
    url = redis_url if waits_for == "job" else f"redis://127.0.0.1:{_free_port()}/0"
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "corral",
        "worker",
        "--redis",
        url,
        "--job",
        "nobody-made-me",
        stderr=asyncio.subprocess.PIPE,
    )
    assert worker.stderr is not None
    line = await worker.stderr.readline()
    assert b"waiting for its coordinator" in line or b"retrying every" in line, line
    worker.send_signal(getattr(signal, how))
    _, rest = await asyncio.wait_for(worker.communicate(), 30)
    assert worker.returncode == code, rest
    assert b"Traceback" not in rest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
