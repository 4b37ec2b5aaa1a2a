"""Benchmark bulk fetching: N URLs of small static files from a local nginx, concurrency 100.

Usage: python bench/fetch.py [--n 20000] [--concurrency 100] [--repeat 1] [--only NAME ...]
                             [--json results.json]

nginx runs on core 0, each client in turn on core 1. Every client must fetch every URL (N
distinct 200s in its own output, and N requests seen by nginx) or its row says NOT VERIFIED
and the script exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _harness as h
import _report
import _sites
from _nginx import running_nginx

PEERS = h.BENCH / "peers"

# To add a client: one Runner. argv placeholders: {python} {corral} {urls} {concurrency} {n}.
RUNNERS = [
    h.Runner(
        name="aiohttp-pool",
        role="floor",
        argv=["{python}", str(PEERS / "fetch_aiohttp_pool.py"), "{urls}", "-c", "{concurrency}"],
        count=h.jsonl_count("results.jsonl"),
    ),
    h.Runner(
        name="gather+semaphore",
        argv=["{python}", str(PEERS / "fetch_gather.py"), "{urls}", "-c", "{concurrency}"],
        count=h.jsonl_count("results.jsonl"),
    ),
    *h.shared_runners("fetch", "{urls}"),
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="URLs to fetch (default 20000)")
    parser.add_argument("--files", type=int, default=20_000, help="distinct files served")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="runs per client, interleaved")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these clients")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the fetch benchmark; return 1 if any client did not fetch every URL."""
    args = parse_args(argv)
    runners = h.select(RUNNERS, args.only)
    root = _sites.fetch_site(h.WORK / "fetch-site", files=args.files)
    with running_nginx(root, h.WORK / "nginx") as server:
        urls = _sites.url_list(
            h.WORK / f"fetch-urls-{args.n}.txt", server.base_url, count=args.n, files=args.files
        )
        params = h.params(urls=urls, concurrency=args.concurrency, n=args.n)
        results = h.run_all(
            runners,
            repeat=args.repeat,
            params=params,
            n=args.n,
            server=server,
            timeout=args.timeout,
        )
        nginx_version = server.version
    title = f"fetch: N={args.n}, concurrency {args.concurrency}, nginx {nginx_version}"
    settings = {**vars(args), "json": str(args.json), "nginx": nginx_version}
    return _report.report(
        results,
        benchmark="fetch",
        title=title,
        unit="req/s",
        settings=settings,
        json_path=args.json,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
