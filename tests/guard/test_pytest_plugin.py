"""The pytest plugin, run with pytester in a subprocess (a pytest session of its own)."""

from __future__ import annotations

import asyncio

import pytest

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

PITFALLS = """
import asyncio, time
import aiohttp

async def fetch():
    return 1

async def test_clean():
    await asyncio.to_thread(time.sleep, 0.2)
    async with aiohttp.ClientSession():
        pass
    assert await asyncio.create_task(fetch()) == 1

async def test_stall():
    await asyncio.sleep(0)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        pass

async def test_blocking_call():
    try:
        time.sleep(0.001)  # BLOCK
    except Exception:
        pass

async def test_unawaited():
    fetch()  # FORGOT

async def test_unretrieved():
    async def boom():
        raise ValueError("lost")
    asyncio.create_task(boom())
    await asyncio.sleep(0.01)

async def test_pending():
    asyncio.create_task(asyncio.sleep(10))  # LEFT

async def test_session():
    aiohttp.ClientSession()  # LEAK
"""


def _line(source: str, marker: str) -> int:
    """Return the line of ``source`` (as pytester writes it: stripped) holding ``marker``."""
    lines = source.strip().splitlines()
    return next(n for n, line in enumerate(lines, start=1) if marker in line)


async def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return await asyncio.to_thread(pytester.runpytest_subprocess, "-p", "no:cacheprovider", *args)


async def test_each_pitfall_fails_its_own_test(pytester: pytest.Pytester) -> None:
    """Each pitfall fails the test that has it (teardown for pending tasks); clean code passes."""
    pytester.makeini(INI)
    pytester.makepyfile(test_pitfalls=PITFALLS)
    result = await _run(pytester, "--corral-guard", "-rA")
    # test_pending's call passes (and counts as passed); its teardown is the error.
    result.assert_outcomes(passed=2, failed=5, errors=1)
    result.stdout.fnmatch_lines(
        [
            "PASSED test_pitfalls.py::test_clean",
            "PASSED test_pitfalls.py::test_pending",
            "ERROR test_pitfalls.py::test_pending - Failed: corral guard: 1 finding in tea*",
            "FAILED test_pitfalls.py::test_stall - *",
            "FAILED test_pitfalls.py::test_blocking_call - *",
            "FAILED test_pitfalls.py::test_unawaited - *",
            "FAILED test_pitfalls.py::test_unretrieved - *",
            "FAILED test_pitfalls.py::test_session - *",
        ]
    )
    for marker, kind, test in [
        ("# LEFT", "pending-task", "test_pending"),
        ("# FORGOT", "unawaited-coroutine", "test_unawaited"),
        ("# BLOCK", "blocking-call", "test_blocking_call"),
        ("# LEAK", "unclosed-session", "test_session"),
    ]:
        line = _line(PITFALLS, marker)
        result.stdout.fnmatch_lines([f"{kind}: *test_pitfalls.py:{line} in {test} *"])
    assert "PytestUnraisableExceptionWarning" not in result.stdout.str()


async def test_ini_option_switches_it_on_and_the_flag_off(pytester: pytest.Pytester) -> None:
    """``corral_guard = true`` turns the plugin on; ``--no-corral-guard`` turns it off again."""
    pytester.makeini(INI + "corral_guard = true\n")
    pytester.makepyfile(test_one="import time\nasync def test_sleep():\n    time.sleep(0.001)\n")
    on = await _run(pytester)
    on.assert_outcomes(failed=1)
    off = await _run(pytester, "--no-corral-guard")
    off.assert_outcomes(passed=1)


async def test_marker_relaxes_one_test(pytester: pytest.Pytester) -> None:
    """``corral_guard(strict=False)`` and ``corral_guard(False)`` relax the guard for one test."""
    pytester.makeini(INI + "corral_guard = true\n")
    pytester.makepyfile(
        test_marked="""
        import time, pytest

        @pytest.mark.corral_guard(strict=False)
        async def test_short_sleep_allowed():
            time.sleep(0.001)

        @pytest.mark.corral_guard(False)
        async def test_off():
            time.sleep(0.3)

        @pytest.mark.corral_guard(threshold=50)
        async def test_tighter():
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:
                pass
        """
    )
    result = await _run(pytester, "--strict-markers")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_marked.py::test_tighter*"])


async def test_an_object_collected_later_names_the_test_that_created_it(
    pytester: pytest.Pytester,
) -> None:
    """A coroutine kept past its test is charged to its creator at the end, failing the run."""
    pytester.makeini(INI)
    pytester.makepyfile(
        test_late="""
        kept = []

        async def fetch():
            return 1

        async def test_creates():
            kept.append(fetch())

        async def test_collects():
            kept.clear()
        """
    )
    result = await _run(pytester, "--corral-guard")
    result.assert_outcomes(passed=2)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*corral guard: findings outside the test that caused them*",
            "[[]created in test_late.py::test_creates[]]",
            "unawaited-coroutine: *test_late.py:7 in test_creates *",
        ]
    )
