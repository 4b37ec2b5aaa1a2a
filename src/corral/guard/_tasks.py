"""Task pitfalls: exceptions never retrieved, and tasks still pending when their loop closes.

A task's creation place is its coroutine's ``cr_origin`` (``create_task(worker())`` creates
the coroutine on the same line), so no task factory is needed: a factory would cost time on
every task and fight the user's own factory.

"Task exception was never retrieved" reaches the loop's ``call_exception_handler`` when the
task is destroyed; the guard reads it there. Pending tasks are listed when an
``asyncio.Runner`` (so ``asyncio.run`` and pytest-asyncio) closes, before it cancels them
silently, or when a loop is closed by hand with tasks still pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from corral.guard._finding import Finding, FindingKind, Frame
from corral.guard._frames import from_origin, innermost_user, is_user_file

NEVER_RETRIEVED = frozenset(
    {"Task exception was never retrieved", "Future exception was never retrieved"}
)
DESTROYED_PENDING = "Task was destroyed but it is pending!"


def origin_of(task: asyncio.Future[Any]) -> tuple[Frame, ...]:
    """Return the creation stack of a task's coroutine, outermost first (empty if unknown)."""
    get_coro = getattr(task, "get_coro", None)
    coro = get_coro() if get_coro is not None else None
    raw = getattr(coro, "cr_origin", None)
    return from_origin(raw) if raw else ()


def _coro_name(task: asyncio.Future[Any]) -> str:
    get_coro = getattr(task, "get_coro", None)
    coro = get_coro() if get_coro is not None else None
    return str(getattr(coro, "__qualname__", "?"))


def _task_name(task: asyncio.Future[Any]) -> str | None:
    return task.get_name() if isinstance(task, asyncio.Task) else None


def _suspended_at(task: asyncio.Future[Any]) -> Frame | None:
    # Follow the await chain down to the innermost user frame it is waiting in.
    get_coro = getattr(task, "get_coro", None)
    coro = get_coro() if get_coro is not None else None
    found: Frame | None = None
    for _ in range(50):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        if is_user_file(frame.f_code.co_filename):
            found = Frame(
                file=frame.f_code.co_filename,
                line=frame.f_lineno or 0,
                function=frame.f_code.co_name,
            )
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return found


def _place(origin: tuple[Frame, ...], fallback: Frame | None) -> Frame | None:
    return innermost_user(origin) or (origin[-1] if origin else None) or fallback


def _raised_at(exc: BaseException) -> Frame | None:
    tb = exc.__traceback__
    found: Frame | None = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if is_user_file(code.co_filename):
            found = Frame(file=code.co_filename, line=tb.tb_lineno, function=code.co_qualname)
        tb = tb.tb_next
    return found


def unretrieved(context: dict[str, Any]) -> tuple[Finding, tuple[Frame, ...]] | None:
    """Return the finding for a "never retrieved" handler context, if it is one."""
    future = context.get("future")
    exc = context.get("exception")
    if context.get("message") not in NEVER_RETRIEVED or not isinstance(exc, BaseException):
        return None
    origin = origin_of(future) if future is not None else ()
    raised = _raised_at(exc)
    place = _place(origin, raised)
    what = f"task {_task_name(future)!r} ({_coro_name(future)})" if future is not None else "future"
    message = f"the exception of {what} was never retrieved: {exc!r}"
    if raised is not None:
        message += f", raised at {raised.file}:{raised.line}"
    if not origin:
        message += " (creation place unknown: origin tracking was off)"
    return _finding(FindingKind.UNRETRIEVED_EXCEPTION, message, place, origin, future), origin


def pending(
    tasks: Iterable[asyncio.Future[Any]], when: str
) -> list[tuple[asyncio.Future[Any], Finding, tuple[Frame, ...]]]:
    """Return a finding for each task still pending (``when`` says at which moment)."""
    results = []
    for task in tasks:
        if task.done():
            continue
        origin = origin_of(task)
        waiting = _suspended_at(task)
        place = _place(origin, waiting)
        message = f"task {_task_name(task)!r} ({_coro_name(task)}) was still pending {when}"
        if waiting is not None:
            message += f"; it was waiting at {waiting.file}:{waiting.line}"
        if not origin:
            message += " (creation place unknown: origin tracking was off)"
        results.append(
            (task, _finding(FindingKind.PENDING_TASK, message, place, origin, task), origin)
        )
    return results


def _finding(
    kind: FindingKind,
    message: str,
    place: Frame | None,
    origin: tuple[Frame, ...],
    future: asyncio.Future[Any] | None,
) -> Finding:
    return Finding(
        kind=kind,
        message=message,
        file=place.file if place else None,
        line=place.line if place else None,
        function=place.function if place else None,
        task=_task_name(future) if future is not None else None,
        stack=origin,
    )
