"""Benchmark ``corral fetch --workers 2`` against one process: N small static files on 8 hosts.

Usage: python bench/workers.py [--n 20000] [--concurrency 100] [--repeat 1] [--only NAME ...]
                               [--json results.json]

The fetch benchmark's nginx (core 0), listening on 8 more ports: 8 hosts to a client, 4 to each
of the two workers. Runs: one process pinned to core 1 (as bench/fetch.py), one process free to
use both cores, and ``--workers 2`` on both cores, each tuned (``--per-host`` = concurrency) and
with the default settings. On this 2-core machine nginx shares core 0 with one worker: the ratio
is what two processes give beside the server, not a clean 2-core scaling figure. There is no
CPU-heavy fetch case: ``--parse`` (the CPU a worker would spread) is crawl-only.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import _harness as h
import _report
import _sites
from _nginx import free_port, running_nginx

HOSTS = 8
_BOTH_CORES = ("taskset", "-c", "0,1")  # inside the harness's pinning: it widens it again
_COUNT = h.sqlite_count(
    "out.db",
    "SELECT count(DISTINCT url) FROM results WHERE status = 200",
    "SELECT count(*) FROM results",
)


def _corral(name: str, *, workers: int, tuned: bool, both_cores: bool) -> h.Runner:
    argv = [*(_BOTH_CORES if both_cores else ()), "{corral}", "fetch", "{urls}", "-o", "out.db"]
    argv += ["--workers", str(workers), "--no-progress", "--quiet"]
    if tuned:
        argv += ["--concurrency", "{concurrency}", "--per-host", "{concurrency}"]
    return h.Runner(name=name, role="corral", argv=argv, count=_COUNT)


RUNNERS = [
    h.Runner(
        name="aiohttp-pool",
        role="floor",
        argv=[
            *("{python}", str(h.BENCH / "peers" / "fetch_aiohttp_pool.py")),
            *("{urls}", "-c", "{concurrency}"),
        ],
        count=h.jsonl_count("results.jsonl"),
    ),
    _corral("corral-w1", workers=1, tuned=True, both_cores=False),
    _corral("corral-w1-2cores", workers=1, tuned=True, both_cores=True),
    _corral("corral-w2", workers=2, tuned=True, both_cores=True),
    _corral("corral-w1-defaults", workers=1, tuned=False, both_cores=True),
    _corral("corral-w2-defaults", workers=2, tuned=False, both_cores=True),
]


def split_ports(per_partition: int) -> tuple[int, ...]:
    """Return free ports whose hosts ``127.0.0.1:PORT`` fall ``per_partition`` in each of
    two crc32 halves (the workers split any 8 hosts 4 and 4 now: ``HostRouter``; the ports
    are chosen as before so that the figures compare with the earlier runs)."""
    chosen: dict[int, list[int]] = {0: [], 1: []}
    while min(len(ports) for ports in chosen.values()) < per_partition:
        port = free_port()
        side = chosen[zlib.crc32(f"127.0.0.1:{port}".encode()) % 2]
        if len(side) < per_partition and port not in side:
            side.append(port)
    return (*chosen[0], *chosen[1])


def url_list(target: Path, ports: tuple[int, ...], *, count: int, files: int) -> Path:
    """Write ``count`` distinct URLs over the hosts, round robin."""
    with target.open("w") as out:
        for index in range(count):
            query = "" if index < files else f"?n={index}"
            port = ports[index % len(ports)]
            out.write(f"http://127.0.0.1:{port}{_sites.fetch_path(index % files)}{query}\n")
    return target


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
    """Run the benchmark; print the w2 / w1 ratios; return 1 if a client missed a URL."""
    args = parse_args(argv)
    runners = h.select(RUNNERS, args.only)
    root = _sites.fetch_site(h.WORK / "fetch-site", files=args.files)
    ports = split_ports(HOSTS // 2)
    with running_nginx(root, h.WORK / "nginx", extra_ports=ports) as server:
        urls = url_list(
            h.WORK / f"workers-urls-{args.n}.txt", ports, count=args.n, files=args.files
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
    title = f"fetch --workers: N={args.n} on {HOSTS} hosts, concurrency {args.concurrency}"
    settings = {**vars(args), "json": str(args.json), "nginx": nginx_version}
    code = _report.report(
        results,
        benchmark="workers",
        title=title,
        unit="req/s",
        settings=settings,
        json_path=args.json,
    )
    _print_ratios(_report.summarise(results))
    return code


def _print_ratios(summaries: list[_report.Summary]) -> None:
    rate = {s.runner: s.rate for s in summaries}
    for two, one in (
        ("corral-w2", "corral-w1"),
        ("corral-w2", "corral-w1-2cores"),
        ("corral-w2-defaults", "corral-w1-defaults"),
    ):
        if rate.get(two) and rate.get(one):
            print(f"{two} / {one}: {rate[two] / rate[one]:.2f}x")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
