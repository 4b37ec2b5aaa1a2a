"""KeyedLimit: concurrency and rate per key, with memory that forgets idle keys."""

from __future__ import annotations

import asyncio

import pytest

import corral

pytestmark = pytest.mark.virtual_time


async def test_concurrency_is_bounded_per_key_not_globally() -> None:
    """Two slots per key: key 'a' never has more than 2 holders; key 'b' runs beside it."""
    limit: corral.KeyedLimit[str] = corral.KeyedLimit(concurrency=2)
    active: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}

    async def hold(key: str) -> None:
        async with limit.acquire(key):
            active[key] += 1
            peak[key] = max(peak[key], active[key])
            await asyncio.sleep(1)
            active[key] -= 1

    start = asyncio.get_running_loop().time()
    await asyncio.gather(*(hold("a") for _ in range(6)), *(hold("b") for _ in range(2)))
    assert peak == {"a": 2, "b": 2}
    assert asyncio.get_running_loop().time() - start == pytest.approx(3)  # 6 in pairs


async def test_rate_is_per_key() -> None:
    """2/s per key: three starts on 'a' take a second, while 'b' starts at once."""
    limit: corral.KeyedLimit[str] = corral.KeyedLimit(rate="2/s")
    loop = asyncio.get_running_loop()
    start = loop.time()
    starts: dict[str, list[float]] = {"a": [], "b": []}

    async def go(key: str) -> None:
        async with limit.acquire(key):
            starts[key].append(round(loop.time() - start, 9))

    await asyncio.gather(go("a"), go("a"), go("a"), go("b"))
    assert starts["a"] == pytest.approx([0, 0.5, 1.0])
    assert starts["b"] == [0]


async def test_idle_keys_are_forgotten() -> None:
    """After 10,000 hosts were each used once and went idle, almost none stay in memory."""
    limit: corral.KeyedLimit[str] = corral.KeyedLimit(concurrency=1, rate="10/s")
    for i in range(10_000):
        async with limit.acquire(f"host{i}"):
            pass
        if i % 50 == 0:
            # an uncontended acquire never suspends: let the loop in (500 at a time held it
            # 0.13 s on a loaded CI machine, a guard stall)
            await asyncio.sleep(0)
    await asyncio.sleep(1)
    async with limit.acquire("fresh"):
        assert limit.statistics().keys == 1  # only "fresh" remains


async def test_key_remembers_its_rate_until_it_lapses() -> None:
    """A key is not forgotten while forgetting it would let a start come too early."""
    limit: corral.KeyedLimit[str] = corral.KeyedLimit(rate="1/10s")
    loop = asyncio.get_running_loop()
    async with limit.acquire("a"):
        pass
    start = loop.time()
    async with limit.acquire("a"):
        pass
    assert loop.time() - start == pytest.approx(10)


async def test_timeout_raises_queue_timeout_and_holds_nothing() -> None:
    """A wait past timeout= raises QueueTimeout; the key's slot count is unchanged."""
    limit: corral.KeyedLimit[str] = corral.KeyedLimit(concurrency=1)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with limit.acquire("a"):
            holding.set()
            await release.wait()

    task = asyncio.get_running_loop().create_task(holder())
    await holding.wait()
    with pytest.raises(corral.QueueTimeout):
        async with limit.acquire("a", timeout=1):
            pytest.fail("acquired a slot that was held")
    stats = limit.statistics()
    assert (stats.active, stats.waiting) == (1, 0)
    release.set()
    await task
    async with limit.acquire("a", timeout=1):
        pass


async def test_cancelled_waiter_leaves_no_trace() -> None:
    """A waiter cancelled in the queue is removed; the next holder gets the slot."""
    limit: corral.KeyedLimit[str] = corral.KeyedLimit(concurrency=1)
    order: list[str] = []

    async def use(name: str, seconds: float) -> None:
        async with limit.acquire("k"):
            order.append(name)
            await asyncio.sleep(seconds)

    loop = asyncio.get_running_loop()
    first = loop.create_task(use("first", 1))
    doomed = loop.create_task(use("doomed", 1))
    last = loop.create_task(use("last", 1))
    await asyncio.sleep(0.5)
    doomed.cancel()
    await asyncio.gather(first, last)
    assert order == ["first", "last"]
    assert limit.statistics().waiting == 0


def test_needs_a_bound() -> None:
    """A KeyedLimit with neither bound, or a bad one, is refused at construction."""
    with pytest.raises(ValueError, match="concurrency or a rate"):
        corral.KeyedLimit()
    with pytest.raises(ValueError, match="at least 1"):
        corral.KeyedLimit(concurrency=0)
    with pytest.raises(ValueError, match="bad rate"):
        corral.KeyedLimit(rate="fast")
