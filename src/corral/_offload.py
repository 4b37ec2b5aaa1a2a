"""Offloading blocking work: ``to_thread`` and ``to_process`` on executors corral owns.

Two defects of the obvious tools, and how this module avoids them:

- ``ThreadPoolExecutor`` joins its (non-daemon) threads at interpreter exit, so one call stuck
  in a blocking read hangs exit forever. corral's thread pool uses daemon threads and is
  never joined. (``asyncio.to_thread`` also queues unboundedly inside the executor.)
- When the task awaiting ``asyncio.to_thread`` is cancelled, the thread keeps running, but
  any semaphore the caller held around it is already released: the bound is a lie. Here the
  slot of a ``ThreadLimit`` is released by the executor's own completion callback, when the
  thread really ends, whatever happened to the awaiting task.

``ThreadLimit`` is thread-safe and loop-agnostic (one default limit serves every loop and
thread in the process), and waiting for a slot is an ordinary cancellable await.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import multiprocessing
import os
import queue
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadLimitStatistics:
    """A snapshot of a ``ThreadLimit``.

    Attributes:
        total: the bound.
        borrowed: slots held now, by running work (including work whose caller gave up).
        waiting: callers waiting for a slot.
    """

    total: int
    borrowed: int
    waiting: int


class ThreadLimit:
    """Bound how much offloaded work runs at once; thread-safe, usable from any loop.

    Args:
        total: the most jobs running at once.

    Raises:
        ValueError: ``total`` below 1.
    """

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError("total must be at least 1")
        self._total = total
        self._borrowed = 0
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()
        _limits.add(self)

    def _after_fork(self) -> None:
        # In a forked child the parent's running work and waiters do not exist: their slots
        # would never come back. (Another thread may have held the lock at the fork.)
        self._lock = threading.Lock()
        self._borrowed = 0
        self._waiters = deque()

    @property
    def total(self) -> int:
        """Return the bound."""
        return self._total

    async def acquire(self) -> None:
        """Wait for a free slot and take it (first come, first served)."""
        with self._lock:
            if self._borrowed < self._total and not self._waiters:
                self._borrowed += 1
                return
            loop = asyncio.get_running_loop()
            entry = (loop, loop.create_future())
            self._waiters.append(entry)
        try:
            await entry[1]
        except asyncio.CancelledError:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                    raise
            self.release()  # the slot was handed to us as we were cancelled: pass it on
            raise

    def release(self) -> None:
        """Give a slot back, handing it straight to the longest waiter; callable from any thread."""
        with self._lock:
            while self._waiters:
                loop, future = self._waiters.popleft()
                if not loop.is_running():
                    # its loop's run is over (a run_sync call that returned with this task
                    # still waiting, its loop kept for the next call): granted there, the
                    # slot would wait for that loop to run again, or for ever
                    continue
                try:
                    loop.call_soon_threadsafe(_grant, future)
                except RuntimeError:  # that waiter's loop is closed: it will never take it
                    continue
                return
            if self._borrowed == 0:
                raise RuntimeError("ThreadLimit released more often than acquired")
            self._borrowed -= 1

    def statistics(self) -> ThreadLimitStatistics:
        """Return the bound, the slots held, and the waiters."""
        with self._lock:
            return ThreadLimitStatistics(
                total=self._total, borrowed=self._borrowed, waiting=len(self._waiters)
            )

    def __repr__(self) -> str:
        return f"<ThreadLimit {self._borrowed}/{self._total} waiting={len(self._waiters)}>"


def _grant(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _DaemonThreadPool:
    """Daemon worker threads fed by one queue; grows on demand and is never joined."""

    def __init__(self) -> None:
        self.after_fork()

    def after_fork(self) -> None:
        """Start empty: in a forked child the parent's threads do not exist."""
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._count = 0

    def submit(self, fn: Callable[..., R], args: tuple[Any, ...]) -> concurrent.futures.Future[R]:
        future: concurrent.futures.Future[R] = concurrent.futures.Future()
        self._jobs.put((future, contextvars.copy_context(), fn, args))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                self._count += 1
                name = f"corral-thread-{self._count}"
            threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            future, context, fn, args = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                self._idle.release()
                continue
            result: Any = None
            error: BaseException | None = None
            try:
                result = context.run(fn, *args)
            except BaseException as exc:
                error = exc
            # Idle again before the caller hears back, so its next job finds this thread.
            self._idle.release()
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
            del future, context, fn, args, result, error  # drop references before idling


_limits: weakref.WeakSet[ThreadLimit] = weakref.WeakSet()
_default_threads = ThreadLimit(40)
_threads = _DaemonThreadPool()


def default_thread_limit() -> ThreadLimit:
    """Return the process-wide limit ``to_thread`` uses when given none (40 threads)."""
    return _default_threads


async def to_thread(fn: Callable[..., R], /, *args: Any, limiter: ThreadLimit | None = None) -> R:
    """Run blocking ``fn(*args)`` in a corral thread and await its result.

    Args:
        fn: the blocking function (``functools.partial`` for keyword arguments).
        *args: its positional arguments.
        limiter: the slot pool to draw from; default ``default_thread_limit()``. The slot is
            held until the thread has finished, even if the awaiting task is cancelled.

    Returns:
        What ``fn`` returned.
    """
    limiter = limiter or _default_threads
    await limiter.acquire()
    try:
        future = _threads.submit(fn, args)
    except BaseException:
        limiter.release()
        raise
    future.add_done_callback(lambda _: limiter.release())
    return await asyncio.wrap_future(future)


class _ProcessPool:
    """A lazily made process pool whose workers are terminated, not awaited, at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self.limit = ThreadLimit(os.cpu_count() or 1)

    def get(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                methods = multiprocessing.get_all_start_methods()
                method = "forkserver" if "forkserver" in methods else "spawn"
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self.limit.total, mp_context=multiprocessing.get_context(method)
                )
                # concurrent.futures joins its workers in a threading-atexit hook, which would
                # wait forever for a stuck job. Hooks run last-registered first, so this one
                # terminates the workers before that join. (A private hook, stable since 3.9.)
                threading._register_atexit(self.shutdown)  # type: ignore[attr-defined]
            return self._executor

    def after_fork(self) -> None:
        """Forget the parent's executor: its processes and threads are the parent's."""
        self._lock = threading.Lock()
        self._executor = None

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list(getattr(executor, "_processes", {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()


_processes = _ProcessPool()


def _after_fork() -> None:
    _threads.after_fork()
    _processes.after_fork()
    for limit in list(_limits):
        limit._after_fork()


os.register_at_fork(after_in_child=_after_fork)


async def to_process(fn: Callable[..., R], /, *args: Any, limiter: ThreadLimit | None = None) -> R:
    """Run ``fn(*args)`` in a corral worker process and await its result.

    ``fn`` and its arguments must be picklable (a module-level function). Workers start with
    ``forkserver`` (or ``spawn``), never ``fork``, so they are safe beside threads.

    Args:
        fn: the function, typically CPU-bound.
        *args: its positional arguments.
        limiter: the slot pool to draw from; default one slot per CPU.

    Returns:
        What ``fn`` returned.
    """
    slots = limiter or _processes.limit
    await slots.acquire()

    def submit() -> concurrent.futures.Future[R]:
        try:
            future = _processes.get().submit(fn, *args)
        except BaseException:
            slots.release()
            raise
        future.add_done_callback(lambda _: slots.release())
        return future

    # Submitting may start a worker process, which waits on the fork server's answer (0.1 s
    # and more on a loaded machine): in a thread, never on the event loop. Cancelled while
    # it runs, the submission still completes and frees its slot when the work ends.
    return await asyncio.wrap_future(await to_thread(submit))
