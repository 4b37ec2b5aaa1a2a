"""Benchmark crawling: a generated static site of interlinked pages from a local nginx.

Usage: python bench/crawl.py [--pages 20000] [--chain 300] [--concurrency 100] [--repeat 1]
                             [--only NAME ...] [--json results.json]

nginx runs on core 0, each crawler in turn on core 1, from the seed ``/``. Every crawler must
fetch every page (all distinct 200s in its own output, and nginx served at least that many
requests) or its row says NOT VERIFIED and the script exits 1.

Two parts: the site (every crawler; corral twice, tuned with ``--per-host`` equal to the
concurrency as the peers are, and with its default settings), then a "next page" chain of
``--chain`` pages, each linking only to the next (the floor and corral with its defaults and
``--max-depth`` raised to the chain's length): there every page waits for the one before it,
so it measures the time from a response to the next request, not throughput.
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

FLOOR = h.Runner(
    name="aiohttp-loop",
    role="floor",
    argv=["{python}", str(PEERS / "crawl_aiohttp.py"), "{seed}", "-c", "{concurrency}"],
    count=h.jsonl_count("results.jsonl"),
)
_CORRAL_COUNT = h.sqlite_count(
    "out.db",
    "SELECT count(DISTINCT url) FROM results WHERE status = 200",
    "SELECT count(*) FROM results",
)

# To add a crawler: one Runner. argv placeholders: {python} {corral} {seed} {concurrency} {n}.
RUNNERS = [
    FLOOR,
    *h.shared_runners("crawl", "{seed}"),
    # What a new user gets: no flags (concurrency 100, 8 per host, the trap guards on).
    h.Runner(
        name="corral-defaults",
        role="corral",
        argv=["{corral}", "crawl", "{seed}", "-o", "out.db", "--quiet"],
        count=_CORRAL_COUNT,
    ),
]
CHAIN_RUNNERS = [
    FLOOR,
    # The defaults, but for the depth: 20 links from the seed would stop pagination at 20.
    h.Runner(
        name="corral-chain",
        role="corral",
        argv=["{corral}", "crawl", "{seed}", "-o", "out.db", "--max-depth", "{n}", "--quiet"],
        count=_CORRAL_COUNT,
    ),
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20_000, help="pages in the site")
    parser.add_argument("--chain", type=int, default=300, help="pages in the chain (0: skip)")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="runs per crawler, interleaved")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these crawlers")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def _chosen(runners: list[h.Runner], only: list[str] | None) -> list[h.Runner]:
    known = {r.name for r in RUNNERS} | {r.name for r in CHAIN_RUNNERS}
    unknown = sorted(set(only or ()) - known)
    if unknown:
        raise SystemExit(f"bench: unknown runner(s) {unknown}; known: {sorted(known)}")
    return [r for r in runners if not only or r.name in only]


def _part(
    args: argparse.Namespace, runners: list[h.Runner], root: Path, *, seed: str, n: int, name: str
) -> int:
    """Serve ``root`` with nginx, run ``runners`` from ``seed`` and report; return 1 on a miss."""
    with running_nginx(root, h.WORK / "nginx") as server:
        params = h.params(seed=f"{server.base_url}{seed}", concurrency=args.concurrency, n=n)
        results = h.run_all(
            runners, repeat=args.repeat, params=params, n=n, server=server, timeout=args.timeout
        )
        nginx_version = server.version
    title = f"{name}, concurrency {args.concurrency}, {nginx_version}"
    settings = {**vars(args), "json": str(args.json), "nginx": nginx_version, "part": name}
    json_path = args.json
    if json_path is not None and name.startswith("chain"):
        json_path = json_path.with_name(f"{json_path.stem}-chain{json_path.suffix}")
    return _report.report(
        results, benchmark="crawl", title=title, unit="pages/s", settings=settings,
        json_path=json_path,
    )  # fmt: skip


def main(argv: list[str]) -> int:
    """Run the crawl benchmark; return 1 if any crawler missed a page."""
    args = parse_args(argv)
    failed = 0
    runners = _chosen(RUNNERS, args.only)
    if runners:
        print(f"bench: generating (or reusing) a site of {args.pages} pages", flush=True)
        root = _sites.crawl_site(h.WORK / f"crawl-site-{args.pages}", pages=args.pages)
        name = f"crawl: {args.pages} pages"
        failed |= _part(args, runners, root, seed="/", n=args.pages, name=name)
    chain = _chosen(CHAIN_RUNNERS, args.only)
    if args.chain and chain:
        root = _sites.chain_site(h.WORK / f"chain-{args.chain}", length=args.chain)
        name = f"chain: {args.chain} pages, each linking only to the next"
        failed |= _part(args, chain, root, seed="/chain/0.html", n=args.chain, name=name)
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
