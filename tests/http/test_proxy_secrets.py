"""Passwords and secrets of a command line are never printed in clear (a trial).

An interrupted run printed its resume hint as the command line it ran, so ``--proxy
http://ann:s3cret@...`` and ``--header 'Authorization: Bearer ...'`` were printed in clear,
though ``runs.argv`` and the summary's proxy lines masked them. The hint now shows the
command as ``runs.argv`` keeps it (``***``), and says the secrets are to be given again.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from corral_cli import acorral
from proxy_servers import TinyProxy

import corral
from corral.testing import Site, open_site

pytestmark = pytest.mark.corral_guard(strict=False)  # commands run in subprocesses


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(log_size=10_000) as running:
        yield running


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[TinyProxy]:
    server = TinyProxy(tmp_path, user="ann", password="s3cret")
    server.start()
    yield server
    server.stop()


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("select count(*) from results").fetchone()[0])
    except sqlite3.OperationalError:  # (no schema yet)
        return 0


def _start(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    command = [sys.executable, "-m", "corral", *args]
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)


async def test_the_resume_hint_masks_proxy_passwords_and_secret_headers(
    site: Site, tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    """Interrupted, a fetch through a proxy with a password and with an Authorization
    header: the hint shows both as ``***`` and says to give them again; the user's own
    command (with them) resumes the run."""
    source, out = tmp_path / "urls.txt", tmp_path / "out.db"
    urls = [site.url(f"/delay/{30 + i % 7}?i={i}") for i in range(200)]
    await corral.to_thread(source.write_text, "\n".join(urls) + "\n")
    args = ["fetch", str(source), "-o", str(out), "--proxy", tinyproxy.url]
    args += ["--header", "Authorization: Bearer t0ken", "--concurrency", "4"]
    job = _start(args)
    try:
        await site.wait_until(lambda _: _count(out) >= 4)
    finally:
        job.send_signal(signal.SIGINT)
        stderr = await corral.to_thread(lambda: job.communicate(timeout=60)[1])
    assert job.returncode == 130, stderr
    assert "s3cret" not in stderr
    assert "t0ken" not in stderr
    assert f"--proxy 'http://ann:***@127.0.0.1:{tinyproxy.port}'" in stderr
    assert "'Authorization: ***'" in stderr
    assert (
        "(*** hides a password or a secret header value: give them again as in your command)"
        in stderr
    )
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    assert await corral.to_thread(_count, out) == 200
