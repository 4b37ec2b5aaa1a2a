"""A job's queue in a real Redis: leases, fencing, politeness per host, back-pressure.

Redis's ``TIME`` cannot be faked, so these tests pin order and counts, never durations: a
lease of 0 ms has expired as soon as it is given (``reap`` takes it back at once), a lease
of a minute has not (a test never lasts that long).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from corral.http._errors import RedisUnreachable, ScaleError
from corral.http.engine._result import FetchResult
from corral.http.scale._queue import BACKPRESSURE_WAIT, ENDED, JobQueue, Task
from corral.http.scale._status import JobStatus

MINUTE = "60000"


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[JobQueue]:
    job = await JobQueue.connect(redis_url, "prices")
    await job.configure({"per_host": "100", "lease_ms": MINUTE})
    yield job
    await job.close()


async def add_urls(queue: JobQueue, hosts: str, per_host: int, start: int = 1) -> int:
    """Queue ``per_host`` URLs on each host letter of ``hosts``; idents from ``start``."""
    tasks = []
    ident = start
    for host in hosts:
        for page in range(per_host):
            url = f"http://{host}.test/{page}"
            tasks.append((ident, url, url, f"{host}.test", None))
            ident += 1
    return await queue.add(tasks)


def done(task: Task) -> tuple[str, FetchResult, None]:
    return task.token, FetchResult(url=task.url, status=200, ok=True, attempts=1), None


async def job_keys(queue: JobQueue) -> list[bytes]:
    client = queue._client  # the test looks at Redis itself
    return [key async for key in client.scan_iter(match=queue.prefix + "*")]


async def test_each_url_is_claimed_once(queue: JobQueue) -> None:
    """Two workers claiming at once get every URL, none twice."""
    assert await add_urls(queue, "abc", 20) == 60

    async def worker(name: str) -> list[int]:
        got: list[int] = []
        while tasks := (await queue.claim(name, 7))[0]:
            got += [task.ident for task in tasks]
        return got

    first, second = await asyncio.gather(worker("w1"), worker("w2"))
    assert sorted(first + second) == list(range(1, 61))
    assert (await queue.claim("w3", 10)) == ([], None)


async def test_a_claim_after_the_job_ended_says_so(queue: JobQueue) -> None:
    """claim: once the job is finished, a claim hands out nothing, even of what is still
    queued, and says the job ended (a waiting worker, woken by the finish, exits at once
    instead of at its next look at the job's state)."""
    await add_urls(queue, "a", 3)
    await queue.finish("finished")
    assert await queue.claim("w", 10) == ([], ENDED)


async def test_a_task_carries_its_request(queue: JobQueue) -> None:
    """A claimed task has its ident, URL, host and request JSON as added."""
    request = '{"method": "POST", "headers": {}, "body": "a\\u001fb"}'
    await queue.add([(42, "k", "http://a.test/p?q=é", "a.test", request)])
    [task], _ = await queue.claim("w", 10)
    assert (task.ident, task.url, task.host, task.request) == (
        42,
        "http://a.test/p?q=é",
        "a.test",
        request,
    )


async def test_a_key_added_twice_is_queued_once(queue: JobQueue) -> None:
    """Adding a key the job knows (queued, leased, or committed and not acknowledged) is a
    no-op; once its result is acknowledged, adding it again is a new fetch."""
    assert await add_urls(queue, "a", 3) == 3
    assert await add_urls(queue, "a", 3) == 0
    tasks, _ = await queue.claim("w", 10)
    assert await add_urls(queue, "a", 3) == 0  # leased
    assert await queue.commit("w", [done(task) for task in tasks]) == (3, 0)
    assert await add_urls(queue, "a", 3) == 0  # committed, result not drained
    outcomes = await queue.results("c", 10, 0)
    await queue.acknowledge([outcome.entry for outcome in outcomes])
    assert await add_urls(queue, "a", 3) == 3


async def test_acknowledging_twice_forgets_a_key_once(queue: JobQueue) -> None:
    """acknowledge with the entries' fingerprints (the coordinator's way: Redis need not read
    each entry for it) forgets their keys; the same acknowledgement again (a coordinator
    restarted after its commit) forgets nothing, not even the same keys added anew since."""
    await add_urls(queue, "a", 3)
    tasks, _ = await queue.claim("w", 10)
    await queue.commit("w", [done(task) for task in tasks])
    outcomes = await queue.results("c", 10, 0)
    entries, fps = [o.entry for o in outcomes], [o.fp for o in outcomes]
    await queue.acknowledge(entries, fps)
    assert await add_urls(queue, "a", 3) == 3  # forgotten: a new fetch
    await queue.acknowledge(entries, fps)
    assert await add_urls(queue, "a", 3) == 0  # still known: queued
    assert (await queue.status()).undrained == 0


async def test_a_retried_url_s_attempts_go_with_its_commit(queue: JobQueue) -> None:
    """The count of a URL's earlier failed attempts (sent back by ``retry``) reaches the
    worker that claims it next, and goes once that worker commits it."""
    await add_urls(queue, "a", 1)
    [first], _ = await queue.claim("w", 1)
    assert await queue.retry("w", [(first.token, 0.0)]) == (1, 0)
    [again], _ = await queue.claim("w", 1)
    assert again.attempts == 1
    assert await queue.commit("w", [done(again)]) == (1, 0)
    assert queue.prefix.encode() + b"att" not in await job_keys(queue)


async def test_a_reaped_lease_is_not_an_attempt(queue: JobQueue) -> None:
    """A lease that expired (a worker killed, stalled) is no failed attempt: the URL's next
    claim counts no earlier attempt, so its record is not shown as a retry (the job's
    ``reaped`` figure counts it apart)."""
    await queue.configure({"lease_ms": "0"})
    await add_urls(queue, "a", 1)
    await queue.claim("dead", 1)
    assert await queue.reap() == 1
    await queue.configure({"lease_ms": MINUTE})
    [again], _ = await queue.claim("alive", 1)
    assert again.attempts == 0
    assert (await queue.status()).reaped == 1
    assert await queue.commit("alive", [done(again)]) == (1, 0)
    assert queue.prefix.encode() + b"att" not in await job_keys(queue)


async def test_a_committed_url_is_not_claimed_again(queue: JobQueue) -> None:
    """Commit, then claim: nothing; one result per URL, in the stream."""
    await add_urls(queue, "ab", 2)
    tasks, _ = await queue.claim("w", 10)
    assert len(tasks) == 4
    assert await queue.commit("w", [done(task) for task in tasks]) == (4, 0)
    assert await queue.claim("w", 10) == ([], None)
    outcomes = await queue.results("c", 10, 0)
    assert sorted(outcome.ident for outcome in outcomes) == [1, 2, 3, 4]
    assert {outcome.worker for outcome in outcomes} == {"w"}
    sent = {task.ident: done(task)[1] for task in tasks}
    assert all(outcome.result == sent[outcome.ident] for outcome in outcomes)


async def test_a_stale_commit_writes_no_result(queue: JobQueue) -> None:
    """A worker whose lease expired and was reaped cannot commit: its result is dropped and
    the new holder's is the one result."""
    await queue.configure({"lease_ms": "0"})  # expired as soon as given
    await add_urls(queue, "a", 1)
    [late], _ = await queue.claim("slow", 1)
    assert await queue.reap() == 1
    [again], _ = await queue.claim("fast", 1)
    assert again.ident == late.ident
    assert again.token != late.token
    assert await queue.commit("slow", [done(late)]) == (0, 1)
    assert await queue.results("c", 10, 0) == []
    assert await queue.commit("fast", [done(again)]) == (1, 0)
    assert [o.worker for o in await queue.results("c", 10, 0)] == ["fast"]


async def test_renew_keeps_a_lease_past_its_deadline(queue: JobQueue) -> None:
    """A renewed lease outlives its first deadline; an unrenewed one beside it is reaped,
    and renewing it afterwards reports it lost."""
    await queue.configure({"lease_ms": "0"})
    await add_urls(queue, "ab", 1)
    kept, dropped = (await queue.claim("w", 2))[0]
    await queue.configure({"lease_ms": MINUTE})
    assert await queue.renew("w", [kept.token]) == []
    assert await queue.reap() == 1
    assert await queue.renew("w", [kept.token, dropped.token]) == [dropped.token]
    assert await queue.commit("w", [done(kept), done(dropped)]) == (1, 1)


async def test_reap_returns_expired_leases_once(queue: JobQueue) -> None:
    """Each expired lease is reaped once; its URL is claimable again, the reaps counted."""
    await queue.configure({"lease_ms": "0"})
    await add_urls(queue, "abc", 1)
    first, _ = await queue.claim("w", 10)
    assert await queue.reap() == 3
    assert await queue.reap() == 0
    second, _ = await queue.claim("w", 10)
    assert sorted(t.ident for t in second) == sorted(t.ident for t in first)
    status = await queue.status()
    assert (status.reaped, status.leased, status.queued) == (3, 3, 0)


async def test_the_per_host_cap_holds_until_a_commit(queue: JobQueue) -> None:
    """With per_host 2, claims give at most 2 URLs of a host in flight; a commit frees one."""
    await queue.configure({"per_host": "2"})
    await add_urls(queue, "a", 5)
    held, wait = await queue.claim("w1", 10)
    assert len(held) == 2
    assert wait is not None  # queued, but parked at its cap
    assert (await queue.claim("w2", 10))[0] == []
    await queue.commit("w1", [done(held[0])])
    assert len((await queue.claim("w2", 10))[0]) == 1


async def test_a_gap_gives_one_url_of_a_host_per_claim(queue: JobQueue) -> None:
    """With a gap between dispatches, a claim takes one URL of each host, and the next claim
    none until the gap has passed (it says how long)."""
    await queue.configure({"gap_ms": MINUTE})
    await add_urls(queue, "ab", 3)
    tasks, _ = await queue.claim("w1", 10)
    assert sorted(task.host for task in tasks) == ["a.test", "b.test"]
    tasks, wait = await queue.claim("w2", 10)
    assert tasks == []
    assert wait is not None
    assert 0 < wait <= 60


async def test_throttle_holds_a_host_for_every_worker(queue: JobQueue) -> None:
    """A throttled host gives nothing to anyone until its time; other hosts go on."""
    await add_urls(queue, "ab", 2)
    await queue.throttle("a.test", 60)
    tasks, wait = await queue.claim("w", 10)
    assert {task.host for task in tasks} == {"b.test"}
    assert wait is not None
    assert 0 < wait <= 60


async def test_back_pressure_on_undrained_results(queue: JobQueue) -> None:
    """With max_results undrained results in the stream, claims give nothing until the
    coordinator acknowledges some."""
    await queue.configure({"max_results": "2"})
    await add_urls(queue, "abcd", 1)
    tasks, _ = await queue.claim("w", 2)
    await queue.commit("w", [done(task) for task in tasks])
    assert await queue.claim("w", 2) == ([], BACKPRESSURE_WAIT)
    outcomes = await queue.results("c", 10, 0)
    await queue.acknowledge([outcomes[0].entry])
    assert len((await queue.claim("w", 2))[0]) == 2


async def test_pending_results_come_back_after_a_coordinator_restart(queue: JobQueue) -> None:
    """Results read and not acknowledged are read again by a restarted consumer of the same
    name (once), then new ones; a running consumer is not handed the same records twice."""
    await add_urls(queue, "abc", 1)
    tasks, _ = await queue.claim("w", 10)
    await queue.commit("w", [done(tasks[0])])
    first = await queue.results("coord", 10, 0)
    await queue.commit("w", [done(tasks[1])])
    assert [o.ident for o in await queue.results("coord", 10, 0)] == [tasks[1].ident]
    restarted = await JobQueue.connect(queue.url, queue.job)  # the same name, after a restart
    try:
        again = await restarted.results("coord", 10, 0)
        assert [o.ident for o in again] == [tasks[0].ident, tasks[1].ident]
        assert again[0].entry == first[0].entry
        await restarted.acknowledge([o.entry for o in again])
        assert await restarted.results("coord", 10, 0) == []
        await queue.commit("w", [done(tasks[2])])
        assert [o.ident for o in await restarted.results("coord", 10, 0)] == [tasks[2].ident]
    finally:
        await restarted.close()


async def test_wait_for_work_is_woken_by_add(queue: JobQueue) -> None:
    """An idle worker sleeping without a deadline wakes when URLs are added."""
    sleeper = asyncio.ensure_future(queue.wait_for_work(None))
    await add_urls(queue, "a", 1)
    await asyncio.wait_for(sleeper, 10)
    assert len((await queue.claim("w", 1))[0]) == 1


async def test_two_jobs_on_one_redis_are_apart(queue: JobQueue, redis_url: str) -> None:
    """A second job's URLs, claims and deletion never touch the first's."""
    other = await JobQueue.connect(redis_url, "news")
    try:
        await other.configure({})
        await add_urls(queue, "a", 2)
        await add_urls(other, "a", 2)  # the same keys: another job
        tasks, _ = await other.claim("w", 10)
        assert len(tasks) == 2
        await other.delete()
        assert await other.settings() is None
        assert len((await queue.claim("w", 10))[0]) == 2
    finally:
        await other.close()


async def test_delete_leaves_no_key(queue: JobQueue) -> None:
    """After every kind of step, ``delete`` leaves not one key of the job."""
    await add_urls(queue, "abc", 3)
    tasks, _ = await queue.claim("w", 4)
    await queue.commit("w", [done(task) for task in tasks[:2]])
    await queue.throttle("c.test", 60)
    await queue.heartbeat("w", {"fetched": 2})
    await queue.results("c", 1, 0)
    assert await job_keys(queue)
    await queue.delete()
    assert await job_keys(queue) == []


async def test_status_shows_hosts_and_workers(queue: JobQueue) -> None:
    """The status counts queued, leased, done and undrained URLs, hosts and workers."""
    await add_urls(queue, "ab", 3)
    await queue.configure({"per_host": "1"})
    tasks, _ = await queue.claim("w", 10)
    await queue.commit("w", [done(tasks[0])])
    await queue.heartbeat("w", {"fetched": 1, "in_flight": 1})
    status = await queue.status()
    assert isinstance(status, JobStatus)
    assert (status.state, status.queued, status.leased, status.done, status.undrained) == (
        "running",
        4,
        1,
        1,
        1,
    )
    assert sorted(host[:3] for host in status.hosts) == [("a.test", 2, 0), ("b.test", 2, 1)]
    assert [(name, figures) for name, _, figures in status.workers] == [
        ("w", {"fetched": 1, "in_flight": 1})
    ]
    await queue.finish("done")
    assert (await queue.status()).state == "done"


async def test_an_unreachable_redis_is_one_line_with_the_password_masked() -> None:
    """Nothing listening: a RedisUnreachable naming the URL with its password as ***."""
    with pytest.raises(RedisUnreachable) as caught:
        await JobQueue.connect("redis://:secret@127.0.0.1:1/0", "prices")
    message = caught.value.message
    assert message.startswith("redis://:***@127.0.0.1:1/0 unreachable (")
    assert "secret" not in message
    assert "\n" not in message


@pytest.mark.parametrize("job", ["", "a}b", "a b", "x" * 101])
async def test_a_bad_job_name_is_refused(job: str, redis_url: str) -> None:
    """A job name must fit a key's hash tag: letters, digits, '_', '.', '-'."""
    with pytest.raises(ScaleError, match="bad job name"):
        await JobQueue.connect(redis_url, job)
