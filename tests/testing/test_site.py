"""``open_site`` and ``Site``: addresses, statistics, the request log and a prompt close."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno

import aiohttp
import pytest

from corral.testing import RequestRecord, Site, open_site


async def test_url_and_base_url(corral_site: Site) -> None:
    """``base_url`` is the origin on 127.0.0.1 and a free port; ``url`` joins paths to it."""
    assert corral_site.host == "127.0.0.1"
    assert corral_site.port > 0
    assert corral_site.base_url == f"http://127.0.0.1:{corral_site.port}"
    assert corral_site.url("/page/1") == f"{corral_site.base_url}/page/1"
    assert corral_site.url("page/1?x=2") == f"{corral_site.base_url}/page/1?x=2"
    assert corral_site.url() == f"{corral_site.base_url}/"
    assert corral_site.other_base_url == f"http://localhost:{corral_site.port}"
    assert repr(corral_site) == f"<corral.testing.Site {corral_site.base_url}>"


async def test_statistics_count_requests_by_prefix(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """Every request counts, by its first path segment, whatever its outcome."""
    for path in ["/page/1", "/page/2", "/status/500", "/", "/robots.txt", "/nowhere", "/drop"]:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.post(corral_site.url(path)) as response:
                await response.read()
    stats = corral_site.statistics()
    assert stats.requests == 7
    assert stats.by_prefix == {
        "/page": 2,
        "/status": 1,
        "/": 1,
        "/robots.txt": 1,
        "/nowhere": 1,
        "/drop": 1,
    }
    assert stats.in_flight == 0


async def test_statistics_are_a_frozen_snapshot(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """A snapshot cannot be changed and does not move with later requests."""
    before = corral_site.statistics()
    async with session.get(corral_site.url("/page/1")) as response:
        await response.read()
    assert before.requests == 0
    assert before.by_prefix == {}
    assert corral_site.statistics().requests == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.requests = 5  # type: ignore[misc]


async def test_peak_in_flight_shows_real_concurrency(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """Five requests held open at once show as five in flight, and as the peak afterwards."""
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(5):
            response = await stack.enter_async_context(
                session.get(corral_site.url("/stall?after=1"))
            )
            await response.content.readexactly(1)  # its handler is running now
            stack.callback(response.close)
        assert corral_site.statistics().in_flight == 5
    assert corral_site.statistics().peak_in_flight == 5


async def test_recent_log_records_requests_with_the_injected_clock(
    session: aiohttp.ClientSession,
) -> None:
    """``recent`` keeps the last ``log_size`` requests, stamped by the site's clock."""
    ticks = iter(range(100, 200))
    async with open_site(clock=lambda: float(next(ticks)), log_size=3) as site:
        for i in range(5):
            headers = {"User-Agent": f"agent-{i}"}
            async with session.get(site.url(f"/page/{i}?q={i}"), headers=headers) as response:
                await response.read()
        recent = site.statistics().recent
    assert recent == tuple(
        RequestRecord(
            at=float(100 + i),
            method="GET",
            target=f"/page/{i}?q={i}",
            client="127.0.0.1",
            user_agent=f"agent-{i}",
        )
        for i in (2, 3, 4)
    )


async def test_log_size_zero_keeps_no_log(session: aiohttp.ClientSession) -> None:
    """``log_size=0`` turns the log off; the counters still count."""
    async with open_site(log_size=0) as site:
        async with session.get(site.url("/page/1")) as response:
            await response.read()
        stats = site.statistics()
    assert stats.recent == ()
    assert stats.requests == 1


async def test_negative_log_size_is_rejected() -> None:
    """A negative ``log_size`` is a ValueError before anything listens."""
    with pytest.raises(ValueError, match="log_size must be >= 0"):
        async with open_site(log_size=-1):
            pass


async def test_a_taken_port_is_an_os_error(corral_site: Site) -> None:
    """Asking for a port that is in use raises OSError from ``open_site``."""
    with pytest.raises(OSError, match=r"(?i)address already in use") as caught:
        async with open_site(port=corral_site.port):
            pass
    assert caught.value.errno == errno.EADDRINUSE


async def test_an_explicit_port_is_used() -> None:
    """A given port is the one the site listens on (one just freed by another site)."""
    async with open_site() as first:
        port = first.port
    async with open_site(port=port) as second:
        assert second.port == port
        assert second.base_url.endswith(f":{port}")


async def test_close_ends_slow_requests_at_once(session: aiohttp.ClientSession) -> None:
    """Closing the site ends stalled, delayed and trickling responses without waiting them out.

    The 10 s bound is a liveness guard far below the 60 s delay, not a timing measurement.
    """
    async with asyncio.timeout(10):
        async with open_site() as site:
            stalled = await session.get(site.url("/stall?after=1"))
            await stalled.content.readexactly(1)
            trickling = await session.get(site.url("/trickle/100?interval_ms=60000"))
            await trickling.content.readexactly(1)
            delayed = asyncio.ensure_future(session.post(site.url("/delay/60000")))
            await site.wait_until(lambda stats: stats.in_flight == 3)
        for response in (stalled, trickling):
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await delayed


async def test_wait_until_wakes_on_requests(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``wait_until`` returns the first snapshot that satisfies the predicate."""
    waiter = asyncio.ensure_future(corral_site.wait_until(lambda stats: stats.requests >= 3))
    for i in range(3):
        assert not waiter.done()
        async with session.get(corral_site.url(f"/page/{i}")) as response:
            await response.read()
    stats = await waiter
    assert stats.requests == 3


async def test_wait_until_survives_another_waiters_cancellation(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """Cancelling one waiter (a timeout, say) leaves the other waiters waiting correctly."""
    doomed = asyncio.ensure_future(corral_site.wait_until(lambda stats: stats.requests >= 100))
    patient = asyncio.ensure_future(corral_site.wait_until(lambda stats: stats.requests >= 1))
    await asyncio.sleep(0)  # let both start waiting
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    async with session.get(corral_site.url("/page/1")) as response:
        await response.read()
    assert (await patient).requests == 1


async def test_bulk_run_of_distinct_pages() -> None:
    """Two thousand distinct pages at concurrency 50: all served, never more than 50 at once."""
    connector = aiohttp.TCPConnector(limit=50)
    async with open_site(log_size=0) as site, aiohttp.ClientSession(connector=connector) as session:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(2000):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                async with session.get(site.url(f"/page/{i}")) as response:
                    assert f"Page {i}<".encode() in await response.read()

        async with asyncio.TaskGroup() as group:
            for _ in range(50):
                group.create_task(worker())
        stats = site.statistics()
    assert stats.by_prefix == {"/page": 2000}
    assert stats.peak_in_flight <= 50
