"""Pitfall 7: read, await, write on shared state loses updates.

Between reading a counter and writing it back, another task runs and writes too. The corral
way is no shared mutable state: each call returns its part, and the results are combined
after (corral.map returns them in input order). Where state must be shared, hold a lock
across the read-await-write.
"""

from __future__ import annotations

import asyncio

import corral

counter = 0


async def racy_increment(_: int) -> None:
    global counter
    current = counter
    await asyncio.sleep(0)  # any await: another task runs here
    counter = current + 1  # noqa: COR107 - the pitfall, on purpose


async def pure_part(_: int) -> int:
    await asyncio.sleep(0)
    return 1


async def main() -> None:
    await asyncio.gather(*(racy_increment(i) for i in range(100)))
    print(f"shared counter after 100 increments: {counter}")
    parts = await corral.map(pure_part, range(100), limit=10)
    print(f"sum of returned parts: {sum(parts)}")


if __name__ == "__main__":
    asyncio.run(main())
