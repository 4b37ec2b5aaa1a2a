"""The workers of one ``corral.map`` run: a sliding window over a lazy input.

The shape is a *sliding window over a lazy input*, run by at most ``limit`` worker tasks:

- A worker pulls the next item only when it is free, so a coroutine exists only once a slot
  is free and memory follows ``limit``, not the input (the reports' ``gather(*[f(x) for x in
  huge])`` builds every coroutine first). An endless iterator works.
- A worker takes the next item as soon as its last one ends, so one slow item never holds up
  the others (the reports' fixed batches each wait for their slowest item).
- Workers are started lazily, one more per item pulled until there are ``limit``; a worker
  loop costs less per item than a task per item, which keeps ``map`` close to a hand-written
  ``asyncio.Queue`` worker pool (see ``bench/bench_map.py``).

Results are handed to ``MapRun`` (``corral._map``), which gathers them into a list in input
order or streams them (completion order, or input order through a bounded reorder window).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, Literal

from corral._deadlines import fail_after
from corral._outcome import Outcome
from corral._ratelimit import RateLimit

MISSING: Any = object()
"""No value: an item not finished yet, no result ready, or the input exhausted."""


class MapWorkers:
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
        self.tasks: set[asyncio.Task[None]] = set()
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
        self.tasks.add(task)
        task.add_done_callback(self._worker_done)

    async def _work(self) -> None:
        while self.failure is None and not self.closing:
            if self.stream is not None and self.pulled - self.emitted >= self.window:
                await self._wait_for_room()
                continue
            index, item = await self._pull() if self.aiter is not None else self._pull_sync()
            if item is MISSING:
                return
            if len(self.tasks) < self.limit and not (self.exhausted or self.closing):
                self._spawn()
            if self.limiter is not None:
                try:
                    await self.limiter.acquire(timeout=self.queue_timeout)
                except Exception as exc:
                    self._finish(index, item, MISSING, exc)
                    continue
            try:
                if self.timeout is None:
                    value = await self.fn(item)
                else:
                    with fail_after(self.timeout):
                        value = await self.fn(item)
            except Exception as exc:
                self._finish(index, item, MISSING, exc)
            else:
                self._finish(index, item, value, None)

    def _pull_sync(self) -> tuple[int, Any]:
        if self.exhausted:
            return -1, MISSING
        assert self.iter is not None
        try:
            item = next(self.iter)
        except StopIteration:
            self.exhausted = True
            return -1, MISSING
        except Exception as exc:
            self.exhausted = True
            self._fail(exc)
            return -1, MISSING
        return self._claim(item)

    async def _pull(self) -> tuple[int, Any]:
        assert self.aiter is not None
        assert self.pull_lock is not None
        async with self.pull_lock:
            if self.exhausted:
                return -1, MISSING
            try:
                item = await anext(self.aiter)
            except StopAsyncIteration:
                self.exhausted = True
                return -1, MISSING
            except Exception as exc:
                self.exhausted = True
                self._fail(exc)
                return -1, MISSING
            return self._claim(item)

    def _claim(self, item: Any) -> tuple[int, Any]:
        index = self.pulled
        self.pulled += 1
        if self.stream is None:
            self.results.append(MISSING)
        return index, item

    def _finish(self, index: int, item: Any, value: Any, error: Exception | None) -> None:
        if self.collect:
            value = Outcome(index, item, None if value is MISSING else value, error)
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
            for task in self.tasks:
                if task is not current:
                    task.cancel()
            self._wake()

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            if not self.closing and self.failure is None:
                # A call raised CancelledError though nobody cancelled the run: never an
                # outcome, never silently dropped, so the whole run ends cancelled.
                self._fail(asyncio.CancelledError("a call inside corral.map was cancelled"))
        elif (exc := task.exception()) is not None:
            self._fail(exc)  # a BaseException (KeyboardInterrupt...) escaped a worker
        if not self.tasks:
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
        """Return the next deliverable result, or ``MISSING`` when none is ready."""
        if self.stream == "unordered":
            if not self.ready:
                return MISSING
            value = self.ready.popleft()
        else:
            value = self.pending.pop(self.emitted, MISSING)
            if value is MISSING:
                return MISSING
        self.emitted += 1
        if self.room is not None:
            self.room.set_result(None)
            self.room = None
        return value

    async def shutdown(self) -> None:
        """Cancel the workers, wait until every one has ended, and close the input."""
        self.closing = True
        for task in self.tasks:
            task.cancel()
        while self.tasks:
            # Keep waiting even if we are cancelled meanwhile: no worker may outlive the run.
            done = asyncio.gather(*self.tasks, return_exceptions=True)
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
