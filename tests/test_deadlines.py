"""fail_after raises DeadlineExceeded, move_on_after stops silently; outer cancels win."""

from __future__ import annotations

import asyncio

import pytest

import corral

pytestmark = pytest.mark.virtual_time


async def test_fail_after_raises_deadline_exceeded_which_is_a_timeout_error() -> None:
    """fail_after cancels the work at its deadline and raises DeadlineExceeded (a TimeoutError)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(corral.DeadlineExceeded) as info, corral.fail_after(2):
        await asyncio.sleep(10)
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, corral.CorralError)
    assert loop.time() - start == pytest.approx(2)


async def test_fail_after_lets_fast_work_through() -> None:
    """Work that ends before the deadline returns normally, and the scope did not expire."""
    async with corral.fail_after(2) as scope:
        await asyncio.sleep(1)
    assert not scope.expired


async def test_move_on_after_stops_silently_and_says_so() -> None:
    """move_on_after ends the block at the deadline with no exception and expired=True."""
    loop = asyncio.get_running_loop()
    reached_end = False
    with corral.move_on_after(1) as scope:
        await asyncio.sleep(5)
        reached_end = True
    assert not reached_end
    assert scope.expired
    assert loop.time() == pytest.approx(scope.deadline)


async def test_none_means_no_deadline() -> None:
    """A deadline of None never fires."""
    with corral.move_on_after(None) as scope:
        await asyncio.sleep(1000)
    assert not scope.expired
    assert scope.deadline is None


async def test_zero_deadline_cancels_at_first_await() -> None:
    """A deadline already past cancels the block at its first await."""
    with corral.move_on_after(0) as scope:
        await asyncio.sleep(0)
        pytest.fail("the block went on past its first await")
    assert scope.expired


async def test_inner_deadline_inside_outer_timeout_lets_outer_win() -> None:
    """When an outer asyncio.timeout fires first, the inner move_on_after does not swallow it."""
    with pytest.raises(TimeoutError) as info:
        async with asyncio.timeout(1):
            with corral.move_on_after(5):
                await asyncio.sleep(10)
    assert not isinstance(info.value, corral.DeadlineExceeded)


async def test_outer_cancel_during_unwinding_propagates() -> None:
    """An outside cancel that arrives while the expired scope unwinds is not swallowed."""
    unwinding = asyncio.Event()
    outcome: list[str] = []

    async def victim() -> None:
        with corral.move_on_after(1):
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                unwinding.set()
                await asyncio.sleep(5)  # slow clean-up; the outside cancel lands here
                raise
        outcome.append("after block")  # must not be reached

    task = asyncio.get_running_loop().create_task(victim())
    await unwinding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == []


async def test_scope_cannot_be_entered_twice() -> None:
    """Re-entering a used scope is a RuntimeError (deadlines are one-shot)."""
    scope = corral.move_on_after(1)
    with scope:
        pass
    with pytest.raises(RuntimeError, match="twice"), scope:
        pass


def test_nan_deadline_is_rejected() -> None:
    """A NaN deadline would never fire; it is refused up front."""
    with pytest.raises(ValueError, match="NaN"):
        corral.fail_after(float("nan"))
