"""``bench/scale.py cpu``: where a job through Redis spends its CPU, process by process.

The cost benchmark's site (nginx, 8 hosts) and private redis-server; one process
(``corral fetch``, pinned to core 1) against the same job through Redis laid out apart: one
``corral worker`` on core 1 and the coordinator (``corral fetch --workers 0``) on core 0.
Each process is reaped with ``os.wait4``, so its user + system CPU seconds are its own;
redis-server's come from ``/proc/PID/stat`` (10 ms ticks). Reported: CPU microseconds per
URL of each, median over ``--repeat`` runs, and the sum against the single process.

CPU time, unlike wall-clock rates, holds up better on a machine shared with other work (it
still rises under load: caches and the other hyperthread). With ``--profile DIR`` each corral
process runs sampled at each millisecond of its CPU time (``SIGPROF``, the main thread's
stack: ``_sampled``), leaving ``DIR/<round>-<process>.stacks`` (collapsed stacks, as flame
graphs read them) and, in its log, the process's CPU seconds and its main thread's (the rest
is its threads': SQLite, the input).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _harness as h
import _sites
from _nginx import running_nginx
from _redis import Redis, running_redis
from workers import HOSTS, split_ports, url_list

_TUNED = ("--concurrency", "{concurrency}", "--per-host", "{concurrency}")
_QUIET = ("--no-progress", "--quiet")


def add_parser(commands: Any) -> None:  # argparse's _SubParsersAction is private
    """Add the ``cpu`` subcommand to ``commands``."""
    cpu = commands.add_parser("cpu", help="CPU per URL of each process, single and via Redis")
    cpu.add_argument("--n", type=int, default=20_000, help="URLs to fetch (default 20000)")
    cpu.add_argument("--files", type=int, default=20_000, help="distinct files served")
    cpu.add_argument("--concurrency", type=int, default=100)
    cpu.add_argument("--repeat", type=int, default=3, help="runs of each layout, interleaved")
    cpu.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="also run the Redis layout with the corral of SRC (another checkout's src/, "
        "first on PYTHONPATH), interleaved: a before and after under the same load",
    )
    cpu.add_argument("--profile", type=Path, help="sample each process's stacks, files here")
    cpu.add_argument("--json", type=Path, help="also write the results here")


def run(args: argparse.Namespace) -> int:
    """Measure; print the CPU per URL of each process; return 1 if a run missed a URL."""
    h.compile_corral()
    root = _sites.fetch_site(h.WORK / "fetch-site", files=args.files)
    ports = split_ports(HOSTS // 2)
    runs: dict[str, list[float]] = {}
    missed = False
    with (
        running_nginx(root, h.WORK / "nginx", extra_ports=ports),
        running_redis(h.WORK / "redis") as redis,
    ):
        urls = url_list(h.WORK / f"scale-urls-{args.n}.txt", ports, count=args.n, files=args.files)
        params = {**h.params(urls=urls, concurrency=args.concurrency), "redis": redis.url}
        layouts = [("", None)] + ([("baseline ", args.baseline)] if args.baseline else [])
        for round_ in range(1, args.repeat + 1):
            measured = [_single(args, params, round_)]
            for label, source in layouts:
                apart = _apart(args, params, redis, round_, source)
                measured.append({f"{label}{name}": v for name, v in apart.items()})
            for figures in measured:
                missed |= figures.pop("ok", args.n) != args.n
                for name, seconds in figures.items():
                    runs.setdefault(name, []).append(seconds)
    per_url = {name: statistics.median(v) / args.n * 1e6 for name, v in runs.items()}
    _print(per_url, args)
    if args.json:
        settings = vars(args) | {k: str(getattr(args, k)) for k in ("json", "profile", "baseline")}
        document = {"settings": settings, "us_per_url": per_url, "runs": runs}
        args.json.write_text(json.dumps(document, indent=2))
    return 1 if missed else 0


def _single(args: argparse.Namespace, params: dict[str, object], round_: int) -> dict[str, float]:
    directory = _fresh(f"cpu-single-{round_}")
    argv = [*_corral(args, "single", round_), "fetch", "{urls}", "-o", "out.db", *_QUIET, *_TUNED]
    started = time.perf_counter()
    process = _start(argv, params, directory, core=1)
    cpu = _reap(process)
    wall = time.perf_counter() - started
    ok = _ok(directory)
    print(f"bench: round {round_}: single {cpu / args.n * 1e6:.0f} us/URL, {ok / wall:,.0f}/s")
    return {"single": cpu, "single_wall": wall, "ok": ok}


def _apart(
    args: argparse.Namespace,
    params: dict[str, object],
    redis: Redis,
    round_: int,
    source: Path | None,
) -> dict[str, float]:
    redis.flush()
    job = f"cpu-{round_}" if source is None else f"cpu-baseline-{round_}"
    params = {**params, "job": job}
    directory = _fresh(job)
    env = None if source is None else {**os.environ, "PYTHONPATH": str(source.resolve())}
    target = ("--redis", "{redis}", "--job", "{job}")
    coordinator_argv = [*_corral(args, "coordinator", round_), "fetch", "{urls}", "-o", "out.db"]
    coordinator_argv += ["--workers", "0", *_QUIET, *_TUNED, *target]
    worker_argv = [*_corral(args, "worker", round_), "worker", *target]
    redis.command("CONFIG", "RESETSTAT")
    before = redis.cpu_seconds()
    started = time.perf_counter()
    coordinator = _start(
        coordinator_argv, params, directory, core=0, log="coordinator.log", env=env
    )
    while not redis.has_job(job):  # (a worker started before its job waits for a wake-up)
        time.sleep(0.02)
    worker = _start(worker_argv, params, directory, core=1, log="worker.log", env=env)
    coordinator_cpu = _reap(coordinator)
    wall = time.perf_counter() - started
    worker_cpu = _reap(worker)
    redis_cpu = redis.cpu_seconds() - before
    _print_commands(redis, args.n)
    ok = _ok(directory)
    total = coordinator_cpu + worker_cpu + redis_cpu
    label = "redis" if source is None else "baseline"
    print(
        f"bench: round {round_}: {label} worker {worker_cpu / args.n * 1e6:.0f}, coordinator "
        f"{coordinator_cpu / args.n * 1e6:.0f}, redis-server {redis_cpu / args.n * 1e6:.0f}: "
        f"{total / args.n * 1e6:.0f} us/URL, {ok / wall:,.0f}/s"
    )
    return {
        "worker": worker_cpu,
        "coordinator": coordinator_cpu,
        "redis-server": redis_cpu,
        "redis total": total,
        "redis_wall": wall,
        "ok": ok,
    }


def _print_commands(redis: Redis, n: int) -> None:
    """Print what redis-server's own accounting says its commands cost a URL (``INFO
    commandstats``: the time inside each command, scripts' calls counted in the script)."""
    import redis as redis_py

    client = redis_py.Redis.from_url(redis.url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    rows = sorted(stats.items(), key=lambda item: -item[1]["usec"])
    shown = ", ".join(
        f"{name.removeprefix('cmdstat_')} {row['usec'] / n:.1f} us ({row['calls']})"
        for name, row in rows[:30]
    )
    print(f"bench:   redis-server commands a URL (calls): {shown}")


def _corral(args: argparse.Namespace, process: str, round_: int) -> list[str]:
    if args.profile is None:
        return ["{corral}"]
    args.profile.mkdir(parents=True, exist_ok=True)
    target = args.profile.resolve() / f"{round_}-{process}.stacks"
    return ["{python}", str(Path(__file__).resolve()), str(target)]


def _start(
    argv: list[str],
    params: dict[str, object],
    directory: Path,
    *,
    core: int,
    log: str = "out.log",
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    command = ["taskset", "-c", str(core), *(a.format(**params) for a in argv)]
    with (directory / log).open("wb") as out:
        return subprocess.Popen(command, cwd=directory, stdout=out, stderr=out, env=env)


def _reap(process: subprocess.Popen[bytes]) -> float:
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(f"bench: {process.args!r} exited with {process.returncode}", file=sys.stderr)
    return usage.ru_utime + usage.ru_stime


def _ok(directory: Path) -> int:
    import sqlite3

    with sqlite3.connect(directory / "out.db") as db:
        return int(
            db.execute("SELECT count(DISTINCT url) FROM results WHERE status = 200").fetchone()[0]
        )


def _fresh(name: str) -> Path:
    directory = h.WORK / "runs" / name
    if directory.exists():
        import shutil

        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


def _print(per_url: dict[str, float], args: argparse.Namespace) -> None:
    print(f"\nCPU per URL (median of {args.repeat}; N={args.n}, concurrency {args.concurrency}):")
    labels = [""] + (["baseline "] if args.baseline else [])
    print(f"  {'':>13}  {'now':>8}" + ("  baseline" if args.baseline else ""))
    for name in ("worker", "coordinator", "redis-server", "redis total"):
        row = "".join(f"  {per_url[label + name]:6.0f} us" for label in labels)
        print(f"  {name:>13}{row}")
    print(f"  {'single':>13}  {per_url['single']:6.0f} us")
    for label in labels:
        single = per_url["single"]
        total = per_url[f"{label}redis total"] / single
        pair = (per_url[f"{label}worker"] + per_url[f"{label}coordinator"]) / single
        rate = per_url["single_wall"] / per_url[f"{label}redis_wall"]
        print(
            f"  {label or 'now '}/ single: redis total {total:.2f}x, worker + coordinator "
            f"{pair:.2f}x; wall rate of the job {rate:.2f}x (noisy under load)"
        )


def _sampled(target: str, argv: list[str]) -> None:
    """Run ``corral ARGV``, sampling its main thread's stack at each millisecond of the
    process's CPU time (``SIGPROF``: waiting costs nothing, other processes neither); write
    the stacks to ``target`` in the collapsed form flame graphs read (``a;b;c COUNT``)."""
    import collections
    import runpy
    import signal
    from types import FrameType

    counts: collections.Counter[str] = collections.Counter()

    def sample(signum: int, frame: FrameType | None) -> None:
        stack = []
        while frame is not None:
            where = frame.f_code.co_filename.rpartition("site-packages/")[2]
            stack.append(f"{where.rpartition('src/')[2]}:{frame.f_code.co_name}")
            frame = frame.f_back
        counts[";".join(reversed(stack))] += 1

    sys.argv = ["corral", *argv]
    signal.signal(signal.SIGPROF, sample)
    signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
    try:
        runpy.run_module("corral", run_name="__main__")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        Path(target).write_text("".join(f"{k} {n}\n" for k, n in counts.most_common()))
        cpu = f"process {time.process_time():.2f} s, main thread {time.thread_time():.2f} s"
        print(f"cpu: {cpu}, {counts.total()} samples", file=sys.stderr)


if __name__ == "__main__":
    _sampled(sys.argv[1], sys.argv[2:])
