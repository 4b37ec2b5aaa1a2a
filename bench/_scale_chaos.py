"""``bench/scale.py chaos``: workers of a Redis job killed (``kill -9``) at random, replaced.

nginx (core 0, its access log on: one line per request, the target) serves N small files;
a private redis-server beside it. A coordinator ``corral fetch --redis URL --job NAME
--workers 0 --concurrency C --per-host 3C`` and 3 ``corral worker`` processes started apart.
``--kills`` times, once nginx has served a random number of requests (seeded, spread over
the first 70% of the job), a random live worker is killed with SIGKILL and a replacement
started. Its leases (30 s) expire and any worker reaps them, so its URLs are fetched again.

Checks: the coordinator and the last workers exit 0; exactly one record per URL in the store
(``count(*)`` = ``count(DISTINCT url)`` = N, every URL 200); and the URLs nginx served more
than once, against the bound of one in-flight window per kill (the killed worker's
concurrency C: at most C leases held, claimed or fetched and not yet committed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import _harness as h
import _report
import _sites
from _nginx import Nginx, running_nginx
from _redis import Redis, job_created, running_redis

WORKERS = 3
_POLL = 0.02  # seconds between reads of nginx's request counter while waiting for a moment


def add_parser(commands: Any) -> None:  # argparse's _SubParsersAction is private
    """Add the ``chaos`` subcommand to ``commands``."""
    chaos = commands.add_parser("chaos", help="kill -9 random workers of a Redis job")
    chaos.add_argument("--n", type=int, default=20_000, help="URLs (default 20000)")
    chaos.add_argument("--files", type=int, default=20_000, help="distinct files served")
    chaos.add_argument("--kills", type=int, default=10, help="workers killed (default 10)")
    chaos.add_argument("--concurrency", type=int, default=50, help="per worker (default 50)")
    chaos.add_argument("--seed", type=int, default=0, help="the kill moments and victims")
    chaos.add_argument("--json", type=Path, help="also write the results here")


def run(args: argparse.Namespace) -> int:
    """Run the chaos benchmark; return 1 when a check fails."""
    work = h.WORK / "scale-chaos"
    work.mkdir(parents=True, exist_ok=True)
    access = work / "access.log"
    access.unlink(missing_ok=True)
    root = _sites.fetch_site(h.WORK / "fetch-site", files=args.files)
    with (
        running_nginx(root, h.WORK / "nginx", access_log=access) as nginx,
        running_redis(h.WORK / "redis") as redis,
    ):
        redis.flush()
        source = _sites.url_list(work / "urls.txt", nginx.base_url, count=args.n, files=args.files)
        result = asyncio.run(_chaos(args, work, source, nginx, redis))
        result["versions"] = {**_report.versions(), "redis_server": redis.version}
    result.update(_check(args, work / "out.db", access))
    _print(result, args)
    if args.json:
        args.json.write_text(json.dumps({"settings": {**vars(args), "json": None}, **result}))
    return 0 if result["passed"] else 1


async def _chaos(
    args: argparse.Namespace, work: Path, source: Path, nginx: Nginx, redis: Redis
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    job = ["--redis", redis.url, "--job", "chaos"]
    (work / "out.db").unlink(missing_ok=True)
    c = str(args.concurrency)
    coordinator = await _spawn(
        work / "coordinator.log",
        "fetch", str(source), "-o", str(work / "out.db"), *job, "--workers", "0",
        "--concurrency", c, "--per-host", str(WORKERS * args.concurrency), "--no-progress", "-q",
    )  # fmt: skip
    started = time.perf_counter()
    spawned = 0

    async def worker() -> asyncio.subprocess.Process:
        nonlocal spawned
        spawned += 1
        name = f"chaos-{spawned}"
        return await _spawn(work / f"{name}.log", "worker", *job, "--name", name)

    await job_created(redis, "chaos")
    live = [await worker() for _ in range(WORKERS)]
    dead, kills = [], []
    moments = sorted(rng.sample(range(args.n // 20, args.n * 7 // 10), args.kills))
    for moment in moments:
        served = await _served_at_least(nginx, moment)
        victim = live.pop(rng.randrange(len(live)))
        victim.kill()
        await victim.wait()
        dead.append(victim)
        kills.append({"at_request": served, "seconds": time.perf_counter() - started})
        live.append(await worker())
    code = await asyncio.wait_for(coordinator.wait(), timeout=900)
    seconds = time.perf_counter() - started
    codes = [await asyncio.wait_for(w.wait(), timeout=120) for w in live]
    return {"coordinator_exit": code, "worker_exits": codes, "seconds": seconds, "kills": kills}


async def _served_at_least(nginx: Nginx, moment: int) -> int:
    # nginx has no event to wait on: its counter is read every 20 ms (stub_status, one
    # request each; they are in its count and in the access log, filtered out below).
    while (served := await asyncio.to_thread(nginx.requests_served)) < moment:  # noqa: ASYNC110
        await asyncio.sleep(_POLL)
    return served


async def _spawn(log: Path, *argv: str) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "corral", *argv, stdout=out, stderr=out
        )


def _check(args: argparse.Namespace, store: Path, access: Path) -> dict[str, Any]:
    with sqlite3.connect(store) as db:
        records, distinct, ok = db.execute(
            "SELECT count(*), count(DISTINCT url), sum(status = 200) FROM results"
        ).fetchone()
    urls = (store.parent / "urls.txt").read_text().split()
    wanted = {urllib.parse.urlsplit(url).path for url in urls}
    served = Counter(
        line.strip() for line in access.read_text().splitlines() if line.strip() in wanted
    )
    twice = sum(1 for count in served.values() if count > 1)
    extra = sum(count - 1 for count in served.values() if count > 1)
    bound = args.kills * args.concurrency
    one_each = records == distinct == ok == args.n and len(served) == args.n
    return {
        "records": records,
        "distinct": distinct,
        "ok": ok,
        "served_distinct": len(served),
        "fetched_twice": twice,
        "extra_fetches": extra,
        "bound": bound,
        "passed": one_each and extra <= bound,
    }


def _print(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n## scale chaos: {args.n} URLs, {WORKERS} workers of concurrency {args.concurrency}")
    print(f"{args.kills} kill -9 of a random worker (seed {args.seed}), a replacement each time\n")
    for number, kill in enumerate(result["kills"], 1):
        print(f"  kill {number}: at request {kill['at_request']:,} ({kill['seconds']:.1f} s)")
    print(
        f"coordinator exit {result['coordinator_exit']}, last workers {result['worker_exits']}, "
        f"{result['seconds']:.1f} s"
    )
    print(
        f"store: {result['records']:,} records, {result['distinct']:,} distinct URLs, "
        f"{result['ok']:,} answered 200 (want {args.n:,} each)"
    )
    print(
        f"nginx: {result['served_distinct']:,} URLs served; {result['fetched_twice']} URLs "
        f"fetched more than once ({result['extra_fetches']} extra requests), bound "
        f"{args.kills} kills x {args.concurrency} = {result['bound']}"
    )
    print("PASSED" if result["passed"] else "FAILED")
