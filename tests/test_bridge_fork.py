"""run_sync and to_thread across ``fork()``: neither the parent's loops nor the child's calls hang.

A process forked from one that used ``run_sync`` inherits corral's loops, thread pool and
thread limits. On Linux an inherited loop shares its epoll instance with the parent's loop,
so closing it in the child (CPython drops the other threads' states in the child, which
closes their runners) took the parent's wake-up pipe out of the parent's epoll: the parent's
loop then slept through every ``call_soon_threadsafe`` and a ``to_thread`` never returned.
The child's own calls waited on threads that do not exist there. One of these hung a
``subprocess.run(..., preexec_fn=...)`` in CI.

Each scenario runs in a fresh interpreter (``fork`` inside pytest would copy pytest), which
prints ``ok`` when every call returned; a hang shows as the subprocess's timeout. The
interpreter runs in development mode, and no warning (an unclosed loop) may be printed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_PRELUDE = """
import asyncio, os, queue, subprocess, sys, threading
import corral


def in_thread(fn, *args):
    # fn(*args) in a long-lived thread that keeps its run_sync loop; returns its result.
    calls.put((fn, args))
    kind, value = answers.get(timeout=20)
    if kind == "error":
        raise value
    return value


def serve():
    while True:
        fn, args = calls.get()
        try:
            answers.put(("ok", fn(*args)))
        except BaseException as exc:
            answers.put(("error", exc))


calls, answers = queue.Queue(), queue.Queue()
threading.Thread(target=serve, daemon=True).start()


async def offloaded(value):
    return await corral.to_thread(int, value)


def fork_and_wait(in_child):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if in_child() else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
"""

_SCENARIOS = {
    "the parent's thread loop wakes after a child exits": """
assert in_thread(corral.run_sync, offloaded, "1") == 1
fork_and_wait(lambda: True)
assert in_thread(corral.run_sync, offloaded, "2") == 2
""",
    "the parent's main-thread loop wakes after a child exits": """
assert corral.run_sync(offloaded, "1") == 1
assert in_thread(corral.run_sync, offloaded, "1") == 1
fork_and_wait(lambda: True)
assert corral.run_sync(offloaded, "2") == 2
assert in_thread(corral.run_sync, offloaded, "3") == 3
""",
    "a child runs run_sync and to_thread": """
assert corral.run_sync(offloaded, "1") == 1
assert in_thread(corral.run_sync, offloaded, "1") == 1
fork_and_wait(lambda: corral.run_sync(offloaded, "5") == 5)
assert corral.run_sync(offloaded, "6") == 6
""",
    "a child's thread limit does not count the parent's running work": """
limit = corral.ThreadLimit(1)
started, release = threading.Event(), threading.Event()


def held():
    started.set()
    release.wait()
    return 0


async def hold():
    return await corral.to_thread(held, limiter=limit)


async def limited(value):
    return await corral.to_thread(int, value, limiter=limit)


pending = corral.run_sync  # the parent's job holds the one slot while the child forks
runner = threading.Thread(target=lambda: pending(hold))
runner.start()
started.wait()
fork_and_wait(lambda: corral.run_sync(limited, "7", timeout=10) == 7)
release.set()
runner.join()
assert corral.run_sync(limited, "8") == 8
""",
    "the background loop serves parent and child after a fork": """
async def inside_a_loop(value):
    return corral.run_sync(offloaded, value)  # from a running loop: the background loop

assert asyncio.run(inside_a_loop("1")) == 1
fork_and_wait(lambda: asyncio.run(inside_a_loop("2")) == 2)
assert asyncio.run(inside_a_loop("3")) == 3
""",
    "subprocess with preexec_fn after run_sync in a thread": """
assert in_thread(corral.run_sync, offloaded, "1") == 1
assert corral.run_sync(offloaded, "1") == 1
done = subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None, timeout=20)
assert done.returncode == 0
assert in_thread(corral.run_sync, offloaded, "2") == 2
""",
}


@pytest.mark.parametrize("scenario", list(_SCENARIOS))
def test_fork(scenario: str) -> None:
    """The scenario's calls all return, in the parent and in its forked child."""
    script = _PRELUDE + _SCENARIOS[scenario] + '\nprint("ok")\n'
    try:
        run = subprocess.run(
            [sys.executable, "-X", "dev", "-c", script],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"hung: {scenario}; stderr: {exc.stderr!r}")
    assert (run.returncode, run.stdout.strip()) == (0, "ok"), run.stderr[-3000:]
    assert "Warning" not in run.stderr, run.stderr[-3000:]
