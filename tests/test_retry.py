"""retry: a new coroutine per attempt, exact backoff, hooks, deadlines, and cancellation wins."""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import Awaitable, Callable

import pytest

import corral

pytestmark = pytest.mark.virtual_time


class Flaky:
    """An async callable that fails ``failures`` times, then returns ``value``."""

    def __init__(self, failures: int, error: Exception | None = None, value: str = "ok") -> None:
        self.failures = failures
        self.error = error or ConnectionError("boom")
        self.value = value
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        if self.calls <= self.failures:
            raise self.error
        return self.value


def _recorder() -> tuple[list[corral.Attempt], Callable[[corral.Attempt], None]]:
    seen: list[corral.Attempt] = []
    return seen, seen.append


async def test_a_coroutine_object_is_refused_before_any_attempt() -> None:
    """retry(fetch()) is a TypeError at once; the coroutine is closed, never awaited."""
    flaky = Flaky(0)
    coro = flaky()
    with pytest.raises(TypeError, match="coroutine object"):
        corral.retry(coro)  # type: ignore[call-overload]
    assert flaky.calls == 0
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


async def test_each_attempt_makes_a_new_coroutine() -> None:
    """Two failures then success: three calls of the function, the result returned."""
    flaky = Flaky(2)
    result = await corral.retry(flaky, attempts=3, backoff=corral.Backoff(initial=0.01))
    assert result == "ok"
    assert flaky.calls == 3


async def test_the_same_awaitable_twice_is_caught() -> None:
    """A function that hands back one awaitable for every attempt is a TypeError, not a hang."""
    shared = asyncio.get_running_loop().create_future()
    shared.set_exception(ConnectionError("down"))

    def same() -> Awaitable[None]:
        return shared

    with pytest.raises(TypeError, match="same awaitable"):
        await corral.retry(same, attempts=3)


async def test_gives_up_after_attempts_with_the_original_error() -> None:
    """When attempts run out the last error is raised as itself, with a note."""
    flaky = Flaky(10)
    with pytest.raises(ConnectionError) as info:
        await corral.retry(flaky, attempts=4, backoff=corral.Backoff(initial=0.01))
    assert info.value is flaky.error
    assert flaky.calls == 4
    assert any("gave up after 4" in note for note in info.value.__notes__)


async def test_backoff_is_exponential_capped_and_jittered_by_the_rng() -> None:
    """Waits follow initial*2**k up to max, scaled by the injected rng's jitter draw."""
    seen, hook = _recorder()
    flaky = Flaky(5)
    await corral.retry(
        flaky,
        attempts=6,
        backoff=corral.Backoff(initial=1, multiplier=2, max=5, jitter=0.5),
        rng=lambda: 1.0,  # full draw: each wait is halved
        on_retry=hook,
    )
    assert [a.delay for a in seen] == pytest.approx([0.5, 1, 2, 2.5, 2.5])
    assert [a.number for a in seen] == [1, 2, 3, 4, 5]


async def test_waits_really_happen_on_the_clock() -> None:
    """Without jitter, two retries wait 1 s and 2 s of loop time."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    await corral.retry(Flaky(2), attempts=3, backoff=corral.Backoff(initial=1, jitter=0))
    assert loop.time() - start == pytest.approx(3)


async def test_errors_the_predicate_rejects_are_not_retried() -> None:
    """retry_on limits what is retried: a ValueError passes straight through."""
    flaky = Flaky(3, error=ValueError("bad input"))
    with pytest.raises(ValueError, match="bad input"):
        await corral.retry(flaky, attempts=5, retry_on=(ConnectionError, TimeoutError))
    assert flaky.calls == 1


async def test_predicate_function_decides() -> None:
    """A callable retry_on sees each error."""
    flaky = Flaky(2, error=OSError(111, "refused"))
    result = await corral.retry(
        flaky,
        attempts=3,
        retry_on=lambda e: isinstance(e, OSError) and e.errno == 111,
        backoff=corral.Backoff(initial=0),
    )
    assert result == "ok"


async def test_retry_on_result_and_the_last_result_when_exhausted() -> None:
    """retry_if_result retries unwanted results; when attempts run out, the last is returned."""
    statuses = iter([503, 503, 503])

    async def status() -> int:
        return next(statuses)

    result = await corral.retry(
        status, attempts=3, retry_if_result=lambda s: s >= 500, backoff=corral.Backoff(initial=0)
    )
    assert result == 503


async def test_wait_from_takes_the_servers_word() -> None:
    """wait_from supplies the wait (a Retry-After); None falls back to the backoff."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    seen, hook = _recorder()
    await corral.retry(
        Flaky(2),
        attempts=3,
        wait_from=lambda a: 7.0 if a.number == 1 else None,
        backoff=corral.Backoff(initial=1, jitter=0),
        on_retry=hook,
    )
    assert [a.delay for a in seen] == [7.0, 2.0]
    assert loop.time() - start == pytest.approx(9)


async def test_async_hook_is_awaited() -> None:
    """An async on_retry hook is awaited before the wait."""
    calls: list[int] = []

    async def hook(attempt: corral.Attempt) -> None:
        await asyncio.sleep(0)
        calls.append(attempt.number)

    await corral.retry(Flaky(2), attempts=3, on_retry=hook, backoff=corral.Backoff(initial=0))
    assert calls == [1, 2]


async def test_deadline_cancels_the_attempt_in_flight() -> None:
    """An attempt still running at the deadline is cancelled with DeadlineExceeded."""

    async def slow() -> None:
        await asyncio.sleep(100)

    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(corral.DeadlineExceeded, match="deadline of 5s"):
        await corral.retry(slow, attempts=10, deadline=5)
    assert loop.time() - start == pytest.approx(5)


async def test_deadline_skips_a_wait_that_would_pass_it() -> None:
    """If the next wait would end past the deadline, the last error is raised at once."""
    flaky = Flaky(10)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(ConnectionError):
        await corral.retry(
            flaky, attempts=10, deadline=5, backoff=corral.Backoff(initial=4, jitter=0)
        )
    assert flaky.calls == 2  # t=0 fails, wait 4, t=4 fails, next wait 8 would pass 5
    assert loop.time() - start == pytest.approx(4)


async def test_per_attempt_timeout_counts_as_a_failure() -> None:
    """timeout= bounds each attempt; a timed-out attempt is retried."""
    durations = iter([10.0, 0.0])

    async def sometimes_slow() -> str:
        await asyncio.sleep(next(durations))
        return "done"

    result = await corral.retry(
        sometimes_slow, attempts=2, timeout=1, backoff=corral.Backoff(initial=0)
    )
    assert result == "done"


async def test_outer_timeout_always_wins() -> None:
    """An asyncio.timeout around a retry of TimeoutError-raising work still fires once."""
    flaky = Flaky(100, error=TimeoutError("inner"))

    async def slow_then_fail() -> str:
        await asyncio.sleep(0.4)
        return await flaky()

    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError) as info:
        async with asyncio.timeout(1):
            await corral.retry(slow_then_fail, attempts=100, backoff=corral.Backoff(initial=0))
    assert info.value is not flaky.error  # the outer timeout's own error
    assert loop.time() - start == pytest.approx(1)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(asyncio.CancelledError(), id="cancelled"),
        pytest.param(KeyboardInterrupt(), id="keyboard-interrupt"),
        pytest.param(SystemExit(3), id="system-exit"),
    ],
)
async def test_cancellation_and_exits_are_never_retried(error: BaseException) -> None:
    """CancelledError, KeyboardInterrupt and SystemExit propagate at once, predicate or not."""
    calls = 0

    async def dies() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)):
        await corral.retry(dies, attempts=5, retry_on=lambda e: True)
    assert calls == 1


async def test_decorator_form_keeps_the_function_shape() -> None:
    """@retry(...) returns a coroutine function with the original's name, retrying each call."""
    flaky = Flaky(1)

    @corral.retry(attempts=2, backoff=corral.Backoff(initial=0))
    async def fetch(suffix: str) -> str:
        return await flaky() + suffix

    assert inspect.iscoroutinefunction(fetch)
    assert fetch.__name__ == "fetch"
    assert await fetch("!") == "ok!"


async def test_calls_share_no_state() -> None:
    """Concurrent calls of one decorated function each get their own attempt count."""
    counters: dict[str, int] = {}

    @corral.retry(attempts=3, backoff=corral.Backoff(initial=0.1))
    async def job(name: str) -> str:
        counters[name] = counters.get(name, 0) + 1
        await asyncio.sleep(0.01)
        if counters[name] < 3:
            raise ConnectionError(name)
        return name

    assert list(await asyncio.gather(job("a"), job("b"), job("c"))) == ["a", "b", "c"]
    assert counters == {"a": 3, "b": 3, "c": 3}


async def test_bare_decorator_misuse_explains_itself() -> None:
    """@corral.retry without parentheses gives an object whose call explains the fix."""
    decorated = corral.retry(Flaky(0))
    with pytest.raises(TypeError, match="with parentheses"):
        decorated()


def test_bad_policy_values_are_refused() -> None:
    """attempts below 1 and a nonsensical backoff are ValueErrors."""
    with pytest.raises(ValueError, match="attempts"):
        corral.RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="Backoff"):
        corral.Backoff(jitter=2)


async def test_policy_object_is_reusable() -> None:
    """A RetryPolicy is frozen and can call and wrap many functions."""
    policy = corral.RetryPolicy(attempts=2, backoff=corral.Backoff(initial=0))
    assert await policy.call(Flaky(1)) == "ok"
    wrapped = policy.wrap(Flaky(1))
    assert await wrapped() == "ok"


def test_a_dropped_retry_call_warns_like_a_coroutine_at_the_line_that_made_it() -> None:
    """A RetryCall collected without being awaited warns 'was never awaited', where it was made."""

    def drop_a_call() -> None:
        corral.retry(Flaky(0))  # noqa: COR102 - the forgotten await, on purpose
        gc.collect()

    with pytest.warns(RuntimeWarning, match=r"corral\.retry\(Flaky\) was never awaited") as w:
        drop_a_call()
    assert w[0].filename == __file__


async def test_an_awaited_retry_call_does_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    """Awaiting the call, or calling it by mistake (bare decorator), gives no warning."""
    assert await corral.retry(Flaky(1), backoff=0) == "ok"
    with pytest.raises(TypeError):
        corral.retry(Flaky(0))()
    gc.collect()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
