"""``-q`` on an interrupted run, ``corral report -o -``, and what a crawl over Redis says
when Redis comes back: the real commands against corral's test site (and redis-server)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import ENV, acorral

from corral.testing import Site, open_site

# (threshold: a fork from the test's loop, to start the command, takes 0.1 s on a loaded machine)
pytestmark = pytest.mark.corral_guard(strict=False, threshold=1000)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


async def _interrupted(site: Site, *args: str) -> str:
    """Run ``corral ARGS``, Ctrl-C it once it has made a few requests; return its stderr."""
    before = site.statistics().requests
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, stderr=asyncio.subprocess.PIPE, env=ENV
    )
    await site.wait_until(lambda stats: stats.requests >= before + 4)
    run.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 130, err
    return err.decode()


@pytest.mark.parametrize("redis", [False, True], ids=["one-process", "redis"])
async def test_quiet_prints_only_the_resume_hint_when_interrupted(
    site: Site, tmp_path: Path, redis_if_asked: str | None, redis: bool
) -> None:
    """``-q``: an interrupted fetch or crawl says how to resume, and nothing else of the
    summary (``--help`` promises so)."""
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(f"/delay/300?n={n}") + "\n" for n in range(100)))
    job: list[str] = []
    if redis_if_asked is not None:
        job = ["--redis", redis_if_asked, "--job", "q1"]
    out = tmp_path / "out.db"
    err = await _interrupted(
        site, "fetch", str(urls), "-o", str(out), "-q", "--concurrency", "2", *job
    )
    lines = err.strip().splitlines()
    assert lines[0].startswith("corral: interrupted with "), err
    assert lines[0].endswith(" of 100 URLs left. To resume, run the same command again"), err
    assert lines[1:] == ["(URLs already done are not fetched again):", lines[2]], err
    assert lines[2].startswith("  "), err
    assert str(out) in lines[2], err
    crawled = tmp_path / "crawl.db"
    args = ["crawl", site.url("/delay/300"), site.url("/site/0.html"), "-o", str(crawled)]
    job = [*job[:3], "q2"] if redis else []
    err = await _interrupted(site, *args, "-q", "--per-host", "1", *job)
    lines = err.strip().splitlines()
    assert lines[0].startswith("corral: interrupted"), err
    assert lines[0].endswith("To resume, run the same command again"), err
    assert len(lines) == 3, err


async def test_report_to_stdout(site: Site, tmp_path: Path) -> None:
    """``corral report STORE -o -`` writes the report to stdout (as ``corral export`` does),
    no file named ``-``."""
    urls = tmp_path / "urls.txt"
    urls.write_text(site.url("/page/1") + "\n")
    out = tmp_path / "out.db"
    assert (await acorral("fetch", str(urls), "-o", str(out), "-q")).returncode == 0
    shown = await acorral("report", str(out), "--format", "json", "-o", "-")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["header"]["recorded"] == 1
    assert not Path("-").exists()
    page = await acorral("report", str(out), "-o", "-")
    assert page.returncode == 0, page.stderr
    assert page.stdout.lstrip().lower().startswith("<!doctype html")
