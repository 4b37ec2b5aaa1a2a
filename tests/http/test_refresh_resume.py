"""A ``--refresh`` cut short by ``kill -9`` is finished by the next run, with or without
``--refresh`` (as a crawl's is: docs/crawl.md, "Refresh"), against the real test site."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from corral_cli import acorral

from corral.http import FetchConfig
from corral.http.pipeline._writer import BATCH
from corral.testing import open_site

# the subprocess and the store's reads block briefly; a busy machine stalls the site's loop
pytestmark = pytest.mark.corral_guard(strict=False, threshold=1000)

_URLS = 3000
_PER_HOST = 50
# What a kill -9 may lose, so fetch again: the requests in flight (one host: --per-host) and
# the records not yet committed, a batch gathering and one in its commit (``_writer``).
_WINDOW = _PER_HOST + 2 * min(BATCH, FetchConfig().concurrency)


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "corral", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def _runs_of_latest(db: Path) -> dict[int, int]:
    """Return how many URLs have their latest record from each run."""
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT run, count(*) FROM results GROUP BY run").fetchall())


async def test_a_killed_refresh_is_finished_without_refresh(tmp_path: Path) -> None:
    """``fetch --refresh`` killed part-way, then the same command without ``--refresh``:
    every URL the killed run did not fetch again is fetched now (the summary says
    ``refreshed``), and none that it did is fetched a third time."""
    async with open_site(log_size=100_000) as site:
        source = tmp_path / "urls.txt"
        source.write_text("".join(site.url(f"/page/{i}") + "\n" for i in range(_URLS)))
        db = tmp_path / "out.db"
        args = ["fetch", str(source), "-o", str(db), "--no-progress", "--per-host", str(_PER_HOST)]
        first = await acorral(*args)
        assert first.returncode == 0, first.stderr
        asked = site.statistics().requests
        job = _start([*args, "--refresh"])
        try:
            await site.wait_until(lambda s: s.requests >= asked + 600)
        finally:
            job.send_signal(signal.SIGKILL)
            job.wait()
        assert _runs_of_latest(db).get(1, 0) > 0, "the refresh ended before the kill"

        again = await acorral(*args)

        assert again.returncode == 0, again.stderr
        assert "refreshed" in again.stderr, again.stderr
        assert set(_runs_of_latest(db)) <= {2, 3}, _runs_of_latest(db)
        assert site.statistics().requests <= asked + _URLS + _WINDOW  # (6,150 seen under load)
