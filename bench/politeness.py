"""Politeness against a server that allows 20 requests/s and bans past that (issue #3), and
two paths where politeness used to stall a host (issue 13).

    python bench/politeness.py [--n 300]

corral's test site runs in its own process with its rate-limited area set to 20 requests/s
per client (burst 5), a 429 above that, and a ban (403 for everything) after 10 refusals in
10 s: the field reports' site. Two clients fetch the same N URLs of that area:

- ``corral fetch --rate 20/s`` (its defaults otherwise: 8 per host, retries, the store);
- the field reports' pattern: ``gather`` over every URL, a ``Semaphore(100)`` and one
  ``TCPConnector``.

Each sends its own ``X-Client`` header so the site counts them apart. Target: corral ends
with no 429 and no 403 (every URL 200); the reports' pattern gets banned.

Then, on the same site's plain endpoints:

- slow responses under a rate: ``corral fetch --rate 100/s`` of 3 URLs that answer in 2 s
  followed by 200 fast ones. A rate bounds starts: the fast ones start every 10 ms on the
  host's free slots while the slow ones are in flight, so the run takes the rate's own
  2.03 s plus start-up, not a stall per slow response. Target: under 3 s.
- a long Retry-After: one URL answering 429 with ``Retry-After: 86400`` and 20 more on the
  same host, ``--max-retry-after 5``: the 429 is recorded at once, the host pauses 5 s (the
  cap), not a day, the other 20 are fetched and the summary names the host. Target: every
  URL recorded, in about 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


async def reports_pattern(urls: list[str]) -> Counter[int]:
    """gather + Semaphore + TCPConnector, every coroutine made up front."""
    semaphore = asyncio.Semaphore(100)
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector, headers={"X-Client": "reports"}) as s:

        async def get(url: str) -> int:
            async with semaphore, s.get(url) as response:
                await response.read()
                return response.status

        return Counter(await asyncio.gather(*(get(url) for url in urls)))


def corral_fetch(urls: list[str], work: Path) -> tuple[Counter[int], float]:
    """Run ``corral fetch --rate 20/s`` and count the final statuses in its store."""
    source = work / "urls.txt"
    source.write_text("\n".join(urls) + "\n")
    store = work / "out.jsonl"
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "corral",
            "fetch",
            str(source),
            "-o",
            str(store),
            "-q",
            "--rate",
            "20/s",
            "--header",
            "X-Client: corral",
        ],
        check=True,
    )
    seconds = time.perf_counter() - start
    statuses = Counter(json.loads(line)["status"] for line in store.read_text().splitlines())
    return statuses, seconds


def corral_run(urls: list[str], work: Path, *options: str) -> tuple[Counter[int], float, str]:
    """Run ``corral fetch`` on ``urls`` with ``options``; return statuses, seconds, summary."""
    work = Path(tempfile.mkdtemp(dir=work))  # a fresh output per run: no resume
    source = work / "urls.txt"
    source.write_text("\n".join(urls) + "\n")
    store = work / "out.jsonl"
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "corral", "fetch", str(source), "-o", str(store), *options],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    seconds = time.perf_counter() - start
    statuses = Counter(json.loads(line)["status"] for line in store.read_text().splitlines())
    return statuses, seconds, run.stderr


def stalls(base: str, work: Path) -> bool:
    """Run the two cases of issue 13 (see the module notes); return whether both passed."""
    slow = [f"{base}/delay/2000?n={i}" for i in range(3)]
    fast = [f"{base}/page/{i}" for i in range(200)]
    statuses, seconds, _ = corral_run([*slow, *fast], work, "--rate", "100/s", "--no-progress")
    rate_ok = statuses == Counter({200: 203}) and seconds < 3.0
    print("slow responses under a rate: 3 URLs of 2 s, then 200 fast ones, one host")
    print(f"  corral fetch --rate 100/s   {dict(statuses)}  in {seconds:.1f}s (bound: 2.03 s)")
    refused = f"{base}/retry-after/86400"
    others = [f"{base}/page/{i}?host=closed" for i in range(20)]
    statuses, seconds, summary = corral_run(
        [refused, *others], work, "--max-retry-after", "5", "--per-host", "1", "--no-progress"
    )
    named = "asked 86,400 s" in summary
    wait_ok = statuses == Counter({200: 20, 429: 1}) and seconds < 30 and named
    print("a long Retry-After: 429 with Retry-After: 86400, then 20 more URLs of the host")
    got = dict(sorted(statuses.items()))
    print(f"  corral fetch --max-retry-after 5 --per-host 1   {got}  in {seconds:.1f}s")
    line = next((x.strip() for x in summary.splitlines() if "long waits" in x), "(not named)")
    print(f"  summary: {line}")
    return rate_ok and wait_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="URLs per client (default 300)")
    args = parser.parse_args()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "corral.testing",
            "--rate",
            "20",
            "--burst",
            "5",
            "--ban-after",
            "10",
            "--client-header",
            "X-Client",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        urls = [f"{base}/limited/{i}" for i in range(args.n)]
        with tempfile.TemporaryDirectory() as tmp:
            polite, seconds = corral_fetch(urls, Path(tmp))
        start = time.perf_counter()
        greedy = asyncio.run(reports_pattern(urls))
        greedy_seconds = time.perf_counter() - start
        print(f"politeness: {args.n} URLs each, server allows 20/s (burst 5), bans after 10")
        print(f"  corral fetch --rate 20/s   {dict(sorted(polite.items()))}  in {seconds:.1f}s")
        greedy_counts = dict(sorted(greedy.items()))
        print(f"  gather + Semaphore(100)    {greedy_counts}  in {greedy_seconds:.1f}s")
        ok = set(polite) == {200}
        print(
            f"  corral: {'no 429, no 403' if ok else 'REFUSED OR BANNED'}; "
            f"reports' pattern: {'banned' if greedy.get(403) else 'not banned'}"
        )
        with tempfile.TemporaryDirectory() as tmp:
            no_stall = stalls(base, Path(tmp))
    finally:
        server.terminate()
        server.wait(timeout=30)
    sys.exit(0 if ok and no_stall else 1)


if __name__ == "__main__":
    main()
