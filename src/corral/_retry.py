"""Retry with exponential backoff and jitter, over *callables*.

The field reports' helper awaited the same coroutine object again, so every second attempt
died with "cannot reuse already awaited coroutine". Here every attempt calls the function
anew; a coroutine object passed instead of a function is a ``TypeError`` before any attempt,
and a function that hands back the very same awaitable twice is caught too.

Only ``Exception`` subclasses are ever considered for a retry: ``CancelledError``,
``KeyboardInterrupt`` and ``SystemExit`` derive from ``BaseException`` and always propagate at
once, so an outer timeout or a scope's cancellation always wins over the retry loop.
"""

from __future__ import annotations

import inspect
import random as _random
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field, replace
from functools import wraps
from typing import Any, Generic, ParamSpec, TypedDict, TypeVar, Unpack, cast, overload

from corral._callables import require_function
from corral._clock import LOOP_CLOCK, Clock
from corral._deadlines import fail_after
from corral._exceptions import DeadlineExceeded
from corral._options import (
    check_callable,
    check_error_filter,
    check_seconds,
    check_whole,
    is_number,
)
from corral._unawaited import Site, caller_site, warn_never_awaited

P = ParamSpec("P")
R = TypeVar("R")
ErrorFilter = (
    type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential backoff: ``min(max, initial * multiplier ** (retry - 1))``, with jitter.

    Attributes:
        initial: the first wait, in seconds.
        multiplier: growth per retry.
        max: the cap on any one wait.
        jitter: the fraction of each wait drawn at random: 1.0 is "full jitter" (uniform in
            ``[0, wait]``, which spreads synchronized clients best), 0.0 is no jitter.
    """

    initial: float = 0.1
    multiplier: float = 2.0
    max: float = 30.0
    jitter: float = 1.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.max < 0 or self.multiplier < 1 or not 0 <= self.jitter <= 1:
            raise ValueError(f"invalid {self!r}")

    def delay(self, retry: int, draw: float) -> float:
        """Return the wait before retry ``retry`` (from 1) for a random ``draw`` in [0, 1)."""
        base = min(self.max, self.initial * self.multiplier ** (retry - 1))
        return base * (1.0 - self.jitter * draw)


def as_backoff(value: Backoff | float) -> Backoff:
    """Return ``value`` as a ``Backoff``: a number is its first wait (``Backoff(initial=...)``).

    Raises:
        TypeError: ``value`` is neither a ``Backoff`` nor a number.
    """
    if isinstance(value, Backoff):
        return value
    if is_number(value):
        return Backoff(initial=float(value))
    raise TypeError(f"backoff must be a Backoff or a number of seconds, not {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """What one attempt ended with, as the hooks see it.

    Attributes:
        number: which attempt this was, from 1.
        error: the exception it raised, or None when it returned.
        result: what it returned (None when it raised).
        elapsed: seconds since the first attempt started.
        delay: the wait before the next attempt (set for ``on_retry``; 0 for ``wait_from``).
    """

    number: int
    error: Exception | None
    result: object
    elapsed: float
    delay: float = 0.0


class RetryOptions(TypedDict, total=False):
    """The keyword options of ``corral.retry``; each is a field of ``RetryPolicy``."""

    attempts: int
    deadline: float | None
    timeout: float | None
    backoff: Backoff | float
    retry_on: ErrorFilter
    retry_if_result: Callable[[Any], bool] | None
    wait_from: Callable[[Attempt], float | None] | None
    on_retry: Callable[[Attempt], object] | None
    clock: Clock | None
    rng: Callable[[], float] | None


def _default_rng() -> float:
    return _random.random()


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How to retry; frozen, so one policy can serve any number of concurrent calls.

    Attributes:
        attempts: the most attempts in all (1 means no retry).
        deadline: seconds the whole call may take, waits included; an attempt still running
            then is cancelled and ``DeadlineExceeded`` raised; a wait that would end past it
            is not started (the last outcome is given at once).
        timeout: seconds each attempt may take (its ``DeadlineExceeded`` counts as a failure).
        backoff: the waits between attempts; a number stands for ``Backoff(initial=number)``,
            exponential from that first wait.
        retry_on: which errors to retry: exception types, or a predicate. Never consulted for
            ``CancelledError``, ``KeyboardInterrupt`` or ``SystemExit``.
        retry_if_result: retry when this returns True for a result (the last result is
            returned when attempts run out).
        wait_from: take the wait from an attempt (a server's Retry-After); None falls back to
            the backoff.
        on_retry: called (and awaited if it returns an awaitable) before each wait.
        clock: where waits happen; default the running loop.
        rng: the random source for jitter, returning floats in [0, 1).
    """

    attempts: int = 3
    deadline: float | None = None
    timeout: float | None = None
    backoff: Backoff = field(default_factory=Backoff)
    retry_on: ErrorFilter = Exception
    retry_if_result: Callable[[Any], bool] | None = None
    wait_from: Callable[[Attempt], float | None] | None = None
    on_retry: Callable[[Attempt], object] | None = None
    clock: Clock | None = None
    rng: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        # Checked here, not at the first retry (issue 12: backoff=0.01 was an AttributeError
        # there), so a wrong type fails where it is written.
        check_whole("attempts", self.attempts)
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        check_seconds("deadline", self.deadline)
        check_seconds("timeout", self.timeout)
        object.__setattr__(self, "backoff", as_backoff(self.backoff))
        check_error_filter(self.retry_on)
        for name in ("retry_if_result", "wait_from", "on_retry", "rng"):
            check_callable(name, getattr(self, name))

    async def call(self, fn: Callable[..., Awaitable[R]], /, *args: Any) -> R:
        """Call ``fn(*args)`` until it succeeds or the policy gives up.

        Returns:
            The first result not rejected by ``retry_if_result`` (or the last one).

        Raises:
            TypeError: ``fn`` is a coroutine object or hands back the same awaitable twice.
            DeadlineExceeded: the deadline passed during an attempt.
            Exception: the last attempt's own exception, unchanged but for a note.
        """
        _check_callable(fn)
        return await _Run(self, fn, args).run()

    def wrap(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        """Return ``fn`` retried under this policy (the decorator form)."""
        _check_callable(fn)

        @wraps(fn)
        async def retrying(*args: P.args, **kwargs: P.kwargs) -> R:
            return await _Run(self, lambda: fn(*args, **kwargs), ()).run()

        return retrying

    def _retries(self, error: Exception) -> bool:
        rule = self.retry_on
        if isinstance(rule, type | tuple):
            return isinstance(error, rule)
        return bool(rule(error))


class _Run(Generic[R]):
    """The state of one retried call; nothing of it outlives the call."""

    __slots__ = ("args", "clock", "fn", "last_awaitable", "last_error", "policy", "started")

    def __init__(self, policy: RetryPolicy, fn: Callable[..., Awaitable[R]], args: Any) -> None:
        self.policy = policy
        self.fn = fn
        self.args = args
        self.clock = policy.clock or LOOP_CLOCK
        self.started = 0.0
        self.last_awaitable: object = None
        self.last_error: Exception | None = None

    async def run(self) -> R:
        policy = self.policy
        self.started = self.clock.now()
        number = 0
        while True:
            number += 1
            error, result = await self._attempt(number)
            elapsed = self.clock.now() - self.started
            if error is not None:
                if not policy._retries(error) or number >= policy.attempts:
                    _note(error, f"corral.retry: gave up after {number} attempt(s)")
                    raise error
            elif (
                policy.retry_if_result is None
                or not policy.retry_if_result(result)
                or number >= policy.attempts
            ):
                return cast(R, result)  # no error: the attempt's own value
            attempt = Attempt(number=number, error=error, result=result, elapsed=elapsed)
            delay = self._delay(attempt)
            if policy.deadline is not None and elapsed + delay > policy.deadline:
                if error is not None:
                    _note(
                        error,
                        f"corral.retry: next wait would pass the {policy.deadline:g}s deadline",
                    )
                    raise error
                return cast(R, result)  # no error: the attempt's own value
            if policy.on_retry is not None:
                hooked = policy.on_retry(replace(attempt, delay=delay))
                if inspect.isawaitable(hooked):
                    await hooked
            await self.clock.sleep(delay)

    async def _attempt(self, number: int) -> tuple[Exception | None, R | None]:
        policy = self.policy
        budget, by_deadline = policy.timeout, False
        if policy.deadline is not None:
            remaining = policy.deadline - (self.clock.now() - self.started)
            if budget is None or remaining <= budget:
                budget, by_deadline = remaining, True
        awaitable = self.fn(*self.args)
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"retry: {self.fn!r} returned {type(awaitable).__name__}, not an awaitable"
            )
        if awaitable is self.last_awaitable:
            raise TypeError(
                "retry: the function returned the same awaitable again; make a new one per call"
            )
        self.last_awaitable = awaitable
        scope = fail_after(budget)
        try:
            with scope:
                return None, await awaitable
        except Exception as exc:
            if by_deadline and scope.expired and isinstance(exc, DeadlineExceeded):
                raise DeadlineExceeded(
                    f"retry deadline of {policy.deadline:g}s exceeded during attempt {number}"
                ) from self.last_error
            self.last_error = exc
            return exc, None

    def _delay(self, attempt: Attempt) -> float:
        policy = self.policy
        if policy.wait_from is not None:
            wait = policy.wait_from(attempt)
            if wait is not None:
                return max(0.0, wait)
        rng = policy.rng or _default_rng
        return policy.backoff.delay(attempt.number, rng())


def _note(error: BaseException, text: str) -> None:
    if text not in getattr(error, "__notes__", ()):
        error.add_note(text)


def _check_callable(fn: object) -> None:
    require_function(fn, usage="retry calls it anew per attempt, so write retry(fetch, url)")


class RetryCall(Generic[R]):
    """A pending retried call: await it once. Returned by ``retry(fn, *args, ...)``.

    Collected without being awaited, it warns ``RuntimeWarning: corral.retry(fn) was never
    awaited`` at the line that made it, as a dropped coroutine does.
    """

    __slots__ = ("_args", "_fn", "_policy", "_site", "_used")

    def __init__(
        self, policy: RetryPolicy, fn: Callable[..., Awaitable[R]], args: Any, *, site: Site
    ) -> None:
        self._policy = policy
        self._fn = fn
        self._args = args
        self._site = site
        self._used = False

    def __del__(self) -> None:
        if not self._used:
            name = getattr(self._fn, "__qualname__", type(self._fn).__name__)
            warn_never_awaited(f"corral.retry({name})", self._site)

    def __await__(self) -> Generator[Any, None, R]:
        self._used = True
        return self._policy.call(self._fn, *self._args).__await__()

    def __call__(self, *args: object, **kwargs: object) -> None:
        self._used = True  # the error below says what to do; a warning too would be noise
        raise TypeError(
            "this is a retried call, not a decorated function: decorate with "
            "@corral.retry() (with parentheses), or await corral.retry(fn, *args)"
        )

    def __repr__(self) -> str:
        return f"<RetryCall {self._fn!r}>"


class _Decorator:
    __slots__ = ("policy",)

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        return self.policy.wrap(fn)


@overload
def retry(fn: None = None, /, **options: Unpack[RetryOptions]) -> _Decorator: ...


@overload
def retry(
    fn: Callable[..., Awaitable[R]], /, *args: Any, **options: Unpack[RetryOptions]
) -> RetryCall[R]: ...


def retry(
    fn: Callable[..., Awaitable[R]] | None = None,
    /,
    *args: Any,
    **options: Unpack[RetryOptions],
) -> RetryCall[R] | _Decorator:
    """Retry an async callable: ``await retry(fn, *args, ...)`` or ``@retry(...)``.

    Args:
        fn: the function to call anew on every attempt; omit it to get a decorator.
        *args: positional arguments for ``fn`` (use ``functools.partial`` for keywords).
        **options: the fields of ``RetryPolicy`` (attempts, deadline, timeout, backoff,
            retry_on, retry_if_result, wait_from, on_retry, clock, rng); ``backoff`` may be a
            number, the first wait of an exponential backoff (``Backoff(initial=number)``).

    Returns:
        With ``fn``, an awaitable of its result; without, a decorator.

    Raises:
        TypeError: ``fn`` is a coroutine object rather than a function, or an option has the
            wrong type (named in the message).
    """
    # (a number as backoff is what RetryOptions allows: RetryPolicy's __post_init__ turns it
    # into the Backoff its field holds)
    policy = RetryPolicy(**options)  # type: ignore[arg-type]
    if fn is None:
        if args:
            raise TypeError("retry() got arguments but no function")
        return _Decorator(policy)
    _check_callable(fn)
    return RetryCall(policy, fn, args, site=caller_site())
