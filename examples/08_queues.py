"""Pitfall 8: hand-made producer/consumer queues hang or grow without bound.

Consumers that wait forever on queue.get() after the producer stopped, and producers that
outrun consumers into an unbounded queue, are the usual bugs. corral.map over an async
generator is a bounded producer/consumer pipeline with clean shutdown: the producer is read
only as consumers free up, errors end the run, and leaving early closes the producer.
corral.batched groups a stream for bulk writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import corral


async def produce() -> AsyncIterator[int]:
    for i in range(50):
        await asyncio.sleep(0.001)
        yield i


async def consume(item: int) -> int:
    await asyncio.sleep(0.01)
    return item * 10


async def main() -> None:
    written = 0
    async with (
        corral.map(consume, produce(), limit=8, ordered=False) as results,
        corral.batched(results, 10, max_wait=0.05) as batches,
    ):
        async for batch in batches:
            written += len(batch)  # one bulk write per batch
    print(f"consumed and wrote {written} items in batches, nothing left hanging")


if __name__ == "__main__":
    asyncio.run(main())
