"""``bench/scale.py crawl``: a crawl through Redis against one process (issue 15).

The crawl benchmark's generated site (``_sites.crawl_site``), served by nginx (core 0) under
``--hosts`` ports (a host each), crawled from each host's ``/`` with no parse callback, so
that what is measured is the crawl's own work: links parsed, judged, deduplicated, queued
and recorded. Runners: one process (``single``, pinned to core 1), ``--redis --workers 1``
(the coordinator and one worker on core 1) and ``--redis --workers 2`` (both cores), all
tuned (``--per-host`` = concurrency), and the same three with the defaults (``-defaults``:
per host 8; with ``--hosts 1``, one site, where round trips per page count most); each
Redis run's pages/s is printed over its one-process peer's. A private redis-server on core 0
is flushed before each run and its CPU seconds over the run are read from ``/proc``.

Reported: pages/s, and CPU per page: the crawl's processes (the coordinator and its local
workers: ``wait4``) and redis-server's; CPU per page is the figure to compare between
versions on a loaded machine (rates there move with the other load).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import _harness as h
import _report
import _sites
from _nginx import free_port, running_nginx
from _redis import running_redis

_BOTH_CORES = ("taskset", "-c", "0,1")  # inside the harness's pinning: it widens it again
_COUNT = h.sqlite_count(
    "out.db",
    "SELECT count(DISTINCT url) FROM results WHERE status = 200",
    "SELECT count(*) FROM results",
)


def _corral(
    name: str, *, workers: int, redis: bool, both_cores: bool = False, tuned: bool = True
) -> h.Runner:
    argv = [*(_BOTH_CORES if both_cores else ()), "{corral}", "crawl", "{seeds}", "-o", "out.db"]
    argv += ["--workers", str(workers), "--quiet"]
    if tuned:
        argv += ["--concurrency", "{concurrency}", "--per-host", "{concurrency}"]
    if redis:
        argv += ["--redis", "{redis}", "--job", "{job}"]
    return h.Runner(name=name, role="corral", argv=argv, count=_COUNT)


RUNNERS = [
    _corral("single", workers=1, redis=False),
    _corral("redis-w1", workers=1, redis=True),
    _corral("redis-w2", workers=2, redis=True, both_cores=True),
    # The defaults (per host 8): one site (--hosts 1) is where a crawl over Redis was
    # latency-bound, each slot waiting on round trips between its URLs.
    _corral("single-defaults", workers=1, redis=False, tuned=False),
    _corral("redis-w1-defaults", workers=1, redis=True, tuned=False),
    _corral("redis-w2-defaults", workers=2, redis=True, both_cores=True, tuned=False),
]
_RATIOS = (
    ("redis-w1", "single"),
    ("redis-w2", "single"),
    ("redis-w1-defaults", "single-defaults"),
    ("redis-w2-defaults", "single-defaults"),
)


def add_parser(commands: Any) -> None:  # argparse's _SubParsersAction is private
    """Add the ``crawl`` subcommand to ``commands``."""
    crawl = commands.add_parser("crawl", help="a crawl through Redis against one process")
    crawl.add_argument("--pages", type=int, default=2000, help="pages in the site (per host)")
    crawl.add_argument("--hosts", type=int, default=4, help="hosts serving the site (ports)")
    crawl.add_argument("--concurrency", type=int, default=100)
    crawl.add_argument("--repeat", type=int, default=1, help="runs per client, interleaved")
    crawl.add_argument("--only", nargs="+", metavar="NAME", help="run only these clients")
    crawl.add_argument("--timeout", type=float, default=900, help="seconds per run")
    crawl.add_argument("--json", type=Path, help="also write the results here")


def run(args: argparse.Namespace) -> int:
    """Run the crawl benchmark; return 1 if a crawl missed a page."""
    runners = h.select(RUNNERS, args.only)
    root = _sites.crawl_site(h.WORK / f"crawl-site-{args.pages}", pages=args.pages)
    ports = tuple(free_port() for _ in range(args.hosts - 1))
    with (
        running_nginx(root, h.WORK / "nginx", extra_ports=ports) as server,
        running_redis(h.WORK / "redis") as redis,
    ):
        hosts = [server.base_url, *(f"http://127.0.0.1:{port}" for port in ports)]
        n = args.pages * len(hosts)
        params = h.params(concurrency=args.concurrency, n=n, redis=redis.url)
        seeds = [f"{host}/" for host in hosts]
        h.compile_corral()
        results, redis_cpu = [], dict[str, list[float]]()
        for round_ in range(1, args.repeat + 1):
            for runner in runners:
                print(f"bench: round {round_}/{args.repeat}: {runner.name} ...", flush=True)
                redis.flush()
                before = redis.cpu_seconds()
                job = {**params, "job": f"bench-crawl-{runner.name}-{round_}"}
                argv = [x for a in runner.argv for x in (seeds if a == "{seeds}" else [a])]
                expanded = h.Runner(name=runner.name, role=runner.role, argv=argv, count=_COUNT)
                measured = h.run_once(
                    expanded, params=job, n=n, server=server, timeout=args.timeout
                )
                redis_cpu.setdefault(runner.name, []).append(redis.cpu_seconds() - before)
                results.append(measured)
        versions = {"nginx": server.version, "redis_server": redis.version}
    title = f"scale crawl: {args.pages} pages x {len(hosts)} hosts, concurrency {args.concurrency}"
    settings = {**vars(args), "json": str(args.json), **versions}
    code = _report.report(
        results, benchmark="scale-crawl", title=title, unit="pages/s", settings=settings,
        json_path=None,
    )  # fmt: skip
    per_page = _print_cpu(results, redis_cpu, n)
    ratios = _print_ratios(results)
    if args.json:
        _report.write_json(
            args.json, benchmark="scale-crawl", settings=settings, measurements=results
        )
        document = json.loads(args.json.read_text())
        document["cpu_us_per_page"] = per_page
        document["ratios"] = ratios
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return code


def _print_cpu(
    results: list[h.Measurement], redis_cpu: dict[str, list[float]], n: int
) -> dict[str, dict[str, float]]:
    print("\nCPU per page (median over runs): the crawl's processes, and redis-server\n")
    per_page: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(m.runner for m in results):
        crawl = sorted(m.cpu_s for m in results if m.runner == name)
        server = sorted(redis_cpu[name])
        figures = {
            "crawl_us": crawl[len(crawl) // 2] / n * 1e6,
            "redis_us": server[len(server) // 2] / n * 1e6,
        }
        per_page[name] = figures
        crawl_us, redis_us = figures["crawl_us"], figures["redis_us"]
        print(f"  {name}: crawl {crawl_us:.0f} us, redis-server {redis_us:.1f} us")
    return per_page


def _print_ratios(results: list[h.Measurement]) -> dict[str, float]:
    """Print each Redis run's pages/s over its one-process peer's (medians, same run)."""
    summaries = _report.summarise(results)
    rate = {s.runner: s.rate for s in summaries}
    ratios = {}
    print()
    for top, bottom in _RATIOS:
        if rate.get(top) and rate.get(bottom):
            ratios[f"{top}/{bottom}"] = rate[top] / rate[bottom]
            print(f"{top} / {bottom}: {rate[top] / rate[bottom]:.2f}x")
    return ratios
