"""Signals during a job: SIGINT and SIGTERM stop it gracefully; a third signal, at once.

``asyncio.run`` cancels the job at the first SIGINT and raises ``KeyboardInterrupt`` at the
second wherever the loop happens to be: in the writer's last commit or in the summary, which
were then lost (issue 12, item 10: five double Ctrl-Cs of six), with a traceback at times.
SIGTERM it leaves to the default action: the process died at once, its run left
``running`` and hundreds of responses received but not written. Here both signals mean:

- the first stops the job's *work* (the ``stoppable()`` block, where it fetches), not the
  job: what follows the block still runs, so what was received is written, the run is
  marked interrupted and the summary says how to resume. Exit code 128 + the signal
  (130 for SIGINT, 143 for SIGTERM), as a shell reports a process the signal killed;
- a second is noted with one line, and the stop goes on;
- a third, or a stop still going ``STOP_DEADLINE`` seconds after the first, ends the process
  at once: what was committed stays, as after a ``kill -9``, and the same command resumes.

The handlers are the loop's (``add_signal_handler``: they wake the loop at once and run as
its callbacks) while the job runs, and plain Python handlers around it, so a signal that
comes while ``asyncio.run`` sets up or winds down is counted too, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextvars import ContextVar
from types import FrameType
from typing import Any

STOP_DEADLINE = 10.0  # seconds a graceful stop may take before the process ends at once
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal stopped the job's work (raised out of ``stoppable()``).

    A ``BaseException``, as ``KeyboardInterrupt`` is: code that handles errors of its own
    (``except Exception``) lets it through to the job's runner.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Stop:
    """What the signals asked for, and the work to stop."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.work: asyncio.Task[Any] | None = None  # the task inside stoppable(), if any
        self.cancelled = False
        self._deadline: threading.Timer | None = None
        self.hooks: list[Callable[[], None]] = []  # called at the first signal (``on_signal``)

    def in_loop(self, signum: int) -> None:
        """Handle a signal as a callback of the loop (``add_signal_handler``)."""
        if self._count_one(signum):
            self.stop_work()

    def in_python(self, signum: int, frame: FrameType | None) -> None:
        """Handle a signal in Python's handler, which runs between any two bytecodes."""
        if self._count_one(signum) and self._loop is not None:
            self._loop.call_soon_threadsafe(self.stop_work)

    def _count_one(self, signum: int) -> bool:
        """Count a signal; return whether it is the first (the others are handled here)."""
        self._count += 1
        if self._count == 1:
            self.signum = signum
            self._deadline = threading.Timer(STOP_DEADLINE, self._abort, (_TOO_SLOW,))
            self._deadline.daemon = True
            self._deadline.start()
            for hook in self.hooks:
                hook()
            return True
        if self._count == 2:
            _say("corral: already stopping, writing what was received (signal again to abort)")
        else:
            self._abort(_AGAIN)
        return False

    def stop_work(self) -> None:
        """Cancel the work in ``stoppable()``, once (a block entered later stops at once)."""
        if self.work is not None and not self.cancelled:
            self.cancelled = True
            self.work.cancel()

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop

    def disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()

    def _abort(self, why: str) -> None:
        _say(f"corral: aborted ({why}); the records already written are kept")
        os._exit(128 + (self.signum or signal.SIGINT))


_AGAIN = "a third signal"
_TOO_SLOW = f"still stopping {STOP_DEADLINE:.0f} s after the signal"
_current: ContextVar[_Stop | None] = ContextVar("corral_stop", default=None)


def _say(line: str) -> None:
    # os.write, not print: a Python signal handler may run in the middle of a print to
    # stderr, and the buffered writer refuses to be entered again.
    with contextlib.suppress(OSError):
        os.write(2, (line + "\n").encode())


def run_interruptible(job: Coroutine[Any, Any, int]) -> int:
    """Run a job's coroutine to its end and return its exit code (128 + signal if stopped).

    For the command line's process: once a signal has stopped the job, later ones are
    ignored until the process exits (restored to the default, one arriving while the
    interpreter shuts down would kill the process and replace the exit code).
    """
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(job)  # (signal handlers can only be set from the main thread)
    stop = _Stop()
    previous = {signum: signal.signal(signum, stop.in_python) for signum in _SIGNALS}
    try:
        return asyncio.run(_main(job, stop))
    finally:
        stop.disarm()
        for signum, handler in previous.items():
            signal.signal(signum, handler if stop.signum is None else signal.SIG_IGN)


async def _main(job: Coroutine[Any, Any, int], stop: _Stop) -> int:
    loop = asyncio.get_running_loop()
    stop.attach(loop)
    try:
        for signum in _SIGNALS:
            loop.add_signal_handler(signum, stop.in_loop, signum)
        in_loop = True
    except NotImplementedError:  # (Windows' loops have none: Python's handlers stay)
        in_loop = False
    token = _current.set(stop)
    try:
        return await job
    except Interrupted as exc:
        return 128 + exc.signum
    finally:
        _current.reset(token)
        for signum in _SIGNALS if in_loop else ():  # Python's until asyncio.run winds down
            loop.remove_signal_handler(signum)
            signal.signal(signum, stop.in_python)
        stop.attach(None)


@contextlib.asynccontextmanager
async def stoppable() -> AsyncIterator[None]:
    """Mark a job's work: a signal cancels it, and ``Interrupted`` comes out of the block.

    Outside ``run_interruptible`` (the job run from Python) it does nothing.

    Raises:
        Interrupted: a signal came before the block or while it ran.
    """
    stop = _current.get()
    if stop is None:
        yield
        return
    task = asyncio.current_task()
    assert task is not None
    if stop.signum is not None:  # the signal came before the work began
        raise Interrupted(stop.signum)
    stop.work = task
    try:
        yield
    except asyncio.CancelledError:
        if not stop.cancelled:
            raise
        task.uncancel()
        raise Interrupted(stop.signum or signal.SIGINT) from None
    finally:
        stop.work = None
    if stop.cancelled:  # the work swallowed the cancellation: it did not finish all the same
        task.uncancel()
        raise Interrupted(stop.signum or signal.SIGINT)


def on_signal(hook: Callable[[], None]) -> None:
    """Call ``hook`` at the job's first signal, before its work is stopped (in a signal
    handler, maybe: quick, and no lock). Outside ``run_interruptible``, never."""
    stop = _current.get()
    if stop is not None:
        stop.hooks.append(hook)
