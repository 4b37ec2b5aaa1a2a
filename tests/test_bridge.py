"""run_sync: one loop per thread, a background loop inside running loops, no deadlock hangs."""

from __future__ import annotations

import asyncio
import threading

import pytest

import corral


async def _loop_id() -> int:
    return id(asyncio.get_running_loop())


async def _add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def test_runs_a_coroutine_function_from_sync_code() -> None:
    """With no loop running, run_sync runs fn(*args) and returns its result."""
    assert corral.run_sync(_add, 2, 3) == 5


def test_reuses_one_loop_per_thread() -> None:
    """Two calls in one thread share one loop, so loop-bound objects survive between calls."""
    assert corral.run_sync(_loop_id) == corral.run_sync(_loop_id)
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def put() -> None:
        await queue.put(1)

    async def get() -> int:
        return await queue.get()

    corral.run_sync(put)
    assert corral.run_sync(get) == 1  # the queue is bound to the same loop


def test_each_thread_has_its_own_loop() -> None:
    """Another thread gets a loop of its own."""
    main = corral.run_sync(_loop_id)
    other: list[int] = []
    thread = threading.Thread(target=lambda: other.append(corral.run_sync(_loop_id)))
    thread.start()
    thread.join()
    assert other
    assert other[0] != main


def test_exceptions_pass_through_unchanged() -> None:
    """An exception raised by the coroutine is raised by run_sync as is."""
    error = KeyError("missing")

    async def fail() -> None:
        raise error

    with pytest.raises(KeyError) as info:
        corral.run_sync(fail)
    assert info.value is error


def test_timeout_bounds_the_call() -> None:
    """timeout= raises DeadlineExceeded when the coroutine takes longer."""
    with pytest.raises(corral.DeadlineExceeded):
        corral.run_sync(asyncio.sleep, 10, timeout=0.05)


def test_a_coroutine_object_is_refused() -> None:
    """run_sync(fn()) is a TypeError that closes the coroutine."""
    coro = _add(1, 2)
    with pytest.raises(TypeError, match="coroutine object"):
        corral.run_sync(coro)  # type: ignore[arg-type]


def sync_helper(a: int, b: int) -> int:
    """Sync code, as a framework or notebook cell would call it, that needs async work done."""
    return corral.run_sync(_add, a, b)


async def test_works_inside_a_running_loop() -> None:
    """Called from sync code under a running loop, run_sync runs beside it and returns."""
    assert sync_helper(20, 22) == 42
    loop_a = corral.run_sync(_loop_id)
    loop_b = corral.run_sync(_loop_id)
    assert loop_a == loop_b  # one background loop, not a new one per call
    assert loop_a != id(asyncio.get_running_loop())


# The test blocks its own loop on purpose (that is the deadlock it checks for), and leaves
# the stuck coroutine cancelled on the bridge's loop: no guard for it.
@pytest.mark.corral_guard(False)
async def test_cross_loop_wait_is_a_clear_error_not_a_hang() -> None:
    """A coroutine waiting for the blocked caller's loop raises BridgeDeadlock promptly."""
    caller = asyncio.get_running_loop()

    async def needs_the_caller() -> int:
        done = asyncio.run_coroutine_threadsafe(_add(1, 1), caller)
        return await asyncio.wrap_future(done)

    with pytest.raises(corral.BridgeDeadlock, match="needs_the_caller"):
        corral.run_sync(needs_the_caller, deadlock_timeout=0.2)
    assert corral.run_sync(_add, 1, 2) == 3  # the bridge still works afterwards


async def test_awaiting_a_future_of_the_caller_loop_is_explained() -> None:
    """Awaiting an object bound to the caller's loop fails at once with a BridgeError."""
    future = asyncio.get_running_loop().create_future()

    async def awaits_foreign_future() -> object:
        return await future

    with pytest.raises(corral.BridgeError, match="bound to the calling event loop"):
        corral.run_sync(awaits_foreign_future)
    future.cancel()


async def test_nested_run_sync_on_the_bridge_loop_is_refused() -> None:
    """run_sync called by a coroutine that run_sync runs would deadlock: it is refused."""

    async def nested() -> int:
        return corral.run_sync(_add, 1, 1)

    with pytest.raises(corral.BridgeDeadlock, match="await it instead"):
        corral.run_sync(nested)
