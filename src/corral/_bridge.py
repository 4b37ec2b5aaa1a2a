"""``run_sync``: call async code from sync code, even where a loop is already running.

Two situations, two answers, and never a patch of asyncio (nest_asyncio re-enters a running
loop, which breaks the guarantees every other asyncio library relies on):

- **No loop running in this thread** (a script, a worker thread): run the coroutine on one
  long-lived loop *per thread*, kept between calls, so a client opened in one call still
  works in the next. ``asyncio.run()`` would make and close a new loop every call.
- **A loop is running in this thread** (Jupyter, a framework calling sync code): that loop
  cannot be re-entered, so the coroutine runs on corral's one background loop thread (made
  once, not per call as in the field reports) and the caller blocks until it ends.

The second case can deadlock: a coroutine that waits for something only the caller's loop
can do would wait forever, because the caller's loop is blocked in ``run_sync``. Whatever
another thread hands to a blocked loop lands in its ready queue and stays there, so
``run_sync`` watches that queue while it waits; when work has sat there for
``deadlock_timeout`` while the coroutine is still unfinished, it cancels the coroutine and
raises ``BridgeDeadlock`` instead of hanging. Awaiting a future of the caller's loop directly
fails at once in asyncio ("attached to a different loop"); that becomes a ``BridgeError``
saying what to do.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import selectors
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from corral._callables import require_function
from corral._deadlines import fail_after
from corral._exceptions import BridgeDeadlock, BridgeError

R = TypeVar("R")
_POLL = 0.02  # seconds between looks at the caller's loop while blocked
_CROSS_LOOP = ("attached to a different loop", "bound to a different event loop")


# Loops this process inherited through fork that were running in a thread of the parent:
# they cannot be closed, and are kept so that collecting them does not try to.
_inherited: list[asyncio.AbstractEventLoop] = []


def _disown(loop: asyncio.AbstractEventLoop) -> None:
    """Close a loop this process inherited through ``fork``, leaving the parent's working.

    On Linux the copy shares the parent's epoll instance, so closing it as it stands would
    take the parent's wake-up pipe out of the parent's epoll, and the parent's loop would
    sleep through every ``call_soon_threadsafe``. The copy gets a selector of its own first
    (closing the inherited one closes this process's descriptor only). asyncio has no public
    way to do this, hence the private attribute (docs/design.md, "run_sync and fork").
    """
    inherited = getattr(loop, "_selector", None)
    if inherited is not None:
        setattr(loop, "_selector", selectors.DefaultSelector())  # noqa: B010
        inherited.close()
    if loop.is_running():  # it was running in one of the parent's threads
        _inherited.append(loop)
    elif not loop.is_closed():
        loop.close()


class _ThreadRunner:
    """The long-lived runner of one thread; closed when the thread ends or at exit."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        # The loop the runner makes, kept where the factory can put it (a bound method as
        # the factory would make a cycle, leaving the runner to the garbage collector, in
        # whatever thread it happens to run, instead of closing it as its thread ends).
        self.loops: list[asyncio.AbstractEventLoop] = []
        loops = self.loops

        def new_loop() -> asyncio.AbstractEventLoop:
            loops.append(asyncio.new_event_loop())
            return loops[-1]

        self.runner = asyncio.Runner(loop_factory=new_loop)

    def close(self) -> None:
        """Close the runner; in a forked child (CPython drops the parent's other threads
        there, and with them their runners), let go of the inherited loop instead."""
        if self.pid == os.getpid():
            self.runner.close()
        else:
            while self.loops:
                _disown(self.loops.pop())

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # best effort at thread teardown
            self.close()


_local = threading.local()


def _thread_runner() -> asyncio.Runner:
    holder: _ThreadRunner | None = getattr(_local, "holder", None)
    if holder is not None and holder.pid != os.getpid():
        holder.close()  # inherited through fork
        holder = None
    if holder is None:
        holder = _local.holder = _ThreadRunner()
        if threading.current_thread() is threading.main_thread():
            atexit.register(holder.close)
    return holder.runner


class _BackgroundLoop:
    """One daemon thread running one loop, started on first use, for calls from running loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self.loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._serve, args=(loop, ready), name="corral-bridge", daemon=True
                )
                thread.start()
                ready.wait()
                if self.loop is None:
                    atexit.register(self.stop)
                self.loop, self._thread = loop, thread
            return self.loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    def abandon(self, loop: asyncio.AbstractEventLoop) -> None:
        """Forget a wedged loop so that the next call starts a fresh one."""
        with self._lock:
            if self.loop is loop:
                self.loop = None
                self._thread = None

    def after_fork(self) -> None:
        """In a forked child: the loop's thread is gone; start afresh on the next call."""
        self._lock = threading.Lock()  # (another thread may have held it at the fork)
        loop, self.loop, self._thread = self.loop, None, None
        if loop is not None:
            _disown(loop)

    def stop(self) -> None:
        with self._lock:
            loop, thread = self.loop, self._thread
            self.loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=1.0)
        if not thread.is_alive():
            loop.close()


_background = _BackgroundLoop()
os.register_at_fork(after_in_child=_background.after_fork)


def run_sync(
    fn: Callable[..., Coroutine[Any, Any, R]],
    /,
    *args: Any,
    timeout: float | None = None,
    deadlock_timeout: float = 2.0,
) -> R:
    """Run ``fn(*args)`` to completion from sync code and return its result.

    Works with or without an event loop running in the calling thread (see the module notes).

    Args:
        fn: an async function; it is called once, on the loop that runs it.
        *args: its positional arguments (``functools.partial`` for keywords).
        timeout: the most seconds the coroutine may take.
        deadlock_timeout: inside a running loop, how long work handed to the blocked caller's
            loop may wait before the call is declared deadlocked.

    Returns:
        What the coroutine returned.

    Raises:
        BridgeDeadlock: the coroutine waited for the blocked caller's loop, or ``run_sync``
            was called from a coroutine that ``run_sync`` itself is running.
        BridgeError: the coroutine used an object bound to the caller's loop.
        DeadlineExceeded: ``timeout`` passed.
        TypeError: ``fn`` is a coroutine object rather than a function.
    """
    require_function(fn, usage="write run_sync(fetch, url), not run_sync(fetch(url))")
    try:
        caller = asyncio.get_running_loop()
    except RuntimeError:
        return _thread_runner().run(_bounded(fn, args, timeout))
    if caller is _background.loop:
        raise BridgeDeadlock(
            "run_sync was called from a coroutine that run_sync is running; await it instead"
        )
    return _run_beside(caller, fn, args, timeout, deadlock_timeout)


async def _bounded(
    fn: Callable[..., Coroutine[Any, Any, R]], args: Any, seconds: float | None
) -> R:
    with fail_after(seconds):
        return await fn(*args)


def _run_beside(
    caller: asyncio.AbstractEventLoop,
    fn: Callable[..., Coroutine[Any, Any, R]],
    args: Any,
    timeout: float | None,
    deadlock_timeout: float,
) -> R:
    loop = _background.get()
    # The caller's loop is blocked in this call, so nothing removes handles from its ready
    # queue; growth means another thread handed it work it cannot do until we return.
    # (Measured before the coroutine starts, which may post to it at once.)
    ready = getattr(caller, "_ready", None)
    queued_at_start = len(ready) if ready is not None else 0
    future = asyncio.run_coroutine_threadsafe(_bounded(fn, args, timeout), loop)
    stuck_since: float | None = None
    while True:
        concurrent.futures.wait([future], timeout=_POLL)
        if future.done():
            return _unwrap(future)
        if ready is None or len(ready) <= queued_at_start:
            continue
        now = time.monotonic()
        stuck_since = stuck_since or now
        if now - stuck_since >= deadlock_timeout:
            future.cancel()
            if not _responsive(loop):
                _background.abandon(loop)  # wedged by a blocking wait; start afresh next time
            raise BridgeDeadlock(
                f"{_name(fn)} waited {deadlock_timeout:g}s for the event loop that called "
                "run_sync, which run_sync blocks; await the coroutine there instead"
            )


def _unwrap(future: concurrent.futures.Future[R]) -> R:
    try:
        return future.result()
    except RuntimeError as exc:
        if any(text in str(exc) for text in _CROSS_LOOP):
            raise BridgeError(
                "the coroutine used an object bound to the calling event loop; inside a running "
                "loop run_sync runs it on corral's background loop: create such objects inside "
                "the coroutine, or await it directly"
            ) from exc
        raise


def _responsive(loop: asyncio.AbstractEventLoop) -> bool:
    answered = threading.Event()
    loop.call_soon_threadsafe(answered.set)
    return answered.wait(0.5)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
