"""``bench/scale.py polite``: politeness across workers, judged by the server's own clock.

corral's test site runs in this process with its rate-limited area (``/limited/...``) at 20
requests/s per client, burst ``--burst`` (default 1: every request must come 50 ms or more
after the one before), 429 above that and a ban (403 for everything) after 10 refusals in
10 s. All workers connect from 127.0.0.1, so the site sees them as one client: the job's
total. A coordinator ``corral fetch --redis URL --job NAME --workers 0 --rate 20/s`` and
``--workers`` (default 3) ``corral worker`` processes started apart fetch N URLs of that area.

Reported: statuses in the store, the site's 429 and 403 counts (target: none), and the gaps
between the arrivals of consecutive requests in the site's request log (its monotonic clock):
min, p5, median against the 50 ms interval.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sqlite3
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _harness as h
import _report
from _redis import Redis, job_created, running_redis
from corral.testing import RateLimitPolicy, Site, open_site

RATE = 20.0
INTERVAL_MS = 1000 / RATE


def add_parser(commands: Any) -> None:  # argparse's _SubParsersAction is private
    """Add the ``polite`` subcommand to ``commands``."""
    polite = commands.add_parser("polite", help="3 workers at --rate 20/s against a banning site")
    polite.add_argument("--n", type=int, default=400, help="URLs (default 400: 20 s at 20/s)")
    polite.add_argument("--workers", type=int, default=3, help="corral worker processes")
    polite.add_argument("--burst", type=int, default=1, help="the site's burst (default 1)")
    polite.add_argument("--json", type=Path, help="also write the results here")


def run(args: argparse.Namespace) -> int:
    """Run the politeness benchmark; return 1 if the site answered 429 or 403 or a URL is
    missing."""
    work = h.WORK / "scale-polite"
    work.mkdir(parents=True, exist_ok=True)
    with running_redis(h.WORK / "redis") as redis:
        redis.flush()
        result = asyncio.run(_measure(args, work, redis))
        result["versions"] = {**_report.versions(), "redis_server": redis.version}
    _print(result, args)
    if args.json:
        args.json.write_text(json.dumps({"settings": _settings(args), **result}, indent=2))
    redis = result["redis"]
    ok = redis["throttled"] == 0 and redis["forbidden"] == 0
    return 0 if ok and redis["statuses"] == {"200": args.n} else 1


async def _measure(args: argparse.Namespace, work: Path, redis: Redis) -> dict[str, Any]:
    policy = RateLimitPolicy(
        rate=RATE, burst=args.burst, ban_after=10, ban_window=10.0, client_header="X-Client"
    )
    async with open_site(rate_limit=policy, log_size=10 * args.n) as site:
        source = work / "urls.txt"
        source.write_text("".join(site.url(f"/limited/{i}") + "\n" for i in range(args.n)))
        # The same job in one process first: a peer in the same run, same site, same rate.
        single = await _client(site, work, "single", [])
        job = ["--redis", redis.url, "--job", "polite"]
        workers = [["worker", *job, "--name", f"polite-{k}"] for k in range(args.workers)]
        spread = await _client(site, work, "redis", ["--workers", "0", *job], workers, redis)
    return {"single": single, "redis": spread}


async def _client(
    site: Site,
    work: Path,
    name: str,
    options: list[str],
    workers: Sequence[list[str]] = (),
    redis: Redis | None = None,
) -> dict[str, Any]:
    """Run the fetch (and its workers), each client under its own X-Client header."""
    store = work / f"{name}.db"
    store.unlink(missing_ok=True)
    coordinator = await _spawn(
        work / f"{name}.log",
        "fetch", str(work / "urls.txt"), "-o", str(store), *options, "--rate", f"{RATE:g}/s",
        "--header", f"X-Client: {name}", "--no-progress", "-q",
    )  # fmt: skip
    started = time.perf_counter()
    if redis is not None:
        await job_created(redis, "polite")
    spawned = [await _spawn(work / f"{name}-{k}.log", *argv) for k, argv in enumerate(workers)]
    codes = [await coordinator.wait()]
    seconds = time.perf_counter() - started
    codes += [await worker.wait() for worker in spawned]
    stats = site.statistics()
    arrivals = [r.at for r in stats.recent if r.client == name]
    client = stats.clients.get(name)
    return {
        "exit_codes": codes,
        "seconds": seconds,
        "statuses": await asyncio.to_thread(_statuses, store),
        "requests": len(arrivals),
        "throttled": client.throttled if client else 0,
        "forbidden": client.forbidden if client else 0,
        "gaps_ms": _gaps(arrivals),
    }


async def _spawn(log: Path, *argv: str) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "corral", *argv, stdout=out, stderr=out
        )


def _statuses(store: Path) -> dict[str, int]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT status, count(*) FROM results GROUP BY status").fetchall()
    return {str(status): count for status, count in rows}


def _gaps(arrivals: list[float]) -> dict[str, float]:
    ordered = sorted(arrivals)
    gaps = sorted((b - a) * 1000 for a, b in itertools.pairwise(ordered))
    if not gaps:
        return {}
    return {
        "min": gaps[0],
        "p5": gaps[len(gaps) * 5 // 100],
        "median": statistics.median(gaps),
        "below_interval": sum(1 for g in gaps if g < INTERVAL_MS),
        "count": len(gaps),
    }


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {**vars(args), "json": str(args.json), "rate": RATE}


def _print(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n## scale polite: {args.n} URLs of /limited/, --rate 20/s")
    print(f"site: {RATE:g}/s per client, burst {args.burst}, ban after 10 refusals in 10 s")
    print(f"the rate's own time: {args.n / RATE:.1f} s; target: no 429, no 403\n")
    print(
        "| client | exit codes | wall s | store statuses | site requests | 429 | 403 "
        "| gap min ms | p5 | median | gaps < 50 ms |"
    )
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    names = {"single": "one process", "redis": f"redis, {args.workers} workers"}
    for key, name in names.items():
        run, gaps = result[key], result[key]["gaps_ms"]
        spread = (
            f"{gaps['min']:.1f} | {gaps['p5']:.1f} | {gaps['median']:.1f} "
            f"| {gaps['below_interval']} of {gaps['count']}"
            if gaps
            else "- | - | - | -"
        )
        print(
            f"| {name} | {run['exit_codes']} | {run['seconds']:.1f} | {run['statuses']} "
            f"| {run['requests']} | {run['throttled']} | {run['forbidden']} | {spread} |"
        )
