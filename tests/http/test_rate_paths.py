"""--rate and Retry-After on the paths that stalled a host (issue 13, items 3 and 4).

The timing tests run on ``VirtualTimeLoop``: the test site's delays and corral's start
intervals are timers on the same virtual clock, so the figures are exact and nothing sleeps
for real.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from corral import to_thread
from corral.http import FetchResult, open_fetcher
from corral.testing import Site, open_site


async def _fetch_timed(urls: list[str], **options: Any) -> dict[str, tuple[float, FetchResult]]:
    """Fetch ``urls``; map each to (virtual seconds from the start to its record, record)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    done: dict[str, tuple[float, FetchResult]] = {}
    async with open_fetcher(**options) as fetcher:
        async for result in fetcher.fetch_all(urls):
            done[result.url] = (loop.time() - start, result)
    return done


@pytest.mark.virtual_time
async def test_a_slow_response_never_delays_the_next_start_under_a_rate() -> None:
    """At --rate 100/s, three 2 s responses in flight do not hold back 200 fast pages.

    A rate bounds when requests start; while the slow ones are in flight the others start
    every 10 ms (the rate) on the host's free slots, so all 203 have started by about
    2.03 s and the run ends when the last slow one does, not three slow ones later.
    """
    async with open_site() as site:
        slow = [site.url(f"/delay/2000?n={i}") for i in range(3)]
        fast = [site.url(f"/page/{i}") for i in range(200)]
        done = await _fetch_timed([*slow, *fast], rate="100/s", per_host=8)
    assert all(result.ok for _, result in done.values())
    assert max(done[url][0] for url in fast) < 2.1  # 203 starts at 100/s: about 2.03 s
    assert max(done[url][0] for url in slow) < 2.1  # each started within its first 30 ms


async def _host_of(site: Site) -> str:
    return f"{site.host}:{site.port}"


@pytest.mark.virtual_time
async def test_a_retry_after_past_the_cap_closes_the_host_for_the_cap_only() -> None:
    """A 429 asking for a day is recorded at once; its host reopens after the cap, not a day.

    The other URLs of the host start once the cap (60 s here) has passed, the run ends, and
    the statistics name the host and what it asked for.
    """
    async with open_site() as site:
        refused = site.url("/retry-after/86400")
        others = [site.url(f"/page/{i}") for i in range(20)]
        async with open_fetcher(per_host=1, max_retry_after=60) as fetcher:
            loop = asyncio.get_running_loop()
            start = loop.time()
            done = {
                r.url: (loop.time() - start, r) async for r in fetcher.fetch_all([refused, *others])
            }
            asked = fetcher.statistics().long_retry_after
    seconds, record = done[refused]
    assert (record.status, record.error_kind, record.attempts) == (429, "http_status", 1)
    assert seconds < 1.0  # recorded at once: a day is past the cap, so no retry
    assert record.error == "HTTP 429 (Retry-After 86400 s is past the 60 s cap: not retried)"
    assert all(done[url][1].ok for url in others)
    assert min(done[url][0] for url in others) >= 60.0  # the host cooled down for the cap
    # ... then the 20 start at the adaptive slow-down's pace (one 429: 0.1 s apart), not a day
    assert max(done[url][0] for url in others) < 62.1
    assert asked == {await _host_of(site): 86400.0}


@pytest.mark.corral_guard(strict=False)  # the command runs in a subprocess, waited in a thread
async def test_the_summary_names_a_host_that_asked_past_the_cap(tmp_path: Path) -> None:
    """`corral fetch --max-retry-after 1`: the run ends and its summary names the host.

    Real time (the command runs in its own process): the host pauses 1 s, not a day.
    """
    source = tmp_path / "urls.txt"
    async with open_site() as site:
        urls = [site.url("/retry-after/86400"), *(site.url(f"/page/{i}") for i in range(5))]
        await to_thread(source.write_text, "\n".join(urls) + "\n")
        run = await to_thread(
            lambda: subprocess.run(
                [
                    *(sys.executable, "-m", "corral", "fetch", str(source)),
                    *("-o", str(tmp_path / "o.db"), "--no-progress", "--max-retry-after", "1"),
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        )
    assert run.returncode == 0, run.stderr
    assert f"long waits  {site.host}:{site.port} asked 86,400 s" in run.stderr
    assert "past the 1 s cap" in run.stderr
