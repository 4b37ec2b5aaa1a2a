"""``corral.map``: call a function over many items, at most ``limit`` at once.

The shape is a *sliding window over a lazy input*, run by at most ``limit`` worker tasks:

- A worker pulls the next item only when it is free, so a coroutine exists only once a slot
  is free and memory follows ``limit``, not the input (the reports' ``gather(*[f(x) for x in
  huge])`` builds every coroutine first). An endless iterator works.
- A worker takes the next item as soon as its last one ends, so one slow item never holds up
  the others (the reports' fixed batches each wait for their slowest item).
- Workers are started lazily, one more per item pulled until there are ``limit``; a worker
  loop costs less per item than a task per item, which keeps ``map`` close to a hand-written
  ``asyncio.Queue`` worker pool (see ``bench/bench_map.py``).

Results stream to a consumer (completion order, or input order through a bounded reorder
window) or are gathered into a list in input order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, overload

from corral._deadlines import fail_after
from corral._options import check_seconds, check_whole, is_number
from corral._outcome import Outcome
from corral._ratelimit import RateLimit

T = TypeVar("T")
R = TypeVar("R")
X = TypeVar("X")

OnError = Literal["raise", "collect"]
_MISSING: Any = object()


class _Engine:
    """The workers, the input and the results of one run; used by ``MapRun`` only."""

    def __init__(
        self,
        fn: Callable[[Any], Awaitable[Any]],
        items: Iterable[Any] | AsyncIterable[Any],
        *,
        limit: int,
        collect: bool,
        limiter: RateLimit | None,
        timeout: float | None,
        queue_timeout: float | None,
        stream: Literal["ordered", "unordered"] | None,
        window: int,
    ) -> None:
        self.fn = fn
        self.limit = limit
        self.collect = collect
        self.limiter = limiter
        self.timeout = timeout
        self.queue_timeout = queue_timeout
        self.stream = stream
        self.window = window
        if isinstance(items, AsyncIterable):
            self.aiter: AsyncIterator[Any] | None = aiter(items)
            self.iter: Iterator[Any] | None = None
            self.pull_lock: asyncio.Lock | None = asyncio.Lock()
        else:
            self.aiter, self.iter, self.pull_lock = None, iter(items), None
        self.workers: set[asyncio.Task[None]] = set()
        self.pulled = 0
        self.emitted = 0
        self.exhausted = False
        self.closing = False
        self.failure: BaseException | None = None
        self.results: list[Any] = []  # list mode: one slot per pulled item, in input order
        self.ready: deque[Any] = deque()  # unordered stream: finished, not yet taken
        self.pending: dict[int, Any] = {}  # ordered stream: finished, waiting for their turn
        self.wakeup: asyncio.Future[None] | None = None  # the consumer or driver waits here
        self.room: asyncio.Future[None] | None = None  # stream workers wait here for room

    # --- workers -------------------------------------------------------------------------

    def start(self) -> None:
        self._spawn()

    def _spawn(self) -> None:
        task = asyncio.get_running_loop().create_task(self._work())
        self.workers.add(task)
        task.add_done_callback(self._worker_done)

    async def _work(self) -> None:
        while self.failure is None and not self.closing:
            if self.stream is not None and self.pulled - self.emitted >= self.window:
                await self._wait_for_room()
                continue
            index, item = await self._pull() if self.aiter is not None else self._pull_sync()
            if item is _MISSING:
                return
            if len(self.workers) < self.limit and not (self.exhausted or self.closing):
                self._spawn()
            if self.limiter is not None:
                try:
                    await self.limiter.acquire(timeout=self.queue_timeout)
                except Exception as exc:
                    self._finish(index, item, _MISSING, exc)
                    continue
            try:
                if self.timeout is None:
                    value = await self.fn(item)
                else:
                    with fail_after(self.timeout):
                        value = await self.fn(item)
            except Exception as exc:
                self._finish(index, item, _MISSING, exc)
            else:
                self._finish(index, item, value, None)

    def _pull_sync(self) -> tuple[int, Any]:
        if self.exhausted:
            return -1, _MISSING
        assert self.iter is not None
        try:
            item = next(self.iter)
        except StopIteration:
            self.exhausted = True
            return -1, _MISSING
        except Exception as exc:
            self.exhausted = True
            self._fail(exc)
            return -1, _MISSING
        return self._claim(item)

    async def _pull(self) -> tuple[int, Any]:
        assert self.aiter is not None
        assert self.pull_lock is not None
        async with self.pull_lock:
            if self.exhausted:
                return -1, _MISSING
            try:
                item = await anext(self.aiter)
            except StopAsyncIteration:
                self.exhausted = True
                return -1, _MISSING
            except Exception as exc:
                self.exhausted = True
                self._fail(exc)
                return -1, _MISSING
            return self._claim(item)

    def _claim(self, item: Any) -> tuple[int, Any]:
        index = self.pulled
        self.pulled += 1
        if self.stream is None:
            self.results.append(_MISSING)
        return index, item

    def _finish(self, index: int, item: Any, value: Any, error: Exception | None) -> None:
        if self.collect:
            value = Outcome(index, item, None if value is _MISSING else value, error)
        elif error is not None:
            self._fail(error)
            return
        if self.stream is None:
            self.results[index] = value
            return
        if self.stream == "unordered":
            self.ready.append(value)
        else:
            self.pending[index] = value
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
            current = asyncio.current_task()
            for task in self.workers:
                if task is not current:
                    task.cancel()
            self._wake()

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        self.workers.discard(task)
        if task.cancelled():
            if not self.closing and self.failure is None:
                # A call raised CancelledError though nobody cancelled the run: never an
                # outcome, never silently dropped, so the whole run ends cancelled.
                self._fail(asyncio.CancelledError("a call inside corral.map was cancelled"))
        elif (exc := task.exception()) is not None:
            self._fail(exc)  # a BaseException (KeyboardInterrupt...) escaped a worker
        if not self.workers:
            self._wake()

    async def _wait_for_room(self) -> None:
        if self.room is None:
            self.room = asyncio.get_running_loop().create_future()
        await asyncio.shield(self.room)

    def _wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    # --- the consuming side --------------------------------------------------------------

    async def wait(self) -> None:
        """Block until a worker reports progress (a result, a failure, or the last exit)."""
        self.wakeup = asyncio.get_running_loop().create_future()
        await self.wakeup

    def take(self) -> Any:
        """Return the next deliverable result, or ``_MISSING`` when none is ready."""
        if self.stream == "unordered":
            if not self.ready:
                return _MISSING
            value = self.ready.popleft()
        else:
            value = self.pending.pop(self.emitted, _MISSING)
            if value is _MISSING:
                return _MISSING
        self.emitted += 1
        if self.room is not None:
            self.room.set_result(None)
            self.room = None
        return value

    async def shutdown(self) -> None:
        """Cancel the workers, wait until every one has ended, and close the input."""
        self.closing = True
        for task in self.workers:
            task.cancel()
        while self.workers:
            # Keep waiting even if we are cancelled meanwhile: no worker may outlive the run.
            done = asyncio.gather(*self.workers, return_exceptions=True)
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                await done
                raise
        await self._close_input()

    async def _close_input(self) -> None:
        if self.exhausted:
            return
        self.exhausted = True
        closer = getattr(self.aiter if self.aiter is not None else self.iter, "aclose", None)
        if closer is not None:
            await closer()
            return
        sync_closer = getattr(self.iter, "close", None)
        if sync_closer is not None:
            sync_closer()


class MapStream(Generic[X]):
    """The results of a ``corral.map`` run, as an async iterator; valid inside ``async with``."""

    __slots__ = ("_engine",)

    def __init__(self, engine: _Engine) -> None:
        self._engine = engine

    def __aiter__(self) -> MapStream[X]:
        return self

    async def __anext__(self) -> X:
        engine = self._engine
        while True:
            if engine.failure is not None:
                await engine.shutdown()
                raise engine.failure
            value = engine.take()
            if value is not _MISSING:
                return value  # type: ignore[no-any-return]
            if not engine.workers:
                raise StopAsyncIteration
            await engine.wait()


class MapRun(Generic[X]):
    """A ``corral.map`` call: ``await`` it for a list, or ``async with`` it for a stream."""

    __slots__ = ("_engine", "_make", "_used")

    def __init__(self, make: Callable[[Literal["ordered", "unordered"] | None], _Engine]) -> None:
        self._make = make
        self._engine: _Engine | None = None
        self._used = False

    def _claim(self) -> None:
        if self._used:
            raise RuntimeError("a corral.map run can be awaited or entered only once")
        self._used = True

    def __await__(self) -> Generator[Any, None, list[X]]:
        self._claim()
        return self._gather().__await__()

    async def _gather(self) -> list[X]:
        engine = self._make(None)
        engine.start()
        try:
            while engine.workers:
                await engine.wait()
        finally:
            await engine.shutdown()
        if engine.failure is not None:
            raise engine.failure
        return engine.results

    async def __aenter__(self) -> MapStream[X]:
        self._claim()
        self._engine = self._make("unordered")
        self._engine.start()
        return MapStream(self._engine)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._engine is not None
        await self._engine.shutdown()

    def __aiter__(self) -> None:
        raise TypeError(
            "iterate a corral.map stream inside 'async with corral.map(...) as stream:' so that "
            "leaving early cancels the work in flight; or 'await corral.map(...)' for a list"
        )


@overload
def map(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    limit: int,
    ordered: bool = ...,
    on_error: Literal["raise"] = ...,
    rate: str | float | RateLimit | None = ...,
    timeout: float | None = ...,
    queue_timeout: float | None = ...,
    window: int | None = ...,
) -> MapRun[R]: ...


@overload
def map(
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    limit: int,
    ordered: bool = ...,
    on_error: Literal["collect"],
    rate: str | float | RateLimit | None = ...,
    timeout: float | None = ...,
    queue_timeout: float | None = ...,
    window: int | None = ...,
) -> MapRun[Outcome[T, R]]: ...


def map(  # shadows the builtin on purpose: corral.map is the async, bounded map
    fn: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    limit: int,
    ordered: bool = True,
    on_error: OnError = "raise",
    rate: str | float | RateLimit | None = None,
    timeout: float | None = None,
    queue_timeout: float | None = None,
    window: int | None = None,
) -> MapRun[R] | MapRun[Outcome[T, R]]:
    """Call ``fn(item)`` for every item, at most ``limit`` at once, pulling items lazily.

    ``results = await corral.map(fn, items, limit=10)`` gives a list in input order.
    ``async with corral.map(fn, items, limit=10) as stream: async for r in stream:`` streams
    results; leaving the block early cancels and awaits the work in flight and closes the input.

    Args:
        fn: an async function of one item.
        items: an iterable or async iterable; read only as slots free up; may be endless.
        limit: the most calls in flight at once.
        ordered: for a stream, yield in input order (True) or completion order (False).
        on_error: ``"raise"``: the first failure cancels the rest and is raised as is.
            ``"collect"``: every item gives an ``Outcome`` holding its value or error.
        rate: also bound how often calls start, as ``"10/s"``, a number of starts per second,
            or a shared ``RateLimit``.
        timeout: seconds each call may take; time spent queueing for a rate token does not count.
        queue_timeout: seconds an item may wait for its rate token before it fails with
            ``QueueTimeout``.
        window: for a stream, the most items pulled but not yet yielded (in flight plus
            buffered); default ``2 * limit``. Bounds memory when the consumer is slow or, with
            ``ordered=True``, when a slow item holds back the ones after it.

    Returns:
        A ``MapRun``: awaitable (a list) and an async context manager (a stream).

    Raises:
        ValueError: ``limit`` or ``window`` below 1, or a bad ``rate`` or ``on_error``.
        TypeError: an option of the wrong type (named in the message).
    """
    check_whole("limit", limit)
    if limit < 1:
        raise ValueError("limit must be at least 1")
    check_whole("window", window, optional=True)
    if window is not None and window < 1:
        raise ValueError("window must be at least 1")
    if on_error not in ("raise", "collect"):
        raise ValueError(f"on_error must be 'raise' or 'collect', not {on_error!r}")
    check_seconds("timeout", timeout)
    check_seconds("queue_timeout", queue_timeout)
    limiter = _limiter(rate)

    def make(stream: Literal["ordered", "unordered"] | None) -> _Engine:
        if stream is not None and ordered:
            stream = "ordered"
        return _Engine(
            fn,
            items,
            limit=limit,
            collect=on_error == "collect",
            limiter=limiter,
            timeout=timeout,
            queue_timeout=queue_timeout,
            stream=stream,
            window=window or 2 * limit,
        )

    return MapRun(make)


def _limiter(rate: str | float | RateLimit | None) -> RateLimit | None:
    # A number was taken as the limiter itself and failed at the first call (issue 12).
    if rate is None or isinstance(rate, RateLimit):
        return rate
    if isinstance(rate, str) or is_number(rate):
        return RateLimit(rate)
    raise TypeError(f"rate must be like '10/s', a number per second or a RateLimit, not {rate!r}")
