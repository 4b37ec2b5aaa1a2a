"""Benchmark memory against input size: peak RSS of fetch clients at several N.

Usage: python bench/memory.py [--sizes 20000 1000000] [--only NAME ...] [--json out.json]

The same clients as bench/fetch.py (by default the raw aiohttp pool, the reports' gather
pattern and corral; any fetch.RUNNERS name works with --only). Past the 20,000 files
served, URLs repeat the files with a distinct query string, so every URL is distinct and 200.
A client whose memory is bounded by its concurrency keeps the same peak RSS at every N; one
that creates a coroutine per URL up front grows with N.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _harness as h
import _report
import _sites
import fetch
from _nginx import running_nginx

DEFAULT = ["aiohttp-pool", "gather+semaphore", "corral"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 1_000_000])
    parser.add_argument("--files", type=int, default=20_000, help="distinct files served")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--only", nargs="+", metavar="NAME", default=DEFAULT)
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run each client at each size; return 1 if any run missed a URL."""
    args = parse_args(argv)
    runners = h.select(fetch.RUNNERS, args.only)
    root = _sites.fetch_site(h.WORK / "fetch-site", files=args.files)
    results: list[h.Measurement] = []
    with running_nginx(root, h.WORK / "nginx") as server:
        for n in args.sizes:
            urls = _sites.url_list(
                h.WORK / f"fetch-urls-{n}.txt", server.base_url, count=n, files=args.files
            )
            params = h.params(urls=urls, concurrency=args.concurrency, n=n)
            results += h.run_all(
                runners,
                repeat=1,
                params=params,
                n=n,
                server=server,
                timeout=args.timeout,
            )
    print_growth(results, args.sizes)
    if args.json:
        settings = {**vars(args), "json": str(args.json)}
        _report.write_json(args.json, benchmark="memory", settings=settings, measurements=results)
    return 0 if all(m.verified for m in results) else 1


def print_growth(results: list[h.Measurement], sizes: list[int]) -> None:
    """Print peak RSS per client and size, and its growth from the smallest to the largest N."""
    print("\n## memory: peak RSS against N\n")
    print("| runner | N | ok | req/s | CPU s | peak RSS MB | RSS / RSS at smallest N |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name in dict.fromkeys(m.runner for m in results):
        runs = sorted((m for m in results if m.runner == name), key=lambda m: m.n)
        base = runs[0].peak_rss_mb
        for m in runs:
            ok = f"{m.ok}/{m.n}" + ("" if m.verified else " NOT VERIFIED")
            print(
                f"| {name} | {m.n:,} | {ok} | {m.rate:,.0f} | {m.cpu_s:.1f} "
                f"| {m.peak_rss_mb:.0f} | {m.peak_rss_mb / base:.2f} |"
            )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
