"""Options of the wrong type fail at once, with a TypeError naming the option; a number where
a number reads naturally is accepted.

``corral.retry(backoff=0.01)`` was accepted and failed with ``AttributeError`` at the first
retry; ``corral.map(rate=10)`` at the first call; a string deadline, a non-callable hook or a
predicate that is not one only when first used. Now ``backoff`` takes a number (the first wait
of the default exponential backoff) and ``rate`` a number (starts per second), and every other
wrong type is refused where it is given.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import corral
from corral.http import FetchConfig


class Flaky:
    """Fails ``failures`` times, then returns "ok"."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        if self.calls <= self.failures:
            raise ConnectionError("boom")
        return "ok"


@pytest.mark.virtual_time
async def test_retry_takes_a_number_as_the_first_wait_of_an_exponential_backoff() -> None:
    """``backoff=0.01``: waits 0.01 then 0.02 s (no jitter drawn), and the call succeeds."""
    waits: list[float] = []
    result = await corral.retry(
        Flaky(2),
        attempts=3,
        backoff=0.01,
        rng=lambda: 0.0,
        on_retry=lambda attempt: waits.append(attempt.delay),
    )
    assert result == "ok"
    assert waits == [0.01, 0.02]
    policy = corral.RetryPolicy(backoff=2)  # type: ignore[arg-type]
    assert policy.backoff == corral.Backoff(initial=2.0)


def test_fetch_config_takes_a_number_as_its_backoff() -> None:
    """``FetchConfig(backoff=0.2)`` is ``Backoff(initial=0.2)``; a string is refused at once."""
    assert FetchConfig(backoff=0.2).backoff == corral.Backoff(initial=0.2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="backoff"):
        FetchConfig(backoff="fast")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        pytest.param({"backoff": "fast"}, "backoff", id="backoff-str"),
        pytest.param({"backoff": True}, "backoff", id="backoff-bool"),
        pytest.param({"retry_on": "ValueError"}, "retry_on", id="retry_on-str"),
        pytest.param({"retry_on": ValueError()}, "retry_on", id="retry_on-instance"),
        pytest.param({"retry_on": (ValueError, "x")}, "retry_on", id="retry_on-tuple"),
        pytest.param({"retry_on": int}, "retry_on", id="retry_on-not-exception"),
        pytest.param({"retry_if_result": True}, "retry_if_result", id="retry_if_result"),
        pytest.param({"wait_from": 5}, "wait_from", id="wait_from"),
        pytest.param({"on_retry": 5}, "on_retry", id="on_retry"),
        pytest.param({"rng": 0.5}, "rng", id="rng"),
        pytest.param({"deadline": "5"}, "deadline", id="deadline"),
        pytest.param({"timeout": "5"}, "timeout", id="timeout"),
        pytest.param({"attempts": "3"}, "attempts", id="attempts-str"),
        pytest.param({"attempts": 2.5}, "attempts", id="attempts-float"),
    ],
)
async def test_retry_refuses_a_wrong_type_before_any_attempt(
    options: dict[str, Any], name: str
) -> None:
    """A wrong type is a TypeError from ``retry()`` itself, naming the option; nothing runs."""
    flaky = Flaky(1)
    with pytest.raises(TypeError, match=name):
        corral.retry(flaky, **options)
    with pytest.raises(TypeError, match=name):
        corral.RetryPolicy(**options)
    assert flaky.calls == 0


@pytest.mark.virtual_time
async def test_map_takes_a_number_as_starts_per_second() -> None:
    """``rate=2``: two starts a second (the first at once), as ``RateLimit(2)``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    starts: list[float] = []

    async def note(item: int) -> int:
        starts.append(loop.time() - started)
        return item

    assert await corral.map(note, range(5), limit=5, rate=2) == [0, 1, 2, 3, 4]
    assert starts == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])


@pytest.mark.parametrize(
    ("options", "name"),
    [
        pytest.param({"rate": object()}, "rate", id="rate-object"),
        pytest.param({"rate": True}, "rate", id="rate-bool"),
        pytest.param({"timeout": "1"}, "timeout", id="timeout"),
        pytest.param({"queue_timeout": "1"}, "queue_timeout", id="queue_timeout"),
        pytest.param({"limit": 2.5}, "limit", id="limit-float"),
        pytest.param({"limit": "2"}, "limit", id="limit-str"),
        pytest.param({"window": 2.5}, "window", id="window-float"),
    ],
)
async def test_map_refuses_a_wrong_type_before_any_call(options: dict[str, Any], name: str) -> None:
    """A wrong type is a TypeError from ``map()`` itself, naming the option; nothing runs."""
    called: list[int] = []

    async def work(item: int) -> int:
        called.append(item)
        return item

    options = {"limit": 2, **options}
    with pytest.raises(TypeError, match=name):
        corral.map(work, [1, 2], **options)
    assert called == []
