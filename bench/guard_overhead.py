"""The guard's overhead on asyncio workloads, against running without it and against peers.

Each measurement runs in a fresh interpreter (the guard's hooks, like aiodebug's patch, are
process-wide), modes are interleaved round by round, and the median of the rounds is
compared with the unguarded run of the same round.

Modes:
    none           no watchdog at all (the baseline)
    guard          ``corral.guard.watch()``, default configuration (the stall watchdog)
    guard-origins  the same with ``origin_depth=1`` (where each coroutine was created)
    guard-strict   ``corral.guard.watch(strict=True)``
    asyncio-debug  ``asyncio.run(debug=True)``: asyncio's own slow-callback log (the built-in peer)
    aiodebug       ``aiodebug.log_slow_callbacks.enable(0.1)`` (a peer), when installed

Workloads are async callables registered in ``WORKLOADS``; plug in another one with
``register_workload``; ``fetch`` runs corral's own fetcher.

Usage::

    python bench/guard_overhead.py [--rounds 7] [--workload http] [--mode guard ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

Workload = Callable[[], Awaitable[object]]
WORKLOADS: dict[str, Workload] = {}
MODES = ("none", "guard", "guard-origins", "guard-strict", "asyncio-debug", "aiodebug")


def register_workload(name: str) -> Callable[[Workload], Workload]:
    """Register an async workload under ``name``."""

    def register(workload: Workload) -> Workload:
        WORKLOADS[name] = workload
        return workload

    return register


async def _tiny(i: int) -> int:
    await asyncio.sleep(0)
    return i


@register_workload("pure-loop")
async def pure_loop() -> object:
    """20,000 tiny tasks (gathered 200 at a time), then a chain of 200,000 call_soon callbacks.

    Batches keep the loop responsive: 20,000 tasks made in one expression hold it for about
    0.15 s, which the guard rightly reports as a stall.
    """
    results: list[int] = []
    for start in range(0, 20_000, 200):
        batch = (asyncio.create_task(_tiny(i)) for i in range(start, start + 200))
        results.extend(await asyncio.gather(*batch))
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    count = 0

    def step() -> None:
        nonlocal count
        count += 1
        if count < 200_000:
            loop.call_soon(step)
        else:
            done.set_result(count)

    loop.call_soon(step)
    await done
    return len(results)


@register_workload("http")
async def http_client() -> object:
    """2,000 GETs, 50 at a time, from one aiohttp session to a local aiohttp server.

    Fifty workers pull from a shared counter, so no more than 50 coroutines exist at once.
    """
    import aiohttp

    url = f"http://127.0.0.1:{os.environ['GUARD_BENCH_PORT']}/"
    left = 2_000
    statuses: list[int] = []

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.get(url) as response:
                await response.read()
                statuses.append(response.status)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(50)))
    assert set(statuses) == {200}
    return len(statuses)


@register_workload("fetch")
async def corral_fetch() -> object:
    """2,000 URLs through corral's fetcher (politeness, retries, records), 50 per host."""
    import corral.http

    base = f"http://127.0.0.1:{os.environ['GUARD_BENCH_PORT']}/?i="
    async with corral.http.open_fetcher(concurrency=50, per_host=50) as fetcher:
        statuses = [
            record.status async for record in fetcher.fetch_all(f"{base}{i}" for i in range(2_000))
        ]
    assert set(statuses) == {200}
    return len(statuses)


# -- one measurement, in a child process ------------------------------------------------------


@contextlib.contextmanager
def _mode(mode: str, findings: list[str]) -> Iterator[bool]:
    """Switch ``mode`` on around the runs; yield whether asyncio debug mode is wanted."""
    if mode.startswith("guard"):
        import corral.guard

        config = corral.guard.GuardConfig(
            strict=mode == "guard-strict", origin_depth=1 if mode == "guard-origins" else 0
        )
        with corral.guard.watch(config) as guard:
            yield False
        # The workloads are correct code: any finding is a false positive, reported as such.
        findings.extend(str(finding) for finding in guard.findings)
    elif mode == "aiodebug":
        from aiodebug import log_slow_callbacks

        log_slow_callbacks.enable(0.1)
        yield False
    else:
        yield mode == "asyncio-debug"


def _child(mode: str, workload_name: str, runs: int) -> None:
    workload = WORKLOADS[workload_name]
    wall, cpu = [], []
    findings: list[str] = []
    with _mode(mode, findings) as debug:
        for _ in range(runs + 1):  # the first run warms caches and imports
            started, started_cpu = time.perf_counter(), time.process_time()
            asyncio.run(workload(), debug=debug)
            wall.append(time.perf_counter() - started)
            # CPU time of every thread of the process, the watchdog's included.
            cpu.append(time.process_time() - started_cpu)
    result = {"wall": statistics.median(wall[1:]), "cpu": statistics.median(cpu[1:])}
    print(json.dumps(result | {"findings": findings}))


# -- the parent: server, rounds, ratios -------------------------------------------------------


def _serve() -> None:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def _available(mode: str) -> bool:
    if mode != "aiodebug":
        return True
    try:
        import aiodebug  # noqa: F401
    except ImportError:
        return False
    return True


def _measure(mode: str, workload: str, runs: int, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, workload, str(runs)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Measure every mode on every workload and print the ratios to the unguarded run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement")
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS))
    parser.add_argument("--mode", action="append", choices=MODES, help="default: all")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve()
        return
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        env = dict(os.environ, GUARD_BENCH_PORT=server.stdout.readline().strip())
        wanted = ["none", *(args.mode or MODES)]
        modes = [m for m in MODES if m in wanted and _available(m)]
        for workload in args.workload or sorted(WORKLOADS):
            _report(workload, modes, args.rounds, args.runs, env)
    finally:
        server.terminate()
        server.wait()


def _report(workload: str, modes: list[str], rounds: int, runs: int, env: dict[str, str]) -> None:
    wall: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    findings: dict[str, list[str]] = {mode: [] for mode in modes}
    for round_ in range(rounds):
        # Rotate the order each round so drift (thermal, caches) hits every mode alike.
        order = modes[round_ % len(modes) :] + modes[: round_ % len(modes)]
        measured = {mode: _measure(mode, workload, runs, env) for mode in order}
        for mode in modes:
            wall[mode].append(measured[mode]["wall"] / measured["none"]["wall"])
            cpu[mode].append(measured[mode]["cpu"] / measured["none"]["cpu"])
            findings[mode].extend(measured[mode]["findings"])
    print(f"\n{workload}: ratio to no guard, median of {rounds} rounds of {runs} runs each")
    print(f"{'mode':<17} {'cpu ratio':>9} {'wall ratio':>10}  false findings")
    for mode in modes:
        print(
            f"{mode:<17} {statistics.median(cpu[mode]):>9.3f} "
            f"{statistics.median(wall[mode]):>10.3f}  {len(findings[mode])}"
        )
    for mode in modes:
        for text in findings[mode]:
            print(f"  {mode}: {text}")


if __name__ == "__main__":
    main()
