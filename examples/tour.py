"""A five-minute tour of the corral toolkit. Run: python examples/tour.py

Simulated IO (asyncio.sleep) stands in for the network, so the tour runs anywhere.
"""

from __future__ import annotations

import asyncio
import random
import time

import corral

failed_once: set[int] = set()


failed_once: set[int] = set()


@corral.timed
async def fetch(item: int) -> str:
    """Pretend to fetch a page: 50-150 ms, and one item in 7 fails the first time."""
    await asyncio.sleep(random.uniform(0.05, 0.15))
    if item % 7 == 0 and item not in failed_once:
        failed_once.add(item)
        raise ConnectionError(f"item {item}: connection reset")
    return f"page {item}"


async def main() -> None:
    started = time.perf_counter()

    # 1. A bounded, lazy, sliding-window map: 200 items, 20 at a time, at most 100 starts/s.
    #    Every item ends with an Outcome: nothing is lost when some fail.
    outcomes = await corral.map(fetch, range(200), limit=20, rate="100/s", on_error="collect")
    failed = [o for o in outcomes if not o.ok]
    elapsed = time.perf_counter() - started
    print(f"map: {len(outcomes)} items, {len(failed)} failed, in {elapsed:.2f}s")

    # 2. Retry what failed: a callable (not a coroutine object), backoff with jitter.
    retried = [
        await corral.retry(fetch, o.item, attempts=5, backoff=corral.Backoff(initial=0.01))
        for o in failed
    ]
    print(f"retry: recovered {len(retried)} of {len(failed)}")

    # 3. @timed kept statistics the whole time, without printing a thing.
    stats = fetch.statistics()
    print(f"timed: {stats.calls} calls, {stats.errors} errors, p50 {stats.p50 * 1000:.0f} ms")

    # 4. A scope owns its tasks: they are awaited, and a failure cancels the rest.
    async with corral.open_scope(limit=5) as scope:
        for i in range(10):
            await scope.spawn(asyncio.sleep, 0.01 * i)
    print("scope: ten children finished, none left behind")

    # 5. Deadlines that do not swallow anyone else's cancellation.
    with corral.move_on_after(0.05) as deadline:
        await asyncio.sleep(1)
    print(f"move_on_after: stopped the slow work = {deadline.expired}")

    # 6. Blocking work goes to a thread, with a bounded, honest slot.
    total = await corral.to_thread(sum, range(1_000_000))
    print(f"to_thread: summed off the loop = {total}")

    # 7. Per-host politeness: 2 at a time and 10 starts/s per key.
    hosts: corral.KeyedLimit[str] = corral.KeyedLimit(concurrency=2, rate="10/s")
    async with hosts.acquire("example.org"):
        pass
    print(f"keyed limit: {hosts.statistics()}")


def sync_caller() -> int:
    """Sync code (a notebook cell, a framework hook) that needs async work done."""
    return corral.run_sync(asyncio.sleep, 0.01, 42)


if __name__ == "__main__":
    asyncio.run(main())
    print(f"run_sync from sync code: {sync_caller()}")
