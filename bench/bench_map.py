"""Benchmarks for the toolkit, against its peers, in one run (issue #2).

    python bench/bench_map.py            # everything, a few minutes
    python bench/bench_map.py --quick    # smaller sizes, for a smoke run

1. Per-item overhead of ``corral.map`` on no-op items (200,000 items, limit 100) against a
   hand-written worker pool over ``asyncio.Queue`` (the floor), ``gather`` with a
   ``Semaphore``, and aiometer (``amap`` and ``run_on_each``). Target: within 1.3x of the
   worker pool, faster than aiometer.
2. Peak memory at 1,000,000 items, limit 100, each run in a fresh subprocess: ``corral.map``
   (list and stream forms) against ``gather`` with a ``Semaphore``. Target: corral under
   50 MB above the interpreter's baseline.
3. The field reports' fixed batches against the sliding window on skewed durations (real
   sleeps). Target: the window takes at most 0.6x the batches' time.
4. ``RateLimit`` accuracy: starts admitted in any window never over the limit in strict mode,
   the achieved rate in GCRA mode, and wake-ups per admission.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import corral


async def noop(item: int) -> int:
    return item


async def yield_once(item: int) -> int:
    await asyncio.sleep(0)  # suspends once, as any real IO call does
    return item


Work = Callable[[int], Awaitable[int]]


# --- 1. per-item overhead ----------------------------------------------------------------


async def worker_pool(work: Work, n: int, limit: int) -> list[int]:
    """The floor: ``limit`` workers over a bounded asyncio.Queue, results in input order."""
    queue: asyncio.Queue[int | None] = asyncio.Queue(limit)
    results: list[int] = [0] * n

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            results[item] = await work(item)

    workers = [asyncio.ensure_future(worker()) for _ in range(limit)]
    for item in range(n):
        await queue.put(item)
    for _ in range(limit):
        await queue.put(None)
    await asyncio.gather(*workers)
    return results


async def gather_semaphore(work: Work, n: int, limit: int) -> list[int]:
    """The field reports' pattern: every coroutine made first, a Semaphore inside."""
    semaphore = asyncio.Semaphore(limit)

    async def bounded(item: int) -> int:
        async with semaphore:
            return await work(item)

    return list(await asyncio.gather(*(bounded(i) for i in range(n))))


async def aiometer_amap(work: Work, n: int, limit: int) -> list[int]:
    import aiometer

    async with aiometer.amap(work, range(n), max_at_once=limit) as results:
        return [value async for value in results]


async def aiometer_run_on_each(work: Work, n: int, limit: int) -> list[int]:
    import aiometer

    await aiometer.run_on_each(work, range(n), max_at_once=limit)
    return []


async def corral_map(work: Work, n: int, limit: int) -> list[int]:
    return await corral.map(work, range(n), limit=limit)


async def corral_stream(work: Work, n: int, limit: int) -> list[int]:
    async with corral.map(work, range(n), limit=limit, ordered=False) as stream:
        return [value async for value in stream]


OVERHEAD: dict[str, Callable[[Work, int, int], Awaitable[list[int]]]] = {
    "worker pool (floor)": worker_pool,
    "corral.map": corral_map,
    "corral.map stream": corral_stream,
    "gather + Semaphore": gather_semaphore,
    "aiometer.amap": aiometer_amap,
    "aiometer.run_on_each": aiometer_run_on_each,
}


def measure_overhead(work: Work, n: int, limit: int, repeats: int) -> dict[str, float]:
    """Return the best wall time per item (µs) of each contender over ``repeats`` runs."""
    best: dict[str, float] = {}
    for _ in range(repeats):
        for name, fn in OVERHEAD.items():
            gc.collect()
            start = time.perf_counter()
            asyncio.run(fn(work, n, limit))
            per_item = (time.perf_counter() - start) / n * 1e6
            best[name] = min(best.get(name, float("inf")), per_item)
    return best


# --- 2. peak memory ------------------------------------------------------------------------

MEMORY_CHILD = """
import asyncio, gc, sys
import corral

N, LIMIT, KIND = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

async def noop(item):
    return None

async def main():
    if KIND == "corral.map":
        await corral.map(noop, range(N), limit=LIMIT)
    elif KIND == "corral.map stream":
        async with corral.map(noop, range(N), limit=LIMIT, ordered=False) as stream:
            async for _ in stream:
                pass
    else:
        semaphore = asyncio.Semaphore(LIMIT)
        async def bounded(i):
            async with semaphore:
                return await noop(i)
        await asyncio.gather(*(bounded(i) for i in range(N)))

# /proc, not ru_maxrss: Linux carries the parent's peak across fork and exec into ru_maxrss,
# and the imports' transient peak would hide the work's own. VmHWM is this process's peak.
def status_kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

gc.collect()
base = status_kib("VmRSS")
asyncio.run(main())
print(base, status_kib("VmHWM"))
"""


def measure_memory(n: int, limit: int) -> dict[str, float]:
    """Return each contender's peak RSS above its own baseline, in MB, from a fresh process."""
    out: dict[str, float] = {}
    for kind in ("corral.map", "corral.map stream", "gather + Semaphore"):
        run = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(n), str(limit), kind],
            capture_output=True,
            text=True,
            check=True,
        )
        base, peak = (int(x) for x in run.stdout.split())
        out[kind] = (peak - base) / 1024  # /proc/self/status counts KiB
    return out


# --- 3. batches against the window ----------------------------------------------------------


async def skewed(item: int) -> None:
    await asyncio.sleep(0.1 if item % 10 == 0 else 0.01)


async def fixed_batches(n: int, size: int) -> None:
    for start in range(0, n, size):
        await asyncio.gather(*(skewed(i) for i in range(start, min(n, start + size))))


def measure_window(n: int, limit: int) -> dict[str, float]:
    out = {}
    for name, fn in (
        ("fixed batches", lambda: fixed_batches(n, limit)),
        ("corral.map window", lambda: corral.map(skewed, range(n), limit=limit)),
    ):
        start = time.perf_counter()
        asyncio.run(_await(fn()))
        out[name] = time.perf_counter() - start
    return out


async def _await(awaitable: Awaitable[Any]) -> None:
    await awaitable


# --- 4. rate limit accuracy ---------------------------------------------------------------


async def _admit_all(limiter: corral.RateLimit, n: int) -> list[float]:
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        times.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(n)))
    return sorted(times)


def max_in_window(times: list[float], window: float) -> int:
    worst, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        worst = max(worst, i - j + 1)
    return worst


def measure_ratelimit(rate: int, n: int) -> dict[str, float]:
    strict = corral.RateLimit(rate, strict=True)
    times = asyncio.run(_admit_all(strict, n))
    strict_stats = strict.statistics()
    gcra = corral.RateLimit(rate)
    gcra_times = asyncio.run(_admit_all(gcra, n))
    gcra_stats = gcra.statistics()
    return {
        "strict: limit per 1 s window": rate,
        "strict: most admitted in any 1 s window": max_in_window(times, 1.0),
        "strict: wake-ups per admission": strict_stats.wakeups / strict_stats.admitted,
        "gcra: configured rate /s": rate,
        "gcra: achieved rate /s": (n - 1) / (gcra_times[-1] - gcra_times[0]),
        "gcra: wake-ups per admission": gcra_stats.wakeups / gcra_stats.admitted,
    }


# --- report --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    n_overhead, n_memory, repeats = (20_000, 100_000, 1) if args.quick else (200_000, 1_000_000, 5)

    import aiometer

    versions = f"corral {corral.__version__}, aiometer {aiometer.__version__}"
    print(f"python {platform.python_version()}, {versions}")
    overhead = {}
    for label, work in (("no-op", noop), ("yield-once", yield_once)):
        print(f"\n1. per-item overhead, {n_overhead:,} {label} items, limit 100, best of {repeats}")
        figures = overhead[label] = measure_overhead(work, n_overhead, 100, repeats)
        floor = figures["worker pool (floor)"]
        for name, us in figures.items():
            print(f"   {name:24} {us:7.2f} µs/item   {us / floor:5.2f}x the worker pool")
        speedup = figures["aiometer.amap"] / figures["corral.map"]
        print(f"   corral.map is {speedup:.1f}x faster than aiometer.amap")

    print(f"\n2. peak memory above baseline, {n_memory:,} items, limit 100")
    memory = measure_memory(n_memory, 100)
    for name, mb in memory.items():
        print(f"   {name:24} {mb:8.1f} MB")

    print("\n3. skewed durations (1 in 10 items takes 100 ms, others 10 ms), 400 items, limit 20")
    window = measure_window(400, 20)
    for name, seconds in window.items():
        print(f"   {name:24} {seconds:6.3f} s")
    ratio = window["corral.map window"] / window["fixed batches"]
    print(f"   window / batches: {ratio:.2f}x (target <= 0.6)")

    print("\n4. RateLimit accuracy, 100/s, 500 waiters (real clock)")
    rate = measure_ratelimit(100, 500)
    for name, value in rate.items():
        print(f"   {name:42} {value:8.2f}")

    if args.json:
        figures = {"overhead_us": overhead, "memory_mb": memory, "window_s": window, "rate": rate}
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
