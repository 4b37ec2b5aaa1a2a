"""corral.map: a lazy sliding window with ordered or streamed results and honest errors."""

from __future__ import annotations

import asyncio
import gc
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

import corral


class Tracker:
    """Counts calls in flight and the items pulled from a source."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.started: list[int] = []
        self.finished: list[int] = []
        self.cancelled: list[int] = []
        self.pulled = 0
        self.max_lead = 0  # most items pulled but not yet finished

    def source(self, n: int | None) -> Iterator[int]:
        for i in range(n) if n is not None else itertools.count():
            self.pulled += 1
            self.max_lead = max(self.max_lead, self.pulled - len(self.finished))
            yield i

    async def work(self, item: int, seconds: float = 0.0) -> int:
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.started.append(item)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled.append(item)
            raise
        finally:
            self.active -= 1
        self.finished.append(item)
        return item * 10


@pytest.mark.virtual_time
async def test_results_come_back_in_input_order() -> None:
    """await map(...) gives a list in input order although items finish out of order."""
    tracker = Tracker()
    durations = [5, 1, 4, 2, 3, 0, 6]
    results = await corral.map(
        lambda i: tracker.work(i, durations[i]), range(len(durations)), limit=3
    )
    assert results == [i * 10 for i in range(len(durations))]
    assert tracker.finished != sorted(tracker.finished)  # they really finished out of order


@pytest.mark.virtual_time
async def test_concurrency_never_exceeds_limit_and_reaches_it() -> None:
    """At most `limit` calls run at once, and the window is kept full."""
    tracker = Tracker()
    await corral.map(lambda i: tracker.work(i, 1 + i % 3), range(50), limit=7)
    assert tracker.peak == 7


async def test_async_iterable_input() -> None:
    """An async generator works as input and is read lazily."""

    async def numbers() -> AsyncIterator[int]:
        for i in range(20):
            await asyncio.sleep(0)
            yield i

    async def double(i: int) -> int:
        return i * 2

    assert await corral.map(double, numbers(), limit=4) == [i * 2 for i in range(20)]


# A million coroutines cost seconds of CPU under the guard's origin tracking; the test is
# about laziness, not stalls, so the stall threshold is relaxed for it alone.
@pytest.mark.corral_guard(threshold=10_000)
async def test_a_million_lazy_items_keep_the_lead_bounded() -> None:
    """1,000,000 items from a generator: never more than `limit` pulled ahead of the work."""
    pulled = finished = lead = 0

    def source() -> Iterator[int]:
        nonlocal pulled, lead
        for i in range(1_000_000):
            pulled += 1
            lead = max(lead, pulled - finished)
            yield i

    async def work(item: int) -> None:
        nonlocal finished
        if item % 1000 == 0:
            await asyncio.sleep(0)  # let the other workers in now and then
        finished += 1

    results = await corral.map(work, source(), limit=100)
    assert len(results) == 1_000_000
    assert finished == 1_000_000
    assert lead <= 100


@pytest.mark.virtual_time
async def test_endless_iterator_with_early_exit() -> None:
    """An endless source streams; leaving early cancels work in flight and stops pulling."""
    tracker = Tracker()
    got: list[int] = []
    async with corral.map(lambda i: tracker.work(i, 1), tracker.source(None), limit=5) as stream:
        async for value in stream:
            got.append(value)
            if len(got) == 12:
                break
    pulled_at_exit = tracker.pulled
    await asyncio.sleep(10)
    assert tracker.pulled == pulled_at_exit  # nothing more pulled after leaving
    assert tracker.active == 0
    assert tracker.cancelled  # the in-flight ones were cancelled, not abandoned
    assert len(got) == 12


@pytest.mark.virtual_time
async def test_sliding_window_beats_fixed_batches_on_skewed_durations() -> None:
    """One slow item per batch: batches take 4x10 s, the window about 10 s + the rest."""
    durations = [10.0 if i % 10 == 0 else 1.0 for i in range(40)]

    async def work(i: int) -> None:
        await asyncio.sleep(durations[i])

    loop = asyncio.get_running_loop()
    start = loop.time()
    for batch_start in range(0, 40, 10):  # the field reports' "optimized gather"
        await asyncio.gather(*(work(i) for i in range(batch_start, batch_start + 10)))
    batches = loop.time() - start

    start = loop.time()
    await corral.map(work, range(40), limit=10)
    window = loop.time() - start
    assert batches == pytest.approx(40)
    assert window <= 0.6 * batches
    assert window == pytest.approx(13)  # four 10 s items overlap; 36 one-second items fill in


@pytest.mark.virtual_time
async def test_ordered_stream_with_a_slow_head_is_bounded_by_the_window() -> None:
    """ordered=True: the slow first item is yielded first; the lead stays within the window."""
    tracker = Tracker()
    got: list[int] = []
    durations = {0: 50.0}
    async with corral.map(
        lambda i: tracker.work(i, durations.get(i, 1.0)),
        tracker.source(100),
        limit=4,
        ordered=True,
        window=10,
    ) as stream:
        async for value in stream:
            got.append(value)
    assert got == [i * 10 for i in range(100)]
    assert tracker.max_lead <= 10
    assert tracker.peak == 4


@pytest.mark.virtual_time
async def test_unordered_stream_yields_in_completion_order() -> None:
    """ordered=False yields each result as soon as it is done."""
    durations = [3, 1, 2]
    tracker = Tracker()
    async with corral.map(
        lambda i: tracker.work(i, durations[i]), range(3), limit=3, ordered=False
    ) as stream:
        got = [value async for value in stream]
    assert got == [10, 20, 0]


@pytest.mark.virtual_time
async def test_first_failure_cancels_the_rest_and_raises_the_original() -> None:
    """on_error='raise': the failure is raised as itself; calls in flight are cancelled."""
    tracker = Tracker()
    error = LookupError("item 3")

    async def work(i: int) -> int:
        if i == 3:
            await asyncio.sleep(0.5)
            raise error
        return await tracker.work(i, 5)

    with pytest.raises(LookupError) as info:
        await corral.map(work, tracker.source(100), limit=5)
    assert info.value is error
    assert not isinstance(info.value, BaseExceptionGroup)
    assert tracker.active == 0
    assert sorted(tracker.cancelled) == [0, 1, 2, 4]
    assert tracker.pulled < 100


@pytest.mark.virtual_time
async def test_collect_gives_one_outcome_per_item() -> None:
    """on_error='collect': every item ends with an Outcome holding its value or error."""

    async def work(i: int) -> int:
        await asyncio.sleep(i % 3)
        if i % 4 == 0:
            raise ValueError(i)
        return i

    outcomes = await corral.map(work, range(10), limit=3, on_error="collect")
    assert [o.index for o in outcomes] == list(range(10))
    assert [o.item for o in outcomes] == list(range(10))
    assert [o.ok for o in outcomes] == [i % 4 != 0 for i in range(10)]
    assert outcomes[1].unwrap() == 1
    with pytest.raises(ValueError, match="4"):
        outcomes[4].unwrap()


@pytest.mark.virtual_time
async def test_cancelling_the_caller_cancels_and_awaits_everything() -> None:
    """Cancelling `await map(...)` cancels every call in flight and waits for them."""
    tracker = Tracker()
    task = asyncio.ensure_future(corral.map(lambda i: tracker.work(i, 100), range(50), limit=6))
    await asyncio.sleep(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tracker.active == 0
    assert len(tracker.cancelled) == 6


@pytest.mark.virtual_time
async def test_a_call_raising_cancelled_is_never_collected() -> None:
    """A CancelledError from inside a call ends the whole run; it is never an Outcome."""

    async def work(i: int) -> int:
        await asyncio.sleep(1)
        if i == 2:
            raise asyncio.CancelledError
        return i

    with pytest.raises(asyncio.CancelledError):
        await corral.map(work, range(10), limit=3, on_error="collect")


@pytest.mark.virtual_time
async def test_leaving_a_stream_closes_an_async_generator_source() -> None:
    """Leaving `async with` closes the async generator input (its finally runs at once)."""
    closed = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            for i in itertools.count():
                yield i
        finally:
            closed.set()

    async def work(i: int) -> int:
        await asyncio.sleep(1)
        return i

    async with corral.map(work, source(), limit=3) as stream:
        async for _ in stream:
            break
    assert closed.is_set()


@pytest.mark.virtual_time
async def test_rate_limits_starts() -> None:
    """rate='5/s' spaces the starts 200 ms apart on top of the concurrency limit."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    starts: list[float] = []

    async def work(i: int) -> None:
        starts.append(round(loop.time() - start, 9))

    await corral.map(work, range(6), limit=10, rate="5/s")
    assert starts == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])


@pytest.mark.virtual_time
async def test_queueing_for_a_rate_token_is_not_charged_to_the_timeout() -> None:
    """timeout= bounds the work only: items that queued 2 s for a token still succeed."""

    async def work(i: int) -> int:
        await asyncio.sleep(0.4)
        return i

    outcomes = await corral.map(
        work, range(5), limit=5, rate="2/s", timeout=0.5, on_error="collect"
    )
    assert all(o.ok for o in outcomes)


@pytest.mark.virtual_time
async def test_timeout_and_queue_timeout_failures_are_outcomes() -> None:
    """A slow call fails with DeadlineExceeded; a long queue for a token with QueueTimeout."""

    async def work(i: int) -> int:
        await asyncio.sleep(10 if i == 0 else 0)
        return i

    outcomes = await corral.map(
        work, range(4), limit=4, rate="1/s", timeout=1, queue_timeout=2.5, on_error="collect"
    )
    assert isinstance(outcomes[0].error, corral.DeadlineExceeded)
    assert outcomes[1].ok
    assert outcomes[2].ok
    assert isinstance(outcomes[3].error, corral.QueueTimeout)


async def test_a_source_error_ends_the_run() -> None:
    """An exception from the input itself is raised (it is no item's outcome)."""

    def source() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    async def work(i: int) -> int:
        return i

    with pytest.raises(OSError, match="disk gone"):
        await corral.map(work, source(), limit=2, on_error="collect")


async def test_a_run_is_used_once_and_needs_async_with_to_stream() -> None:
    """A MapRun is awaited or entered once; iterating it bare explains what to do."""

    async def work(i: int) -> int:
        return i

    run = corral.map(work, range(3), limit=2)
    with pytest.raises(TypeError, match="async with"):
        run.__aiter__()
    assert await run == [0, 1, 2]
    with pytest.raises(RuntimeError, match="only once"):
        await run


def test_bad_arguments_are_refused() -> None:
    """limit, window and on_error are checked when map is called."""

    async def work(i: int) -> int:
        return i

    with pytest.raises(ValueError, match="limit"):
        corral.map(work, [], limit=0)
    with pytest.raises(ValueError, match="window"):
        corral.map(work, [], limit=1, window=0)
    with pytest.raises(ValueError, match="on_error"):
        corral.map(work, [], limit=1, on_error="ignore")  # type: ignore[call-overload]


async def test_empty_input() -> None:
    """No items: an empty list, and an empty stream."""

    async def work(i: int) -> int:
        return i

    assert await corral.map(work, [], limit=3) == []
    async with corral.map(work, [], limit=3) as stream:
        assert [x async for x in stream] == []


async def _identity(i: int) -> int:
    return i


def test_a_dropped_run_warns_like_a_coroutine_at_the_line_that_made_it() -> None:
    """A MapRun collected without being awaited or entered warns 'was never awaited'."""

    def drop_a_run() -> None:
        corral.map(_identity, range(3), limit=2)  # the forgotten await
        gc.collect()

    with pytest.warns(RuntimeWarning, match=r"corral\.map\(_identity\) was never awaited") as w:
        drop_a_run()
    assert w[0].filename == __file__


async def test_a_run_awaited_entered_or_iterated_does_not_warn(
    recwarn: pytest.WarningsRecorder,
) -> None:
    """Awaiting, entering, or even wrongly iterating a run (a TypeError) gives no warning."""
    assert await corral.map(_identity, range(3), limit=2) == [0, 1, 2]
    async with corral.map(_identity, range(3), limit=2) as stream:
        assert sorted([x async for x in stream]) == [0, 1, 2]
    with pytest.raises(TypeError):
        corral.map(_identity, range(3), limit=2).__aiter__()
    gc.collect()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_on_error_raise_is_the_only_word_for_failing_fast() -> None:
    """map takes "raise" and "collect"; open_scope's old word "cancel" is not taken here."""
    with pytest.raises(ValueError, match="'raise' or 'collect'"):
        corral.map(_identity, [], limit=1, on_error="cancel")  # type: ignore[call-overload]
