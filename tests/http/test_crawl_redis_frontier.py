"""A crawl's frontier and seen set in Redis (issue 15): a worker's commit takes the page's
links, and Redis queues those new to the crawl, once, whichever worker found them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from corral.http.engine._result import FetchResult
from corral.http.scale._crawlqueue import CrawlQueue, PageLinks, link_id, new_links
from corral.http.scale._queue import JobQueue, Task, fingerprint

# (the session's first Redis connection reads redis-py's metadata: a stall on a loaded machine)
pytestmark = pytest.mark.corral_guard(strict=False, threshold=1000)
MINUTE = "60000"
H = "a.test"


def url(n: int) -> str:
    return f"http://{H}/{n}"


@pytest.fixture(scope="module", autouse=True)
def _redis_py_read_its_metadata() -> None:
    """Let redis-py read its version off the loop, once (its first connection does: 0.4-2 s
    on a loaded machine, a stall the guard reports in whichever test connects first)."""
    from redis.utils import get_lib_version

    get_lib_version()


@pytest.fixture
async def crawl(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[CrawlQueue]:
    queue = await JobQueue.connect(redis_url, f"frontier-{request.node.name[-40:]}")
    await queue.delete()
    await queue.configure({"kind": "crawl", "seen": "1", "per_host": "100", "lease_ms": MINUTE})
    yield CrawlQueue(queue)
    await queue.delete()
    await queue.close()


def page(task: Task) -> FetchResult:
    return FetchResult(url=task.url, status=200, ok=True, attempts=1, depth=0)


def links(found_on: str, *found: tuple[int, str | None]) -> PageLinks:
    return PageLinks(1, found_on, [(url(n), H, skip) for n, skip in found])


async def test_links_two_workers_find_are_queued_once(crawl: CrawlQueue) -> None:
    """Two workers commit pages whose links overlap, at once: each link new to the crawl is
    queued once, with the id its fingerprint makes, and a seed already seen is not queued
    again; skipped links get an id and no place in the queue."""
    queue = crawl.queue
    assert await queue.add([(1, url(1), url(1), H, None), (2, url(2), url(2), H, None)]) == 2
    (one,), _ = await queue.claim("w1", 1)
    (two,), _ = await queue.claim("w2", 1)
    first = links(one.url, (10, None), (11, None), (12, "out_of_scope"), (2, None))
    second = links(two.url, (11, None), (13, None), (1, None), (10, None))
    done = await asyncio.gather(
        crawl.commit("w1", [(one.token, page(one), None, first)]),
        crawl.commit("w2", [(two.token, page(two), None, second)]),
    )
    assert list(done) == [(1, 0), (1, 0)]
    outcomes = await queue.results("coordinator", 10, 0)
    rows = [row for outcome in outcomes for row in new_links(outcome)]
    assert sorted(row.url for row in rows) == [url(10), url(11), url(12), url(13)]
    assert all(row.ident == link_id(fingerprint(row.url)) for row in rows)
    assert {row.url: row.skip for row in rows}[url(12)] == "out_of_scope"
    assert {row.depth for row in rows} == {1}
    claimed, _ = await queue.claim("w1", 100)
    assert sorted(task.url for task in claimed) == [url(10), url(11), url(13)]
    assert {task.ident for task in claimed} == {row.ident for row in rows if row.skip is None}
    # drained and acknowledged: the seen set keeps them (a crawl's never forgets)
    await queue.acknowledge([outcome.entry for outcome in outcomes])
    assert await queue.add([(3, url(11), url(11), H, None), (4, url(12), url(12), H, None)]) == 0
    assert (await crawl.figures()).queued == 0


async def test_a_stale_commit_queues_none_of_its_links(crawl: CrawlQueue) -> None:
    """A worker whose lease was reaped cannot commit: its page's links stay unseen, for the
    worker that fetches the page again."""
    queue = crawl.queue
    await queue.configure({"kind": "crawl", "seen": "1", "lease_ms": "0"})
    await queue.add([(1, url(1), url(1), H, None)])
    (task,), _ = await queue.claim("w1", 1)
    assert await queue.reap() == 1
    assert await crawl.commit(
        "w1", [(task.token, page(task), None, links(task.url, (5, None)))]
    ) == (
        0,
        1,
    )
    (again,), _ = await queue.claim("w2", 1)
    found = links(again.url, (5, None))
    assert await crawl.commit("w2", [(again.token, page(again), None, found)]) == (1, 0)
    (outcome,) = await queue.results("coordinator", 10, 0)
    assert [row.url for row in new_links(outcome)] == [url(5)]


async def test_the_page_budget_is_shared_and_then_skips_new_links(crawl: CrawlQueue) -> None:
    """``--max-pages 3``: workers take the budget from one counter; once it is spent, new
    links found on pages still in flight are skipped for max_pages, not queued."""
    queue = crawl.queue
    await queue.configure({"kind": "crawl", "seen": "1", "max_pages": "3", "lease_ms": MINUTE})
    await crawl.at_least("pages", 1)  # (an earlier run fetched one)
    assert [await crawl.take(1), await crawl.take(5), await crawl.take(1)] == [1, 1, 0]
    await queue.add([(1, url(1), url(1), H, None)])
    (task,), _ = await queue.claim("w1", 1)
    found = links(task.url, (7, None), (8, "nofollow"))
    await crawl.commit("w1", [(task.token, page(task), None, found)])
    (outcome,) = await queue.results("coordinator", 10, 0)
    assert {row.url: row.skip for row in new_links(outcome)} == {
        url(7): "max_pages",
        url(8): "nofollow",
    }
    assert (await crawl.figures()).queued == 0
