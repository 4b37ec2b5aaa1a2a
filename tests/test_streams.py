"""batched and merge: size and time bounds, interleaving, errors, and closing on early exit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import corral

pytestmark = pytest.mark.virtual_time


class Source:
    """An async generator factory that records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def gen(self, items: list[int], gap: float = 0.0) -> AsyncIterator[int]:
        try:
            for item in items:
                await asyncio.sleep(gap)
                yield item
        finally:
            self.closed = True


async def test_batched_by_size_with_a_short_last_batch() -> None:
    """Full batches of `size`, then whatever is left."""
    src = Source()
    batches = [b async for b in corral.batched(src.gen(list(range(7))), 3)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert src.closed


async def test_batched_emits_a_partial_batch_after_max_wait() -> None:
    """With max_wait, a batch leaves max_wait after its first item even if not full."""
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def bursts() -> AsyncIterator[int]:
        for item in (1, 2):
            yield item
        await asyncio.sleep(10)
        yield 3

    seen: list[tuple[list[int], float]] = []
    async with corral.batched(bursts(), 5, max_wait=2) as batches:
        async for batch in batches:
            seen.append((batch, loop.time() - start))
    assert [b for b, _ in seen] == [[1, 2], [3]]
    assert seen[0][1] == pytest.approx(2)
    assert seen[1][1] == pytest.approx(10)


async def test_batched_full_batch_does_not_wait() -> None:
    """A batch that fills up leaves at once, before max_wait."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with corral.batched(Source().gen([1, 2, 3, 4]), 2, max_wait=100) as batches:
        first = await anext(batches)
    assert first == [1, 2]
    assert loop.time() - start == pytest.approx(0)


@pytest.mark.parametrize("max_wait", [None, 1.0], ids=["untimed", "timed"])
async def test_batched_closes_its_source_on_early_exit(max_wait: float | None) -> None:
    """Leaving `async with` closes the source generator at once."""
    src = Source()
    async with corral.batched(src.gen(list(range(100)), gap=0.1), 3, max_wait=max_wait) as b:
        async for _ in b:
            break
    assert src.closed


async def test_batched_source_error_propagates() -> None:
    """An error from the source is raised to the consumer."""

    async def broken() -> AsyncIterator[int]:
        yield 1
        raise OSError("gone")

    with pytest.raises(OSError, match="gone"):
        async with corral.batched(broken(), 5, max_wait=1) as batches:
            async for _ in batches:
                pass


async def test_merge_interleaves_by_arrival() -> None:
    """Items come out in the order they are produced across sources."""
    fast, slow = Source(), Source()
    async with corral.merge(fast.gen([1, 2, 3], gap=1), slow.gen([10, 20], gap=1.4)) as merged:
        got = [item async for item in merged]
    assert got == [1, 10, 2, 20, 3]  # 1, 1.4, 2, 2.8, 3
    assert fast.closed
    assert slow.closed


async def test_merge_stops_all_sources_on_error() -> None:
    """The first source error is raised and the other sources are closed."""
    healthy = Source()

    async def explode() -> int:
        await asyncio.sleep(1)
        raise ValueError("bad source")

    async def broken() -> AsyncIterator[int]:
        yield await explode()

    with pytest.raises(ValueError, match="bad source"):
        async with corral.merge(healthy.gen(list(range(100)), gap=0.3), broken()) as merged:
            async for _ in merged:
                pass
    assert healthy.closed


async def test_merge_early_exit_closes_every_source() -> None:
    """Leaving `async with` early stops the readers and closes each source."""
    a, b = Source(), Source()
    async with corral.merge(a.gen(list(range(100)), 1), b.gen(list(range(100)), 1)) as merged:
        async for _ in merged:
            break
    assert a.closed
    assert b.closed


async def test_merge_of_nothing_is_empty() -> None:
    """merge() with no sources ends at once."""
    nothing: corral.Stream[int] = corral.merge()
    assert [x async for x in nothing] == []


def test_bad_batch_arguments_are_refused() -> None:
    """size below 1 and a negative max_wait are ValueErrors."""
    with pytest.raises(ValueError, match="size"):
        corral.batched(Source().gen([]), 0)
    with pytest.raises(ValueError, match="max_wait"):
        corral.batched(Source().gen([]), 1, max_wait=-1)
