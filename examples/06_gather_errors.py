"""Pitfall 6: one failure in asyncio.gather() raises, and the other results are lost.

gather() does NOT cancel the other awaitables when one fails (a common belief): they keep
running, and their results are simply dropped. corral.map(on_error="collect") gives every item
an Outcome (value or error); on_error="raise" cancels the rest and raises the original error.
"""

from __future__ import annotations

import asyncio

import corral


async def work(i: int) -> int:
    await asyncio.sleep(0.01 * (i % 3))
    if i == 4:
        raise ValueError(f"item {i} is bad")
    return i * i


async def main() -> None:
    try:
        await asyncio.gather(*(work(i) for i in range(10)))  # noqa: COR106 - the pitfall, on purpose
    except ValueError as exc:
        print(f"gather: raised {exc!r}; the nine good results are gone")

    outcomes = await corral.map(work, range(10), limit=4, on_error="collect")
    good = [o.value for o in outcomes if o.ok]
    bad = [(o.item, o.error) for o in outcomes if not o.ok]
    print(f"corral.map collect: {len(good)} values kept, errors: {bad}")

    try:
        await corral.map(work, range(10), limit=4)
    except ValueError as exc:
        print(f"corral.map raise: the original error, the rest cancelled: {exc!r}")


if __name__ == "__main__":
    asyncio.run(main())
