"""Structured task scopes: ``open_scope`` owns its children and never leaves one behind.

The exit protocol follows ``asyncio.TaskGroup`` (3.12): when a child fails, the scope cancels
the other children and the body, and on exit takes back only the cancellation it requested
(``Task.uncancel`` against the count on entry), so a cancellation from outside always
propagates. It differs where the field reports needed something else:

- the first failure is raised as itself, not wrapped in an ``ExceptionGroup`` of one (the
  others are listed in a note and kept in ``scope.errors``);
- ``on_error="collect"`` lets children fail without disturbing their siblings;
- ``limit=`` makes ``spawn`` wait while the scope is full, and the child's coroutine is only
  created once it has a slot (backpressure with memory bounded by the limit); ``start_soon``
  (sync, like trio's and anyio's) never waits: past the limit its child is a task queued for a
  slot, its function called only once it has one;
- ``on_exit`` callbacks run after the children, shielded from cancellation and time-bounded.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Literal, TypeVar

from corral._callables import require_function
from corral._exceptions import ScopeClosed
from corral._options import OnError, check_on_error

R = TypeVar("R")


class Scope:
    """A set of child tasks that the scope's ``async with`` block waits for; see ``open_scope``."""

    def __init__(self, *, limit: int | None, on_error: OnError, cleanup_timeout: float) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        self._collect = check_on_error(on_error, legacy_cancel=True) == "collect"
        self._slots = asyncio.Semaphore(limit) if limit is not None else None
        self._holding: set[asyncio.Task[Any]] = set()  # children that hold one of the slots
        self._cleanup_timeout = cleanup_timeout
        self._cleanups: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._child_errors: list[BaseException] = []
        self._body_error: BaseException | None = None
        self._cleanup_errors: list[Exception] = []
        self._base_error: BaseException | None = None
        self._parent: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._state: Literal["new", "open", "exiting", "closed"] = "new"
        self._aborting = False
        self._parent_cancel_requested = False
        self._all_done: asyncio.Future[None] | None = None

    @property
    def errors(self) -> tuple[BaseException, ...]:
        """Return the failures seen so far: children's, the body's, and cleanup callbacks'."""
        body = [self._body_error] if self._body_error is not None else []
        return (*self._child_errors, *body, *self._cleanup_errors)

    @property
    def running(self) -> int:
        """Return how many children are running now (``start_soon`` ones queued included)."""
        return len(self._tasks)

    async def spawn(
        self, fn: Callable[..., Coroutine[Any, Any, R]], /, *args: Any, name: str | None = None
    ) -> asyncio.Task[R]:
        """Start ``fn(*args)`` as a child task, waiting first for a free slot if the scope is full.

        The coroutine is created only once the child has a slot, so a waiting ``spawn``
        holds no coroutine that could be left un-awaited.

        Returns:
            The child's task.

        Raises:
            ScopeClosed: the scope has not been entered, is cancelling its children, or is done.
            TypeError: ``fn`` is a coroutine object, or does not return a coroutine.
        """
        require_function(fn, usage="write scope.spawn(fetch, url), not scope.spawn(fetch(url))")
        self._check_open()
        if self._slots is not None:
            await self._slots.acquire()
            try:
                self._check_open()
            except ScopeClosed:
                self._slots.release()
                raise
        try:
            task = self._start(_coroutine(fn, args), name)
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise
        if self._slots is not None:
            self._holding.add(task)
        return task

    def start_soon(
        self, fn: Callable[..., Coroutine[Any, Any, R]], /, *args: Any, name: str | None = None
    ) -> asyncio.Task[R]:
        """Start ``fn(*args)`` as a child task now, without waiting (trio's and anyio's form).

        In a scope with a ``limit`` that is full, the child is a task queued for a slot, in
        turn with waiting ``spawn`` calls; ``fn`` is called only once it has one, so a child
        cancelled while queued never made a coroutine. The queue is not bounded: for
        backpressure, ``await scope.spawn(...)``.

        Returns:
            The child's task.

        Raises:
            ScopeClosed: the scope has not been entered, is cancelling its children, or is done.
            TypeError: ``fn`` is a coroutine object or (called at once when the scope has no
                limit) does not return a coroutine.
        """
        require_function(fn, usage="write scope.start_soon(fetch, url), not start_soon(fetch(url))")
        self._check_open()
        if self._slots is None:
            return self._start(_coroutine(fn, args), name)
        return self._start(self._when_free(fn, args), name)

    async def _when_free(self, fn: Callable[..., Coroutine[Any, Any, R]], args: Any) -> R:
        assert self._slots is not None
        await self._slots.acquire()
        task = asyncio.current_task()
        assert task is not None
        self._holding.add(task)
        return await _coroutine(fn, args)

    def _start(self, coro: Coroutine[Any, Any, R], name: str | None) -> asyncio.Task[R]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._on_task_done)
        return task

    def on_exit(self, fn: Callable[..., object], /, *args: Any) -> None:
        """Register ``fn(*args)`` (sync or async) to run when the scope ends, last first.

        Callbacks run after every child has ended, even when the scope is being cancelled
        (shielded), each bounded by the scope's ``cleanup_timeout``.
        """
        self._cleanups.append((fn, args))

    def cancel(self) -> None:
        """Cancel the children and the body; the scope then exits quietly."""
        if self._state in ("new", "closed"):
            return
        self._abort()
        self._cancel_parent()

    def _check_open(self) -> None:
        if self._state == "new":
            raise ScopeClosed("enter the scope with 'async with' before spawning into it")
        if self._state == "closed" or self._aborting:
            raise ScopeClosed("the scope is finishing; it takes no new children")

    def _abort(self) -> None:
        self._aborting = True
        for task in self._tasks:
            if not task.done():
                task.cancel()

    def _cancel_parent(self) -> None:
        assert self._parent is not None
        if self._state == "open" and not self._parent_cancel_requested:
            self._parent_cancel_requested = True
            self._parent.cancel()

    def _on_task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task in self._holding:
            assert self._slots is not None
            self._holding.discard(task)
            self._slots.release()
        if not self._tasks and self._all_done is not None and not self._all_done.done():
            self._all_done.set_result(None)
        if task.cancelled() or (error := task.exception()) is None:
            return
        self._child_errors.append(error)
        if not isinstance(error, Exception):
            self._base_error = self._base_error or error
        elif self._collect:
            return
        if not self._aborting:
            self._abort()
        self._cancel_parent()

    async def __aenter__(self) -> Scope:
        if self._state != "new":
            raise RuntimeError("a scope can be entered only once")
        parent = asyncio.current_task()
        if parent is None:
            raise RuntimeError("a scope must be entered inside a task")
        self._parent = parent
        self._cancelling = parent.cancelling()
        self._state = "open"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        assert self._parent is not None
        self._state = "exiting"
        propagate: BaseException | None = exc if exc_type is asyncio.CancelledError else None
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            self._body_error = exc
            if not isinstance(exc, Exception):
                self._base_error = self._base_error or exc
        if exc_type is not None and not self._aborting:
            self._abort()
        propagate = await self._wait_children(propagate)
        propagate = await self._run_cleanups(propagate)
        self._state = "closed"
        if self._parent_cancel_requested and self._parent.uncancel() <= self._cancelling:
            propagate = None  # the only cancellation was ours
        return self._conclude(exc, propagate)

    async def _wait_children(self, propagate: BaseException | None) -> BaseException | None:
        while self._tasks:
            self._all_done = asyncio.get_running_loop().create_future()
            try:
                await self._all_done
            except asyncio.CancelledError as cancelled:
                # The scope only cancels its parent while the body runs, so a cancellation
                # here came from outside: cancel the children, keep waiting, then propagate.
                propagate = cancelled
                self._abort()
            self._all_done = None
        return propagate

    async def _run_cleanups(self, propagate: BaseException | None) -> BaseException | None:
        if not self._cleanups:
            return propagate
        runner = asyncio.get_running_loop().create_task(self._cleanup_all())
        while not runner.done():
            try:
                await asyncio.shield(runner)
            except asyncio.CancelledError as cancelled:
                propagate = propagate or cancelled  # finish cleaning up, then propagate
        return propagate

    async def _cleanup_all(self) -> None:
        while self._cleanups:
            fn, args = self._cleanups.pop()
            try:
                async with asyncio.timeout(self._cleanup_timeout):
                    result = fn(*args)
                    if inspect.isawaitable(result):
                        await result
            except Exception as error:
                self._cleanup_errors.append(error)

    def _conclude(self, exc: BaseException | None, propagate: BaseException | None) -> bool:
        """Decide what leaves the scope; return True to swallow the body's exception."""
        if self._base_error is not None:
            if self._base_error is exc:
                return False
            raise self._base_error
        failures = [] if self._collect else list(self._child_errors)
        if self._body_error is not None:
            failures.append(self._body_error)
        failures.extend(self._cleanup_errors)
        if failures:
            assert self._parent is not None
            if propagate is not None and self._parent.cancelling():
                # Cancelled from outside too: raise the failure, keep the cancellation pending.
                self._parent.uncancel()
                self._parent.cancel()
            first = failures[0]
            if len(failures) > 1:
                more = "; ".join(f"{type(e).__name__}: {e}" for e in failures[1:])
                first.add_note(f"corral scope: {len(failures) - 1} more error(s): {more}")
            if first is exc:
                return False
            raise first
        if propagate is not None:
            if propagate is exc:
                return False
            raise propagate
        # Whatever cancelled the body came from this scope: swallow it.
        return isinstance(exc, asyncio.CancelledError)


def _coroutine(fn: Callable[..., Coroutine[Any, Any, R]], args: Any) -> Coroutine[Any, Any, R]:
    coro = fn(*args)
    if not inspect.iscoroutine(coro):
        raise TypeError(f"a scope needs an async function; {fn!r} returned {coro!r}")
    return coro


def open_scope(
    *,
    limit: int | None = None,
    on_error: OnError = "raise",
    cleanup_timeout: float = 5.0,
) -> Scope:
    """Open a scope that owns child tasks: ``async with corral.open_scope() as scope:``.

    On exit the scope waits for every child. With ``on_error="raise"`` (default) a failing
    child cancels its siblings and the body, and its exception is raised as is; with
    ``"collect"`` children fail alone and their errors are in ``scope.errors``. A
    ``KeyboardInterrupt`` or ``SystemExit`` in a child always cancels everything and propagates.

    Args:
        limit: the most children at once; ``spawn`` waits for a free slot, ``start_soon``
            queues (None: no bound).
        on_error: ``"raise"`` or ``"collect"`` (the words of ``corral.map``); ``"cancel"``,
            the old spelling of ``"raise"``, still works with a ``DeprecationWarning``.
        cleanup_timeout: seconds each ``on_exit`` callback may take.

    Returns:
        The scope, for ``async with``.

    Raises:
        ValueError: ``limit`` below 1 or an unknown ``on_error``.
    """
    on_error = check_on_error(on_error, legacy_cancel=True)  # warns at the caller's line
    return Scope(limit=limit, on_error=on_error, cleanup_timeout=cleanup_timeout)
