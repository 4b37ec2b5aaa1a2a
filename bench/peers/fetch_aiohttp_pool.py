"""The floor: a raw aiohttp worker pool (N workers over a bounded asyncio.Queue, one session).

Usage: fetch_aiohttp_pool.py URLS_FILE [--concurrency 100] [--out results.jsonl]

Memory is bounded by the concurrency: the URL file is read lazily into a queue of twice the
concurrency. Each response body is read in full and one JSON line per URL is written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import IO

import aiohttp

_DONE = ""


async def worker(session: aiohttp.ClientSession, queue: asyncio.Queue[str], out: IO[str]) -> None:
    """Fetch URLs from the queue until the end marker; write one line per URL."""
    while (url := await queue.get()) != _DONE:
        try:
            async with session.get(url) as response:
                await response.read()
                record = {"url": url, "status": response.status}
        except (aiohttp.ClientError, TimeoutError) as error:
            record = {"url": url, "status": None, "error": repr(error)}
        out.write(json.dumps(record) + "\n")


async def main(urls: str, concurrency: int, out_path: str) -> None:
    """Feed the URL file to ``concurrency`` workers sharing one session."""
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=2 * concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    with open(out_path, "w") as out:
        async with aiohttp.ClientSession(connector=connector) as session:
            workers = [asyncio.create_task(worker(session, queue, out)) for _ in range(concurrency)]
            with open(urls) as lines:
                for line in lines:
                    if url := line.strip():
                        await queue.put(url)
            for _ in workers:
                await queue.put(_DONE)
            await asyncio.gather(*workers)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls")
    parser.add_argument("-c", "--concurrency", type=int, default=100)
    parser.add_argument("--out", default="results.jsonl")
    args = parser.parse_args()
    asyncio.run(main(args.urls, args.concurrency, args.out))
