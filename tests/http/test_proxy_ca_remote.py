"""``--proxy-ca FILE`` for ``corral worker`` processes started elsewhere (a trial).

The job's settings named the file as given: a relative path (``--proxy-ca proxy-ca.pem``)
meant another file, or none, for a worker in another directory or on another machine. The
coordinator now puts the certificates themselves into the job's settings.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from corral_cli import ENV
from proxy_servers import TlsProxy

from corral.testing import Site, open_site

pytestmark = [pytest.mark.corral_guard(strict=False, threshold=1000), pytest.mark.timeout(120)]


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


@pytest.fixture
def tls_proxy(tmp_path: Path) -> Iterator[TlsProxy]:
    server = TlsProxy(tmp_path, user="ann", password="s3cret")
    server.start()
    yield server
    server.stop()


async def _corral(cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV, cwd=cwd,
    )  # fmt: skip


async def test_a_worker_elsewhere_trusts_the_jobs_relative_proxy_ca(
    site: Site, tls_proxy: TlsProxy, tmp_path: Path, redis_url: str
) -> None:
    """The coordinator given ``--proxy-ca proxy-ca.pem`` in its directory, ``--workers 0``;
    a ``corral worker`` in another directory (no such file there) fetches every URL through
    the https:// proxy."""
    here, elsewhere = tmp_path / "coordinator", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    shutil.copy(tls_proxy.certificate, here / "proxy-ca.pem")
    (here / "urls.txt").write_text("".join(f"{site.url(f'/page/{n}')}\n" for n in range(5)))
    coordinator = await _corral(
        here, "fetch", "urls.txt", "-o", "out.db", "--proxy", tls_proxy.url,
        "--proxy-ca", "proxy-ca.pem", "--redis", redis_url, "--job", "ca", "--workers", "0",
    )  # fmt: skip
    worker = await _corral(elsewhere, "worker", "--redis", redis_url, "--job", "ca")
    _, err = await asyncio.wait_for(coordinator.communicate(), 100)
    _, worker_err = await asyncio.wait_for(worker.communicate(), 60)
    assert worker.returncode == 0, worker_err.decode()
    assert coordinator.returncode == 0, err.decode()
    with sqlite3.connect(here / "out.db") as conn:
        statuses = [status for (status,) in conn.execute("select status from results")]
    assert statuses == [200] * 5
