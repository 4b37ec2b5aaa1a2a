"""What a crawl's ``RedisFrontier`` costs Redis per page: claims, and commits that carry the
page's links (deduplicated against the seen set in the commit's script).

A private redis-server on the server core (``_redis.running_redis``, no persistence), this
process on the client core. ``--pages`` rows over ``--hosts`` hosts are added as seeds; then
host by host, rows are claimed ``--batch`` at a time and committed, each page with
``--links`` links of which one in ``--new`` is a URL not seen before (the rest are links to
pages already known, as a site's menus are). Printed: pages per second end to end,
redis-server CPU per page and per link, and this process's CPU per page.

Usage: python bench/frontier_redis.py [--pages 100000] [--hosts 100] [--links 10] [--new 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from _harness import CLIENT_CORE
from _redis import Redis, running_redis
from corral.http.engine._result import FetchResult
from corral.http.scale._frontier import RedisFrontier
from corral.http.store._frontier import Done, LinkRow, PendingRow

T0 = "2026-12-04T00:00:00+00:00"


def page_url(host: int, n: int) -> str:
    return f"https://shop{host}.example.com/products/item-{n}?ref=list"


def seed(n: int, hosts: int) -> LinkRow:
    url = page_url(n % hosts, n)
    return LinkRow(url, url, f"shop{n % hosts}.example.com", 0, None, None)


def found(row: PendingRow, links: int, new: int, counter: list[int]) -> Done:
    """The row fetched, with ``links`` links: every ``new``-th one to a page not seen yet."""
    rows = []
    for k in range(links):
        if k % new == 0:
            counter[0] += 1
            url = f"https://{row.host}/new/{counter[0]}"
        else:
            url = f"https://{row.host}/menu/{k}"
        rows.append(LinkRow(url, url, row.host, row.depth + 1, row.url, None))
    result = FetchResult(url=row.url, status=200, ok=True, attempts=1, fetched_at=T0)
    return Done(row.id, result, rows)


async def run(server: Redis, args: argparse.Namespace) -> tuple[int, int, float, float, float]:
    """Return pages and links committed, wall, this process's and Redis's CPU seconds."""
    store = RedisFrontier(server.url, "frontier-bench", kind="crawl")
    await store.open(["bench"], T0)
    for start in range(0, args.pages, 1000):
        await store.add_links([seed(n, args.hosts) for n in range(start, start + 1000)])
    counter, pages, links = [0], 0, 0
    wall, cpu, redis_cpu = time.perf_counter(), time.process_time(), server.cpu_seconds()
    for host in range(args.hosts):
        while rows := await store.claim(f"shop{host}.example.com", args.batch):
            if pages + len(rows) > args.pages:
                rows = rows[: args.pages - pages]
            await store.commit([found(row, args.links, args.new, counter) for row in rows])
            pages += len(rows)
            links += len(rows) * args.links
            if pages >= args.pages:
                break
            while records := await store.records(count=1000):
                await store.forget([record.entry for record in records])
        if pages >= args.pages:
            break
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    redis_cpu = server.cpu_seconds() - redis_cpu
    await store.finish("finished", T0, {})
    return pages, links, wall, cpu, redis_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--links", type=int, default=10)
    parser.add_argument("--new", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CORE})
    with running_redis(Path(__file__).parent / ".work" / "frontier-redis") as server:
        pages, links, wall, cpu, redis_cpu = asyncio.run(run(server, args))
        version = server.version
    print(f"redis-server {version}: {pages:,} pages committed with {links:,} links")
    print(f"  pages/s end to end: {pages / wall:,.0f}")
    print(f"  redis-server CPU: {redis_cpu / pages * 1e6:.1f} µs a page (claim, commit, drain)")
    print(f"  redis-server CPU: {redis_cpu / links * 1e6:.2f} µs a link")
    print(f"  this process's CPU: {cpu / pages * 1e6:.1f} µs a page")


if __name__ == "__main__":
    main()
