"""Crawlee for Python fetching a URL list: an HttpCrawler pushing one item per response.

Usage: fetch_crawlee.py URLS_FILE [--concurrency 100] [--storage memory|filesystem]

With ``memory`` storage the dataset is exported to ``results.json`` at the end; with
``filesystem`` (Crawlee's default) the items stay in ``./storage/datasets/default``.
"""

from __future__ import annotations

import argparse
import asyncio

from _crawlee_setup import STORAGES, options
from crawlee import Request
from crawlee.crawlers import HttpCrawler, HttpCrawlingContext


async def main(urls_path: str, concurrency: int, storage: str) -> None:
    """Run an HttpCrawler over every URL of the file."""
    crawler = HttpCrawler(**options(concurrency, storage))

    @crawler.router.default_handler
    async def handle(context: HttpCrawlingContext) -> None:
        await context.push_data(
            {"url": context.request.url, "status": context.http_response.status_code}
        )

    with open(urls_path) as lines:
        # unique_key = the URL itself: the list holds distinct URLs, so nothing is skipped
        # and Crawlee does not normalise away the query strings of the memory benchmark.
        requests = [Request.from_url(u, unique_key=u) for line in lines if (u := line.strip())]
    await crawler.run(requests)
    if storage == "memory":
        await crawler.export_data("results.json")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls")
    parser.add_argument("-c", "--concurrency", type=int, default=100)
    parser.add_argument("--storage", choices=STORAGES, default="memory")
    args = parser.parse_args()
    asyncio.run(main(args.urls, args.concurrency, args.storage))
