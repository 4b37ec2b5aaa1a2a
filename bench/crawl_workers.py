"""Benchmark ``corral crawl --workers 2`` against one process: a crawl whose parse is CPU-heavy.

Usage: python bench/crawl_workers.py [--pages 1500] [--hosts 4] [--concurrency 100]
                                     [--repeat 1] [--only NAME ...] [--json results.json]

The crawl benchmark's generated site, served by nginx (core 0) under ``--hosts`` ports (a
host each), crawled from each host's ``/`` with ``--parse heavy_parse:parse`` (about 3 ms
of Python a page, ``bench/heavy_parse.py``). Every runner may use both cores: one process,
and ``--workers 2``, each with the default settings and tuned (``--per-host`` equal to the
concurrency). The ratio is the target of issue 15: two workers at least 1.6x one. On this
2-core machine nginx shares the cores with the crawlers: its CPU is in the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _harness as h
import _report
import _sites
from _nginx import free_port, running_nginx

_BOTH_CORES = ("taskset", "-c", "0,1")  # inside the harness's pinning: it widens it again
_PARSE = ("env", f"PYTHONPATH={h.BENCH}")  # heavy_parse is imported by each process
_COUNT = h.sqlite_count(
    "out.db",
    "SELECT count(DISTINCT url) FROM results WHERE status = 200 AND url IN (SELECT url FROM items)",
    "SELECT count(*) FROM results",
)


def _corral(name: str, *, workers: int, tuned: bool) -> h.Runner:
    argv = [*_BOTH_CORES, *_PARSE, "{corral}", "crawl", "{seeds}", "-o", "out.db"]
    argv += ["--parse", "heavy_parse:parse", "--workers", str(workers), "--quiet"]
    if tuned:
        argv += ["--concurrency", "{concurrency}", "--per-host", "{concurrency}"]
    return h.Runner(name=name, role="corral", argv=argv, count=_COUNT)


RUNNERS = [
    _corral("corral-w1-defaults", workers=1, tuned=False),
    _corral("corral-w2-defaults", workers=2, tuned=False),
    _corral("corral-w1", workers=1, tuned=True),
    _corral("corral-w2", workers=2, tuned=True),
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1500, help="pages in the site (per host)")
    parser.add_argument("--hosts", type=int, default=4, help="hosts serving the site (ports)")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="runs per client, interleaved")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these clients")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the benchmark; print the w2 / w1 ratios; return 1 if a crawl missed a page."""
    args = parse_args(argv)
    runners = h.select(RUNNERS, args.only)
    root = _sites.crawl_site(h.WORK / f"crawl-site-{args.pages}", pages=args.pages)
    ports = tuple(free_port() for _ in range(args.hosts - 1))
    with running_nginx(root, h.WORK / "nginx", extra_ports=ports) as server:
        hosts = [server.base_url, *(f"http://127.0.0.1:{port}" for port in ports)]
        n = args.pages * len(hosts)
        # (one argv item per seed: the runner's "{seeds}" is split after formatting)
        params = h.params(concurrency=args.concurrency, n=n)
        params["seeds"] = " ".join(f"{host}/" for host in hosts)
        results = h.run_all(
            _expand(runners, params), repeat=args.repeat, params=params, n=n,
            server=server, timeout=args.timeout,
        )  # fmt: skip
        nginx_version = server.version
    title = (
        f"crawl --workers: {args.pages} pages x {len(hosts)} hosts, CPU-heavy parse, "
        f"concurrency {args.concurrency}"
    )
    settings = {**vars(args), "json": str(args.json), "nginx": nginx_version}
    code = _report.report(
        results, benchmark="crawl_workers", title=title, unit="pages/s", settings=settings,
        json_path=args.json,
    )  # fmt: skip
    rate = {s.runner: s.rate for s in _report.summarise(results)}
    for two, one in (("corral-w2", "corral-w1"), ("corral-w2-defaults", "corral-w1-defaults")):
        if rate.get(two) and rate.get(one):
            print(f"{two} / {one}: {rate[two] / rate[one]:.2f}x")
    return code


def _expand(runners: list[h.Runner], params: dict[str, object]) -> list[h.Runner]:
    """Return the runners with ``{seeds}`` replaced by one argv item per seed."""
    seeds = str(params["seeds"]).split()
    return [
        h.Runner(
            name=r.name,
            role=r.role,
            argv=[x for a in r.argv for x in (seeds if a == "{seeds}" else [a])],
            count=r.count,
        )
        for r in runners
    ]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
