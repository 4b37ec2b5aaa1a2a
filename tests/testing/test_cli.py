"""``python -m corral.testing``: prints its URL, serves, and exits cleanly on a signal."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiohttp
import pytest

from corral.testing import Site


@asynccontextmanager
async def _serving(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """Start the subprocess form, read its URL line, and kill it if a test leaves it running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "corral.testing",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await process.stdout.readline()
        yield process, line.decode().strip()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _run(args: Sequence[str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "corral.testing",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    "signum", [pytest.param(signal.SIGTERM, id="sigterm"), pytest.param(signal.SIGINT, id="sigint")]
)
async def test_prints_url_serves_and_exits_cleanly(
    session: aiohttp.ClientSession, signum: signal.Signals
) -> None:
    """The first stdout line is the base URL; the site serves; a signal ends it with exit 0."""
    async with _serving() as (process, url):
        assert url.startswith("http://127.0.0.1:")
        async with session.get(f"{url}/page/1") as response:
            assert response.status == 200
        process.send_signal(signum)
        assert process.stderr is not None
        assert process.stdout is not None
        rest, err = await asyncio.gather(process.stdout.read(), process.stderr.read())
        assert await process.wait() == 0
    assert rest == b""
    assert err == b""  # no traceback, no warning


async def test_flags_shape_the_site(session: aiohttp.ClientSession) -> None:
    """Layout, robots and rate-limit flags reach the site."""
    args = ["--pages", "5", "--crawl-delay", "3", "--rate", "0.01", "--burst", "1"]
    async with _serving(*args, "--ban-after", "1", "--other-host", "127.0.0.2") as (process, url):
        async with session.get(f"{url}/site/4.html") as response:
            assert response.status == 200
        async with session.get(f"{url}/site/5.html") as response:
            assert response.status == 404
        async with session.get(f"{url}/robots.txt") as response:
            assert "Crawl-delay: 3\n" in await response.text()
        async with session.get(f"{url}/") as response:
            assert "http://127.0.0.2:" in await response.text()
        statuses = []
        for _ in range(3):
            async with session.get(f"{url}/limited/x") as response:
                statuses.append(response.status)
        assert statuses == [200, 429, 403]
        process.terminate()
        assert await process.wait() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--rate", "0"], "rate must be > 0", id="zero-rate"),
        pytest.param(["--pages", "0"], "pages must be >= 1", id="no-pages"),
        pytest.param(["--port", "http"], "invalid int value", id="not-a-port"),
        pytest.param(["--robots-status", "42"], "status must be in", id="robots-status"),
    ],
)
async def test_bad_flags_exit_2_with_one_line(args: list[str], message: str) -> None:
    """A bad flag value is exit 2 and an error line that names it; nothing is served."""
    code, out, err = await _run(args)
    assert code == 2
    assert out == ""
    assert message in err.splitlines()[-1]


async def test_a_taken_port_exits_1_with_one_line(corral_site: Site) -> None:
    """A port in use is exit 1 and a one-line error saying where."""
    code, out, err = await _run(["--port", str(corral_site.port)])
    assert code == 1
    assert out == ""
    where = f"127.0.0.1:{corral_site.port}"
    expected = f"python -m corral.testing: error: cannot listen on {where}: Address already in use"
    assert err.splitlines() == [expected]


def test_help_lists_the_options() -> None:
    """``--help`` answers: it names the site's option groups and exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "corral.testing", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    for text in ["--port", "--rate", "--ban-after", "--pages", "--crawl-delay", "SIGTERM"]:
        assert text in result.stdout
