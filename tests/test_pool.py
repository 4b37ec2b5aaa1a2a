"""Pool: bounded, FIFO, health-checked, and cancel-safe on both sides."""

from __future__ import annotations

import asyncio
import itertools

import pytest

import corral

pytestmark = pytest.mark.virtual_time


class Conn:
    """A fake resource that knows whether it was closed."""

    ids = itertools.count()

    def __init__(self) -> None:
        self.id = next(self.ids)
        self.closed = False
        self.healthy = True
        self.resets = 0

    async def aclose(self) -> None:
        await asyncio.sleep(0)
        self.closed = True


class Factory:
    def __init__(self) -> None:
        self.made: list[Conn] = []
        self.fail_next = False

    async def __call__(self) -> Conn:
        await asyncio.sleep(0.1)
        if self.fail_next:
            self.fail_next = False
            raise ConnectionRefusedError("cannot connect")
        conn = Conn()
        self.made.append(conn)
        return conn


async def test_never_more_than_max_size_exist() -> None:
    """Twenty concurrent borrowers share three resources; no fourth is ever made."""
    factory = Factory()
    pool = corral.Pool(factory, max_size=3)
    peak = 0

    async def borrow() -> None:
        nonlocal peak
        async with pool.acquire() as conn:
            assert not conn.closed
            peak = max(peak, pool.statistics().borrowed)
            await asyncio.sleep(1)

    await asyncio.gather(*(borrow() for _ in range(20)))
    assert len(factory.made) == 3
    assert peak == 3
    stats = pool.statistics()
    assert (stats.size, stats.idle, stats.borrowed, stats.waiting) == (3, 3, 0, 0)


async def test_waiters_are_served_first_come_first_served() -> None:
    """Waiters get the resource in the order they asked."""
    pool = corral.Pool(Factory(), max_size=1)
    order: list[int] = []

    async def borrow(i: int) -> None:
        async with pool.acquire():
            order.append(i)
            await asyncio.sleep(1)

    tasks = []
    for i in range(5):
        tasks.append(asyncio.get_running_loop().create_task(borrow(i)))
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


async def test_acquire_timeout_raises_queue_timeout() -> None:
    """No resource within timeout= raises QueueTimeout and leaves no waiter behind."""
    pool = corral.Pool(Factory(), max_size=1)
    async with pool.acquire():
        with pytest.raises(corral.QueueTimeout):
            async with pool.acquire(timeout=1):
                pytest.fail("got a second resource from a pool of one")
        assert pool.statistics().waiting == 0


async def test_unhealthy_resources_are_replaced_on_checkout() -> None:
    """A pooled resource failing its check is closed and a fresh one handed out."""
    factory = Factory()
    pool = corral.Pool(factory, max_size=2, check=lambda c: c.healthy)
    async with pool.acquire() as first:
        pass
    first.healthy = False
    async with pool.acquire() as second:
        assert second is not first
    assert first.closed
    assert pool.statistics().discarded == 1
    assert pool.statistics().size == 1


async def test_reset_runs_on_release_and_a_failing_reset_discards() -> None:
    """reset runs when a resource comes back; if it raises, the resource is closed."""

    def reset(conn: Conn) -> None:
        conn.resets += 1
        if conn.resets == 2:
            raise RuntimeError("cannot reset")

    pool = corral.Pool(Factory(), max_size=1, reset=reset)
    async with pool.acquire() as conn:
        pass
    assert conn.resets == 1
    with pytest.raises(RuntimeError, match="cannot reset"):
        async with pool.acquire() as again:
            assert again is conn
    assert conn.closed
    assert pool.statistics().size == 0


async def test_max_uses_and_max_idle_retire_resources() -> None:
    """A resource is retired after max_uses checkouts or max_idle seconds unused."""
    pool = corral.Pool(Factory(), max_size=1, max_uses=2, max_idle=10)
    async with pool.acquire() as a:
        pass
    async with pool.acquire() as b:
        assert b is a
    assert a.closed  # worn out after two uses
    async with pool.acquire() as c:
        pass
    await asyncio.sleep(11)
    async with pool.acquire() as d:
        assert d is not c
    assert c.closed  # idle too long


async def test_cancelled_holder_returns_the_resource_exactly_once() -> None:
    """A task cancelled inside `async with pool.acquire()` gives the resource back once."""
    pool = corral.Pool(Factory(), max_size=1)
    holding = asyncio.Event()

    async def holder() -> None:
        async with pool.acquire():
            holding.set()
            await asyncio.sleep(100)

    task = asyncio.get_running_loop().create_task(holder())
    await holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = pool.statistics()
    assert (stats.size, stats.idle, stats.borrowed) == (1, 1, 0)


async def test_waiter_cancelled_as_it_is_handed_a_resource_passes_it_on() -> None:
    """A waiter cancelled in the same instant it is handed a resource does not lose it."""
    loop = asyncio.get_running_loop()
    doomed: list[asyncio.Task[None]] = []

    def reset(conn: Conn) -> None:
        # Runs on release just before the hand-over: the cancel lands before "unlucky" runs.
        if doomed:
            loop.call_soon(doomed[0].cancel)

    pool = corral.Pool(Factory(), max_size=1, reset=reset)
    got: list[str] = []

    async def borrow(name: str) -> None:
        async with pool.acquire():
            got.append(name)
            await asyncio.sleep(1)

    first = loop.create_task(borrow("first"))
    await asyncio.sleep(0.5)
    unlucky = loop.create_task(borrow("unlucky"))
    await asyncio.sleep(0)
    patient = loop.create_task(borrow("patient"))
    doomed.append(unlucky)
    await asyncio.gather(first, patient)
    with pytest.raises(asyncio.CancelledError):
        await unlucky
    assert got == ["first", "patient"]
    stats = pool.statistics()
    assert (stats.size, stats.idle, stats.borrowed, stats.waiting) == (1, 1, 0, 0)


async def test_factory_failure_frees_the_place() -> None:
    """A failed creation does not count against max_size."""
    factory = Factory()
    pool = corral.Pool(factory, max_size=1)
    factory.fail_next = True
    with pytest.raises(ConnectionRefusedError):
        async with pool.acquire():
            pass
    async with pool.acquire() as conn:
        assert not conn.closed
    assert pool.statistics().size == 1


async def test_close_waits_for_borrowed_then_closes_all() -> None:
    """close() refuses newcomers, wakes waiters with PoolClosed, waits, then closes all."""
    factory = Factory()
    pool = corral.Pool(factory, max_size=1)
    holding = asyncio.Event()

    async def holder() -> None:
        async with pool.acquire():
            holding.set()
            await asyncio.sleep(2)

    loop = asyncio.get_running_loop()
    task = loop.create_task(holder())
    await holding.wait()
    waiter = loop.create_task(pool.acquire().__aenter__())
    await asyncio.sleep(0.1)
    start = loop.time()
    assert await pool.close() is True
    assert loop.time() - start == pytest.approx(1.9, abs=0.01)
    await task
    with pytest.raises(corral.PoolClosed):
        await waiter
    assert all(conn.closed for conn in factory.made)
    with pytest.raises(corral.PoolClosed):
        async with pool.acquire():
            pass


async def test_close_timeout_reports_stragglers_and_closes_them_on_return() -> None:
    """close(timeout=) returns False if some are still out; they are closed when returned."""
    pool = corral.Pool(Factory(), max_size=1)
    holding = asyncio.Event()
    conns: list[Conn] = []

    async def holder() -> None:
        async with pool.acquire() as conn:
            conns.append(conn)
            holding.set()
            await asyncio.sleep(10)

    task = asyncio.get_running_loop().create_task(holder())
    await holding.wait()
    assert await pool.close(timeout=1) is False
    assert not conns[0].closed
    await task
    assert conns[0].closed


async def test_async_with_pool_closes_it() -> None:
    """Leaving `async with pool:` closes the pool and its resources."""
    factory = Factory()
    async with corral.Pool(factory, max_size=2) as pool, pool.acquire():
        pass
    assert pool.closed
    assert factory.made[0].closed


def test_bad_sizes_are_refused() -> None:
    """max_size, max_uses and max_idle are validated."""
    with pytest.raises(ValueError, match="max_size"):
        corral.Pool(Conn, max_size=0)
    with pytest.raises(ValueError, match="positive"):
        corral.Pool(Conn, max_size=1, max_idle=0)
