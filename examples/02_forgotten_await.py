"""Pitfall 2: a forgotten `await` hands back a coroutine object instead of a result.

Python only warns "coroutine ... was never awaited", late and pointing into asyncio. corral
catches it twice: `corral lint` flags the call before the code runs (COR102), and the guard
(`corral run script.py`, or `corral.guard.watch()`) reports it while it runs, with the line
where the coroutine was created.
"""

from __future__ import annotations

import asyncio
import gc

import corral.guard


async def get_data() -> dict[str, object]:
    await asyncio.sleep(0.01)
    return {"status": "ok", "count": 42}


async def pitfall() -> None:
    data = get_data()  # noqa: COR102 - the pitfall, on purpose: no await
    print(f"without await: {type(data).__name__}, not a dict")
    del data
    gc.collect()  # the coroutine is dropped here, never awaited


async def corral_way() -> None:
    data = await get_data()
    print(f"with await: {data['status']}")


async def main() -> None:
    config = corral.guard.GuardConfig(origin_depth=4)  # remember where coroutines are made
    with corral.guard.watch(config) as guard:
        await pitfall()
        await corral_way()
    for finding in guard.findings:
        print(f"guard: {finding.kind} at {finding.file.rsplit('/', 1)[-1]}:{finding.line}")


if __name__ == "__main__":
    asyncio.run(main())
