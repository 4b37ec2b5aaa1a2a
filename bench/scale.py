"""Scale-out benchmarks (issue 15): what coordination through Redis costs, politeness across
workers, and workers killed at random.

Usage:
    python bench/scale.py cost [--n 20000] [--concurrency 100] [--repeat 1] [--only NAME ...]
                               [--json FILE]
    python bench/scale.py polite [--n 400] [--workers 3] [--burst 1] [--json FILE]
    python bench/scale.py chaos [--n 20000] [--kills 10] [--concurrency 50] [--seed 0]
                                [--json FILE]
    python bench/scale.py crawl [--pages 2000] [--hosts 4] [--concurrency 100] [--repeat 1]
                                [--only NAME ...] [--json FILE]
    python bench/scale.py cpu [--n 20000] [--repeat 3] [--profile DIR] [--json FILE]

``cost``: the workers benchmark's nginx (core 0) with 8 hosts split 4 and 4 by partition,
and a private redis-server on core 0 beside it. One process pinned to core 1 (as
bench/fetch.py) against the same job through Redis: ``--redis URL --job NAME --workers 1``
(the coordinator and one ``corral worker``), pinned to core 1 alone and free on both cores,
and ``redis-w1-apart``: the worker alone on core 1 (the core the single process has) and the
coordinator (``--workers 0``) on core 0 beside nginx and Redis, as on a machine of its own;
``--workers 2`` without Redis (local processes) and ``--redis --workers 2`` on both cores.
Each tuned (``--per-host`` = concurrency) and the redis runs also with default settings.
Redis is flushed before each run; its CPU seconds over the run (``/proc/PID/stat``) are
divided by N. Target: one worker through Redis >= 0.7x the single process. On this 2-core
machine nginx and Redis share core 0; the 2-core runs share it with them too.

``polite``, ``chaos``, ``crawl`` and ``cpu`` (CPU per URL of each process): see
bench/_scale_polite.py, bench/_scale_chaos.py, bench/_scale_crawl.py and bench/_scale_cpu.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import _harness as h
import _report
import _scale_chaos
import _scale_cpu
import _scale_crawl
import _scale_polite
import _sites
from _nginx import running_nginx
from _redis import Redis, running_redis
from workers import HOSTS, split_ports, url_list

_BOTH_CORES = ("taskset", "-c", "0,1")  # inside the harness's pinning: it widens it again
_COUNT = h.sqlite_count(
    "out.db",
    "SELECT count(DISTINCT url) FROM results WHERE status = 200",
    "SELECT count(*) FROM results",
)


def _corral(
    name: str,
    *,
    workers: int,
    redis: bool,
    tuned: bool = True,
    both_cores: bool = False,
    cookies: bool = False,
) -> h.Runner:
    argv = [*(_BOTH_CORES if both_cores else ()), "{corral}", "fetch", "{urls}", "-o", "out.db"]
    argv += ["--workers", str(workers), "--no-progress", "--quiet"]
    if redis:
        argv += ["--redis", "{redis}", "--job", "{job}"]
    if tuned:
        argv += ["--concurrency", "{concurrency}", "--per-host", "{concurrency}"]
    if cookies:  # (nginx sets none: what the jars' version check per claim costs)
        argv += ["--cookies"]
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
    _corral("single", workers=1, redis=False),
    _corral("redis-w1", workers=1, redis=True),
    _corral("redis-w1-2cores", workers=1, redis=True, both_cores=True),
    # One worker with a core to itself, as the single process has: the coordinator (its
    # SQLite drain) runs on core 0 beside nginx and Redis, as it would on another machine.
    h.Runner(
        name="redis-w1-apart",
        role="corral",
        argv=[
            "sh",
            "-c",
            (
                "taskset -c 1 {corral} worker --redis {redis} --job {job} & "
                "taskset -c 0 {corral} fetch {urls} -o out.db --workers 0 --no-progress "
                "--quiet --redis {redis} --job {job} --concurrency {concurrency} "
                "--per-host {concurrency} && wait"
            ),
        ],
        count=_COUNT,
    ),
    _corral("redis-w1-cookies", workers=1, redis=True, cookies=True),
    _corral("local-w2", workers=2, redis=False, both_cores=True),
    _corral("redis-w2", workers=2, redis=True, both_cores=True),
    _corral("single-defaults", workers=1, redis=False, tuned=False),
    _corral("redis-w1-defaults", workers=1, redis=True, tuned=False),
]
_RATIOS = (
    ("redis-w1", "single"),
    ("redis-w1-2cores", "single"),
    ("redis-w1-apart", "single"),
    ("redis-w1-cookies", "redis-w1"),
    ("local-w2", "single"),
    ("redis-w2", "single"),
    ("redis-w2", "local-w2"),
    ("redis-w1-defaults", "single-defaults"),
)
_TARGET = ("redis-w1", "single", 0.7)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cost = commands.add_parser("cost", help="coordination cost against nginx")
    cost.add_argument("--n", type=int, default=20_000, help="URLs to fetch (default 20000)")
    cost.add_argument("--files", type=int, default=20_000, help="distinct files served")
    cost.add_argument("--concurrency", type=int, default=100)
    cost.add_argument("--repeat", type=int, default=1, help="runs per client, interleaved")
    cost.add_argument("--only", nargs="+", metavar="NAME", help="run only these clients")
    cost.add_argument("--timeout", type=float, default=900, help="seconds per run")
    cost.add_argument("--json", type=Path, help="also write the results here")
    _scale_polite.add_parser(commands)
    _scale_chaos.add_parser(commands)
    _scale_crawl.add_parser(commands)
    _scale_cpu.add_parser(commands)
    return parser.parse_args(argv)


def run_cost(args: argparse.Namespace) -> int:
    """Run the coordination-cost benchmark; return 1 if a client missed a URL."""
    runners = h.select(RUNNERS, args.only)
    root = _sites.fetch_site(h.WORK / "fetch-site", files=args.files)
    ports = split_ports(HOSTS // 2)
    with (
        running_nginx(root, h.WORK / "nginx", extra_ports=ports) as server,
        running_redis(h.WORK / "redis") as redis,
    ):
        urls = url_list(h.WORK / f"scale-urls-{args.n}.txt", ports, count=args.n, files=args.files)
        params = h.params(urls=urls, concurrency=args.concurrency, n=args.n, redis=redis.url)
        results, redis_cpu = _run_all(runners, args, params, server, redis)
        nginx_version = server.version
        redis_version = redis.version
    title = f"scale cost: N={args.n} on {HOSTS} hosts, concurrency {args.concurrency}"
    settings = {**vars(args), "json": str(args.json), "nginx": nginx_version}
    settings["redis_server"] = redis_version
    code = _report.report(
        results,
        benchmark="scale-cost",
        title=title,
        unit="req/s",
        settings=settings,
        json_path=None,
    )
    summaries = _report.summarise(results)
    per_url = _print_redis_cpu(summaries, redis_cpu, args.n)
    met = _print_ratios(summaries)
    if args.json:
        _report.write_json(
            args.json, benchmark="scale-cost", settings=settings, measurements=results
        )
        document = json.loads(args.json.read_text())
        document["redis_cpu_us_per_url"] = per_url
        document["target_met"] = met
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return code


def _run_all(
    runners: list[h.Runner],
    args: argparse.Namespace,
    params: dict[str, object],
    server: h.Server,
    redis: Redis,
) -> tuple[list[h.Measurement], dict[str, list[float]]]:
    # The harness's run_all, plus a flush and redis-server's CPU around each run; each run
    # gets a job name of its own (a finished job's keys are deleted, but a failed run's stay).
    h.compile_corral()
    results, redis_cpu = [], dict[str, list[float]]()
    for round_ in range(1, args.repeat + 1):
        for runner in runners:
            print(
                f"bench: round {round_}/{args.repeat}: {runner.name} (n={args.n}) ...", flush=True
            )
            redis.flush()
            before = redis.cpu_seconds()
            job = {**params, "job": f"bench-{runner.name}-{round_}"}
            measured = h.run_once(runner, params=job, n=args.n, server=server, timeout=args.timeout)
            used = redis.cpu_seconds() - before
            redis_cpu.setdefault(runner.name, []).append(used)
            mark = "ok" if measured.verified else "NOT VERIFIED"
            print(
                f"bench:   {measured.rate:,.0f}/s in {measured.wall_s:.2f} s, "
                f"{measured.ok}/{args.n} ok, redis-server {used:.2f} CPU s: {mark}",
                flush=True,
            )
            results.append(measured)
    return results, redis_cpu


def _print_redis_cpu(
    summaries: list[_report.Summary], redis_cpu: dict[str, list[float]], n: int
) -> dict[str, float]:
    print("\nredis-server CPU per URL (median over runs; clock ticks of 10 ms):\n")
    per_url = {}
    for s in summaries:
        if "redis" in s.runner:
            runs = sorted(redis_cpu[s.runner])
            seconds = runs[len(runs) // 2]
            per_url[s.runner] = seconds / n * 1e6
            print(f"  {s.runner}: {seconds:.2f} CPU s, {per_url[s.runner]:.1f} us/URL")
    return per_url


def _print_ratios(summaries: list[_report.Summary]) -> bool | None:
    rate = {s.runner: s.rate for s in summaries}
    print()
    for top, bottom in _RATIOS:
        if rate.get(top) and rate.get(bottom):
            print(f"{top} / {bottom}: {rate[top] / rate[bottom]:.2f}x")
    top, bottom, target = _TARGET
    if not (rate.get(top) and rate.get(bottom)):
        return None
    ratio = rate[top] / rate[bottom]
    verdict = "met" if ratio >= target else "MISSED"
    print(f"target {top} / {bottom} >= {target}x: {ratio:.2f}x, {verdict}")
    return ratio >= target


def main(argv: list[str]) -> int:
    """Run the subcommand asked for."""
    args = parse_args(argv)
    if args.command == "cost":
        return run_cost(args)
    runs = {
        "polite": _scale_polite.run,
        "chaos": _scale_chaos.run,
        "crawl": _scale_crawl.run,
        "cpu": _scale_cpu.run,
    }
    return runs[args.command](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
