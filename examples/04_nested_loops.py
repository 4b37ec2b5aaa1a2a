"""Pitfall 4: asyncio.run() inside a running loop (Jupyter, frameworks) raises RuntimeError.

Sync code that needs async work (a notebook cell, a plugin hook, a Flask view) cannot call
asyncio.run() when a loop is already running in the thread. nest_asyncio patches asyncio to
re-enter the loop, which breaks other libraries' assumptions. corral.run_sync runs the
coroutine on one background loop thread instead, and reuses it (and one loop per thread when
no loop runs), so a client opened in one call still works in the next.
"""

from __future__ import annotations

import asyncio

import corral


async def compute(x: int) -> int:
    await asyncio.sleep(0.01)
    return x * 2


def sync_hook(x: int) -> int:
    """Sync code that a framework calls from inside its running event loop."""
    coro = compute(x)
    try:
        return asyncio.run(coro)
    except RuntimeError as exc:
        coro.close()  # never run: close it, or "coroutine was never awaited" follows
        print(f"asyncio.run inside a running loop: RuntimeError: {exc}")
    return corral.run_sync(compute, x)


async def framework() -> None:
    print(f"corral.run_sync inside a running loop: {sync_hook(21)}")  # noqa: COR104 - the pitfall, on purpose


if __name__ == "__main__":
    asyncio.run(framework())
    print(f"corral.run_sync with no loop running: {corral.run_sync(compute, 5)}")
