"""Pitfall 10: hand-rolled retry, timer and timeout helpers, often wrong.

The field reports' retry awaited the same coroutine object twice ("cannot reuse already
awaited coroutine"), their timer read the wall clock, and timeouts were charged with time
spent queueing. corral.retry takes a callable, @corral.timed reads a monotonic clock and
keeps statistics, fail_after raises a TimeoutError that names itself.
"""

from __future__ import annotations

import asyncio

import corral

attempts = 0


@corral.timed
async def flaky() -> str:
    global attempts
    attempts += 1
    await asyncio.sleep(0.01)
    if attempts < 3:
        raise ConnectionError("reset by peer")
    return "ok"


async def main() -> None:
    try:
        corral.retry(flaky())  # type: ignore[call-overload]  # noqa: COR108 - the pitfall, on purpose
    except TypeError as exc:
        print(f"retry(coroutine object) is refused up front: {exc}")
    result = await corral.retry(flaky, attempts=5, backoff=corral.Backoff(initial=0.01))
    print(f"retry(callable): {result} after {attempts} attempts")
    print(f"timed: {flaky.statistics()}")
    try:
        with corral.fail_after(0.05):
            await asyncio.sleep(1)
    except corral.DeadlineExceeded as exc:
        print(f"fail_after: {exc!r} (also a TimeoutError: {isinstance(exc, TimeoutError)})")


if __name__ == "__main__":
    asyncio.run(main())
