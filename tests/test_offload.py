"""to_thread / to_process: bounded, cancel-honest slots, and exit never hangs."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import operator
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import corral

SRC = Path(__file__).resolve().parents[1] / "src"
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


async def test_to_thread_runs_off_the_loop_thread() -> None:
    """The function runs in another thread and its result comes back."""
    name = await corral.to_thread(lambda: threading.current_thread().name)
    assert name.startswith("corral-thread-")
    assert name != threading.current_thread().name


async def test_to_thread_passes_errors_and_context() -> None:
    """Exceptions propagate; context variables are copied into the thread."""
    request_id.set("r-42")
    assert await corral.to_thread(request_id.get) == "r-42"
    with pytest.raises(ValueError, match="invalid literal"):
        await corral.to_thread(int, "x")


async def test_thread_limit_bounds_concurrency() -> None:
    """A ThreadLimit of 3 runs at most three jobs at once out of ten."""
    limit = corral.ThreadLimit(3)
    lock = threading.Lock()
    running = peak = 0
    gate = threading.Event()
    three_running = asyncio.Event()
    loop = asyncio.get_running_loop()

    def job() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            if running == 3:
                loop.call_soon_threadsafe(three_running.set)
        gate.wait(5)
        with lock:
            running -= 1

    tasks = [asyncio.ensure_future(corral.to_thread(job, limiter=limit)) for _ in range(10)]
    await three_running.wait()
    assert limit.statistics().waiting == 7
    gate.set()
    await asyncio.gather(*tasks)
    assert peak == 3
    assert limit.statistics() == corral.ThreadLimitStatistics(total=3, borrowed=0, waiting=0)


async def test_abandoned_thread_keeps_its_slot_until_it_really_ends() -> None:
    """Cancelling the awaiting task does not free the slot while the thread still runs."""
    limit = corral.ThreadLimit(1)
    release = threading.Event()
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def blocking() -> str:
        loop.call_soon_threadsafe(started.set)
        release.wait(10)
        return "finished"

    abandoned = asyncio.ensure_future(corral.to_thread(blocking, limiter=limit))
    await started.wait()
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    assert limit.statistics().borrowed == 1  # the thread is still running
    second = asyncio.ensure_future(corral.to_thread(operator.add, 1, 2, limiter=limit))
    for _ in range(5):
        await asyncio.sleep(0)  # let it run up to its wait for the slot
    assert limit.statistics().waiting == 1  # it waits: the bound is honest
    assert not second.done()
    release.set()
    assert await second == 3
    assert limit.statistics().borrowed == 0


async def test_cancelled_waiter_gives_up_its_place() -> None:
    """A task cancelled while waiting for a slot leaves the queue; the slot is not lost."""
    limit = corral.ThreadLimit(1)
    gate = threading.Event()
    busy = asyncio.ensure_future(corral.to_thread(gate.wait, 5, limiter=limit))
    waiter = asyncio.ensure_future(corral.to_thread(time.sleep, 0, limiter=limit))
    for _ in range(5):
        await asyncio.sleep(0)  # both reach the limiter: one holds, one waits
    assert limit.statistics() == corral.ThreadLimitStatistics(total=1, borrowed=1, waiting=1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.set()
    await busy
    assert limit.statistics() == corral.ThreadLimitStatistics(total=1, borrowed=0, waiting=0)


async def test_to_process_runs_in_another_process() -> None:
    """to_process returns the result of a picklable function run in a worker process."""
    assert await corral.to_process(os.getpid) != os.getpid()
    assert await corral.to_process(functools.reduce, operator.mul, range(1, 11)) == 3628800
    with pytest.raises(ValueError, match="invalid literal"):
        await corral.to_process(int, "x")


def test_release_without_acquire_is_an_error() -> None:
    """Releasing a slot never taken is a bug, reported at once."""
    with pytest.raises(RuntimeError, match="released more often"):
        corral.ThreadLimit(1).release()


STUCK = textwrap.dedent(
    """
    import asyncio, time, corral

    async def main():
        try:
            async with asyncio.timeout(0.2):
                await corral.{kind}(time.sleep, 3600)
        except TimeoutError:
            print("gave up", flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("kind", ["to_thread", "to_process"])
def test_a_stuck_job_does_not_hang_interpreter_exit(kind: str) -> None:
    """A job blocked for an hour does not keep the interpreter from exiting."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    run = subprocess.run(
        [sys.executable, "-c", STUCK.format(kind=kind)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert run.stdout.strip() == "gave up"
    assert run.returncode == 0, run.stderr
