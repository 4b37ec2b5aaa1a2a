"""Deadlines: ``fail_after`` raises when time runs out, ``move_on_after`` stops silently.

Both are cancel scopes over the current task, built like ``asyncio.Timeout`` (3.12+): the
deadline cancels the task, and on exit the scope claims only its *own* cancellation by
comparing ``Task.cancelling()`` with its value on entry, so an outer cancellation (an
enclosing timeout, a scope's abort, Ctrl-C) always propagates untouched. They work as ``with``
and as ``async with``.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import ClassVar

from corral._exceptions import DeadlineExceeded


class _Deadline:
    """The shared machinery of ``CancelScope`` and ``FailScope``."""

    __slots__ = ("_cancelling", "_deadline", "_expired", "_handle", "_relative", "_task")
    _RAISES: ClassVar[bool] = False

    def __init__(self, *, deadline: float | None, relative: float | None) -> None:
        self._deadline = deadline
        self._relative = relative
        self._expired = False
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._cancelling = 0

    @property
    def deadline(self) -> float | None:
        """Return the loop time at which the scope expires (None: never, or not entered)."""
        return self._deadline

    @property
    def expired(self) -> bool:
        """Return whether the deadline passed and cancelled the work inside the scope."""
        return self._expired

    def _enter(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a corral deadline must be entered inside a task")
        if self._task is not None:
            raise RuntimeError("a corral deadline cannot be entered twice")
        loop = task.get_loop()
        self._task = task
        self._cancelling = task.cancelling()
        if self._deadline is None and self._relative is not None:
            self._deadline = loop.time() + self._relative
        if self._deadline is not None:
            if self._deadline <= loop.time():
                self._handle = loop.call_soon(self._on_deadline)
            else:
                self._handle = loop.call_at(self._deadline, self._on_deadline)

    def _exit(self, exc_type: type[BaseException] | None, exc: BaseException | None) -> bool:
        """Disarm; return True to swallow the scope's own cancellation (move_on only)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        assert self._task is not None
        if not self._expired:
            return False
        # Claim the cancellation only if no one else asked for one meanwhile.
        if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            if self._RAISES:
                raise DeadlineExceeded(self._describe()) from exc
            return True
        return False

    def _on_deadline(self) -> None:
        assert self._task is not None
        self._handle = None
        self._expired = True
        self._task.cancel(msg="corral deadline")

    def _describe(self) -> str:
        if self._relative is not None:
            return f"deadline of {self._relative:g}s exceeded"
        return "deadline exceeded"

    def __repr__(self) -> str:
        kind = "fail" if self._RAISES else "move_on"
        return f"<corral {kind} scope deadline={self._deadline} expired={self._expired}>"


class CancelScope(_Deadline):
    """A deadline that silently stops the work inside it; see ``move_on_after``."""

    __slots__ = ()

    def __enter__(self) -> CancelScope:
        self._enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return self._exit(exc_type, exc)

    async def __aenter__(self) -> CancelScope:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return self._exit(exc_type, exc)


class FailScope(_Deadline):
    """A deadline that raises ``DeadlineExceeded``; see ``fail_after``. It never swallows."""

    __slots__ = ()
    _RAISES = True

    def __enter__(self) -> FailScope:
        self._enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc_type, exc)

    async def __aenter__(self) -> FailScope:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc_type, exc)


def fail_after(seconds: float | None) -> FailScope:
    """Return a scope that raises ``DeadlineExceeded`` when ``seconds`` pass inside it.

    Args:
        seconds: the time the work may take; None means no deadline.

    Returns:
        A scope for ``with`` or ``async with`` inside a task.

    Raises:
        DeadlineExceeded: on exit, when the deadline cancelled the work. It is also a
            ``TimeoutError``.
    """
    return FailScope(deadline=None, relative=_check(seconds))


def fail_at(deadline: float | None) -> FailScope:
    """Return a scope like ``fail_after`` for an absolute loop time (``loop.time()``)."""
    return FailScope(deadline=deadline, relative=None)


def move_on_after(seconds: float | None) -> CancelScope:
    """Return a scope that silently stops the work inside it after ``seconds``.

    Args:
        seconds: the time the work may take; None means no deadline.

    Returns:
        A scope for ``with`` or ``async with``; its ``expired`` says whether it stopped work.
    """
    return CancelScope(deadline=None, relative=_check(seconds))


def move_on_at(deadline: float | None) -> CancelScope:
    """Return a scope like ``move_on_after`` for an absolute loop time (``loop.time()``)."""
    return CancelScope(deadline=deadline, relative=None)


def _check(seconds: float | None) -> float | None:
    if seconds is not None and seconds != seconds:  # NaN would never fire
        raise ValueError("a deadline cannot be NaN")
    return seconds
