"""Stream helpers: ``batched`` and ``merge`` over async iterables.

Both return a ``Stream``: an async iterator that is also an async context manager. Leaving
``async with`` (or calling ``aclose()``) stops the helper's reader tasks and closes the source
async generators at once, rather than whenever the garbage collector gets to them; a plain
``async for`` that runs to the end cleans up by itself too.

Where a helper must wait for "the next item or a timer, whichever comes first", a reader
task pulls the source into a small bounded queue and the consumer waits on the queue.
Cancelling a queue ``get`` is harmless; cancelling the source's own ``__anext__`` would kill
the source, which is why ``batched`` never puts a timeout around it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
X = TypeVar("X")


class _End:
    __slots__ = ()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


_END = _End()


class _Pump:
    """Reader tasks copying sources into one bounded queue, cancelled and awaited on close."""

    def __init__(self, sources: tuple[AsyncIterable[Any], ...], maxsize: int) -> None:
        self.iterators = [aiter(s) for s in sources]
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.tasks: list[asyncio.Task[None]] = []
        self.live = len(self.iterators)

    def start(self) -> None:
        if not self.tasks:
            loop = asyncio.get_running_loop()
            self.tasks = [loop.create_task(self._read(it)) for it in self.iterators]

    async def _read(self, iterator: AsyncIterator[Any]) -> None:
        try:
            async for item in iterator:
                await self.queue.put(item)
        except Exception as exc:
            await self.queue.put(_Failed(exc))
            return
        await self.queue.put(_END)

    async def get(self) -> Any:
        """Return the next item, ``_END`` when every source is done, or raise a source's error."""
        while self.live:
            self.start()
            item = await self.queue.get()
            if item is _END:
                self.live -= 1
                continue
            if isinstance(item, _Failed):
                await self.close()
                raise item.error
            return item
        return _END

    async def close(self) -> None:
        self.live = 0
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks)  # raises only if *we* are cancelled meanwhile
        self.tasks = []
        for iterator in self.iterators:
            await _aclose(iterator)


async def _aclose(iterator: object) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


class Stream(Generic[X]):
    """An async iterator that cleans up its sources on ``aclose()`` or leaving ``async with``."""

    async def __anext__(self) -> X:
        raise NotImplementedError

    def __aiter__(self) -> Stream[X]:
        return self

    async def aclose(self) -> None:
        """Stop reading the sources and close them."""
        raise NotImplementedError

    async def __aenter__(self) -> Stream[X]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Batched(Stream[list[T]]):
    def __init__(self, source: AsyncIterable[T], size: int, max_wait: float | None) -> None:
        self._size = size
        self._max_wait = max_wait
        self._done = False
        self._source = aiter(source)
        self._pump = _Pump((self._source,), size) if max_wait is not None else None

    async def __anext__(self) -> list[T]:
        if self._done:
            raise StopAsyncIteration
        batch = await (self._fill_timed() if self._pump is not None else self._fill())
        if not batch:
            await self.aclose()
            raise StopAsyncIteration
        return batch

    async def _fill(self) -> list[T]:
        batch: list[T] = []
        while len(batch) < self._size:
            try:
                batch.append(await anext(self._source))
            except StopAsyncIteration:
                self._done = True
                break
        return batch

    async def _fill_timed(self) -> list[T]:
        assert self._pump is not None
        assert self._max_wait is not None
        first = await self._pump.get()
        if first is _END:
            self._done = True
            return []
        batch: list[T] = [first]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait
        while len(batch) < self._size:
            try:
                async with asyncio.timeout_at(deadline):
                    item = await self._pump.get()
            except TimeoutError:
                break
            if item is _END:
                self._done = True
                break
            batch.append(item)
        return batch

    async def aclose(self) -> None:
        self._done = True
        if self._pump is not None:
            await self._pump.close()
        else:
            await _aclose(self._source)


class _Merged(Stream[T]):
    def __init__(self, sources: tuple[AsyncIterable[T], ...]) -> None:
        self._pump = _Pump(sources, max(1, len(sources)))

    async def __anext__(self) -> T:
        item = await self._pump.get()
        if item is _END:
            await self._pump.close()
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self._pump.close()


def batched(
    source: AsyncIterable[T], size: int, *, max_wait: float | None = None
) -> Stream[list[T]]:
    """Group ``source`` into lists of ``size``; with ``max_wait``, also emit a partial batch then.

    A batch is emitted when it is full, when ``max_wait`` seconds have passed since its first
    item arrived, or when the source ends (a last, shorter batch).

    Args:
        source: any async iterable.
        size: the most items per batch.
        max_wait: the most seconds the first item of a batch waits for company.

    Returns:
        A ``Stream`` of lists; use it in ``async with`` to close the source on early exit.

    Raises:
        ValueError: ``size`` below 1 or a negative ``max_wait``.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    if max_wait is not None and max_wait < 0:
        raise ValueError("max_wait cannot be negative")
    return _Batched(source, size, max_wait)


def merge(*sources: AsyncIterable[T]) -> Stream[T]:
    """Interleave several async iterables, yielding items as they arrive from any of them.

    The first error of any source stops the others and is raised. Each source is read by its
    own task, at most one item ahead of the consumer per source.

    Returns:
        A ``Stream``; use it in ``async with`` to close the sources on early exit.
    """
    return _Merged(sources)
