"""corral.testing.VirtualTimeLoop: timers fire at exact virtual times, at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from corral.testing import VirtualTimeLoop, run_virtual

pytestmark = pytest.mark.virtual_time


async def test_sleep_advances_virtual_time_exactly() -> None:
    """An hour of asyncio.sleep passes instantly and the loop clock reads exactly one hour."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    start_wall = time.monotonic()
    start = loop.time()
    await asyncio.sleep(3600)
    assert loop.time() - start == pytest.approx(3600)
    assert time.monotonic() - start_wall < 60  # no real hour: the clock jumped


async def test_timers_fire_in_order() -> None:
    """Concurrent sleepers wake in deadline order at their own virtual times."""
    loop = asyncio.get_running_loop()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, loop.time()))

    start = loop.time()
    await asyncio.gather(sleeper("c", 3), sleeper("a", 1), sleeper("b", 2))
    assert [(n, round(t - start, 6)) for n, t in woke] == [("a", 1), ("b", 2), ("c", 3)]


async def test_timeout_fires_at_virtual_deadline() -> None:
    """asyncio.timeout raises after exactly its virtual duration."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(5):
            await asyncio.sleep(10)
    assert loop.time() - start == pytest.approx(5)


def test_run_virtual_returns_the_result() -> None:
    """run_virtual runs a coroutine function on a fresh virtual loop and returns its value."""

    async def main(x: int) -> float:
        await asyncio.sleep(100)
        return asyncio.get_running_loop().time() + x

    assert run_virtual(main, 1) == pytest.approx(101)
