"""``corral.map``: call a function over many items, at most ``limit`` at once.

``map`` checks its options and returns a ``MapRun``; awaiting it gathers the results into a
list in input order, entering it streams them as a ``MapStream``. The workers, the sliding
window over the input and the results' bookkeeping are ``MapWorkers`` (``corral._mapworkers``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Generator, Iterable
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, overload

from corral._mapworkers import MISSING, MapWorkers
from corral._options import OnError, check_on_error, check_seconds, check_whole, is_number
from corral._outcome import Outcome
from corral._ratelimit import RateLimit
from corral._unawaited import Site, caller_site, warn_never_awaited

T = TypeVar("T")
R = TypeVar("R")
X = TypeVar("X")


class MapStream(Generic[X]):
    """The results of a ``corral.map`` run, as an async iterator; valid inside ``async with``."""

    __slots__ = ("_workers",)

    def __init__(self, workers: MapWorkers) -> None:
        self._workers = workers

    def __aiter__(self) -> MapStream[X]:
        return self

    async def __anext__(self) -> X:
        workers = self._workers
        while True:
            if workers.failure is not None:
                await workers.shutdown()
                raise workers.failure
            value = workers.take()
            if value is not MISSING:
                return value  # type: ignore[no-any-return]
            if not workers.tasks:
                raise StopAsyncIteration
            await workers.wait()


class MapRun(Generic[X]):
    """A ``corral.map`` call: ``await`` it for a list, or ``async with`` it for a stream.

    Collected without being awaited or entered, it warns ``RuntimeWarning: corral.map(fn) was
    never awaited`` at the line that made it, as a dropped coroutine does.
    """

    __slots__ = ("_iterated", "_make", "_site", "_used", "_what", "_workers")

    def __init__(
        self,
        make: Callable[[Literal["ordered", "unordered"] | None], MapWorkers],
        *,
        what: str,
        site: Site,
    ) -> None:
        self._make = make
        self._workers: MapWorkers | None = None
        self._used = False
        self._iterated = False
        self._what = what
        self._site = site

    def __del__(self) -> None:
        if not (self._used or self._iterated):
            warn_never_awaited(self._what, self._site)

    def _claim(self) -> None:
        if self._used:
            raise RuntimeError("a corral.map run can be awaited or entered only once")
        self._used = True

    def __await__(self) -> Generator[Any, None, list[X]]:
        self._claim()
        return self._gather().__await__()

    async def _gather(self) -> list[X]:
        workers = self._make(None)
        workers.start()
        try:
            while workers.tasks:
                await workers.wait()
        finally:
            await workers.shutdown()
        if workers.failure is not None:
            raise workers.failure
        return workers.results

    async def __aenter__(self) -> MapStream[X]:
        self._claim()
        self._workers = self._make("unordered")
        self._workers.start()
        return MapStream(self._workers)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._workers is not None
        await self._workers.shutdown()

    def __aiter__(self) -> None:
        self._iterated = True  # the error below says what to do; a warning too would be noise
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
    collect = check_on_error(on_error) == "collect"
    check_seconds("timeout", timeout)
    check_seconds("queue_timeout", queue_timeout)
    limiter = _limiter(rate)

    def make(stream: Literal["ordered", "unordered"] | None) -> MapWorkers:
        if stream is not None and ordered:
            stream = "ordered"
        return MapWorkers(
            fn,
            items,
            limit=limit,
            collect=collect,
            limiter=limiter,
            timeout=timeout,
            queue_timeout=queue_timeout,
            stream=stream,
            window=window or 2 * limit,
        )

    what = f"corral.map({getattr(fn, '__qualname__', type(fn).__name__)})"
    return MapRun(make, what=what, site=caller_site())


def _limiter(rate: str | float | RateLimit | None) -> RateLimit | None:
    # A number was taken as the limiter itself and failed at the first call (issue 12).
    if rate is None or isinstance(rate, RateLimit):
        return rate
    if isinstance(rate, str) or is_number(rate):
        return RateLimit(rate)
    raise TypeError(f"rate must be like '10/s', a number per second or a RateLimit, not {rate!r}")
