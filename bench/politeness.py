"""Politeness against a server that allows 20 requests/s and bans past that (issue #3).

    python bench/politeness.py [--n 300]

corral's test site runs in its own process with its rate-limited area set to 20 requests/s
per client (burst 5), a 429 above that, and a ban (403 for everything) after 10 refusals in
10 s: the field reports' site. Two clients fetch the same N URLs of that area:

- ``corral fetch --rate 20/s`` (its defaults otherwise: 8 per host, retries, the store);
- the field reports' pattern: ``gather`` over every URL, a ``Semaphore(100)`` and one
  ``TCPConnector``.

Each sends its own ``X-Client`` header so the site counts them apart. Target: corral ends
with no 429 and no 403 (every URL 200); the reports' pattern gets banned.
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
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"politeness: {args.n} URLs each, server allows 20/s (burst 5), bans after 10 refusals")
    print(f"  corral fetch --rate 20/s   {dict(sorted(polite.items()))}  in {seconds:.1f}s")
    print(f"  gather + Semaphore(100)    {dict(sorted(greedy.items()))}  in {greedy_seconds:.1f}s")
    ok = set(polite) == {200}
    print(
        f"  corral: {'no 429, no 403' if ok else 'REFUSED OR BANNED'}; "
        f"reports' pattern: {'banned' if greedy.get(403) else 'not banned'}"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
