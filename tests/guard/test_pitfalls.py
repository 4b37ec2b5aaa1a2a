"""One test per pitfall: real code in a subprocess under ``corral run``, reported at its line."""

from __future__ import annotations

import pytest

from guard.support import RunScript


async def test_stall_in_time_sleep_names_the_line_and_task(run_script: RunScript) -> None:
    """A ``time.sleep`` inside a coroutine stalls the loop; the report names its line and task."""
    run = await run_script(
        """
        import asyncio, time

        async def work():
            await asyncio.sleep(0)
            time.sleep(0.5)  # BLOCK

        async def main():
            await asyncio.gather(asyncio.create_task(work(), name="worker"), asyncio.sleep(0.1))

        asyncio.run(main())
        """
    )
    stall = run.only("stall")
    assert (stall["file"], stall["line"]) == (str(run.script), run.line_of("# BLOCK"))
    assert stall["function"] == "work"
    assert stall["task"] == "worker"
    assert stall["duration"] >= 0.1
    assert run.exit_code == 0


async def test_stall_in_python_code_is_sampled_where_it_spins(run_script: RunScript) -> None:
    """A CPU-bound loop in a coroutine is reported inside the function that spins."""
    run = await run_script(
        """
        import asyncio, time

        def crunch():
            deadline = time.monotonic() + 0.6
            n = 0
            while time.monotonic() < deadline:  # SPIN
                n += 1
            return n

        async def main():
            await asyncio.sleep(0)
            crunch()  # CALL

        asyncio.run(main())
        """
    )
    stall = run.only("stall")
    assert stall["function"] == "crunch"
    assert run.line_of("# SPIN") <= stall["line"] <= run.line_of("# SPIN") + 1
    assert any(f["line"] == run.line_of("# CALL") for f in stall["stack"])


async def test_stall_in_a_native_call_holding_the_gil_is_caught(run_script: RunScript) -> None:
    """A native call that holds the GIL starves the watchdog; the faulthandler dump names it."""
    run = await run_script(
        """
        import asyncio, ctypes

        libc = ctypes.PyDLL(None)  # PyDLL keeps the GIL held during the call

        async def main():
            await asyncio.sleep(0.05)
            libc.usleep(1_500_000)  # NATIVE

        asyncio.run(main())
        """
    )
    stall = run.only("stall")
    assert stall["line"] == run.line_of("# NATIVE")
    assert "faulthandler" in stall["message"]


async def test_garbage_collection_is_not_blamed_on_user_code(run_script: RunScript) -> None:
    """A long collection pauses the loop, but no stall is reported against the user's line."""
    run = await run_script(
        """
        import asyncio, gc

        class Node:
            def __init__(self):
                self.me = self

        async def main():
            gc.disable()
            garbage = [Node() for _ in range(300_000)]
            await asyncio.sleep(0.3)  # let the guard see the loop answer again
            del garbage
            gc.collect()  # COLLECT
            await asyncio.sleep(0.05)

        asyncio.run(main())
        """,
        "--threshold",
        "150",
    )
    assert [f for f in run.findings if f["line"] == run.line_of("# COLLECT")] == []


async def test_strict_reports_a_short_sleep_even_when_swallowed(run_script: RunScript) -> None:
    """Strict mode reports a 1 ms sleep at its line; ``except Exception`` does not hide it."""
    run = await run_script(
        """
        import asyncio, time

        async def main():
            try:
                time.sleep(0.001)  # SLEEP
            except Exception:
                pass

        asyncio.run(main())
        """,
        "--strict",
    )
    finding = run.only("blocking-call")
    assert finding["line"] == run.line_of("# SLEEP")
    assert "time.sleep()" in finding["message"]
    assert run.exit_code == 1


@pytest.mark.parametrize(
    ("statement", "api"),
    [
        pytest.param("requests.get('http://127.0.0.1:9/')", "requests.get()", id="requests"),
        pytest.param("open(__file__).close()", "open()", id="open"),
        pytest.param(
            "pathlib.Path(__file__).read_text()", "pathlib.Path.read_text()", id="pathlib"
        ),
        pytest.param("sqlite3.connect(':memory:').close()", "sqlite3.connect()", id="sqlite3"),
        pytest.param("subprocess.run(['true'])", "subprocess.run()", id="subprocess"),
        pytest.param("socket.getaddrinfo('localhost', 80)", "socket.getaddrinfo()", id="dns"),
    ],
)
async def test_strict_names_the_api_the_user_called(
    run_script: RunScript, statement: str, api: str
) -> None:
    """A blocking call is named as the user wrote it (``requests.get``, not ``socket.connect``)."""
    run = await run_script(
        f"""
        import asyncio, pathlib, socket, sqlite3, subprocess
        import requests

        async def main():
            try:
                {statement}  # CALL
            except Exception as exc:
                print(type(exc).__name__)

        asyncio.run(main())
        """,
        "--strict",
    )
    finding = run.only("blocking-call")
    assert finding["line"] == run.line_of("# CALL")
    assert finding["message"].startswith(f"blocking call {api}")
    assert run.stdout.strip() == "BlockingCallError"


async def test_unawaited_coroutine_names_where_it_was_created(run_script: RunScript) -> None:
    """A coroutine called without ``await`` is reported at the line that created it."""
    run = await run_script(
        """
        import asyncio

        async def fetch(url):
            return url

        async def main():
            results = [fetch(u) for u in ["a"]]  # FORGOT
            await asyncio.sleep(0)
            del results

        asyncio.run(main())
        """
    )
    finding = run.only("unawaited-coroutine")
    assert finding["line"] == run.line_of("# FORGOT")
    assert "'fetch'" in finding["message"]
    assert "never awaited" not in run.stderr


async def test_unretrieved_task_exception_names_where_the_task_was_created(
    run_script: RunScript,
) -> None:
    """A fire-and-forget task that fails is reported at its ``create_task`` line."""
    run = await run_script(
        """
        import asyncio

        async def boom():
            raise ValueError("lost")  # RAISE

        async def main():
            asyncio.create_task(boom())  # SPAWN
            await asyncio.sleep(0.05)

        asyncio.run(main())
        """
    )
    finding = run.only("unretrieved-exception")
    assert finding["line"] == run.line_of("# SPAWN")
    assert f":{run.line_of('# RAISE')}" in finding["message"]
    assert "ValueError('lost')" in finding["message"]


async def test_task_pending_at_loop_close_names_where_it_was_created(run_script: RunScript) -> None:
    """A task still running when ``asyncio.run`` ends is reported at its creation line."""
    run = await run_script(
        """
        import asyncio

        async def poll():
            while True:
                await asyncio.sleep(1)  # WAIT

        async def main():
            asyncio.create_task(poll(), name="poller")  # SPAWN
            await asyncio.sleep(0.01)

        asyncio.run(main())
        """
    )
    finding = run.only("pending-task")
    assert finding["line"] == run.line_of("# SPAWN")
    assert finding["task"] == "poller"
    assert f":{run.line_of('# WAIT')}" in finding["message"]


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param("await asyncio.sleep(0)", id="open-at-loop-close"),
        pytest.param("del session", id="dropped"),
    ],
)
async def test_unclosed_session_names_where_it_was_created(
    run_script: RunScript, ending: str
) -> None:
    """An aiohttp session never closed is reported at the line that created it, quietly."""
    run = await run_script(
        f"""
        import asyncio
        import aiohttp

        async def main():
            session = aiohttp.ClientSession()  # CREATE
            {ending}

        asyncio.run(main())
        """
    )
    finding = run.only("unclosed-session")
    assert finding["line"] == run.line_of("# CREATE")
    assert "Unclosed" not in run.stderr
