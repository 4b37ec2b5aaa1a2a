"""Hooks on asyncio's loop classes: know when a loop runs, closes, and reports an error.

The guard must see every loop, including the ones ``asyncio.run`` makes after ``install()``.
asyncio has no hook for that, so four methods are wrapped once, at class level, and the
wrappers do nothing but call through while no guard is on:

- ``BaseEventLoop.run_forever`` (``run_until_complete`` goes through it): the loop starts and
  stops running on this thread;
- ``asyncio.Runner.close`` (``asyncio.run`` and pytest-asyncio go through it): the runner is
  about to cancel the tasks still pending;
- ``BaseEventLoop.close``: the loop closes (pending tasks of loops closed by hand, open sessions);
- ``BaseEventLoop.call_exception_handler``: "Task exception was never retrieved" and friends.

Loops that do not derive from ``BaseEventLoop`` (uvloop) are not seen: see docs/guard.md.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any, Protocol


class LoopListener(Protocol):
    """What the hooks tell the guard."""

    def loop_started(self, loop: asyncio.AbstractEventLoop) -> None:
        """``loop`` starts running on the current thread."""

    def loop_stopped(self, loop: asyncio.AbstractEventLoop) -> None:
        """``loop`` stopped running."""

    def runner_closing(self, loop: asyncio.AbstractEventLoop) -> None:
        """An ``asyncio.Runner`` is about to cancel ``loop``'s pending tasks and close it."""

    def loop_closing(self, loop: asyncio.AbstractEventLoop) -> None:
        """``loop`` is about to close."""

    def exception_context(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> bool:
        """Look at an exception-handler context; return whether it was fully handled."""


_listener: LoopListener | None = None
_installed = False


def _safely(call: Callable[..., object], *args: object) -> object:
    """Run a listener call; a bug in the guard must never break the user's loop."""
    try:
        return call(*args)
    except Exception:
        print("corral guard: internal error (please report it):", file=sys.stderr)
        traceback.print_exc()
        return None


def set_listener(listener: LoopListener | None) -> None:
    """Install the hooks (once) and route them to ``listener`` (``None``: call through)."""
    global _listener
    _install()
    _listener = listener


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    base = asyncio.BaseEventLoop
    base.run_forever = _wrap_run_forever(base.run_forever)  # type: ignore[method-assign, assignment]
    base.close = _wrap_close(base.close)  # type: ignore[method-assign, assignment]
    base.call_exception_handler = _wrap_handler(  # type: ignore[method-assign, assignment]
        base.call_exception_handler
    )
    asyncio.Runner.close = _wrap_runner_close(asyncio.Runner.close)  # type: ignore[method-assign, assignment]


def _wrap_run_forever(
    original: Callable[[asyncio.BaseEventLoop], None],
) -> Callable[[asyncio.BaseEventLoop], None]:
    @functools.wraps(original)
    def run_forever(self: asyncio.BaseEventLoop) -> None:
        if self.is_running() or self.is_closed():
            return original(self)  # it raises; nothing to watch
        listener = _listener
        if listener is not None:
            _safely(listener.loop_started, self)
        try:
            return original(self)
        finally:
            # A guard may have started or stopped meanwhile (watch() inside a coroutine): tell
            # the one in force now.
            current = _listener
            if current is not None:
                _safely(current.loop_stopped, self)

    return run_forever


def _wrap_close(
    original: Callable[[asyncio.BaseEventLoop], None],
) -> Callable[[asyncio.BaseEventLoop], None]:
    @functools.wraps(original)
    def close(self: asyncio.BaseEventLoop) -> None:
        listener = _listener
        if listener is not None and not self.is_running() and not self.is_closed():
            _safely(listener.loop_closing, self)
        return original(self)

    return close


def _wrap_runner_close(
    original: Callable[[asyncio.Runner], None],
) -> Callable[[asyncio.Runner], None]:
    @functools.wraps(original)
    def close(self: asyncio.Runner) -> None:
        listener = _listener
        # Runner keeps its loop in a private attribute; get_loop() would create one.
        loop = getattr(self, "_loop", None)
        if (
            listener is not None
            and isinstance(loop, asyncio.AbstractEventLoop)
            and not loop.is_closed()
            and not loop.is_running()
        ):
            _safely(listener.runner_closing, loop)
        return original(self)

    return close


def _wrap_handler(
    original: Callable[[asyncio.BaseEventLoop, dict[str, Any]], None],
) -> Callable[[asyncio.BaseEventLoop, dict[str, Any]], None]:
    @functools.wraps(original)
    def call_exception_handler(self: asyncio.BaseEventLoop, context: dict[str, Any]) -> None:
        listener = _listener
        if listener is not None and _safely(listener.exception_context, self, context):
            return None
        return original(self, context)

    return call_exception_handler
