"""@timed: monotonic durations and errors for sync, async and async-generator functions."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, AsyncIterator

import pytest

import corral


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_sync_function_durations_and_errors() -> None:
    """Each call's duration is recorded; a raising call counts as an error."""
    clock = FakeClock()

    @corral.timed(clock=clock)
    def work(seconds: float, fail: bool = False) -> str:
        clock.t += seconds
        if fail:
            raise RuntimeError("failed")
        return "done"

    assert work(1.0) == "done"
    assert work(3.0) == "done"
    with pytest.raises(RuntimeError):
        work(2.0, fail=True)
    stats = work.statistics()
    assert stats.name.endswith("work")
    assert (stats.calls, stats.errors, stats.cancelled) == (3, 1, 0)
    assert (stats.total, stats.min, stats.max, stats.mean) == (6.0, 1.0, 3.0, 2.0)
    assert stats.p50 == 2.0


async def test_async_function_stays_a_coroutine_function() -> None:
    """The wrapper of an async def is an async def; cancellations are counted apart."""
    clock = FakeClock()

    @corral.timed(clock=clock, name="fetch")
    async def fetch(seconds: float) -> int:
        clock.t += seconds
        await asyncio.sleep(0)
        return 7

    assert inspect.iscoroutinefunction(fetch)
    assert await fetch(0.5) == 7
    task = asyncio.ensure_future(fetch(1.0))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = fetch.statistics()
    assert stats.name == "fetch"
    assert (stats.calls, stats.errors, stats.cancelled) == (2, 0, 1)


async def test_async_generator_times_its_own_steps_only() -> None:
    """For an async generator, time spent in the consumer between items is not counted."""
    clock = FakeClock()

    @corral.timed(clock=clock)
    async def produce() -> AsyncIterator[int]:
        for i in range(3):
            clock.t += 1.0  # the generator's own work
            yield i

    got = []
    async for item in produce():
        clock.t += 100.0  # the consumer's work: not the generator's
        got.append(item)
    assert got == [0, 1, 2]
    stats = produce.statistics()
    assert (stats.calls, stats.errors, stats.total) == (1, 0, 3.0)
    assert inspect.isasyncgenfunction(produce)


async def test_async_generator_forwards_send_throw_and_close() -> None:
    """asend, athrow and aclose reach the wrapped generator."""
    log: list[object] = []

    @corral.timed
    async def echo() -> AsyncGenerator[object, object]:
        value: object = None
        try:
            while True:
                try:
                    value = yield value
                    log.append(("got", value))
                except KeyError as exc:
                    log.append(("caught", str(exc)))
                    value = "recovered"
        finally:
            log.append("closed")

    gen = echo()
    assert await gen.asend(None) is None
    assert await gen.asend("hello") == "hello"
    assert await gen.athrow(KeyError("k")) == "recovered"
    await gen.aclose()
    assert log == [("got", "hello"), ("caught", "'k'"), "closed"]
    assert echo.statistics().calls == 1


def test_uses_a_monotonic_clock_by_default() -> None:
    """Without a clock argument, durations are non-negative perf_counter differences."""

    @corral.timed
    def quick() -> None:
        return None

    quick()
    stats = quick.statistics()
    assert stats.min is not None
    assert stats.min >= 0


def test_reset_and_percentile_window() -> None:
    """Percentiles cover the recent window; reset forgets everything."""
    clock = FakeClock()

    @corral.timed(clock=clock, window=10)
    def step(seconds: float) -> None:
        clock.t += seconds

    for i in range(100):
        step(float(i))
    stats = step.statistics()
    assert stats.calls == 100
    assert stats.p50 == 95.0  # over the last ten calls, 90..99
    assert stats.p99 == 99.0
    step.reset()
    assert step.statistics().calls == 0
    assert step.statistics().p50 is None


def test_plain_generators_are_refused() -> None:
    """A sync generator function cannot be timed step by step: a clear TypeError."""

    def gen() -> object:
        yield 1

    with pytest.raises(TypeError, match="async generators"):
        corral.timed(gen)
