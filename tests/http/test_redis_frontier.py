"""``RedisFrontier`` beyond the contract: runs sharing it, fenced commits, its records stream,
the seen set's form, and Redis going away (a real redis-server).

Redis's ``TIME`` cannot be faked: where a lease must run out, the test sets its deadline to
0 in Redis itself (as ``JobQueue.release`` does for a worker known dead).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis_server import RedisServer

from corral.http._faults import StoreError
from corral.http.engine._request import InvalidLine
from corral.http.engine._result import FetchResult
from corral.http.scale._frontier import RedisFrontier
from corral.http.store._frontier import Done, LinkRow, PendingRow

T0 = "2026-12-04T00:00:00+00:00"


def link(url: str, depth: int = 0, skip: str | None = None) -> LinkRow:
    return LinkRow(url, url, urlsplit(url).hostname or "", depth, "http://seed.test/", skip)


def fetched(row: PendingRow, *links: LinkRow, items: int = 0) -> Done:
    result = FetchResult(url=row.url, status=200, ok=True, attempts=1, fetched_at=T0)
    return Done(row.id, result, links, [{"n": n} for n in range(items)])


async def opened(url: str, job: str = "site") -> RedisFrontier:
    store = RedisFrontier(url, job, kind="crawl")
    await store.open(["corral", "crawl"], T0)
    return store


async def expire(store: RedisFrontier, ident: int) -> None:
    """Make the lease of row ``ident`` run out now."""
    client: Any = store._client  # the test reaches into Redis itself
    await client.zadd(store.prefix + "lease", {str(ident): 0}, xx=True)


async def test_two_live_runs_share_the_frontier(redis_url: str) -> None:
    """Two runs open at once claim disjoint rows; neither's reap takes the other's live
    leases; a link found by either is added once."""
    one, two = await opened(redis_url), await opened(redis_url)
    assert two.run == one.run + 1
    assert two.earlier is None  # the run before is alive: not a resume
    await one.add_links([link(f"http://a.test/{n}") for n in range(4)])
    mine, theirs = await one.claim("a.test", 2), await two.claim("a.test", 10)
    assert {r.id for r in mine}.isdisjoint({r.id for r in theirs})
    assert len(mine) + len(theirs) == 4
    assert await one.reap() == 0
    assert await two.reap() == 0
    found = link("http://b.test/", 1)
    first = await one.commit([fetched(mine[0], found)])
    second = await two.commit([fetched(theirs[0], found)])
    assert (dict(first.new_by_host), dict(second.new_by_host)) == ({"b.test": 1}, {})
    await one.finish("finished", T0, {})
    await two.finish("finished", T0, {})


async def test_a_lost_lease_is_fenced(redis_url: str) -> None:
    """A row whose lease ran out goes back at reap; its former holder cannot commit it
    (commit refuses the batch; commit_held drops it and commits the rest), and the run
    that claimed it since does."""
    slow, other = await opened(redis_url), await opened(redis_url)
    await slow.add_links([link("http://a.test/1"), link("http://a.test/2")])
    lost, kept = await slow.claim("a.test", 2)
    await expire(slow, lost.id)
    assert await other.reap() == 1
    (again,) = await other.claim("a.test", 10)
    assert again.id == lost.id
    assert await slow.renew_held([lost.id, kept.id]) == [lost.id]
    with pytest.raises(StoreError, match=f"row {lost.id} is not leased"):
        await slow.commit([fetched(kept), fetched(lost)])
    committed, dropped = await slow.commit_held(
        [fetched(kept), fetched(lost, link("http://c.test/", 1))]
    )
    assert dropped == [lost.id]
    assert dict(committed.new_by_host) == {}  # the dropped row's links are dropped too
    await other.commit([fetched(again)])
    records = await other.records()
    assert sorted(r.ident for r in records) == sorted([kept.id, lost.id])
    await slow.finish("finished", T0, {})
    await other.finish("finished", T0, {})


async def test_a_run_taken_for_dead_is_refused(redis_url: str) -> None:
    """A run silent past its life is marked killed by the next open, its leases go back,
    and its later calls raise StoreError; the next run resumes it."""
    silent = await opened(redis_url)
    await silent.add_links([link("http://a.test/1")])
    (row,) = await silent.claim("a.test", 1)
    client: Any = silent._client
    await client.zadd(silent.prefix + "live", {str(silent.run): 0}, xx=True)
    later = RedisFrontier(redis_url, "site")
    assert await later.open(["corral", "crawl"], T0) == 1
    assert later.earlier is not None
    assert later.earlier.status == "killed"
    with pytest.raises(StoreError, match="is over"):
        await silent.commit([fetched(row)])
    assert [r.id for r in await later.claim("a.test", 10)] == [row.id]
    await silent.finish("failed", T0, {})
    await later.finish("finished", T0, {})


async def test_reaped_rows_go_back_in_their_place(redis_url: str) -> None:
    """Rows reaped one at a time, in any order, are claimed again in the order added."""
    one, two = await opened(redis_url), await opened(redis_url)
    await one.add_links([link(f"http://a.test/{n}") for n in range(6)])
    leased = await one.claim("a.test", 4)
    for row in (leased[2], leased[0], leased[3]):  # not in id order
        await expire(one, row.id)
        assert await two.reap() == 1
    again = await two.claim("a.test", 10)
    assert [r.url for r in again] == [f"http://a.test/{n}" for n in (0, 2, 3, 4, 5)]
    await one.finish("finished", T0, {})
    await two.finish("finished", T0, {})


async def test_records_stream_holds_each_record_once(redis_url: str) -> None:
    """Each commit and each skip leaves one entry, read back as a record (items with it, a
    skipped URL's password masked); forget deletes what a coordinator stored."""
    store = await opened(redis_url)
    secret = link("http://u:pw@c.test/", skip="out_of_scope")
    await store.add_links([link("http://a.test/"), secret])
    (row,) = await store.claim("a.test", 1)
    await store.commit([fetched(row, items=2)])
    first, second = await store.records()
    assert (first.result.error_kind, first.result.url) == ("out_of_scope", "http://u:***@c.test/")
    assert first.result.found_on == "http://seed.test/"
    assert (second.ident, second.result.status, second.items) == (row.id, 200, [{"n": 0}, {"n": 1}])
    assert await store.records(after=first.entry) == [second]
    await store.forget([first.entry, second.entry])
    assert await store.records() == []
    await store.finish("finished", T0, {})


async def test_the_seen_set_keeps_fingerprints_not_urls(redis_url: str) -> None:
    """Once committed, a URL is in Redis only as a 6-byte field of a seen bucket: no key or
    value holds its text (the records stream drained)."""
    store = await opened(redis_url)
    url = "http://a.test/a-rather-long-page-name"
    await store.add_links([link(url)])
    (row,) = await store.claim("a.test", 1)
    await store.commit([fetched(row)])
    await store.forget([r.entry for r in await store.records()])
    client: Any = store._client
    buckets = [key async for key in client.scan_iter(match=store.prefix + "s:*")]
    assert len(buckets) == 1
    assert [len(field) for field in await client.hkeys(buckets[0])] == [6]
    for key in [key async for key in client.scan_iter(match=store.prefix + "*")]:
        assert url.encode() not in key
        if await client.type(key) == b"hash":
            assert all(url.encode() not in value for value in await client.hvals(key))
    await store.finish("finished", T0, {})


def test_a_frontier_kind_is_refused_with_the_job_named(redis_url: str) -> None:
    """A fetch on a crawl's job is refused in one line naming the job and what to do."""

    async def main() -> str:
        crawl = await opened(redis_url, "both")
        await crawl.finish("finished", T0, {})
        with pytest.raises(StoreError) as caught:
            await RedisFrontier(redis_url, "both", kind="fetch").open(["corral"], T0)
        return str(caught.value)

    message = asyncio.run(main())
    assert "job both on redis://127.0.0.1" in message
    assert "another --job name" in message
    assert "\n" not in message


async def test_redis_unreachable_is_one_line() -> None:
    """open on an address where no Redis listens raises a one-line StoreError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreError, match="unreachable") as caught:
        await RedisFrontier(f"redis://127.0.0.1:{port}/0", "site").open(["corral"], T0)
    assert "\n" not in str(caught.value)


async def test_redis_gone_mid_run_is_one_line(redis_server: RedisServer) -> None:
    """A step while Redis is away raises a one-line StoreError that says what to do."""
    store = await opened(redis_server.url)
    await store.add_links([link("http://a.test/")])
    await asyncio.to_thread(redis_server.stop)
    with pytest.raises(StoreError, match="unreachable") as caught:
        await store.claim("a.test", 1)
    assert "run the same command again" in str(caught.value)
    assert "\n" not in str(caught.value)
    await asyncio.to_thread(redis_server.start)
    await store._close()


async def test_a_fetch_row_with_separators_comes_back_whole(redis_url: str) -> None:
    """An input line holding the element's separators is kept whole: a later run's
    leftovers hand it back as it was read."""
    odd = InvalidLine("not\x1fa url\x1e", "not_a_url", 1)
    store = RedisFrontier(redis_url, "odd", kind="fetch")
    await store.open(["corral", "fetch"], T0)
    added, handed = await store.add([odd, InvalidLine("plain", "not_a_url", 2)])
    assert (added.new, [item for _, item in handed]) == (2, [odd, handed[1][1]])
    await store.finish("interrupted", T0, {})
    later = RedisFrontier(redis_url, "odd", kind="fetch")
    await later.open(["corral", "fetch"], T0)
    rows = await later.leftovers(0, 10)
    assert [(r.url, r.invalid) for r in rows] == [
        ("not\x1fa url\x1e", "not_a_url"),
        ("plain", "not_a_url"),
    ]
    await later.finish("finished", T0, {})


async def test_links_from_concurrent_runs_are_added_once(redis_url: str) -> None:
    """Runs committing pages at once, every page linking the same URLs, add each URL once:
    the seen set decides inside each commit's script."""
    runs = [await opened(redis_url) for _ in range(3)]
    await runs[0].add_links([link(f"http://a.test/{n}") for n in range(30)])
    shared = [link(f"http://b.test/{n}", 1) for n in range(50)]

    async def work(store: RedisFrontier) -> int:
        new = 0
        while rows := await store.claim("a.test", 2):
            committed = await store.commit([fetched(row, *shared) for row in rows])
            new += sum(committed.new_by_host.values())
        return new

    added = await asyncio.gather(*(work(store) for store in runs))
    assert sum(added) == 50
    assert dict(await runs[0].pending_by_host()) == {"b.test": 50}
    assert len(await runs[0].records()) == 30
    for store in runs:
        await store.finish("finished", T0, {})


async def test_redis_out_of_memory_is_one_line(redis_url: str) -> None:
    """A step Redis refuses for its maxmemory raises a one-line StoreError saying so, and
    writes nothing of its batch."""
    store = await opened(redis_url)
    client: Any = store._client
    await client.config_set("maxmemory", "1")
    try:
        with pytest.raises(StoreError, match="out of memory") as caught:
            await store.add_links([link("http://a.test/")])
    finally:
        await client.config_set("maxmemory", "0")
    assert "\n" not in str(caught.value)
    assert dict(await store.pending_by_host()) == {}
    await store.finish("finished", T0, {})


async def test_the_frontier_survives_a_redis_restart_with_aof(tmp_path: Path) -> None:
    """With the AOF on, a Redis restart keeps the frontier: the next run reaps the lease
    left, does not claim the committed row again, and counts its record."""
    server = RedisServer(tmp_path / "redis", appendonly=True)
    await asyncio.to_thread(server.start)
    try:
        store = await opened(server.url)
        await store.add_links([link(f"http://a.test/{n}") for n in range(3)])
        done, left = await store.claim("a.test", 2)
        await store.commit([fetched(done)])
        await store.finish("interrupted", T0, {})
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        later = RedisFrontier(server.url, "site")
        assert await later.open(["corral", "crawl"], T0) == 1
        assert await later.earlier_records() == (1, 1)
        assert later.earlier is not None
        assert later.earlier.status == "interrupted"
        again = await later.claim("a.test", 10)
        assert [r.url for r in again] == [left.url, "http://a.test/2"]
        await later.finish("finished", T0, {})
    finally:
        await asyncio.to_thread(server.stop)
