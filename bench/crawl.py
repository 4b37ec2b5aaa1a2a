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
    *h.shared_runners("crawl", "{seed}"),
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
    title = f"crawl: {args.pages} pages, concurrency {args.concurrency}, {nginx_version}"
    settings = {**vars(args), "json": str(args.json), "nginx": nginx_version}
    return _report.report(
        results,
        benchmark="crawl",
        title=title,
        unit="pages/s",
        settings=settings,
        json_path=args.json,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
