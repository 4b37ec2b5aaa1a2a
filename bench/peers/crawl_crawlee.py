"""Crawlee for Python crawling a site: a ParselCrawler that enqueues every link on the host.

Usage: crawl_crawlee.py SEED_URL [--concurrency 100] [--storage memory|filesystem]

``enqueue_links`` with its default strategy keeps the crawl on the seed's host; Crawlee's
request queue fetches each URL once. With ``memory`` storage the dataset is exported to
``results.json`` at the end; with ``filesystem`` it stays in ``./storage/datasets/default``.
"""

from __future__ import annotations

import argparse
import asyncio

from _crawlee_setup import STORAGES, options
from crawlee.crawlers import ParselCrawler, ParselCrawlingContext


async def main(seed: str, concurrency: int, storage: str) -> None:
    """Crawl from ``seed`` until the request queue is empty."""
    crawler = ParselCrawler(**options(concurrency, storage))

    @crawler.router.default_handler
    async def handle(context: ParselCrawlingContext) -> None:
        await context.push_data(
            {"url": context.request.url, "status": context.http_response.status_code}
        )
        await context.enqueue_links()

    await crawler.run([seed])
    if storage == "memory":
        await crawler.export_data("results.json")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("seed")
    parser.add_argument("-c", "--concurrency", type=int, default=100)
    parser.add_argument("--storage", choices=STORAGES, default="memory")
    args = parser.parse_args()
    asyncio.run(main(args.seed, args.concurrency, args.storage))
