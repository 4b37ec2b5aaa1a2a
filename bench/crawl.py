"""Benchmark crawling: a generated static site of interlinked pages from a local nginx.

Usage: python bench/crawl.py [--pages 20000] [--concurrency 100] [--repeat 1]
                             [--only NAME ...] [--json results.json]

nginx runs on core 0, each crawler in turn on core 1, from the seed ``/``. Every crawler must
fetch every page (all distinct 200s in its own output, and nginx served at least that many
requests) or its row says NOT VERIFIED and the script exits 1.
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

# To add a crawler: one Runner. argv placeholders: {python} {corral} {seed} {concurrency} {n}.
RUNNERS = [
    h.Runner(
        name="aiohttp-loop",
        role="floor",
        argv=["{python}", str(PEERS / "crawl_aiohttp.py"), "{seed}", "-c", "{concurrency}"],
        count=h.jsonl_count("results.jsonl"),
    ),
    h.Runner(
        name="scrapy",
        argv=["{python}", str(PEERS / "crawl_scrapy.py"), "{seed}", "-c", "{concurrency}"],
        count=h.jsonl_count("results.jsonl"),
    ),
    h.Runner(
        name="crawlee",
        argv=["{python}", str(PEERS / "crawl_crawlee.py"), "{seed}", "-c", "{concurrency}"],
        count=h.json_count("results.json"),
    ),
    h.Runner(
        name="crawlee-fs",
        argv=[
            *("{python}", str(PEERS / "crawl_crawlee.py"), "{seed}", "-c", "{concurrency}"),
            *("--storage", "filesystem"),
        ],
        count=h.dataset_count("storage/datasets/default"),
    ),
    h.Runner(
        name="scrapy-default",
        argv=[
            *("{python}", str(PEERS / "crawl_scrapy.py"), "{seed}", "-c", "{concurrency}"),
            "--default-items",
        ],
        count=h.jsonl_count("results.jsonl"),
    ),
    # corral crawl with robots.txt, the SQLite frontier and store; one host, so --per-host
    # equals the concurrency.
    h.Runner(
        name="corral",
        role="corral",
        argv=[
            *("{corral}", "crawl", "{seed}", "-o", "out.db", "--concurrency", "{concurrency}"),
            *("--per-host", "{concurrency}", "--no-progress", "--quiet"),
        ],
        count=h.sqlite_count(
            "out.db",
            "SELECT count(DISTINCT url) FROM results WHERE status = 200",
            "SELECT count(*) FROM results",
        ),
    ),
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20_000, help="pages in the site")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="runs per crawler, interleaved")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these crawlers")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the crawl benchmark; return 1 if any crawler missed a page."""
    args = parse_args(argv)
    runners = h.select(RUNNERS, args.only)
    print(f"bench: generating (or reusing) a site of {args.pages} pages", flush=True)
    root = _sites.crawl_site(h.WORK / f"crawl-site-{args.pages}", pages=args.pages)
    with running_nginx(root, h.WORK / "nginx") as server:
        params = h.params(seed=f"{server.base_url}/", concurrency=args.concurrency, n=args.pages)
        results = h.run_all(
            runners,
            repeat=args.repeat,
            params=params,
            n=args.pages,
            server=server,
            timeout=args.timeout,
        )
        nginx_version = server.version
    summaries = _report.summarise(results)
    title = f"crawl: {args.pages} pages, concurrency {args.concurrency}, {nginx_version}"
    _report.print_tables(title, "pages/s", summaries)
    if args.json:
        settings = {**vars(args), "json": str(args.json), "nginx": nginx_version}
        _report.write_json(args.json, benchmark="crawl", settings=settings, measurements=results)
    return 0 if all(s.verified for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
