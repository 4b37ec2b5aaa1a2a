"""A job started afresh (``--overwrite``, another store) has a new ``epoch``: a worker that
joined the old job is fenced by it in Redis, in the claim itself, not only at its next
heartbeat. Its claims, commits, renewals, retries, heartbeats and ``--max-pages`` takes
touch nothing of the new job, they say so (the worker then joins again, as when its
heartbeat sees the new epoch), and the new job's URLs stay queued for its own workers.

A job being deleted loses its settings first: no script of an old worker recreates a key
of it meanwhile (a lease reaped back into a host's queue, a record in the results stream).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from corral.http.engine._config import FetchConfig
from corral.http.engine._result import FetchResult
from corral.http.scale._crawlqueue import CrawlQueue, PageLinks
from corral.http.scale._queue import JobQueue, Task
from corral.http.scale._wire import config_to_json
from corral.http.scale._worker import Worker
from corral.testing import Site, open_site

pytestmark = [pytest.mark.corral_guard(strict=False, threshold=1000), pytest.mark.timeout(90)]
MINUTE = "60000"
OLD, NEW = "0ld0ld0ld0ld0ld0", "9e99e99e99e99e99"


@pytest.fixture
async def queue(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[JobQueue]:
    """The job's queue as its coordinator has it (no epoch of its own: unfenced)."""
    job = await JobQueue.connect(redis_url, f"epoch-{request.node.name}"[:60])
    await job.delete()
    await job.configure({"per_host": "8", "lease_ms": MINUTE, "epoch": OLD})
    yield job
    await job.delete()
    await job.close()


@pytest.fixture
async def old(queue: JobQueue) -> AsyncIterator[JobQueue]:
    """The same job's queue as a worker that joined it in the epoch ``OLD`` has it."""
    joined = await JobQueue.connect(queue.url, queue.job)
    joined.epoch = OLD
    yield joined
    await joined.close()


class Told:
    """Counts the fence's answers a queue hands its worker (``JobQueue.on_replaced``)."""

    def __init__(self, queue: JobQueue) -> None:
        self.times = 0
        queue.on_replaced = self

    def __call__(self) -> None:
        self.times += 1


def pages(host: str, idents: range) -> list[tuple[int, str, str, str, None]]:
    return [(i, f"http://{host}/{i}", f"http://{host}/{i}", host, None) for i in idents]


async def restart(queue: JobQueue, **settings: str) -> None:
    """Start the job afresh as a coordinator does (``Coordination._bind``): its keys
    deleted, a new epoch in its settings, then its URLs."""
    await queue.binding().start_afresh()
    await queue.configure({"per_host": "8", "lease_ms": MINUTE, "epoch": NEW, **settings})
    await queue.add(pages("new.test", range(1, 6)))


async def claim_in_new_epoch(queue: JobQueue, worker: str, n: int) -> list[Task]:
    """Claim ``n`` URLs as a worker of the new epoch, its tokens counted from 1 (as those
    of the old job were here: the fence, not the token, must stop an old worker)."""
    await queue._client.set(queue.prefix + "seq", 0)
    new = await JobQueue.connect(queue.url, queue.job)
    new.epoch = NEW
    try:
        claimed = await new.claim_tasks(worker, n)
        assert not claimed.replaced
        return claimed.tasks
    finally:
        await new.close()


def done(task: Task) -> tuple[str, FetchResult, None]:
    return task.token, FetchResult(url=task.url, status=200, ok=True, attempts=1), None


async def test_a_claim_of_the_old_epoch_claims_nothing_of_the_new_job(
    queue: JobQueue, old: JobQueue
) -> None:
    told = Told(old)
    await restart(queue)
    claimed = await old.claim_tasks("old-worker", 10)
    assert (claimed.tasks, claimed.replaced, told.times) == ([], True, 1)
    mine = await claim_in_new_epoch(queue, "new-worker", 10)
    assert [task.ident for task in mine] == [1, 2, 3, 4, 5]  # all still queued


async def test_a_claim_of_the_job_s_own_epoch_claims(queue: JobQueue, old: JobQueue) -> None:
    await queue.add(pages("a.test", range(1, 4)))
    claimed = await old.claim_tasks("old-worker", 10)
    assert [task.ident for task in claimed.tasks] == [1, 2, 3]
    assert not claimed.replaced


async def test_an_old_worker_s_commit_writes_nothing_and_claims_nothing(
    queue: JobQueue, old: JobQueue
) -> None:
    """Its records are dropped as stale (they are the old store's), even under a token the
    new job leased too; the slots it would free stay the new job's, and its commit's claim
    takes none of the new job's URLs."""
    await queue.add(pages("a.test", range(1, 3)))
    held, _ = await old.claim("old-worker", 10)
    told = Told(old)
    await restart(queue)
    leased = await claim_in_new_epoch(queue, "old-worker", 1)  # (the same token: 1/old-worker)
    assert [task.token for task in leased] == [held[0].token]
    committed = await old.commit_and_claim(
        "old-worker", [done(held[0])], fetched=[held[1].token], claim=10
    )
    assert (committed.ok, committed.stale) == (0, 1)
    assert committed.claimed.tasks == []
    assert committed.claimed.replaced
    assert told.times == 1
    assert await queue._client.xlen(queue.prefix + "res") == 0
    assert (await queue.status()).queued == 4  # the new job's, but the one it leased


async def test_an_old_worker_s_other_steps_touch_nothing_of_the_new_job(
    queue: JobQueue, old: JobQueue
) -> None:
    await queue.add(pages("a.test", range(1, 3)))
    held, _ = await old.claim("old-worker", 10)
    told = Told(old)
    await restart(queue)
    leased = await claim_in_new_epoch(queue, "old-worker", 2)
    assert [task.token for task in leased] == [task.token for task in held]
    tokens = [task.token for task in leased]
    before = await queue._client.zrange(queue.prefix + "lease", 0, -1, withscores=True)
    # the old worker's tokens, were they the new job's, would be renewed or sent back
    assert await old.renew("old-worker", tokens) == tokens
    assert await old.retry("old-worker", [(token, 0.0) for token in tokens]) == (0, 2)
    await old.heartbeat("old-worker", {"fetched": 1})
    await old.throttle("new.test", 60.0, 5.0)  # (the old job's pace, and Crawl-delay)
    await old.floor("new.test", 5.0)
    after = await queue._client.zrange(queue.prefix + "lease", 0, -1, withscores=True)
    assert after == before
    assert await queue._client.zscore(queue.prefix + "workers", "old-worker") is None
    host = await queue._client.hgetall(queue.prefix + "h:new.test")
    assert set(host) & {b"until", b"gap"} == set()
    assert await queue._client.exists(queue.prefix + "floor") == 0
    assert told.times == 5


async def test_an_old_worker_writes_no_cookie_into_the_new_job(
    queue: JobQueue, old: JobQueue
) -> None:
    """``--cookies``: the jars the old job's responses changed are not the new job's."""
    told = Told(old)
    await restart(queue)
    jar = {"new.test|/": {"session": {"value": "old-job"}}}
    await old.jars().write({"new.test": jar})
    assert told.times == 1
    assert await queue._client.exists(queue.prefix + "ck", queue.prefix + "ckn") == 0
    await queue.jars().write({"new.test": jar})  # (the coordinator's, unfenced)
    assert await queue._client.hlen(queue.prefix + "ck") == 1


async def test_an_old_worker_takes_nothing_of_the_new_crawl_s_page_budget(
    queue: JobQueue, old: JobQueue
) -> None:
    told = Told(old)
    await restart(queue, kind="crawl", seen="1", max_pages="4")
    assert await CrawlQueue(old).take(3) == 0
    assert told.times == 1
    assert await CrawlQueue(queue).take(10) == 4  # the whole budget is the new job's


async def test_an_old_worker_s_crawl_commit_queues_none_of_its_links(
    queue: JobQueue, old: JobQueue
) -> None:
    await queue.configure({"kind": "crawl", "seen": "1", "epoch": OLD})
    await queue.add(pages("a.test", range(1, 2)))
    held, _ = await old.claim("old-worker", 10)
    await restart(queue, kind="crawl", seen="1")
    assert [t.token for t in await claim_in_new_epoch(queue, "old-worker", 1)] == [held[0].token]
    links = PageLinks(1, held[0].url, [("http://b.test/x", "b.test", None)])
    page = (held[0].token, FetchResult(url=held[0].url, status=200, ok=True), None, links)
    committed = await CrawlQueue(old).commit_and_claim("old-worker", [page], claim=10)
    assert (committed.ok, committed.stale, committed.claimed.tasks) == (0, 1, [])
    assert committed.claimed.replaced
    assert await queue._client.llen(queue.prefix + "q:b.test") == 0
    assert await queue._client.xlen(queue.prefix + "res") == 0


async def test_a_job_being_deleted_gets_no_key_back_from_an_old_worker(
    queue: JobQueue, old: JobQueue
) -> None:
    """``delete`` takes the job's settings first: an old worker's commit, claim and reap
    between that and the last key's deletion recreate nothing (a lease reaped back into a
    host's queue would be fetched by the next job, for a row of another store)."""
    await queue.configure({"per_host": "8", "lease_ms": "1", "epoch": OLD})
    await queue.add(pages("a.test", range(1, 3)))
    held, _ = await old.claim("old-worker", 1)
    await queue._client.unlink(queue.prefix + "meta")  # (what delete does first)
    assert await old.reap() == 0  # (its lease ran out: it would go back to a.test's queue)
    committed = await old.commit_and_claim("old-worker", [done(held[0])], claim=10)
    assert (committed.ok, committed.stale, committed.claimed.tasks) == (0, 1, [])
    assert not committed.claimed.replaced  # the job is gone, not started afresh
    assert await queue._client.xlen(queue.prefix + "res") == 0
    assert await queue._client.llen(queue.prefix + "q:a.test") == 1  # (as it was)
    await queue.floor("a.test", 1.0)
    await queue.delete()
    assert await queue._client.keys(queue.prefix + "*") == []


class Unhurried(Worker):
    """A worker whose keeper has not looked at the job's settings yet (it does once a
    second): only the fence in Redis stops it."""

    async def _keep(self) -> None:
        await self._ending.wait()


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


async def test_a_worker_whose_job_starts_afresh_claims_none_of_it_before_rejoining(
    queue: JobQueue, site: Site
) -> None:
    """A worker waits for work in the old job; the job is started afresh under it (keys
    deleted, a new epoch, new URLs, whose add wakes it): its claim is fenced, it stops to
    join again (``replaced``) with none of the new job's URLs fetched or claimed."""
    config = FetchConfig(concurrency=4, per_host=4, retries=0)
    await queue.configure({"config": config_to_json(config), "epoch": OLD})
    joined = await JobQueue.connect(queue.url, queue.job)
    worker = Unhurried(joined, config, "old-worker")
    worker.epoch = OLD  # (as run_worker gives it: the settings it joined with)
    running = asyncio.ensure_future(worker.run(None))
    try:
        await queue.binding().start_afresh()
        await queue.configure({"config": config_to_json(config), "epoch": NEW})
        urls = [site.url(f"page/{i}") for i in range(5)]
        await queue.add([(i, u, u, u.split("/")[2], None) for i, u in enumerate(urls, 1)])
        assert await asyncio.wait_for(running, 30) == 0
        assert worker.replaced
        assert site.statistics().by_prefix.get("/page", 0) == 0
        assert (await queue.status()).queued == 5
        assert await queue._client.xlen(queue.prefix + "res") == 0
    finally:
        if not running.done():
            worker.stop()
            await asyncio.wait_for(running, 30)
        await joined.close()


async def test_a_stopping_worker_whose_last_commit_is_fenced_does_not_join_again(
    queue: JobQueue,
) -> None:
    """A stop asked for (a signal: exit 143) ends the worker even when its last commit finds
    the job started afresh: it does not join the new job."""
    worker = Worker(queue, FetchConfig(concurrency=4), "old-worker")
    worker.stop(143)
    worker._fenced()  # (as ``JobQueue`` calls it on a fenced answer)
    assert (worker.replaced, worker.exit_code) == (False, 143)
