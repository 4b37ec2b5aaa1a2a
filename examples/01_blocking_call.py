"""Pitfall 1: a blocking call inside `async def` makes everything serial, silently.

Ten "requests" that each block for 0.2 s: called directly they take 2 s, one after another.
Moved off the loop with corral.to_thread they overlap: about 0.2 s. (`corral lint` flags the
blocking call before it runs; `corral run --strict` catches it while it runs.)
"""

from __future__ import annotations

import asyncio
import time

import corral


def blocking_io(i: int) -> int:
    time.sleep(0.2)  # a sync driver, requests.get, file IO...
    return i


async def pitfall(i: int) -> int:
    return blocking_io(i)  # blocks the whole event loop  # noqa: COR101 - the pitfall, on purpose


async def corral_way(i: int) -> int:
    return await corral.to_thread(blocking_io, i)


async def main() -> None:
    for name, fn in (("blocking in async def", pitfall), ("corral.to_thread", corral_way)):
        start = time.perf_counter()
        await asyncio.gather(*(fn(i) for i in range(10)))
        print(f"{name:22} 10 calls in {time.perf_counter() - start:.2f}s")


if __name__ == "__main__":
    asyncio.run(main())
