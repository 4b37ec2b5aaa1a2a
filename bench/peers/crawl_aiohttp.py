"""The floor for crawling: a plain aiohttp loop, selectolax for links, a set for the seen URLs.

Usage: crawl_aiohttp.py SEED_URL [--concurrency 100] [--out results.jsonl]

N workers share one session and an unbounded asyncio.Queue (the frontier); every page on the
seed's host is fetched once, its ``a[href]`` links resolved, stripped of fragments and queued if
unseen. Parsing runs on the event loop: this is the simplest loop, not a careful crawler.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import IO
from urllib.parse import urljoin, urlsplit

import aiohttp
from selectolax.lexbor import LexborHTMLParser


class Crawl:
    """The frontier, the seen set and the output of one crawl."""

    def __init__(self, seed: str, out: IO[str]) -> None:
        parts = urlsplit(seed)
        self.host = parts.netloc
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.seen = {seed}
        self.frontier: asyncio.Queue[str] = asyncio.Queue()
        self.frontier.put_nowait(seed)
        self.out = out

    def links(self, url: str, body: bytes) -> None:
        """Queue the unseen same-host links of a page."""
        for node in LexborHTMLParser(body).css("a[href]"):
            href = node.attributes.get("href")
            link = self.resolve(url, href) if href else None
            if link and link not in self.seen:
                self.seen.add(link)
                self.frontier.put_nowait(link)

    def resolve(self, page: str, href: str) -> str | None:
        """Return the absolute, fragment-less URL of a link if it is on the crawl's host."""
        href = href.partition("#")[0]
        if href.startswith("/") and not href.startswith("//"):
            # Fast path for the commonest form, an absolute path: urljoin costs about half of
            # this loop's CPU otherwise.
            return self.origin + href
        link = urljoin(page, href)
        return link if urlsplit(link).netloc == self.host else None

    async def worker(self, session: aiohttp.ClientSession) -> None:
        """Fetch queued pages for ever; the crawl ends when the queue is joined."""
        while True:
            url = await self.frontier.get()
            try:
                async with session.get(url) as response:
                    body = await response.read()
                if response.status == 200 and response.content_type == "text/html":
                    self.links(url, body)
                record: dict[str, object] = {"url": url, "status": response.status}
            except Exception as error:  # recorded, so a failure shows up in the count
                record = {"url": url, "status": None, "error": repr(error)}
            self.out.write(json.dumps(record) + "\n")
            self.frontier.task_done()


async def main(seed: str, concurrency: int, out_path: str) -> None:
    """Crawl from ``seed`` until no unseen page is left."""
    with open(out_path, "w") as out:
        crawl = Crawl(seed, out)
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            workers = [asyncio.create_task(crawl.worker(session)) for _ in range(concurrency)]
            await crawl.frontier.join()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("seed")
    parser.add_argument("-c", "--concurrency", type=int, default=100)
    parser.add_argument("--out", default="results.jsonl")
    args = parser.parse_args()
    asyncio.run(main(args.seed, args.concurrency, args.out))
