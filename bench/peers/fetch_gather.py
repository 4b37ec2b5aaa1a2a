"""The field reports' pattern: every coroutine created up front, ``asyncio.gather`` over them,
an ``asyncio.Semaphore`` for the concurrency and one ``TCPConnector``.

Usage: fetch_gather.py URLS_FILE [--concurrency 100] [--out results.jsonl]

Kept as the reports write it (the whole URL list in memory, one coroutine per URL, results
collected by gather) because that is what is measured: its memory grows with N.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import aiohttp


async def fetch(
    session: aiohttp.ClientSession, semaphore: asyncio.Semaphore, url: str
) -> dict[str, object]:
    """Fetch one URL under the semaphore and return its record."""
    async with semaphore, session.get(url) as response:
        await response.read()
        return {"url": url, "status": response.status}


async def main(urls_path: str, concurrency: int, out_path: str) -> None:
    """Create one coroutine per URL and gather them all."""
    with open(urls_path) as lines:
        urls = [line.strip() for line in lines if line.strip()]
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [fetch(session, semaphore, url) for url in urls]
        results = await asyncio.gather(*tasks, return_exceptions=True)
    with open(out_path, "w") as out:
        for url, result in zip(urls, results, strict=True):
            if isinstance(result, BaseException):
                result = {"url": url, "status": None, "error": repr(result)}
            out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls")
    parser.add_argument("-c", "--concurrency", type=int, default=100)
    parser.add_argument("--out", default="results.jsonl")
    args = parser.parse_args()
    asyncio.run(main(args.urls, args.concurrency, args.out))
