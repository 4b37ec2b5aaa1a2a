"""RateLimit: exact GCRA spacing, strict windows, FIFO without starvation, one wake-up each."""

from __future__ import annotations

import asyncio
import random

import pytest

import corral
from corral._ratelimit import parse_rate

pytestmark = pytest.mark.virtual_time


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


async def _admissions(limiter: corral.RateLimit, count: int, n: int = 1) -> list[float]:
    """Start ``count`` concurrent acquirers; return their admission times, relative to now."""
    start = _loop_time()
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire(n)
        times.append(round(_loop_time() - start, 9))

    await asyncio.gather(*(one() for _ in range(count)))
    return times


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("10/s", (10.0, 1.0), id="per-second"),
        pytest.param("100/min", (100.0, 60.0), id="per-minute"),
        pytest.param("5/2s", (5.0, 2.0), id="multi-second"),
        pytest.param("1/500ms", (1.0, 0.5), id="milliseconds"),
        pytest.param(" 3 / h ", (3.0, 3600.0), id="spaces-hour"),
    ],
)
def test_parse_rate_accepts_common_forms(spec: str, expected: tuple[float, float]) -> None:
    """Rate specs parse into (count, period seconds)."""
    assert parse_rate(spec) == expected


@pytest.mark.parametrize("spec", ["10", "ten/s", "10/parsec", "0/s", "5/0s", ""])
def test_parse_rate_rejects_malformed_specs(spec: str) -> None:
    """A malformed or non-positive spec is a ValueError naming the spec."""
    with pytest.raises(ValueError, match="bad rate"):
        parse_rate(spec)


async def test_gcra_spaces_starts_evenly() -> None:
    """10/s with burst 1 admits one start every 100 ms exactly, starting at once."""
    times = await _admissions(corral.RateLimit("10/s"), 20)
    assert times == pytest.approx([i * 0.1 for i in range(20)])


async def test_burst_admits_at_once_then_paces() -> None:
    """A burst of 5 starts five at once after idling, then one per interval."""
    times = await _admissions(corral.RateLimit("10/s", burst=5), 8)
    assert times == pytest.approx([0, 0, 0, 0, 0, 0.1, 0.2, 0.3])


async def test_idle_limiter_refills_its_burst() -> None:
    """After an idle spell as long as the burst window, a full burst is allowed again."""
    limiter = corral.RateLimit("10/s", burst=3)
    await _admissions(limiter, 3)
    await asyncio.sleep(0.3)
    assert await _admissions(limiter, 3) == pytest.approx([0, 0, 0])


async def test_strict_mode_never_exceeds_count_in_any_window() -> None:
    """Under random arrivals, no window of the period ever holds more than count starts."""
    rng = random.Random(7)
    limiter = corral.RateLimit("5/s", strict=True)
    admitted: list[float] = []

    async def arrive(delay: float) -> None:
        await asyncio.sleep(delay)
        await limiter.acquire()
        admitted.append(_loop_time())

    await asyncio.gather(*(arrive(rng.uniform(0, 4)) for _ in range(60)))
    admitted.sort()
    for i, t in enumerate(admitted):
        in_window = [u for u in admitted[i:] if u < t + 1.0 - 1e-9]
        assert len(in_window) <= 5, (t, in_window)
    assert len(admitted) == 60


async def test_strict_mode_admits_whole_windows_at_once() -> None:
    """Strict 3/s admits three at once, then three more one period after the first."""
    times = await _admissions(corral.RateLimit("3/s", strict=True), 7)
    assert times == pytest.approx([0, 0, 0, 1, 1, 1, 2])


async def test_large_request_first_in_line_is_not_starved() -> None:
    """A request for 4 tokens queued first is served before small requests queued after it."""
    limiter = corral.RateLimit("4/s", burst=4)
    await limiter.acquire(4)  # drain the bucket
    order: list[str] = []

    async def take(name: str, n: int) -> None:
        await limiter.acquire(n)
        order.append(name)

    big = asyncio.get_running_loop().create_task(take("big", 4))
    await asyncio.sleep(0)  # big is now queued first
    smalls = [asyncio.get_running_loop().create_task(take(f"s{i}", 1)) for i in range(6)]
    await asyncio.gather(big, *smalls)
    assert order[0] == "big"
    assert order[1:] == [f"s{i}" for i in range(6)]


async def test_one_wakeup_per_queued_admission() -> None:
    """With 200 waiters, wake-ups stay close to one per admission (only the head sleeps)."""
    limiter = corral.RateLimit("50/s")
    await _admissions(limiter, 200)
    stats = limiter.statistics()
    assert stats.admitted == 200
    assert stats.waiting == 0
    assert stats.wakeups <= stats.admitted * 1.05


async def test_cancelled_head_waiter_takes_nothing_and_passes_the_turn() -> None:
    """Cancelling the sleeping head neither consumes its tokens nor stalls the queue."""
    limiter = corral.RateLimit("1/s")
    await limiter.acquire()
    head = asyncio.get_running_loop().create_task(limiter.acquire())
    second_done = asyncio.get_running_loop().create_task(limiter.acquire())
    await asyncio.sleep(0.5)
    head.cancel()
    start = _loop_time()
    await second_done
    assert _loop_time() - start == pytest.approx(0.5)  # the head's slot at t=1 went to it
    assert limiter.statistics().tokens == 2
    with pytest.raises(asyncio.CancelledError):
        await head


async def test_queue_timeout_raises_and_takes_no_token() -> None:
    """A wait longer than timeout= raises QueueTimeout and leaves the limiter untouched."""
    limiter = corral.RateLimit("1/10s")
    await limiter.acquire()
    with pytest.raises(corral.QueueTimeout):
        await limiter.acquire(timeout=1)
    assert limiter.statistics().tokens == 1
    assert limiter.statistics().waiting == 0


async def test_async_with_takes_one_token() -> None:
    """``async with limiter:`` takes one token before the block."""
    limiter = corral.RateLimit("2/s")
    for _ in range(3):
        async with limiter:
            pass
    assert limiter.statistics().tokens == 3


def test_bad_arguments_are_refused() -> None:
    """Out-of-range burst, counts and requests are ValueErrors."""
    with pytest.raises(ValueError, match="burst"):
        corral.RateLimit("1/s", burst=0)
    with pytest.raises(ValueError, match="whole"):
        corral.RateLimit(2.5, strict=True)
    with pytest.raises(ValueError, match="positive"):
        corral.RateLimit(-1)


async def test_request_over_capacity_is_refused() -> None:
    """Asking for more tokens than the burst could ever hold is an error, not a hang."""
    with pytest.raises(ValueError, match="capacity"):
        await corral.RateLimit("10/s", burst=2).acquire(3)


class StepClock:
    """A clock that only moves when slept on, recording every sleep."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)


async def test_clock_is_injectable() -> None:
    """An injected Clock is the only time source: the limiter sleeps exactly on it."""
    clock = StepClock()
    assert isinstance(clock, corral.Clock)
    limiter = corral.RateLimit("4/s", clock=clock)
    for _ in range(4):
        await limiter.acquire()
    assert clock.sleeps == [0.25, 0.25, 0.25]
    assert clock.t == pytest.approx(1000.75)
