"""``@timed``: durations and errors of a function, kept for the caller to read.

The field reports' timer read the wall clock (``time.time()``, which jumps with NTP and DST)
and printed. This one reads ``time.perf_counter`` (monotonic, the finest clock available),
never prints, and keeps statistics per decorated function: counts, total, min, max, mean,
and percentiles over the most recent calls. The wrapper of an ``async def`` is itself an
``async def`` (``inspect.iscoroutinefunction`` stays true), and the wrapper of an async
generator is an async generator that forwards ``asend``/``athrow``/``aclose`` and times only
the generator's own steps, not the consumer's work between them.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, Protocol, TypeVar, cast, overload

P = ParamSpec("P")
R_co = TypeVar("R_co", covariant=True)
R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class TimingStatistics:
    """What ``@timed`` recorded for one function.

    Attributes:
        name: the function's qualified name (or the name given to ``timed``).
        calls: calls that ended (returned, raised, or were cancelled).
        errors: calls that raised an exception.
        cancelled: calls that were cancelled.
        total: seconds spent in all ended calls.
        min: the shortest call (None before any).
        max: the longest call (None before any).
        mean: ``total / calls`` (None before any).
        p50: the median over the most recent calls (None before any).
        p95: the 95th percentile over the most recent calls.
        p99: the 99th percentile over the most recent calls.
    """

    name: str
    calls: int
    errors: int
    cancelled: int
    total: float
    min: float | None
    max: float | None
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None


class TimedFunction(Protocol[P, R_co]):
    """A function wrapped by ``@timed``: call it as before, read ``statistics()``."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def statistics(self) -> TimingStatistics:
        """Return what has been recorded so far."""
        ...

    def reset(self) -> None:
        """Forget everything recorded so far."""
        ...


class _Recorder:
    """Thread-safe running statistics plus a window of recent durations for percentiles."""

    def __init__(self, name: str, window: int) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._window = window
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._calls = self._errors = self._cancelled = 0
            self._total = 0.0
            self._min: float | None = None
            self._max: float | None = None
            self._recent: deque[float] = deque(maxlen=self._window)

    def record(self, seconds: float, error: BaseException | None) -> None:
        with self._lock:
            self._calls += 1
            if isinstance(error, asyncio.CancelledError):
                self._cancelled += 1
            elif error is not None:
                self._errors += 1
            self._total += seconds
            self._min = seconds if self._min is None else min(self._min, seconds)
            self._max = seconds if self._max is None else max(self._max, seconds)
            self._recent.append(seconds)

    def statistics(self) -> TimingStatistics:
        with self._lock:
            ranked = sorted(self._recent)
            calls = self._calls
            return TimingStatistics(
                name=self._name,
                calls=calls,
                errors=self._errors,
                cancelled=self._cancelled,
                total=self._total,
                min=self._min,
                max=self._max,
                mean=self._total / calls if calls else None,
                p50=_percentile(ranked, 0.50),
                p95=_percentile(ranked, 0.95),
                p99=_percentile(ranked, 0.99),
            )


def _percentile(ranked: list[float], q: float) -> float | None:
    if not ranked:
        return None
    return ranked[min(len(ranked) - 1, int(q * len(ranked)))]


def _wrap_sync(fn: Callable[..., Any], rec: _Recorder, clock: Callable[[], float]) -> Any:
    @wraps(fn)
    def timed_call(*args: Any, **kwargs: Any) -> Any:
        error: BaseException | None = None
        start = clock()
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            rec.record(clock() - start, error)

    return timed_call


def _wrap_async(fn: Callable[..., Any], rec: _Recorder, clock: Callable[[], float]) -> Any:
    @wraps(fn)
    async def timed_call(*args: Any, **kwargs: Any) -> Any:
        error: BaseException | None = None
        start = clock()
        try:
            return await fn(*args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            rec.record(clock() - start, error)

    return timed_call


def _wrap_asyncgen(fn: Callable[..., Any], rec: _Recorder, clock: Callable[[], float]) -> Any:
    @wraps(fn)
    async def timed_gen(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        agen = fn(*args, **kwargs)
        spent, error = 0.0, None
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                start = clock()
                try:
                    item = await (agen.athrow(thrown) if thrown is not None else agen.asend(sent))
                except StopAsyncIteration:
                    return
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    spent += clock() - start
                thrown = None
                try:
                    sent = yield item
                except GeneratorExit:
                    raise
                except BaseException as exc:  # thrown in by the consumer: pass it on
                    thrown = exc
        finally:
            await agen.aclose()
            rec.record(spent, error)

    return timed_gen


@overload
def timed(fn: Callable[P, R], /) -> TimedFunction[P, R]: ...


@overload
def timed(
    *, name: str | None = None, window: int = 1024, clock: Callable[[], float] = ...
) -> Callable[[Callable[P, R]], TimedFunction[P, R]]: ...


def timed(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    window: int = 1024,
    clock: Callable[[], float] = time.perf_counter,
) -> TimedFunction[P, R] | Callable[[Callable[P, R]], TimedFunction[P, R]]:
    """Record the duration and outcome of every call of a sync, async or async-generator function.

    Use as ``@corral.timed`` or ``@corral.timed(name=..., window=...)``; read
    ``fn.statistics()``.

    Args:
        fn: the function to wrap.
        name: the name in the statistics (default the function's qualified name).
        window: how many recent durations the percentiles are computed over.
        clock: a monotonic clock in seconds (default ``time.perf_counter``).

    Returns:
        The wrapped function (or a decorator, without ``fn``).

    Raises:
        TypeError: ``fn`` is a plain generator function (its steps cannot be timed this way).
    """
    if window < 1:
        raise ValueError("window must be at least 1")

    def decorate(target: Callable[P, R]) -> TimedFunction[P, R]:
        if inspect.isgeneratorfunction(target):
            raise TypeError("timed supports functions, async functions and async generators")
        rec = _Recorder(name or str(getattr(target, "__qualname__", repr(target))), window)
        if inspect.isasyncgenfunction(target):
            wrapper = _wrap_asyncgen(target, rec, clock)
        elif inspect.iscoroutinefunction(target):
            wrapper = _wrap_async(target, rec, clock)
        else:
            wrapper = _wrap_sync(target, rec, clock)
        wrapper.statistics = rec.statistics
        wrapper.reset = rec.reset
        return cast("TimedFunction[P, R]", wrapper)

    return decorate if fn is None else decorate(fn)
