"""Pitfall 9: tasks left pending at exit, errors in fire-and-forget tasks never seen.

create_task() without keeping the task loses its error ("Task exception was never
retrieved") and leaves it running when the program ends. corral.open_scope owns its children:
it waits for them, a failure cancels the siblings and is raised where you can catch it, and
on_exit callbacks run even when the scope is cancelled.
"""

from __future__ import annotations

import asyncio

import corral


async def child(i: int) -> None:
    await asyncio.sleep(0.01 * i)
    if i == 3:
        raise LookupError(f"child {i} failed")


async def main() -> None:
    closed = []
    try:
        async with corral.open_scope() as scope:
            scope.on_exit(closed.append, "connection closed")
            for i in range(6):
                await scope.spawn(child, i)
    except LookupError as exc:
        print(f"scope raised the child's own error: {exc!r}")
    print(f"cleanup ran: {closed}; children still running: {scope.running}")


if __name__ == "__main__":
    asyncio.run(main())
