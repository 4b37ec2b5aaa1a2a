"""One site over Redis is not latency-bound: a commit that frees a host's slot claims the
host's next URL for its worker in the same step, a crawl's slot is freed when its request
ends, and wake-ups that tell of nothing new do not send workers to claim for nothing.

Counts and order only, never durations (see test_scale_queue.py); a worker's claims are
counted where they go to Redis (``CountingQueue``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from corral.http.engine._config import FetchConfig
from corral.http.engine._result import FetchResult
from corral.http.scale._queue import JobQueue, Task
from corral.http.scale._wire import config_to_json
from corral.http.scale._worker import Worker
from corral.testing import Site, open_site

pytestmark = [pytest.mark.corral_guard(strict=False, threshold=1000), pytest.mark.timeout(90)]
MINUTE = "60000"


@pytest.fixture
async def queue(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[JobQueue]:
    job = await JobQueue.connect(redis_url, f"claims-{request.node.name}"[:60])
    await job.delete()
    await job.configure({"per_host": "2", "lease_ms": MINUTE})
    yield job
    await job.delete()
    await job.close()


async def add_pages(queue: JobQueue, n: int, host: str = "a.test") -> None:
    urls = [f"http://{host}/{i}" for i in range(n)]
    await queue.add([(i, url, url, host, None) for i, url in enumerate(urls, 1)])


class CountingQueue(JobQueue):
    """A job queue that counts the claim scripts run on Redis, and those that found nothing."""

    claims = empty = 0

    async def _run(self, name: str, args: Sequence[Any] = ()) -> Any:
        reply = await super()._run(name, args)
        if name == "CLAIM":
            self.claims += 1
            self.empty += not reply[0]
        return reply


def done(task: Task) -> tuple[str, FetchResult, None]:
    return task.token, FetchResult(url=task.url, status=200, ok=True, attempts=1), None


async def wake_ups(queue: JobQueue) -> int:
    length: int = await queue._client.llen(queue.prefix + "wake")  # (Redis itself)
    return length


async def test_a_commit_that_frees_a_slot_claims_the_host_s_next_url(queue: JobQueue) -> None:
    """Per host 2, one host: the commit of one URL leases the next one to the committing
    worker in the same step, and the host is full again (another claim finds nothing)."""
    await add_pages(queue, 5)
    first, _ = await queue.claim("w", 10)
    assert len(first) == 2  # the host's two slots
    committed = await queue.commit_and_claim("w", [done(first[0])], claim=10)
    assert (committed.ok, committed.stale) == (1, 0)
    assert [task.ident for task in committed.claimed.tasks] == [3]
    assert committed.claimed.wait != 0  # nothing more due now: the worker waits
    assert (await queue.claim("other", 10))[0] == []


async def test_a_request_over_frees_its_slot_before_its_record(queue: JobQueue) -> None:
    """A crawl's page is examined after its request: its slot is freed at once (``fetched``)
    and the next URL leased; the record committed later is not counted off the host twice."""
    await add_pages(queue, 4)
    first, _ = await queue.claim("w", 10)
    step = await queue.commit_and_claim("w", [], fetched=[first[0].token], claim=10)
    assert [task.ident for task in step.claimed.tasks] == [3]
    again = await queue.commit_and_claim("w", [done(first[0])], fetched=[first[0].token])
    assert (again.ok, again.stale, again.claimed.tasks) == (1, 0, [])
    assert (await queue.claim("w", 10))[0] == []  # still two in flight: 2 and 3
    await queue.commit("w", [done(first[1]), done(step.claimed.tasks[0])])
    assert [task.ident for task in (await queue.claim("w", 10))[0]] == [4]


async def test_a_commit_claims_no_more_than_the_worker_s_share(queue: JobQueue) -> None:
    """Two live workers: a commit's own claim takes no more than half a host's slots for its
    worker, so a worker that came late is not starved by one that refills its slots."""
    await queue.configure({"per_host": "4", "lease_ms": MINUTE})
    await add_pages(queue, 10)
    for name in ("w1", "w2"):
        await queue.heartbeat(name, {})
    held, _ = await queue.claim("w1", 10)
    assert len(held) == 4  # w1 came first and took every slot
    step = await queue.commit_and_claim("w1", [done(held[0])], claim=10)
    assert step.claimed.tasks == []  # w1 holds 3, more than its share of 2
    late, _ = await queue.claim("w2", 10)
    assert [task.ident for task in late] == [5]


async def test_a_claim_that_finds_nothing_drops_the_wake_ups_it_has_seen(
    queue: JobQueue,
) -> None:
    """An add leaves wake-ups for every worker; a claim that then finds nothing due has seen
    what they told of, and drops them (each would send a worker to claim for nothing)."""
    await add_pages(queue, 5)
    assert await wake_ups(queue) > 0
    assert len((await queue.claim("w", 10))[0]) == 2
    assert await wake_ups(queue) == 0


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


async def test_a_worker_on_one_host_gets_its_urls_from_its_commits(
    redis_url: str, site: Site
) -> None:
    """One host, per host 2, 60 pages: the worker's own claims are a handful (not one or
    two a URL, woken by each commit and finding the host full): its commits claim for it."""
    n = 60
    queue = await CountingQueue.connect(redis_url, "one-host")
    assert isinstance(queue, CountingQueue)
    await queue.delete()
    config = FetchConfig(concurrency=50, per_host=2, retries=0)
    await queue.configure({"per_host": "2", "config": config_to_json(config)})
    urls = [site.url(f"page/{i}") for i in range(n)]
    await queue.add([(i, u, u, u.split("/")[2], None) for i, u in enumerate(urls, 1)])
    worker = Worker(queue, config, "w1")
    running = asyncio.ensure_future(worker.run(None))
    got = 0
    while got < n:
        batch = await queue.results("coordinator-1", 100, 1000)
        await queue.acknowledge([outcome.entry for outcome in batch])
        got += len(batch)
    await queue.finish("done")
    assert await asyncio.wait_for(running, 30) == 0
    assert site.statistics().by_prefix["/page"] == n
    # before: about two claims a URL, one of them empty (the host full)
    assert queue.claims <= n // 6, (queue.claims, queue.empty)
    assert queue.empty <= n // 10, (queue.claims, queue.empty)
    assert worker.claim_statistics().handed >= n // 4  # most URLs came with a commit
    await queue.delete()
    await queue.close()
