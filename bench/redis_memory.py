"""Redis memory per URL of a scale-out job (docs/scale.md, "What it costs in Redis").

Starts its own ``redis-server`` (no persistence) on 127.0.0.1 and a free port, then through
``JobQueue``: queues ``--n`` URLs over ``--hosts`` hosts (``used_memory`` before and after:
bytes per queued URL, everything included: host lists, the known-key buckets, host hashes),
claims and commits them all with a small record each (the results stream per undrained
result, by ``MEMORY USAGE``), and reads the known-key buckets alone (``k:*``, by ``MEMORY
USAGE ... SAMPLES 0``: bytes per known URL, what a job's seen set costs), then acknowledges
everything (what is left of the job).

Then the same through a crawl's ``RedisFrontier``: ``--n`` links (each with its referring
page, as a crawl finds them) added over ``--hosts`` hosts (bytes per queued URL, everything
included), every row claimed and committed with a small record and the records stream
drained (bytes per seen URL: what the whole frontier keeps of a done URL), and the seen
buckets alone (``f:s:*``).

Then what ``crawl --redis`` keeps (``--crawl``: only that): a seed page per host committed
with ``--n`` links in all through ``CrawlQueue.commit`` (bytes per queued URL, everything:
host lists with each URL's depth and referring page, seen entries, host state), then every
URL claimed, committed and its record drained (bytes per seen URL: all the job keeps of a
done URL), and the seen buckets alone (``k:*``).

Usage: python bench/redis_memory.py [--n 100000] [--hosts 1000] [--frontier-only | --crawl]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import tempfile
from typing import Any

from corral.http.engine._result import FetchResult
from corral.http.scale._crawlqueue import CrawlQueue, PageLinks
from corral.http.scale._frontier import RedisFrontier
from corral.http.scale._queue import JobQueue
from corral.http.store._frontier import Done, LinkRow

T0 = "2026-12-04T00:00:00+00:00"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_redis(directory: str) -> tuple[subprocess.Popen[str], str]:
    """Start redis-server; return it and its URL once it says it is ready."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [binary, *options, "--dir", directory, "--logfile", ""],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "Ready to accept connections" in line:
            return process, f"redis://127.0.0.1:{port}/0"
    raise SystemExit("redis-server did not start")


async def used(client: Any) -> int:
    info = await client.info("memory")
    return int(info["used_memory"])


async def key_bytes(client: Any, pattern: str) -> int:
    total = 0
    async for key in client.scan_iter(match=pattern, count=1000):
        total += int(await client.memory_usage(key, samples=0) or 0)
    return total


async def measure(url: str, n: int, hosts: int) -> dict[str, float]:
    queue = await JobQueue.connect(url, "memory")
    client = queue._client  # the benchmark reads Redis's own figures
    await queue.configure({"per_host": str(n), "max_results": "0"})
    before = await used(client)
    for start in range(0, n, 1000):
        batch = []
        for i in range(start, min(n, start + 1000)):
            link = f"https://shop{i % hosts}.example.com/products/item-{i}?ref=list"
            batch.append((i + 1, link, link, f"shop{i % hosts}.example.com", None))
        await queue.add(batch)
    figures = {"queued_url_bytes": (await used(client) - before) / n}
    record = FetchResult(url="https://shop1.example.com/products/item-1?ref=list", status=200)
    while tasks := (await queue.claim("bench", 1000))[0]:
        await queue.commit("bench", [(task.token, record, None) for task in tasks])
    figures["known_url_bytes"] = await key_bytes(client, queue.prefix + "k:*") / n
    figures["undrained_result_bytes"] = await key_bytes(client, queue.prefix + "res") / n
    while outcomes := await queue.results("bench", 1000, 0):
        await queue.acknowledge([outcome.entry for outcome in outcomes])
    figures["left_after_drain_bytes"] = float(await used(client) - before)
    await queue.delete()
    await queue.close()
    return figures


def crawl_link(i: int, hosts: int) -> LinkRow:
    host = f"shop{i % hosts}.example.com"
    url = f"https://{host}/products/item-{i}?ref=list"
    return LinkRow(url, url, host, 1, f"https://{host}/category/page-{i // 50}", None)


async def measure_frontier(url: str, n: int, hosts: int) -> dict[str, float]:
    """Bytes per queued and per seen URL of a crawl's ``RedisFrontier``."""
    store = RedisFrontier(url, "frontier-memory", kind="crawl")
    await store.open(["bench"], T0)
    client: Any = store._client  # the benchmark reads Redis's own figures
    before = await used(client)
    for start in range(0, n, 1000):
        await store.add_links([crawl_link(i, hosts) for i in range(start, min(n, start + 1000))])
    figures = {"frontier_queued_url_bytes": (await used(client) - before) / n}
    for h in range(hosts):
        while rows := await store.claim(f"shop{h}.example.com", 1000):
            done = [Done(r.id, FetchResult(url=r.url, status=200, attempts=1)) for r in rows]
            await store.commit(done)
            while records := await store.records(count=1000):
                await store.forget([record.entry for record in records])
    figures["frontier_seen_url_bytes"] = (await used(client) - before) / n
    figures["frontier_seen_buckets_bytes"] = await key_bytes(client, store.prefix + "s:*") / n
    await store.finish("finished", T0, {})
    return figures


async def measure_crawl(url: str, n: int, hosts: int) -> dict[str, float]:
    """Bytes per queued and per seen URL of ``crawl --redis``'s frontier and seen set."""
    queue = await JobQueue.connect(url, "crawl-memory")
    await queue.configure({"kind": "crawl", "seen": "1", "per_host": str(n), "max_results": "0"})
    crawl, client = CrawlQueue(queue), queue._client  # (Redis's own figures)
    before = await used(client)
    seeds = [f"https://shop{h}.example.com/category/page-0" for h in range(hosts)]
    await queue.add(
        [(h + 1, seed, seed, f"shop{h}.example.com", None) for h, seed in enumerate(seeds)]
    )
    pages, _ = await queue.claim("bench", hosts)
    per_page = -(-n // len(pages))
    for start in range(0, len(pages), 20):  # (a commit's arguments stay a few MB)
        done = []
        for k, task in enumerate(pages[start : start + 20], start):
            found = [crawl_link(i, hosts) for i in range(k * per_page, min(n, (k + 1) * per_page))]
            links = PageLinks(1, task.url, [(r.url, r.host, None) for r in found])
            done.append(
                (task.token, FetchResult(url=task.url, status=200, attempts=1), None, links)
            )
        await crawl.commit("bench", done)
    await drain(queue)
    figures = {"crawl_queued_url_bytes": (await used(client) - before) / n}
    record = FetchResult(url="https://shop1.example.com/products/item-1?ref=list", status=200)
    while tasks := (await queue.claim("bench", 1000))[0]:
        await crawl.commit("bench", [(task.token, record, None, None) for task in tasks])
        await drain(queue)
    figures["crawl_seen_url_bytes"] = (await used(client) - before) / n
    figures["crawl_seen_buckets_bytes"] = await key_bytes(client, queue.prefix + "k:*") / n
    await queue.delete()
    await queue.close()
    return figures


async def drain(queue: JobQueue) -> None:
    while outcomes := await queue.results("bench", 1000, 0):
        await queue.acknowledge([outcome.entry for outcome in outcomes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--frontier-only", action="store_true", help="skip the JobQueue")
    parser.add_argument("--crawl", action="store_true", help="only crawl --redis's keys")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        process, url = start_redis(directory)
        try:
            if args.crawl:
                figures = asyncio.run(measure_crawl(url, args.n, args.hosts))
            else:
                figures = (
                    {} if args.frontier_only else asyncio.run(measure(url, args.n, args.hosts))
                )
                figures |= asyncio.run(measure_frontier(url, args.n, args.hosts))
        finally:
            process.terminate()
            process.communicate()
    print(f"{args.n} URLs over {args.hosts} hosts (~60-byte URLs), Redis 7:")
    for name, value in figures.items():
        print(f"  {name}: {value:,.1f}")


if __name__ == "__main__":
    main()
